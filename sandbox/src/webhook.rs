//! Webhook signing (API.md §12.2) and delivery.

use crate::state::OutgoingWebhook;
use crate::util::hex;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

type HmacSha256 = Hmac<Sha256>;

/// `lowercase-hex(HMAC-SHA256(secret, "{t}.{body}"))`, as API.md §12.2.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; the error branch cannot happen.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// The `X-Qonto-Signature` header value: `t={t},v1={hex}`.
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", sign(secret, t, body))
}

/// Check an `X-Qonto-Signature` header (for integrators' tests): parses `t` and every `v1`,
/// compares in constant time, and rejects timestamps more than `tolerance_secs` away from `now`.
pub fn verify(header: &str, body: &[u8], secret: &str, now: i64, tolerance_secs: i64) -> bool {
    let mut t: Option<i64> = None;
    let mut sigs = vec![];
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse().ok(),
            Some(("v1", v)) => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    let expected = sign(secret, t, body);
    sigs.iter()
        .any(|s| constant_time_eq(s.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One webhook delivery and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub event_id: String,
    pub subscription_id: String,
    pub url: String,
    /// `transactions.created` / `transactions.updated`.
    pub event: String,
    pub attempts: u32,
    /// HTTP status of the last attempt (`None`: connection error).
    pub last_status: Option<u16>,
    pub delivered: bool,
    /// Signature header of the last attempt.
    pub signature: String,
    /// The raw JSON body sent.
    pub body: String,
}

/// Delivery attempts: first try, then retries after 1 s, 2 s, 4 s, 8 s (real time). Like
/// Qonto, an answer must be a 2xx within 1 second.
const MAX_ATTEMPTS: u32 = 5;

pub(crate) async fn dispatcher(
    mut rx: UnboundedReceiver<OutgoingWebhook>,
    log: Arc<Mutex<Vec<WebhookDelivery>>>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client");
            return;
        }
    };
    while let Some(w) = rx.recv().await {
        let idx = {
            let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
            l.push(WebhookDelivery {
                event_id: w.event_id.clone(),
                subscription_id: w.subscription_id.clone(),
                url: w.url.clone(),
                event: w.event.clone(),
                attempts: 0,
                last_status: None,
                delivered: false,
                signature: String::new(),
                body: String::from_utf8_lossy(&w.body).into_owned(),
            });
            l.len() - 1
        };
        tokio::spawn(deliver(client.clone(), w, log.clone(), idx));
    }
}

async fn deliver(
    client: reqwest::Client,
    w: OutgoingWebhook,
    log: Arc<Mutex<Vec<WebhookDelivery>>>,
    idx: usize,
) {
    for attempt in 1..=MAX_ATTEMPTS {
        let t = chrono::Utc::now().timestamp();
        let sig = signature_header(&w.secret, t, &w.body);
        let res = client
            .post(&w.url)
            .header("Content-Type", "application/json")
            .header("X-Qonto-Signature", &sig)
            .body(w.body.clone())
            .send()
            .await;
        let status = res.as_ref().ok().map(|r| r.status().as_u16());
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        {
            let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(d) = l.get_mut(idx) {
                d.attempts = attempt;
                d.last_status = status;
                d.delivered = ok;
                d.signature = sig;
            }
        }
        if ok {
            tracing::debug!(event = %w.event, url = %w.url, "webhook delivered");
            return;
        }
        tracing::info!(event = %w.event, url = %w.url, ?status, attempt, "webhook delivery failed");
        if attempt < MAX_ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_test_vector() {
        // API.md §12.2
        assert_eq!(
            sign("test-secret", 1_704_110_400, br#"{"test":"data"}"#),
            "56aff06dc227db80d6568a5070f912c601c31f20451745d257cbc0b5dfa93805"
        );
        let h = signature_header("test-secret", 1_704_110_400, br#"{"test":"data"}"#);
        assert!(verify(
            &h,
            br#"{"test":"data"}"#,
            "test-secret",
            1_704_110_400 + 60,
            300
        ));
        assert!(!verify(
            &h,
            br#"{"test":"data"}"#,
            "test-secret",
            1_704_110_400 + 301,
            300
        ));
        assert!(!verify(
            &h,
            br#"{"test":"datA"}"#,
            "test-secret",
            1_704_110_400,
            300
        ));
    }
}
