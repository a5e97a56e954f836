//! The switches for documented contradictions, and the realtime clock.
mod common;

use sandbox::{ClockMode, Quirks, SandboxConfig};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn legacy_beneficiaries_and_pending_updates() {
    let t = common::start().await;
    assert_eq!(
        t.get("/v2/beneficiaries").send().await.unwrap().status(),
        404
    );
    t.sb.set_quirks(Quirks {
        legacy_beneficiaries_enabled: true,
        update_pending_beneficiary_not_found: true,
        ..t.sb.quirks()
    });
    let v = common::json(
        t.get("/v2/beneficiaries?trusted=true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["meta"]["total_count"], 3);
    assert!(v["beneficiaries"][0]["bank_account"]["iban"].is_string());
    let id = t.ben_id("ACME SAS").await;
    let v = common::json(
        t.get(&format!("/v2/beneficiaries/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["beneficiary"]["name"], "ACME SAS");
    let pending = t.ben_id("Brasserie Lambic SPRL").await;
    let r = t
        .patch(&format!("/v2/sepa/beneficiaries/{pending}"))
        .json(&json!({"beneficiary": {"name": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    t.sb.stop().await;
}

#[tokio::test]
async fn sca_with_api_key_can_be_refused_and_transfer_status_code() {
    let t = common::start().await;
    t.sb.set_quirks(Quirks {
        sca_requires_oauth: true,
        transfer_create_status: 201,
        ..t.sb.quirks()
    });
    let body = t.transfer_body("Alice In Wonderland", "5.00", "Q-1").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "q1")
        .header("X-Qonto-2fa-Preference", "mock")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body = t.transfer_body("ACME SAS", "5.00", "Q-2").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "q2")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = common::json(r).await["transfer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // proof, both documented forms
    let r = t
        .get(&format!("/v2/sepa/transfers/{id}/proof"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let r = t
        .post(&format!("/v2/sepa/transfers/{id}/download_proof"))
        .send()
        .await
        .unwrap();
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
    // API key not allowed to move money at all
    t.sb.set_quirks(Quirks {
        api_key_can_move_money: false,
        ..Quirks::default()
    });
    let body = t.transfer_body("ACME SAS", "5.00", "Q-3").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "q3")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    t.sb.stop().await;
}

#[tokio::test]
async fn non_flat_sca_body_and_string_proof_token() {
    let t = common::start().await;
    t.sb.set_quirks(Quirks {
        sca_flat_body: false,
        bulk_proof_token_shape: sandbox::config::ProofTokenShape::String,
        ..t.sb.quirks()
    });
    let body = t.transfer_body("Malt", "5.00", "Q-4").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "q4")
        .header("X-Qonto-2fa-Preference", "mock")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 428);
    let v = common::json(r).await;
    assert_eq!(v["errors"][0]["code"], "sca_required");
    assert!(v["errors"][0]["meta"]["sca_session_token"].is_string());
    let r = t
        .post("/v2/sepa/bulk_verify_payee")
        .json(&json!({"requests": [{"id": "1", "iban": "ES9121000418450200051332", "beneficiary_name": "x"}]}))
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert!(v["proof_token"].is_string());
    assert!(v["requests"][0]["error_code"]
        .as_str()
        .unwrap()
        .starts_with("SINGLE_REQUEST_ERROR_CODE_"));
    t.sb.stop().await;
}

#[tokio::test]
async fn requests_list_needs_business_plan() {
    let t = common::start().await;
    t.sb.set_plan(sandbox::Plan::Essential);
    assert_eq!(t.get("/v2/requests").send().await.unwrap().status(), 403);
    t.sb.stop().await;
}

#[tokio::test]
async fn realtime_clock_settles_without_requests() {
    let cfg = SandboxConfig {
        clock_mode: ClockMode::Realtime,
        processing_delay: Duration::ZERO,
        settlement_delay: Duration::from_secs(1),
        ..SandboxConfig::default()
    };
    let t = common::start_with(cfg).await;
    let body = t.transfer_body("ACME SAS", "5.00", "RT").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "rt")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut settled = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if t.sb.transfer_log()[0].status == sandbox::TransferStatus::Settled {
            settled = true;
            break;
        }
    }
    assert!(settled);
    t.sb.stop().await;
}

#[tokio::test]
async fn payment_policy_threshold() {
    let t = common::start().await;
    t.sb.set_payment_policy_threshold(Some("1000".parse().unwrap()));
    let body = t.transfer_body("ACME SAS", "1000.01", "PP-1").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "pp1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        common::json(r).await["errors"][0]["code"],
        "payment_policy_approval_required"
    );
    let body = t.transfer_body("ACME SAS", "1000.00", "PP-2").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "pp2")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    t.sb.stop().await;
}
