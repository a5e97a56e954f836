//! Single transfers: SCA flow (allow, deny, expiry, single use, binding, auto-approve) and
//! idempotency.
mod common;

use sandbox::{Quirks, ScaAuto};
use serde_json::{json, Value};
use std::time::Duration;

async fn post_transfer(
    t: &common::T,
    key: &str,
    body: &Value,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", key);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let r = req.json(body).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

const MOCK: (&str, &str) = ("X-Qonto-2fa-Preference", "mock");

#[tokio::test]
async fn trusted_beneficiary_needs_no_sca() {
    let t = common::start().await;
    let body = t
        .transfer_body("ACME SAS", "1100.50", "INV-2026-0042")
        .await;
    let (s, v) = post_transfer(&t, "k-trusted", &body, &[]).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["transfer"]["status"], "pending");
    assert_eq!(v["transfer"]["amount_cents"], 110050);
    assert_eq!(v["transfer"]["amount"], json!(1100.5));
    assert_eq!(v["transfer"]["amount_currency"], "EUR");
    let id = v["transfer"]["id"].as_str().unwrap();
    let r = t
        .get(&format!("/v2/sepa/transfers/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        common::json(r).await["transfer"]["reference"],
        "INV-2026-0042"
    );
    assert_eq!(t.sb.balance().authorized_balance.to_string(), "998899.50");
    // amounts must be strings
    let mut bad = body.clone();
    bad["transfer"]["amount"] = json!(10.5);
    let (s, v) = post_transfer(&t, "k-num", &bad, &[]).await;
    assert_eq!(s, 422);
    assert_eq!(v["errors"][0]["code"], "not_a_string");
    bad["transfer"]["amount"] = json!("10.505");
    assert_eq!(post_transfer(&t, "k-3dec", &bad, &[]).await.0, 422);
    t.sb.stop().await;
}

#[tokio::test]
async fn untrusted_needs_mock_sca_then_replay_once() {
    let t = common::start().await;
    let body = t
        .transfer_body("Alice In Wonderland", "250.00", "INV-7")
        .await;
    // without the mock preference: not enrolled
    let (s, v) = post_transfer(&t, "k1", &body, &[]).await;
    assert_eq!(s, 428);
    assert_eq!(v["code"], "sca_not_enrolled");
    assert!(v.get("sca_session_token").is_none());
    let (s, v) = post_transfer(
        &t,
        "k1",
        &body,
        &[("X-Qonto-2fa-Preference", "paired-device")],
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (428, Some("sca_not_enrolled")));

    let (s, v) = post_transfer(&t, "k1", &body, &[MOCK]).await;
    assert_eq!(s, 428);
    assert_eq!(v["code"], "sca_required");
    assert_eq!(v["action_type"], "transfer.single.create");
    let token = v["sca_session_token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 64);
    assert!(
        t.sb.transfer_log().is_empty(),
        "nothing is created by the 428 call"
    );

    let poll = |path: String| {
        let t = &t;
        async move { common::json(t.get(&path).send().await.unwrap()).await }
    };
    assert_eq!(
        poll(format!("/v2/sca_sessions/{token}")).await["result"],
        "waiting"
    );
    // replay before approval → 412
    let (s, _) = post_transfer(
        &t,
        "k1",
        &body,
        &[MOCK, ("X-Qonto-Sca-Session-Token", &token)],
    )
    .await;
    assert_eq!(s, 412);

    let r = t
        .post(&format!("/v2/mocked_sca_sessions/{token}/allow"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(common::json(r).await["message"], "Success");
    assert_eq!(
        poll(format!("/v2/sca_sessions/{token}")).await["result"],
        "allow"
    );
    assert_eq!(
        poll(format!("/v2/mocked_sca_sessions/{token}")).await["result"],
        "allow"
    );

    // binding: other body, other key, other path, missing preference → 422 Not found
    let mut other = body.clone();
    other["transfer"]["amount"] = json!("251.00");
    let (s, v) = post_transfer(
        &t,
        "k1",
        &other,
        &[MOCK, ("X-Qonto-Sca-Session-Token", &token)],
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(v["errors"]["message"], "Not found");
    let (s, _) = post_transfer(
        &t,
        "k-other",
        &body,
        &[MOCK, ("X-Qonto-Sca-Session-Token", &token)],
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = post_transfer(&t, "k1", &body, &[("X-Qonto-Sca-Session-Token", &token)]).await;
    assert_eq!(s, 422);

    // the right replay succeeds
    let (s, v) = post_transfer(
        &t,
        "k1",
        &body,
        &[MOCK, ("X-Qonto-Sca-Session-Token", &token)],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let id = v["transfer"]["id"].as_str().unwrap().to_string();
    // the same replay again is answered from the idempotency cache (same transfer)…
    let (s, v) = post_transfer(
        &t,
        "k1",
        &body,
        &[MOCK, ("X-Qonto-Sca-Session-Token", &token)],
    )
    .await;
    assert_eq!((s, v["transfer"]["id"].as_str()), (200, Some(id.as_str())));
    assert_eq!(t.sb.transfer_log().len(), 1);
    // …but the token itself is spent once the key expired from the cache
    t.sb.advance_clock(Duration::from_secs(31 * 60));
    let (s, _) = post_transfer(
        &t,
        "k1",
        &body,
        &[MOCK, ("X-Qonto-Sca-Session-Token", &token)],
    )
    .await;
    assert_eq!(s, 422);
    let log = t.sb.transfer_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].idempotency_key.as_deref(), Some("k1"));
    assert_eq!(log[0].beneficiary_iban, "DE91100000000123456789");
    t.sb.stop().await;
}

#[tokio::test]
async fn deny_and_expiry() {
    let t = common::start().await;
    let body = t.transfer_body("Malt", "99.99", "INV-9").await;
    let (_, v) = post_transfer(&t, "kd", &body, &[MOCK]).await;
    let token = v["sca_session_token"].as_str().unwrap().to_string();
    let r = t
        .post(&format!("/v2/mocked_sca_sessions/{token}/deny"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = t
        .get(&format!("/v2/sca_sessions/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(common::json(r).await["result"], "deny");
    let (s, _) = post_transfer(
        &t,
        "kd",
        &body,
        &[MOCK, ("X-Qonto-Sca-Session-Token", &token)],
    )
    .await;
    assert_eq!(s, 412);

    // expiry: 15 minutes
    let (_, v) = post_transfer(&t, "ke", &body, &[MOCK]).await;
    let token = v["sca_session_token"].as_str().unwrap().to_string();
    t.sb.approve_sca(&token).unwrap();
    t.sb.advance_clock(Duration::from_secs(15 * 60 + 1));
    let r = t
        .get(&format!("/v2/sca_sessions/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(common::json(r).await["result"], "deny");
    let (s, v) = post_transfer(
        &t,
        "ke",
        &body,
        &[MOCK, ("X-Qonto-Sca-Session-Token", &token)],
    )
    .await;
    assert_eq!(s, 412, "{v}");
    // unknown session
    let r = t.get("/v2/sca_sessions/nope").send().await.unwrap();
    assert_eq!(r.status(), 412);
    assert!(t.sb.transfer_log().is_empty());
    t.sb.stop().await;
}

#[tokio::test]
async fn auto_approve_and_inline_beneficiary() {
    let t = common::start().await;
    t.sb.set_sca_auto(ScaAuto::Allow);
    let token = t
        .vop("FR1420041010050500013M02606", "Fournitures Martin")
        .await;
    let body = json!({"vop_proof_token": token, "transfer": {
        "beneficiary": {"name": "Fournitures Martin", "iban": "FR1420041010050500013M02606"},
        "bank_account_id": t.sb.bank_account_id(), "reference": "F-1", "amount": "42.00",
        "currency": "EUR", "some_future_field": true}});
    let (s, v) = post_transfer(&t, "ka", &body, &[MOCK]).await;
    assert_eq!(s, 428);
    let sca = v["sca_session_token"].as_str().unwrap().to_string();
    let (s, v) = post_transfer(
        &t,
        "ka",
        &body,
        &[MOCK, ("X-Qonto-Sca-Session-Token", &sca)],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // the inline beneficiary now exists, untrusted
    let r = t
        .get("/v2/sepa/beneficiaries?iban[]=FR1420041010050500013M02606")
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    assert_eq!(v["beneficiaries"][0]["trusted"], false);
    assert_eq!(v["beneficiaries"][0]["status"], "validated");
    t.sb.stop().await;
}

#[tokio::test]
async fn idempotency_same_key() {
    let t = common::start().await;
    let body = t.transfer_body("ACME SAS", "10.00", "INV-1").await;
    let (s1, v1) = post_transfer(&t, "idem-1", &body, &[]).await;
    let (s2, v2) = post_transfer(&t, "idem-1", &body, &[]).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(v1, v2);
    assert_eq!(t.sb.transfer_log().len(), 1);
    // different body, same key: the cached response (API.md §8), no new transfer
    let mut other = body.clone();
    other["transfer"]["amount"] = json!("11.00");
    let (s3, v3) = post_transfer(&t, "idem-1", &other, &[]).await;
    assert_eq!((s3, &v3), (200, &v1));
    assert_eq!(t.sb.transfer_log().len(), 1);
    // …or an error with the stricter quirk
    t.sb.set_quirks(Quirks {
        idempotency_conflict: sandbox::config::IdempotencyConflict::Reject,
        ..t.sb.quirks()
    });
    let (s4, v4) = post_transfer(&t, "idem-1", &other, &[]).await;
    assert_eq!(s4, 422);
    assert_eq!(v4["errors"][0]["code"], "idempotency_key_reused");
    // keys live 30 minutes on the simulated clock
    t.sb.advance_clock(Duration::from_secs(30 * 60 + 1));
    let body = t.transfer_body("ACME SAS", "10.00", "INV-1").await;
    let (s5, v5) = post_transfer(&t, "idem-1", &body, &[]).await;
    assert_eq!(s5, 200);
    assert_ne!(v5["transfer"]["id"], v1["transfer"]["id"]);
    assert_eq!(t.sb.transfer_log().len(), 2);
    // error answers are not cached
    let (s6, _) = post_transfer(&t, "idem-2", &json!({"transfer": {}}), &[]).await;
    assert_eq!(s6, 422);
    let (s7, _) = post_transfer(&t, "idem-2", &body, &[]).await;
    assert_eq!(s7, 200);
    t.sb.stop().await;
}
