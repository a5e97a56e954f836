//! No input makes the sandbox answer 5xx or drop the connection (unless a fault says so).
mod common;

use serde_json::json;

#[tokio::test]
async fn garbage_never_gives_5xx() {
    let t = common::start().await;
    let acme = t.ben_id("ACME SAS").await;
    let routes: Vec<(&str, String)> = vec![
        ("POST", "/v2/sepa/beneficiaries".into()),
        ("PATCH", format!("/v2/sepa/beneficiaries/{acme}")),
        ("PUT", format!("/v2/sepa/beneficiaries/{acme}")),
        ("PATCH", "/v2/sepa/beneficiaries/trust".into()),
        ("PATCH", "/v2/sepa/beneficiaries/untrust".into()),
        ("POST", "/v2/sepa/verify_payee".into()),
        ("POST", "/v2/sepa/bulk_verify_payee".into()),
        ("POST", "/v2/sepa/skip_verify_payee".into()),
        ("POST", "/v2/sepa/transfers".into()),
        ("POST", "/v2/sepa/transfers/x/cancel".into()),
        ("POST", "/v2/sepa/bulk_transfers".into()),
        ("POST", "/v2/attachments".into()),
        ("POST", "/v2/requests/multi_transfers".into()),
        ("POST", "/v2/webhook_subscriptions".into()),
        ("POST", "/v2/mocked_sca_sessions/x/allow".into()),
        ("POST", "/oauth2/token".into()),
        ("POST", "/oauth2/revoke".into()),
        ("POST", "/_sandbox/faults".into()),
        ("PUT", "/_sandbox/balance".into()),
        ("POST", "/_sandbox/clock/advance".into()),
        ("PATCH", "/_sandbox/quirks".into()),
        ("POST", "/_sandbox/beneficiaries".into()),
        ("PUT", "/_sandbox/decline_rules".into()),
    ];
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{".to_vec(),
        b"123".to_vec(),
        b"\"x\"".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x01],
        b"[".repeat(10_000),
        json!({"transfer": []}).to_string().into_bytes(),
        json!({"transfer": {"amount": {}, "beneficiary": 5, "attachment_ids": "x"}}).to_string().into_bytes(),
        json!({"transfer": {"beneficiary_id": acme, "bank_account_id": t.sb.bank_account_id(),
                            "amount": "99999999999999999999.99", "reference": "r"}}).to_string().into_bytes(),
        json!({"bulk_transfers": [null, 1, {"amount": "1"}], "bank_account_id": t.sb.bank_account_id()}).to_string().into_bytes(),
        json!({"beneficiary": {"name": 1, "iban": null}}).to_string().into_bytes(),
        json!({"ids": [1, 2]}).to_string().into_bytes(),
        json!({"requests": [{"id": {}, "iban": [], "beneficiary_name": 1}]}).to_string().into_bytes(),
        json!({"request_multi_transfer": {"note": "n", "transfers": [{"amount": "-1"}]}}).to_string().into_bytes(),
        json!({"callback_url": "ftp://x", "types": "v1/transactions"}).to_string().into_bytes(),
        json!({"balance": "-0.0.1", "seconds": -5, "path": 3}).to_string().into_bytes(),
        json!({"days": u64::MAX, "hours": u64::MAX}).to_string().into_bytes(),
        json!({"name": "x", "iban": "??", "match": "random", "ratio": 2.0}).to_string().into_bytes(),
    ];
    let mut n = 0;
    for (m, p) in &routes {
        for (ct, body) in bodies.iter().enumerate() {
            n += 1;
            let content_type = match ct % 3 {
                0 => "application/json",
                1 => "multipart/form-data; boundary=",
                _ => "application/x-www-form-urlencoded",
            };
            let r = t
                .http
                .request(
                    m.parse().unwrap(),
                    t.url(&format!("{p}?page=-1&per_page=1e9&iban[]=%FF&ids[]=&x=%")),
                )
                .header("Authorization", &t.auth)
                .header("Content-Type", content_type)
                .header("X-Qonto-Idempotency-Key", format!("garbage-{n}"))
                .header("X-Qonto-2fa-Preference", "mock")
                .header(
                    "X-Qonto-Sca-Session-Token",
                    if n % 2 == 0 { "nope" } else { "" },
                )
                .body(body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{m} {p} body #{ct}: no answer: {e}"));
            assert!(
                r.status().as_u16() < 500,
                "{m} {p} body #{ct}: {}",
                r.status()
            );
        }
    }
    // reads with hostile query strings
    for p in [
        "/v2/sepa/beneficiaries?page=99999999999999999999",
        "/v2/sepa/beneficiaries?per_page=100&page=18446744073709551615",
        "/v2/sepa/transfers?updated_at_from=yesterday",
        "/v2/sepa/transfers?scheduled_date_from=2026-13-45&sort_by=%00",
        "/v2/sepa/bulk_transfers?page=2",
        "/v2/requests?created_at_from=nope",
        "/v2/sca_sessions/%FF%FE",
        "/oauth2/auth?client_id=%FF&redirect_uri=&state=",
        "/oauth2/auth?client_id=billbridge-sandbox-client&redirect_uri=http://x/&response_type=code&state=12345678&scope=%00",
    ] {
        let r = t.get(p).send().await.unwrap();
        assert!(r.status().as_u16() < 500, "{p}: {}", r.status());
    }
    // the sandbox still works
    assert_eq!(
        t.get("/v2/organization").send().await.unwrap().status(),
        200
    );
    t.sb.stop().await;
}
