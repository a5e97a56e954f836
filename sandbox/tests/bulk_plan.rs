//! Bulk transfers, plan rules, attachments, insufficient funds, approval requests.
mod common;

use sandbox::Plan;
use serde_json::{json, Value};
use std::time::Duration;

async fn bulk_token(t: &common::T, ibans: &[&str]) -> String {
    let reqs: Vec<Value> = ibans
        .iter()
        .enumerate()
        .map(|(i, iban)| json!({"id": i.to_string(), "iban": iban, "beneficiary_name": "x"}))
        .collect();
    let r = t
        .post("/v2/sepa/bulk_verify_payee")
        .json(&json!({"requests": reqs}))
        .send()
        .await
        .unwrap();
    common::json(r).await["proof_token"]["token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn post_bulk(t: &common::T, key: &str, body: &Value, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut req = t
        .post("/v2/sepa/bulk_transfers")
        .header("X-Qonto-Idempotency-Key", key);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let r = req.json(body).send().await.unwrap();
    (r.status().as_u16(), common::json(r).await)
}

#[tokio::test]
async fn bulk_to_trusted_beneficiaries_is_asynchronous() {
    let t = common::start().await;
    let acme = t.ben_id("ACME SAS").await;
    let muller = t.ben_id("Müller Elektro GmbH").await;
    let token = bulk_token(
        &t,
        &["FR7630006000011234567890189", "DE89370400440532013000"],
    )
    .await;
    let body = json!({"vop_proof_token": token, "bank_account_id": t.sb.bank_account_id(),
        "bulk_transfers": [
            {"client_transfer_id": "c-1", "beneficiary_id": acme, "reference": "INV-1", "amount": "100.50"},
            {"client_transfer_id": "c-2", "beneficiary_id": muller, "reference": "INV-2", "amount": "42.00"},
            {"client_transfer_id": "c-3", "beneficiary_id": acme, "reference": "INV-3", "amount": "30000.01"}]});
    let (s, v) = post_bulk(&t, "bulk-1", &body, &[]).await;
    assert_eq!(s, 200, "{v}");
    let b = &v["bulk_transfer"];
    assert_eq!(b["total_count"], 3);
    assert_eq!(b["pending_count"], 3);
    assert_eq!(b["results"][0]["status"], "pending");
    assert_eq!(b["results"][0]["client_transfer_id"], "c-1");
    let id = b["id"].as_str().unwrap().to_string();

    let r = t
        .get(&format!("/v2/sepa/bulk_transfers/{id}"))
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    let b = &v["bulk_transfer"];
    assert_eq!(b["completed_count"], 2);
    assert_eq!(b["failed_count"], 1);
    assert_eq!(b["results"][2]["status"], "failed");
    assert_eq!(b["results"][2]["transfer_id"], Value::Null);
    assert_eq!(b["results"][2]["errors"][0]["code"], "attachment_required");
    let ids: Vec<String> = b["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["transfer_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 2);
    let q: String = ids.iter().map(|i| format!("ids[]={i}&")).collect();
    let r = t
        .get(&format!("/v2/sepa/transfers?{q}"))
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert_eq!(v["transfers"].as_array().unwrap().len(), 2);
    let log = t.sb.transfer_log();
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|e| e.origin == "bulk" && e.idempotency_key.as_deref() == Some("bulk-1")));
    assert_eq!(log[0].client_transfer_id.as_deref(), Some("c-1"));

    let r = t
        .get("/v2/sepa/bulk_transfers?per_page=1")
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert_eq!(v["meta"]["total_count"], 1);

    // > 100 ids is refused
    let q: String = (0..101).map(|i| format!("ids[]=x{i}&")).collect();
    let r = t
        .get(&format!("/v2/sepa/transfers?{q}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    t.sb.stop().await;
}

#[tokio::test]
async fn bulk_sca_token_set_limits_and_plan() {
    let t = common::start().await;
    let acme = t.ben_id("ACME SAS").await;
    let alice = t.ben_id("Alice In Wonderland").await;
    let token = bulk_token(
        &t,
        &["FR7630006000011234567890189", "DE91100000000123456789"],
    )
    .await;
    let body = json!({"vop_proof_token": token, "bank_account_id": t.sb.bank_account_id(),
        "bulk_transfers": [
            {"client_transfer_id": "c-1", "beneficiary_id": acme, "reference": "INV-1", "amount": "1.00"},
            {"client_transfer_id": "c-2", "beneficiary_id": alice, "reference": "INV-2", "amount": "2.00"}]});
    // untrusted inside → SCA
    let (s, v) = post_bulk(&t, "b-sca", &body, &[("X-Qonto-2fa-Preference", "mock")]).await;
    assert_eq!(s, 428);
    assert_eq!(v["action_type"], "transfer.bulk.create");
    // a token for another IBAN set is refused
    let other = bulk_token(&t, &["FR7630006000011234567890189"]).await;
    let mut wrong = body.clone();
    wrong["vop_proof_token"] = json!(other);
    let (s, v) = post_bulk(&t, "b-wrong", &wrong, &[]).await;
    assert_eq!(s, 401, "{v}");
    // more than 400 items
    let many: Vec<Value> = (0..401)
        .map(|i| json!({"client_transfer_id": format!("c{i}"), "beneficiary_id": acme, "reference": "r", "amount": "1.00"}))
        .collect();
    let (s, _) = post_bulk(&t, "b-many", &json!({"vop_proof_token": token, "bank_account_id": t.sb.bank_account_id(), "bulk_transfers": many}), &[]).await;
    assert_eq!(s, 422);
    // missing client_transfer_id
    let mut missing = body.clone();
    missing["bulk_transfers"][0]
        .as_object_mut()
        .unwrap()
        .remove("client_transfer_id");
    let (s, v) = post_bulk(&t, "b-missing", &missing, &[]).await;
    assert_eq!(s, 422);
    assert_eq!(
        v["errors"][0]["source"]["pointer"],
        "/bulk_transfers/0/client_transfer_id"
    );
    // Solo Basic: 403 with the documented body
    t.sb.set_plan(Plan::SoloBasic);
    let (s, v) = post_bulk(&t, "b-plan", &body, &[]).await;
    assert_eq!(s, 403);
    assert_eq!(v["errors"][0]["code"], "forbidden");
    assert_eq!(
        v["errors"][0]["detail"],
        "The organization’s price plan does not allow to do bulk transfer."
    );
    assert!(t.sb.transfer_log().is_empty());
    t.sb.stop().await;
}

#[tokio::test]
async fn bulk_shape_variants() {
    let t = common::start().await;
    let acme = t.ben_id("ACME SAS").await;
    let token = bulk_token(&t, &["FR7630006000011234567890189"]).await;
    let mut q = t.sb.quirks();
    q.bulk_create_wrapped = false;
    q.bulk_error_shape = sandbox::config::BulkErrorShape::Nested;
    t.sb.set_quirks(q);
    // legacy wrapper + `transfers` key accepted
    let body = json!({"bulk_transfer": {"vop_proof_token": token, "bank_account_id": t.sb.bank_account_id(),
        "transfers": [{"client_transfer_id": "c-1", "beneficiary_id": acme, "reference": "r", "amount": "40000.00"}]}});
    let (s, v) = post_bulk(&t, "b-shape", &body, &[]).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["id"].is_string(), "top-level object");
    let id = v["id"].as_str().unwrap();
    let r = t
        .get(&format!("/v2/sepa/bulk_transfers/{id}"))
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert_eq!(
        v["bulk_transfer"]["results"][0]["errors"][0]["errors"][0]["code"],
        "attachment_required"
    );
    t.sb.stop().await;
}

#[tokio::test]
async fn attachments_threshold_and_funds() {
    let t = common::start().await;
    let body = t.transfer_body("ACME SAS", "30000.01", "BIG-1").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "big-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v = common::json(r).await;
    assert_eq!(v["errors"][0]["code"], "attachment_required");
    assert_eq!(
        v["errors"][0]["source"]["pointer"],
        "/transfer/attachment_ids"
    );
    // exactly 30,000.00 is fine without attachment
    let ok = t.transfer_body("ACME SAS", "30000.00", "BIG-0").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "big-0")
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // upload: multipart part `file`, idempotency key required
    let form = || {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 invoice".to_vec())
                .file_name("invoice.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        )
    };
    let r = t
        .post("/v2/attachments")
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = t
        .post("/v2/attachments")
        .header("X-Qonto-Idempotency-Key", "att-1")
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let att = common::json(r).await["attachment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t
        .get(&format!("/v2/attachments/{att}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        common::json(r).await["attachment"]["file_content_type"],
        "application/pdf"
    );
    // not a PDF/JPEG/PNG
    let r = t
        .post("/v2/attachments")
        .header("X-Qonto-Idempotency-Key", "att-2")
        .multipart(
            reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(b"hello".to_vec())
                    .file_name("a.txt")
                    .mime_str("text/plain")
                    .unwrap(),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // unknown attachment id
    let mut with = body.clone();
    with["transfer"]["attachment_ids"] = json!(["nope"]);
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "big-2")
        .json(&with)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    with["transfer"]["attachment_ids"] = json!([att]);
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "big-3")
        .json(&with)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // six attachments is too many
    with["transfer"]["attachment_ids"] = json!([att, att, att, att, att, att]);
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "big-4")
        .json(&with)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // insufficient funds (authorized balance)
    t.sb.set_balance("100.00".parse().unwrap()).unwrap();
    let small = t.transfer_body("ACME SAS", "100.01", "POOR").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "poor")
        .json(&small)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        common::json(r).await["errors"][0]["code"],
        "insufficient_funds"
    );
    t.sb.stop().await;
}

#[tokio::test]
async fn multi_transfer_requests() {
    let t = common::start().await;
    let body = json!({"request_multi_transfer": {"note": "Supplier run", "transfers": [
        {"amount": "120.00", "currency": "EUR", "credit_iban": "FR7630006000011234567890189",
         "credit_account_name": "ACME SAS", "credit_account_currency": "EUR", "reference": "INV-1"},
        {"amount": "80.00", "currency": "EUR", "credit_iban": "FR1420041010050500013M02606",
         "credit_account_name": "Nouveau", "credit_account_currency": "EUR", "reference": "INV-2"}]}});
    let r = t
        .post("/v2/requests/multi_transfers")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "idempotency key required");
    let r = t
        .post("/v2/requests/multi_transfers")
        .header("X-Qonto-Idempotency-Key", "req-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = common::json(r).await;
    let rq = &v["request_multi_transfer"];
    assert_eq!(rq["status"], "pending");
    assert_eq!(rq["total_transfers_amount"], "200.00");
    assert_eq!(rq["total_transfers_count"], 2);
    let id = rq["id"].as_str().unwrap().to_string();

    let r = t
        .get("/v2/requests?status[]=pending&request_type[]=multi_transfer")
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert_eq!(v["requests"][0]["id"], id.as_str());
    assert_eq!(v["meta"]["per_page"], 25);

    // a person approves (control API) → transfers are created
    let r = t
        .control(&format!("/requests/{id}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = t
        .get("/v2/requests?status[]=approved")
        .send()
        .await
        .unwrap();
    assert_eq!(common::json(r).await["requests"][0]["status"], "approved");
    let log = t.sb.transfer_log();
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|e| e.origin == "request" && e.request_id.as_deref() == Some(id.as_str())));

    t.sb.set_plan(Plan::SoloBasic);
    let r = t
        .post("/v2/requests/multi_transfers")
        .header("X-Qonto-Idempotency-Key", "req-2")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    t.sb.advance_clock(Duration::from_secs(1));
    t.sb.stop().await;
}
