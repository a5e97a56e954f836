//! Fault injection (5xx, 429, latency, commit-then-drop) and the HTTP control API.
mod common;

use sandbox::Fault;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn server_error_and_rate_limit_for_the_next_n_calls() {
    let t = common::start().await;
    t.sb.add_fault(Fault::server_error("GET", "/v2/organization", 503).times(2));
    for _ in 0..2 {
        let r = t.get("/v2/organization").send().await.unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(common::json(r).await["errors"][0]["code"], "unknown");
    }
    assert_eq!(
        t.get("/v2/organization").send().await.unwrap().status(),
        200
    );
    assert!(t.sb.faults().is_empty());

    t.sb.add_fault(Fault::rate_limited("GET", "/v2/sepa/beneficiaries/*", Some(7)).times(1));
    let id = t.ben_id("ACME SAS").await;
    let r = t
        .get(&format!("/v2/sepa/beneficiaries/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(
        t.get(&format!("/v2/sepa/beneficiaries/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // a 5xx on a write applies nothing
    t.sb.add_fault(Fault::server_error("POST", "/v2/sepa/transfers", 500).times(1));
    let body = t.transfer_body("ACME SAS", "1.00", "F-1").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "f1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(t.sb.transfer_log().is_empty());
    t.sb.stop().await;
}

#[tokio::test]
async fn latency_is_added() {
    let t = common::start().await;
    t.sb.add_fault(Fault::latency("GET", "/v2/organization", 300).times(1));
    let start = Instant::now();
    assert_eq!(
        t.get("/v2/organization").send().await.unwrap().status(),
        200
    );
    assert!(start.elapsed() >= Duration::from_millis(300));
    // a client timeout shorter than the latency fails
    t.sb.add_fault(Fault::latency("GET", "/v2/organization", 2000).times(1));
    let r = t
        .get("/v2/organization")
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    t.sb.stop().await;
}

#[tokio::test]
async fn commit_then_drop_applies_the_write_and_closes_the_connection() {
    let t = common::start().await;
    t.sb.add_fault(Fault::commit_then_drop("POST", "/v2/sepa/transfers").times(1));
    let body = t.transfer_body("ACME SAS", "77.00", "DROP-1").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "drop-1")
        .json(&body)
        .send()
        .await;
    let err = r.expect_err("no answer");
    assert!(!err.is_status(), "{err}");
    // the write happened
    let log = t.sb.transfer_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].idempotency_key.as_deref(), Some("drop-1"));
    assert_eq!(log[0].amount, "77.00");
    // the retry with the same key gets the committed transfer, no double payment
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "drop-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        common::json(r).await["transfer"]["id"],
        log[0].transfer_id.as_str()
    );
    assert_eq!(t.sb.transfer_log().len(), 1);

    // same for bulk, armed through the HTTP control API
    let r = t
        .control("/faults")
        .json(&json!({"method": "POST", "path": "/v2/sepa/bulk_transfers", "kind": "commit_then_drop", "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let acme = t.ben_id("ACME SAS").await;
    let r = t
        .post("/v2/sepa/bulk_verify_payee")
        .json(&json!({"requests": [{"id": "1", "iban": "FR7630006000011234567890189", "beneficiary_name": "ACME"}]}))
        .send()
        .await
        .unwrap();
    let token = common::json(r).await["proof_token"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let bulk = json!({"vop_proof_token": token, "bank_account_id": t.sb.bank_account_id(),
        "bulk_transfers": [{"client_transfer_id": "ct-1", "beneficiary_id": acme, "reference": "B", "amount": "5.00"}]});
    let r = t
        .post("/v2/sepa/bulk_transfers")
        .header("X-Qonto-Idempotency-Key", "bd-1")
        .json(&bulk)
        .send()
        .await;
    assert!(r.is_err());
    let r = t
        .post("/v2/sepa/bulk_transfers")
        .header("X-Qonto-Idempotency-Key", "bd-1")
        .json(&bulk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let log = t.sb.transfer_log();
    assert_eq!(
        log.iter()
            .filter(|e| e.client_transfer_id.as_deref() == Some("ct-1"))
            .count(),
        1
    );
    t.sb.stop().await;
}

#[tokio::test]
async fn control_api_over_http() {
    let t = common::start().await;
    let c = |p: &str| t.url(&format!("/_sandbox{p}"));
    let v = common::json(t.http.get(c("/state")).send().await.unwrap()).await;
    assert_eq!(v["plan"], "business");
    assert_eq!(v["api_key"], t.auth.as_str());

    let r = t
        .http
        .put(c("/plan"))
        .json(&json!({"plan": "solo_basic"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = t
        .http
        .put(c("/balance"))
        .json(&json!({"balance": "1234.56"}))
        .send()
        .await
        .unwrap();
    assert_eq!(common::json(r).await["authorized_balance"], "1234.56");
    let r = t
        .http
        .put(c("/balance"))
        .json(&json!({"balance": "12.345"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = t
        .http
        .put(c("/plan"))
        .json(&json!({"plan": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v = common::json(t.http.get(c("/state")).send().await.unwrap()).await;
    assert_eq!(v["plan"], "solo_basic");
    assert_eq!(v["balance"], "1234.56");

    // SCA through the control API
    let r = t
        .http
        .post(c("/sca/auto"))
        .json(&json!({"mode": "off"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = t.transfer_body("Malt", "10.00", "CTL").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "ctl-1")
        .header("X-Qonto-2fa-Preference", "mock")
        .json(&body)
        .send()
        .await
        .unwrap();
    let token = common::json(r).await["sca_session_token"]
        .as_str()
        .unwrap()
        .to_string();
    let v = common::json(t.http.get(c("/sca_sessions")).send().await.unwrap()).await;
    assert_eq!(v["sca_sessions"][0]["result"], "waiting");
    let r = t
        .http
        .post(c(&format!("/sca_sessions/{token}/allow")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "ctl-1")
        .header("X-Qonto-2fa-Preference", "mock")
        .header("X-Qonto-Sca-Session-Token", &token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // clock + transfer log
    let r = t
        .http
        .post(c("/clock/advance"))
        .json(&json!({"minutes": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = common::json(t.http.get(c("/transfers")).send().await.unwrap()).await;
    let e = &v["transfers"][0];
    assert_eq!(e["status"], "processing");
    assert_eq!(e["idempotency_key"], "ctl-1");
    assert_eq!(e["reference"], "CTL");
    assert_eq!(e["amount"], "10.00");
    assert_eq!(e["beneficiary_iban"], "DE31100101238050671253");

    // beneficiaries, quirks, faults, staging
    let r = t
        .http
        .post(c("/beneficiaries"))
        .json(
            &json!({"name": "Trusted Co", "iban": "FR1420041010050500013M02606", "trusted": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(common::json(r).await["trusted"], true);
    let r = t
        .http
        .patch(c("/quirks"))
        .json(&json!({"beneficiary_shape": "nested"}))
        .send()
        .await
        .unwrap();
    assert_eq!(common::json(r).await["beneficiary_shape"], "nested");
    let v = common::json(
        t.get("/v2/sepa/beneficiaries?per_page=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(v["beneficiaries"][0]["bank_account"]["iban"].is_string());
    assert!(v["beneficiaries"][0].get("iban").is_none());
    let r = t
        .http
        .post(c("/faults"))
        .json(&json!([{"path": "/v2/**", "kind": "server_error", "status": 502}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        t.get("/v2/organization").send().await.unwrap().status(),
        502
    );
    assert_eq!(
        t.http.delete(c("/faults")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        t.get("/v2/organization").send().await.unwrap().status(),
        200
    );
    let r = t
        .http
        .put(c("/staging_token"))
        .json(&json!({"required": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = t.get("/v2/organization").send().await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    // reset
    let r = t
        .http
        .post(c("/reset"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = common::json(t.http.get(c("/transfers")).send().await.unwrap()).await;
    assert!(v["transfers"].as_array().unwrap().is_empty());
    let r = t.http.post(c("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    t.sb.stop().await;
}

#[tokio::test]
async fn sunset_endpoints_answer_like_removed_ones() {
    let t = common::start().await;
    for (m, p) in [
        ("POST", "/v2/external_transfers"),
        ("POST", "/v2/external_transfers/checkout"),
        ("GET", "/v2/external_transfers"),
    ] {
        let r = t
            .http
            .request(m.parse().unwrap(), t.url(p))
            .header("Authorization", &t.auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
    }
    let mut q = t.sb.quirks();
    q.sunset_response = sandbox::config::SunsetResponse::Gone;
    t.sb.set_quirks(q);
    let r = t.post("/v2/external_transfers").send().await.unwrap();
    assert_eq!(r.status(), 410);
    t.sb.stop().await;
}

#[tokio::test]
async fn control_token_protects_the_control_api() {
    let cfg = sandbox::SandboxConfig {
        control_token: Some("ctl-secret".into()),
        ..Default::default()
    };
    let t = common::start_with(cfg).await;
    let r = t.http.get(t.url("/_sandbox/state")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = t
        .http
        .get(t.url("/_sandbox/state"))
        .bearer_auth("ctl-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    t.sb.stop().await;
}

#[tokio::test]
async fn optional_rate_limit() {
    let t = common::start().await;
    let r = t
        .http
        .put(t.url("/_sandbox/rate_limits"))
        .json(&json!([{"max_requests": 3, "window_secs": 60}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for _ in 0..3 {
        assert_eq!(
            t.get("/v2/organization").send().await.unwrap().status(),
            200
        );
    }
    let r = t.get("/v2/organization").send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    // the control API is never limited
    assert_eq!(
        t.http
            .get(t.url("/_sandbox/state"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    t.sb.set_rate_limits(vec![]);
    assert_eq!(
        t.get("/v2/organization").send().await.unwrap().status(),
        200
    );
    t.sb.stop().await;
}
