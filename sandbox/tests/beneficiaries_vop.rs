//! Beneficiaries (pagination, filters, create/update/trust) and Verification of Payee.
mod common;

use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn pagination_and_filters() {
    let t = common::start().await;
    let r = t.get("/v2/sepa/beneficiaries").send().await.unwrap();
    let v = common::json(r).await;
    assert_eq!(
        v["meta"]["per_page"], 25,
        "documented default for this endpoint"
    );
    assert_eq!(v["meta"]["total_count"], 7);
    assert_eq!(v["meta"]["next_page"], serde_json::Value::Null);

    let r = t
        .get("/v2/sepa/beneficiaries?per_page=3&page=2")
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert_eq!(v["beneficiaries"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["meta"],
        json!({"current_page": 2, "next_page": 3, "prev_page": 1, "total_pages": 3, "total_count": 7, "per_page": 3})
    );
    let r = t
        .get("/v2/sepa/beneficiaries?per_page=3&page=3")
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert_eq!(v["beneficiaries"].as_array().unwrap().len(), 1);
    assert_eq!(v["meta"]["next_page"], serde_json::Value::Null);

    for bad in ["per_page=101", "per_page=0", "page=0", "page=abc"] {
        let r = t
            .get(&format!("/v2/sepa/beneficiaries?{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{bad}");
        let v = common::json(r).await;
        assert!(v["errors"][0]["source"]["parameter"].is_string());
    }

    let r = t
        .get("/v2/sepa/beneficiaries?trusted=true&per_page=100")
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert_eq!(v["meta"]["total_count"], 3);
    assert!(v["beneficiaries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["trusted"] == true));

    let r = t
        .get("/v2/sepa/beneficiaries?iban[]=DE89%203704%200044%200532%200130%2000&iban[]=NL20INGB0001234567")
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert_eq!(v["meta"]["total_count"], 2);

    let r = t
        .get("/v2/sepa/beneficiaries?status[]=pending")
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert_eq!(v["beneficiaries"][0]["name"], "Brasserie Lambic SPRL");
    let r = t
        .get("/v2/sepa/beneficiaries?status[]=bogus")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    t.sb.stop().await;
}

#[tokio::test]
async fn create_update_trust_untrust() {
    let t = common::start().await;
    // bad JSON → documented 4xx JSON error
    let r = t
        .post("/v2/sepa/beneficiaries")
        .header("X-Qonto-Idempotency-Key", "k1")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(common::json(r).await["errors"][0]["code"].is_string());
    // idempotency key is required
    let body = json!({"beneficiary": {"name": "Nouveau Fournisseur", "iban": "FR1420041010050500013M02606"}});
    let r = t
        .post("/v2/sepa/beneficiaries")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = t
        .post("/v2/sepa/beneficiaries")
        .header("X-Qonto-Idempotency-Key", "k2")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v = common::json(r).await;
    assert_eq!(v["beneficiary"]["trusted"], false);
    assert_eq!(v["beneficiary"]["status"], "pending");
    let id = v["beneficiary"]["id"].as_str().unwrap().to_string();
    // invalid IBAN
    let r = t
        .post("/v2/sepa/beneficiaries")
        .header("X-Qonto-Idempotency-Key", "k3")
        .json(&json!({"beneficiary": {"name": "X", "iban": "FR7630006000011234567890188"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        common::json(r).await["errors"][0]["source"]["pointer"],
        "/beneficiary/iban"
    );

    let r = t
        .patch(&format!("/v2/sepa/beneficiaries/{id}"))
        .json(&json!({"beneficiary": {"name": "Nouveau Fournisseur SAS", "unknown_field": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        common::json(r).await["beneficiary"]["name"],
        "Nouveau Fournisseur SAS"
    );
    let r = t
        .get(&format!("/v2/sepa/beneficiaries/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        common::json(r).await["beneficiary"]["iban"],
        "FR1420041010050500013M02606"
    );

    // trust needs SCA (mock), untrust does not
    let trust = json!({"ids": [id]});
    let r = t
        .patch("/v2/sepa/beneficiaries/trust")
        .header("X-Qonto-2fa-Preference", "mock")
        .json(&trust)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 428);
    let token = common::json(r).await["sca_session_token"]
        .as_str()
        .unwrap()
        .to_string();
    t.sb.approve_sca(&token).unwrap();
    let replay = || {
        t.patch("/v2/sepa/beneficiaries/trust")
            .header("X-Qonto-2fa-Preference", "mock")
            .header("X-Qonto-Sca-Session-Token", &token)
            .json(&trust)
    };
    let r = replay().send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(common::json(r).await["beneficiaries"][0]["trusted"], true);
    // single use (no idempotency key here, so nothing is cached)
    let r = replay().send().await.unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(common::json(r).await["errors"]["message"], "Not found");

    let r = t
        .patch("/v2/sepa/beneficiaries/untrust")
        .json(&trust)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(common::json(r).await["beneficiaries"][0]["trusted"], false);
    let r = t
        .patch("/v2/sepa/beneficiaries/untrust")
        .json(&json!({"ids": ["nope"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        common::json(r).await["errors"][0]["source"]["pointer"],
        "/beneficiaries/0/id"
    );
    t.sb.stop().await;
}

async fn verify(t: &common::T, iban: &str, name: &str) -> (u16, serde_json::Value) {
    let r = t
        .post("/v2/sepa/verify_payee")
        .json(&json!({"iban": iban, "beneficiary_name": name}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), common::json(r).await)
}

#[tokio::test]
async fn verify_payee_results() {
    let t = common::start().await;
    let (s, v) = verify(&t, "FR7630006000011234567890189", "Acme").await;
    assert_eq!(s, 200);
    assert_eq!(v["match_result"], "MATCH_RESULT_MATCH");
    assert!(v["proof_token"]["token"]
        .as_str()
        .unwrap()
        .starts_with("proof_"));
    let (_, v) = verify(&t, "DE89370400440532013000", "Muller Elektrik").await;
    assert_eq!(v["match_result"], "MATCH_RESULT_CLOSE_MATCH");
    assert_eq!(v["matched_name"], "Müller Elektro GmbH");
    let (_, v) = verify(&t, "DE89370400440532013000", "Totally Different Ltd").await;
    assert_eq!(v["match_result"], "MATCH_RESULT_NO_MATCH");
    let (_, v) = verify(&t, "FR7610002006000000141790000", "Default Match Person").await;
    assert_eq!(v["match_result"], "MATCH_RESULT_MATCH");
    // responding bank unavailable: 400 with a usable token in meta
    let (s, v) = verify(&t, "ES9121000418450200051332", "Someone").await;
    assert_eq!(s, 400);
    assert_eq!(
        v["errors"][0]["code"],
        "BAD_REQUEST_ERROR_RESPONDING_BANK_NOT_AVAILABLE"
    );
    assert!(v["errors"][0]["meta"]["proof_token"]["token"].is_string());
    // unknown IBAN: MATCH by default, NOT_POSSIBLE with the quirk off
    let (_, v) = verify(&t, "FR1420041010050500013M02606", "Whoever").await;
    assert_eq!(v["match_result"], "MATCH_RESULT_MATCH");
    let mut q = t.sb.quirks();
    q.vop_unknown_iban_matches = false;
    t.sb.set_quirks(q);
    let (_, v) = verify(&t, "FR1420041010050500013M02606", "Whoever").await;
    assert_eq!(v["match_result"], "MATCH_RESULT_NOT_POSSIBLE");
    // validation
    let (s, _) = verify(&t, "FR7630006000011234567890189", "").await;
    assert_eq!(s, 422);
    let (s, _) = verify(&t, "FR7630006000011234567890189", &"x".repeat(141)).await;
    assert_eq!(s, 422);
    t.sb.stop().await;
}

#[tokio::test]
async fn proof_tokens_expire_after_23_hours_and_bulk_tokens_cover_one_iban_set() {
    let t = common::start().await;
    let body = t.transfer_body("ACME SAS", "10.00", "INV-1").await;
    t.sb.advance_clock(Duration::from_secs(23 * 3600 + 1));
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "vop-exp")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        common::json(r).await["errors"][0]["code"],
        "vop_proof_token_invalid"
    );

    // no token at all
    let mut no_token = body.clone();
    no_token.as_object_mut().unwrap().remove("vop_proof_token");
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "vop-missing")
        .json(&no_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        common::json(r).await["errors"][0]["code"],
        "vop_proof_token_missing"
    );

    // bulk verify, shape
    let r = t
        .post("/v2/sepa/bulk_verify_payee")
        .json(&json!({"requests": [
            {"id": "a", "iban": "FR7630006000011234567890189", "beneficiary_name": "ACME SAS"},
            {"id": "b", "iban": "DE89370400440532013000", "beneficiary_name": "Muller Elektrik"},
            {"id": "c", "iban": "ES9121000418450200051332", "beneficiary_name": "X"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = common::json(r).await;
    assert!(v["proof_token"]["token"].is_string());
    assert_eq!(
        v["requests"][0]["response"]["match_result"],
        "MATCH_RESULT_MATCH"
    );
    assert_eq!(
        v["requests"][1]["response"]["matched_name"],
        "Müller Elektro GmbH"
    );
    assert!(v["requests"][2]["error"]["code"].is_string());
    let r = t
        .post("/v2/sepa/bulk_verify_payee")
        .json(&json!({"requests": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    t.sb.stop().await;
}
