//! Simulated clock: pending → processing → settled / declined, cancel, and signed webhooks.
mod common;

use sandbox::webhook;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

#[test]
fn doc_signature_test_vector() {
    // API.md §12.2
    assert_eq!(
        webhook::sign("test-secret", 1_704_110_400, br#"{"test":"data"}"#),
        "56aff06dc227db80d6568a5070f912c601c31f20451745d257cbc0b5dfa93805"
    );
    assert_eq!(
        webhook::signature_header("test-secret", 1_704_110_400, br#"{"test":"data"}"#),
        "t=1704110400,v1=56aff06dc227db80d6568a5070f912c601c31f20451745d257cbc0b5dfa93805"
    );
}

/// A minimal HTTP receiver: forwards (headers, body) of each request and answers 200.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![];
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    let body = buf[end + 4..end + 4 + len].to_vec();
                    let _ = sock
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    let _ = tx.send((head, body));
                    return;
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn transfers_settle_on_the_clock_and_webhooks_are_signed() {
    let t = common::start().await;
    let (url, mut rx) = receiver().await;
    let r = t
        .post("/v2/webhook_subscriptions")
        .json(&json!({"callback_url": url, "types": ["v1/transactions"], "secret": "s".repeat(32)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let sub = common::json(r).await;
    assert_eq!(sub["secret"], "s".repeat(32));
    let r = t.get("/v2/webhook_subscriptions").send().await.unwrap();
    assert_eq!(
        common::json(r).await["webhook_subscriptions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let body = t.transfer_body("ACME SAS", "500.00", "INV-S").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "s1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    let id = v["transfer"]["id"].as_str().unwrap().to_string();
    let get = |id: String| {
        let t = &t;
        async move {
            common::json(
                t.get(&format!("/v2/sepa/transfers/{id}"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await["transfer"]
                .clone()
        }
    };
    assert_eq!(get(id.clone()).await["status"], "pending");
    t.sb.advance_clock(Duration::from_secs(59));
    assert_eq!(get(id.clone()).await["status"], "pending");
    t.sb.advance_clock(Duration::from_secs(1));
    let tr = get(id.clone()).await;
    assert_eq!(tr["status"], "processing");
    assert!(tr["transaction_id"].is_string());
    assert_eq!(t.sb.balance().balance.to_string(), "999500.00");
    // first webhook: transactions.created
    let (head, raw) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let sig = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("x-qonto-signature: ")
                .or_else(|| l.strip_prefix("X-Qonto-Signature: "))
        })
        .expect("signature header")
        .to_string();
    let now = chrono::Utc::now().timestamp();
    assert!(webhook::verify(&sig, &raw, &"s".repeat(32), now, 300));
    assert!(!webhook::verify(
        &sig,
        &raw,
        "wrong-secret-wrong-secret-wrong!!",
        now,
        300
    ));
    let t_part: i64 = sig
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("t=")
        .parse()
        .unwrap();
    let v1 = sig.split(',').nth(1).unwrap().trim_start_matches("v1=");
    assert_eq!(v1, webhook::sign(&"s".repeat(32), t_part, &raw));
    let ev: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(ev["type"], "v1/transactions");
    assert_eq!(ev["data"]["event"], "created");
    assert_eq!(ev["data"]["id"], tr["transaction_id"]);
    assert_eq!(ev["subscription_id"], sub["id"]);

    t.sb.advance_clock(Duration::from_secs(3600));
    let tr = get(id.clone()).await;
    assert_eq!(tr["status"], "settled");
    assert!(tr["completed_at"].is_string());
    let (_, raw) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let ev: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(ev["data"]["event"], "updated");
    assert_eq!(ev["data"]["status"], "completed");
    assert_eq!(
        t.sb.transfer_log()[0].status,
        sandbox::TransferStatus::Settled
    );

    // delivery log
    tokio::time::sleep(Duration::from_millis(100)).await;
    let d = t.sb.webhook_deliveries();
    assert_eq!(d.len(), 2);
    assert!(d.iter().all(|d| d.delivered));

    let sid = sub["id"].as_str().unwrap();
    let r = t
        .http
        .delete(t.url(&format!("/v2/webhook_subscriptions/{sid}")))
        .header("Authorization", &t.auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    t.sb.stop().await;
}

#[tokio::test]
async fn decline_rules_cancel_and_filters() {
    let t = common::start().await;
    t.sb.add_beneficiary(sandbox::SeedBeneficiary::new(
        "Please DECLINE Me",
        "FR1420041010050500013M02606",
        true,
    ));
    let body = t.transfer_body("Please DECLINE Me", "10.00", "D-1").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "d1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let declined = common::json(r).await["transfer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // IBAN rule, set at runtime
    t.sb.set_decline_rules(vec![
        sandbox::DeclineRule::name_contains("decline"),
        sandbox::DeclineRule::iban("NL20 INGB 0001 2345 67"),
    ]);
    let body = t
        .transfer_body("Van Dijk Logistics BV", "10.00", "D-2")
        .await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "d2")
        .json(&body)
        .send()
        .await
        .unwrap();
    let declined2 = common::json(r).await["transfer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = t.transfer_body("ACME SAS", "10.00", "C-1").await;
    let r = t
        .post("/v2/sepa/transfers")
        .header("X-Qonto-Idempotency-Key", "c1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let canceled = common::json(r).await["transfer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t
        .post(&format!("/v2/sepa/transfers/{canceled}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(t.sb.balance().authorized_balance.to_string(), "999980.00");

    t.sb.advance_clock(Duration::from_secs(120));
    let r = t
        .get("/v2/sepa/transfers?status[]=declined")
        .send()
        .await
        .unwrap();
    let v = common::json(r).await;
    let ids: Vec<&str> = v["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&declined.as_str()) && ids.contains(&declined2.as_str()));
    assert_eq!(
        v["transfers"][0]["declined_reason"],
        "beneficiary_network_rules_error"
    );
    // declined and canceled money is back
    assert_eq!(t.sb.balance().authorized_balance.to_string(), "1000000.00");
    let r = t
        .get("/v2/sepa/transfers?status[]=canceled")
        .send()
        .await
        .unwrap();
    assert_eq!(
        common::json(r).await["transfers"][0]["id"],
        canceled.as_str()
    );
    // cancel is only for pending transfers
    let r = t
        .post(&format!("/v2/sepa/transfers/{canceled}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    t.sb.stop().await;
}

#[tokio::test]
async fn deterministic_given_a_seed() {
    async fn run() -> Vec<String> {
        let cfg = sandbox::SandboxConfig {
            start_time: Some("2026-11-02T09:00:00Z".parse().unwrap()),
            ..sandbox::SandboxConfig::with_seed(7)
        };
        let t = common::start_with(cfg).await;
        let body = t.transfer_body("ACME SAS", "10.00", "X").await;
        let r = t
            .post("/v2/sepa/transfers")
            .header("X-Qonto-Idempotency-Key", "k")
            .json(&body)
            .send()
            .await
            .unwrap();
        let v = common::json(r).await;
        let out = vec![
            t.sb.bank_account_id(),
            v["transfer"]["id"].as_str().unwrap().to_string(),
            v["transfer"]["created_at"].as_str().unwrap().to_string(),
        ];
        t.sb.stop().await;
        out
    }
    assert_eq!(run().await, run().await);
}
