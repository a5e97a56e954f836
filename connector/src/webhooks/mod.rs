//! The outcome webhook dispatcher: sends the `deliveries` written by [`crate::events::emit`] to
//! each source's callback, signed the Standard Webhooks way (DESIGN §6).
//!
//! - **Claiming.** Due deliveries are claimed with a lease (see [`crate::store::deliveries`]):
//!   several instances (or several dispatchers) never send the same delivery at the same time,
//!   and a crashed instance's deliveries are taken over when their lease runs out.
//! - **Order.** A delivery is not sent while an earlier event of the same bill to the same
//!   endpoint is pending (also while that one waits for a retry).
//! - **Headers.** `webhook-id` = the event id (the same on every retry and replay),
//!   `webhook-timestamp` = the attempt's time, `webhook-signature` = one `v1,…` per live secret
//!   (two during a rotation's grace period).
//! - **Retries.** After a failed attempt (no answer, or a status other than 2xx and 410) the
//!   next one waits the schedule's next step (default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h),
//!   moved by ±10 % jitter, or longer when the answer carried `Retry-After` (seconds or an
//!   HTTP date). When the last step fails the delivery is `dead` and the endpoint disabled
//!   (reason and audit entry). Redirects are not followed (a 3xx is a failure).
//! - **410 Gone** disables the endpoint at once. Deliveries of a disabled endpoint stay
//!   `pending`, paused, and go out in order once a person enables it again.
//! - **Every attempt is stored**: time, status code, duration, the first 20 KB of the answer,
//!   the error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument as _;

pub use crate::config::WebhookSettings;
use crate::secrets::SecretBox;
use crate::store::deliveries::{AttemptDecision, AttemptRecord, ClaimedDelivery};
use crate::store::sources::callback_signing_secrets;
use crate::store::{Store, StoreError};

/// How much of an answer's body is kept with the attempt.
pub const MAX_STORED_RESPONSE: usize = 20 * 1024;

/// Sends outcome webhooks until shut down. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    keys: SecretBox,
    settings: WebhookSettings,
    client: reqwest::Client,
    worker: String,
}

impl Dispatcher {
    /// A dispatcher sending through its own HTTP client (no redirects, `settings.timeout`).
    pub fn new(store: Store, keys: SecretBox, settings: WebhookSettings) -> Dispatcher {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "webhook HTTP client: falling back to defaults");
                reqwest::Client::new()
            });
        let worker = format!(
            "webhooks-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        Dispatcher {
            inner: Arc::new(Inner {
                store,
                keys,
                settings,
                client,
                worker,
            }),
        }
    }

    /// This dispatcher's lease holder name.
    pub fn worker(&self) -> &str {
        &self.inner.worker
    }

    /// Send due deliveries until `shutdown` turns true (or its sender is dropped). Wakes every
    /// `poll_interval`, and earlier on [`crate::events::wake`]. In-flight attempts finish (within
    /// the timeout) before it returns.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.inner.worker, "webhook dispatcher started");
        let mut backoff = self.inner.settings.poll_interval;
        loop {
            if *shutdown.borrow() {
                break;
            }
            match self.run_once().await {
                Ok(n) if n > 0 => {
                    backoff = self.inner.settings.poll_interval;
                    continue;
                }
                Ok(_) => backoff = self.inner.settings.poll_interval,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook dispatcher: could not claim deliveries");
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = crate::events::waker().notified() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        if let Err(e) = self
            .inner
            .store
            .release_deliveries(&self.inner.worker)
            .await
        {
            tracing::warn!(error = %e, "webhook dispatcher: could not release its leases");
        }
        tracing::info!(worker = %self.inner.worker, "webhook dispatcher stopped");
    }

    /// Claim what is due (up to `concurrency`), send it all concurrently and record the
    /// outcomes. Returns how many deliveries were attempted.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let s = &self.inner.settings;
        let lease = chrono::Duration::from_std(s.timeout + Duration::from_secs(30))
            .unwrap_or(chrono::Duration::minutes(5));
        let claimed = self
            .inner
            .store
            .claim_deliveries(&self.inner.worker, s.concurrency, lease)
            .await?;
        let n = claimed.len();
        let mut set = JoinSet::new();
        for c in claimed {
            let me = self.clone();
            let span = tracing::info_span!(
                "webhook_delivery",
                org_id = %c.delivery.org_id,
                source_id = %c.delivery.source_id,
                bill_id = c.delivery.bill_id.as_deref().unwrap_or(""),
                event_id = %c.delivery.event_id,
                delivery_id = %c.delivery.id,
                event_type = %c.delivery.event_type,
            );
            set.spawn(async move { me.deliver(c).await }.instrument(span));
        }
        while let Some(res) = set.join_next().await {
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "webhook attempt could not be recorded"),
                Err(e) => tracing::error!(error = %e, "webhook attempt task failed"),
            }
        }
        Ok(n)
    }

    /// One attempt of one claimed delivery.
    async fn deliver(&self, c: ClaimedDelivery) -> Result<(), StoreError> {
        let inner = &self.inner;
        let started_at = Utc::now();
        let started = Instant::now();
        let result = self.send(&c, started_at).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let round = c.delivery.round_attempts + 1;
        let (record, decision) = match result {
            Ok(answer) => {
                let decision = decide(
                    Some(answer.status),
                    answer.retry_after,
                    round,
                    &inner.settings,
                    Utc::now(),
                );
                let error = (!(200..300).contains(&answer.status))
                    .then(|| format!("the endpoint answered HTTP {}", answer.status));
                (
                    AttemptRecord {
                        at: started_at,
                        status_code: Some(answer.status),
                        duration_ms,
                        response_body: Some(answer.body),
                        error,
                    },
                    decision,
                )
            }
            Err(error) => (
                AttemptRecord {
                    at: started_at,
                    status_code: None,
                    duration_ms,
                    response_body: None,
                    error: Some(error),
                },
                decide(None, None, round, &inner.settings, Utc::now()),
            ),
        };
        match &decision {
            AttemptDecision::Delivered => {
                tracing::info!(
                    status = record.status_code,
                    duration_ms,
                    "webhook delivered"
                )
            }
            AttemptDecision::Retry(at) => tracing::warn!(
                status = record.status_code, error = record.error.as_deref(), attempt = round,
                next_attempt_at = %at, "webhook attempt failed; will retry"
            ),
            AttemptDecision::Gone => {
                tracing::warn!("the endpoint answered 410 Gone; disabling it")
            }
            AttemptDecision::Dead => tracing::error!(
                status = record.status_code,
                error = record.error.as_deref(),
                attempt = round,
                "webhook delivery is dead after its last retry; disabling the endpoint"
            ),
        }
        inner
            .store
            .record_attempt(&inner.worker, &c, record, decision)
            .await
    }

    /// POST the event; `Err` when no HTTP answer came (the message is for people and logs).
    async fn send(&self, c: &ClaimedDelivery, at: DateTime<Utc>) -> Result<Answer, String> {
        let inner = &self.inner;
        let url = c
            .source
            .callback_url
            .clone()
            .ok_or_else(|| "the source has no callback URL any more".to_string())?;
        let secrets = callback_signing_secrets(&c.source, &inner.keys, at)
            .map_err(|e| format!("cannot read the callback secret: {e}"))?;
        if secrets.is_empty() {
            return Err("the source has no callback secret".into());
        }
        let headers = crate::signing::sign(
            &secrets,
            &c.delivery.event_id,
            at.timestamp(),
            c.body.as_bytes(),
        );
        let mut req = inner
            .client
            .post(&url)
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("billbridge/", env!("CARGO_PKG_VERSION"), " (webhooks)"),
            );
        for (name, value) in headers.pairs() {
            req = req.header(name, value);
        }
        let mut resp = req.body(c.body.clone()).send().await.map_err(describe)?;
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers(), Utc::now());
        let mut body = Vec::new();
        // Keep the first 20 KB; a body that cannot be read to the end does not change the
        // outcome, which the status already says.
        while body.len() < MAX_STORED_RESPONSE {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_STORED_RESPONSE - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) | Err(_) => break,
            }
        }
        Ok(Answer {
            status,
            retry_after,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// Start a dispatcher on the current Tokio runtime; stop it by sending `true` on the watch
/// channel (or dropping its sender) and awaiting the handle.
pub fn spawn(
    store: Store,
    keys: SecretBox,
    settings: WebhookSettings,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(Dispatcher::new(store, keys, settings).run(shutdown))
}

struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

/// A transport error, without the URL's query (which could carry a token).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_request() {
        "request failed"
    } else {
        "failed"
    };
    let mut causes = String::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        causes.push_str(": ");
        causes.push_str(&s.to_string());
        source = s.source();
    }
    format!("{kind}: {}{causes}", e.without_url())
        .chars()
        .take(1000)
        .collect()
}

/// What to do after attempt number `round` (1-based, in the current round) answered `status`
/// (`None`: no answer).
pub fn decide(
    status: Option<u16>,
    retry_after: Option<Duration>,
    round: i32,
    settings: &WebhookSettings,
    now: DateTime<Utc>,
) -> AttemptDecision {
    match status {
        Some(200..=299) => return AttemptDecision::Delivered,
        Some(410) => return AttemptDecision::Gone,
        _ => {}
    }
    let step = usize::try_from(round - 1).unwrap_or(0);
    let Some(wait) = settings.retry_schedule.get(step) else {
        return AttemptDecision::Dead;
    };
    let jittered = jitter(*wait, settings.jitter);
    let wait = match retry_after {
        Some(ra) => jittered.max(ra.min(settings.max_retry_after)),
        None => jittered,
    };
    AttemptDecision::Retry(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX))
}

/// `wait` moved by up to `share` of it, either way.
fn jitter(wait: Duration, share: f64) -> Duration {
    if share <= 0.0 {
        return wait;
    }
    let factor = 1.0 + share * (fastrand::f64() * 2.0 - 1.0);
    wait.mul_f64(factor.max(0.0))
}

/// `Retry-After` as a wait: delta-seconds, or an HTTP date (IMF-fixdate) from `now`.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WebhookSettings {
        WebhookSettings {
            retry_schedule: vec![Duration::from_secs(5), Duration::from_secs(300)],
            jitter: 0.1,
            ..WebhookSettings::default()
        }
    }

    #[test]
    fn decisions_follow_the_schedule() {
        let s = settings();
        let now = Utc::now();
        assert_eq!(
            decide(Some(204), None, 1, &s, now),
            AttemptDecision::Delivered
        );
        assert_eq!(decide(Some(410), None, 1, &s, now), AttemptDecision::Gone);
        let AttemptDecision::Retry(at) = decide(Some(500), None, 1, &s, now) else {
            panic!("a first failure is retried")
        };
        let wait = (at - now).num_milliseconds();
        assert!((4500..=5500).contains(&wait), "{wait}");
        let AttemptDecision::Retry(at) = decide(None, None, 2, &s, now) else {
            panic!("a second failure is retried")
        };
        assert!((at - now).num_seconds() >= 270);
        assert_eq!(decide(Some(500), None, 3, &s, now), AttemptDecision::Dead);
        // Retry-After wins when it asks for longer, and is capped.
        let AttemptDecision::Retry(at) =
            decide(Some(429), Some(Duration::from_secs(60)), 1, &s, now)
        else {
            panic!("429 is retried")
        };
        assert_eq!((at - now).num_seconds(), 60);
        let AttemptDecision::Retry(at) =
            decide(Some(429), Some(Duration::from_secs(10_000_000)), 1, &s, now)
        else {
            panic!("429 is retried")
        };
        assert_eq!((at - now).num_seconds(), 86_400);
    }

    #[test]
    fn settings_defaults_and_validation() {
        let s = WebhookSettings::default();
        assert_eq!(s.retry_schedule.len(), 7);
        assert_eq!(s.retry_schedule[0], Duration::from_secs(5));
        assert_eq!(s.retry_schedule[6], Duration::from_secs(36_000));
        let mut raw = crate::config::RawWebhooks {
            concurrency: 0,
            ..Default::default()
        };
        let e = raw.validate().unwrap_err().to_string();
        assert!(e.contains("webhooks.concurrency"), "{e}");
        raw.concurrency = 2;
        raw.jitter_percent = 80;
        let e = raw.validate().unwrap_err().to_string();
        assert!(e.contains("webhooks.jitter_percent"), "{e}");
        // An empty schedule is allowed: one attempt, then dead.
        raw.jitter_percent = 0;
        raw.retry_schedule_secs = vec![];
        let s = raw.validate().unwrap();
        assert_eq!(
            decide(Some(500), None, 1, &s, Utc::now()),
            AttemptDecision::Dead
        );
    }

    #[test]
    fn retry_after_in_seconds_or_http_date() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(
            RETRY_AFTER,
            "Fri, 27 Nov 2026 10:01:30 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(90)));
        h.insert(
            RETRY_AFTER,
            "Fri, 27 Nov 2026 09:00:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
    }
}
