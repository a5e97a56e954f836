//! Webhook signing and verification, the [Standard Webhooks] way (DESIGN §6), both directions.
//!
//! Outbound (billbridge → ERP) and inbound (ERP → billbridge) webhooks carry three headers:
//!
//! - `webhook-id`: a unique message id (e.g. `msg_` + UUID), the same on every retry;
//! - `webhook-timestamp`: Unix seconds at the time of the attempt;
//! - `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
//!   one per active secret (several during a key rotation grace period).
//!
//! Secrets are `whsec_` + standard base64 of 24–64 random bytes ([`WebhookSecret`]). Receivers in
//! any language can verify our signatures with the published Standard Webhooks libraries (the tests
//! check ours against the `standardwebhooks` crate).
//!
//! # Replay protection
//!
//! [`verify`] checks authenticity and freshness (the timestamp must be within the tolerance,
//! ±5 minutes by default), not uniqueness. **Replay protection is the caller's job**: remember the
//! `webhook-id` of every accepted message for at least the tolerance window (in practice: a unique
//! key on the inbox row) and treat a second delivery of the same id as a duplicate.
//!
//! Secrets never appear in `Debug` output or errors (DESIGN §3 invariant 7).
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Name of the header that carries the message id.
pub const HEADER_WEBHOOK_ID: &str = "webhook-id";
/// Name of the header that carries the Unix timestamp (seconds) of the attempt.
pub const HEADER_WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Name of the header that carries the space-separated versioned signatures.
pub const HEADER_WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Default accepted clock skew between the signer and the verifier: 5 minutes either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The only signature scheme billbridge makes and checks: HMAC-SHA256.
const SIGNATURE_VERSION: &str = "v1";

/// Standard base64 that accepts input with or without `=` padding (we always write padding).
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a webhook secret could not be parsed or made.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookSecretError {
    /// The text does not start with `whsec_`.
    #[error("webhook secret must start with \"whsec_\"")]
    MissingPrefix,
    /// The part after `whsec_` is not standard base64.
    #[error("webhook secret is not valid base64 after \"whsec_\"")]
    BadBase64,
    /// The key is shorter or longer than allowed.
    #[error(
        "webhook secret must be {min} to {max} bytes, got {len}",
        min = WebhookSecret::MIN_LEN,
        max = WebhookSecret::MAX_LEN
    )]
    BadLength {
        /// Length of the decoded key in bytes.
        len: usize,
    },
    /// The operating system's random number generator failed.
    #[error("could not get random bytes from the operating system: {0}")]
    Random(String),
}

/// A Standard Webhooks signing secret: 24–64 random bytes, written `whsec_` + base64.
///
/// The key bytes live in a zeroize-on-drop [`SecretSlice`]; `Debug` prints only the length.
/// There is deliberately no `Display`: use [`WebhookSecret::expose_whsec`] to get the text once,
/// e.g. to show it to the user who creates an endpoint.
#[derive(Clone)]
pub struct WebhookSecret {
    key: SecretSlice<u8>,
}

impl WebhookSecret {
    /// Prefix of the text form.
    pub const PREFIX: &'static str = "whsec_";
    /// Shortest accepted key, in bytes.
    pub const MIN_LEN: usize = 24;
    /// Longest accepted key, in bytes.
    pub const MAX_LEN: usize = 64;
    /// Length of keys made by [`WebhookSecret::generate`], in bytes.
    pub const DEFAULT_LEN: usize = 32;

    /// Makes a new random secret of [`Self::DEFAULT_LEN`] bytes from the OS random generator.
    ///
    /// # Errors
    /// [`WebhookSecretError::Random`] if the operating system cannot provide random bytes.
    pub fn generate() -> Result<Self, WebhookSecretError> {
        Self::generate_with_len(Self::DEFAULT_LEN)
    }

    /// Makes a new random secret of `len` bytes (24–64).
    ///
    /// # Errors
    /// [`WebhookSecretError::BadLength`] outside 24–64, [`WebhookSecretError::Random`] if the
    /// operating system cannot provide random bytes.
    pub fn generate_with_len(len: usize) -> Result<Self, WebhookSecretError> {
        check_len(len)?;
        let mut key = Zeroizing::new(vec![0u8; len]);
        getrandom::fill(&mut key).map_err(|e| WebhookSecretError::Random(e.to_string()))?;
        Self::from_bytes(&key)
    }

    /// Wraps raw key bytes (copied into zeroizing storage).
    ///
    /// # Errors
    /// [`WebhookSecretError::BadLength`] unless `key` is 24–64 bytes long.
    pub fn from_bytes(key: &[u8]) -> Result<Self, WebhookSecretError> {
        check_len(key.len())?;
        Ok(Self {
            key: SecretSlice::from(key.to_vec()),
        })
    }

    /// Parses `whsec_` + standard base64 (padding optional; surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`WebhookSecretError::MissingPrefix`], [`WebhookSecretError::BadBase64`] or
    /// [`WebhookSecretError::BadLength`]; the error never contains the secret.
    pub fn parse(text: &str) -> Result<Self, WebhookSecretError> {
        let encoded = text
            .trim()
            .strip_prefix(Self::PREFIX)
            .ok_or(WebhookSecretError::MissingPrefix)?;
        let key = Zeroizing::new(
            STANDARD_LENIENT
                .decode(encoded)
                .map_err(|_| WebhookSecretError::BadBase64)?,
        );
        Self::from_bytes(&key)
    }

    /// The text form, `whsec_` + standard base64 (with padding), wrapped so that it is not
    /// logged by accident.
    pub fn expose_whsec(&self) -> SecretString {
        let mut text = String::with_capacity(
            Self::PREFIX.len() + base64::encoded_len(self.len(), true).unwrap_or(0),
        );
        text.push_str(Self::PREFIX);
        STANDARD.encode_string(self.key.expose_secret(), &mut text);
        SecretString::from(text)
    }

    /// Length of the key in bytes.
    pub fn len(&self) -> usize {
        self.key.expose_secret().len()
    }

    /// Always `false`: a secret has at least [`Self::MIN_LEN`] bytes (here for clippy's sake).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An HMAC-SHA256 state keyed with this secret that has absorbed `{id}.{timestamp}.{body}`.
    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(self.key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

fn check_len(len: usize) -> Result<(), WebhookSecretError> {
    if (WebhookSecret::MIN_LEN..=WebhookSecret::MAX_LEN).contains(&len) {
        Ok(())
    } else {
        Err(WebhookSecretError::BadLength { len })
    }
}

impl FromStr for WebhookSecret {
    type Err = WebhookSecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecret(whsec_<redacted {} bytes>)", self.len())
    }
}

/// The three header values of a signed message, ready to be set on an HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderValues {
    /// Value of `webhook-id`.
    pub webhook_id: String,
    /// Value of `webhook-timestamp` (Unix seconds).
    pub webhook_timestamp: String,
    /// Value of `webhook-signature`: `v1,<base64>` per secret, space-separated.
    pub webhook_signature: String,
}

impl HeaderValues {
    /// `(header name, value)` pairs, e.g. for `reqwest::RequestBuilder::header`.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (HEADER_WEBHOOK_ID, self.webhook_id.as_str()),
            (HEADER_WEBHOOK_TIMESTAMP, self.webhook_timestamp.as_str()),
            (HEADER_WEBHOOK_SIGNATURE, self.webhook_signature.as_str()),
        ]
    }
}

/// Signs `body` for message `msg_id` at `timestamp` (Unix seconds) with every secret in
/// `secrets`, in order, giving one `v1,<base64>` entry per secret in `webhook-signature`.
///
/// Pass the current and the previous secret during a rotation grace period so receivers that
/// still hold either one accept the message. `msg_id` must be a header-safe token (billbridge
/// uses `msg_` + UUID) and stays the same across retries; `timestamp` is the attempt's time.
/// With no secret the signature header is empty and every receiver will refuse the message.
pub fn sign(secrets: &[WebhookSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> HeaderValues {
    let mut signature = String::with_capacity(secrets.len() * 48);
    for secret in secrets {
        if !signature.is_empty() {
            signature.push(' ');
        }
        signature.push_str(SIGNATURE_VERSION);
        signature.push(',');
        let tag = secret.mac(msg_id, timestamp, body).finalize().into_bytes();
        STANDARD.encode_string(tag, &mut signature);
    }
    HeaderValues {
        webhook_id: msg_id.to_owned(),
        webhook_timestamp: timestamp.to_string(),
        webhook_signature: signature,
    }
}

/// The webhook headers of a received request, as found (absent headers are `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceivedHeaders<'a> {
    /// Value of `webhook-id`, if present.
    pub webhook_id: Option<&'a str>,
    /// Value of `webhook-timestamp`, if present.
    pub webhook_timestamp: Option<&'a str>,
    /// Value of `webhook-signature`, if present.
    pub webhook_signature: Option<&'a str>,
}

impl<'a> ReceivedHeaders<'a> {
    /// Reads the three headers through `get(name)`, which receives the lower-case header name,
    /// e.g. `ReceivedHeaders::from_fn(|n| req.headers().get(n).and_then(|v| v.to_str().ok()))`.
    pub fn from_fn(mut get: impl FnMut(&'static str) -> Option<&'a str>) -> Self {
        Self {
            webhook_id: get(HEADER_WEBHOOK_ID),
            webhook_timestamp: get(HEADER_WEBHOOK_TIMESTAMP),
            webhook_signature: get(HEADER_WEBHOOK_SIGNATURE),
        }
    }
}

/// Why a received webhook was refused. Every variant maps to HTTP 401 and a stable
/// [`VerifyError::code`] for the JSON error body; none carries secret material.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A webhook header is absent or empty (the name of the first one missing).
    #[error("missing webhook header {0}")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a non-negative integer number of seconds.
    #[error("webhook-timestamp is not an integer number of seconds")]
    BadTimestamp,
    /// `webhook-timestamp` is older than the tolerance.
    #[error("webhook timestamp is {age_secs} s old, more than the {tolerance_secs} s tolerance")]
    Expired {
        /// How old the timestamp is, in seconds.
        age_secs: i64,
        /// The accepted skew, in seconds.
        tolerance_secs: i64,
    },
    /// `webhook-timestamp` is further in the future than the tolerance (code `bad_timestamp`).
    #[error("webhook timestamp is {ahead_secs} s in the future, more than the {tolerance_secs} s tolerance")]
    FromTheFuture {
        /// How far ahead of our clock the timestamp is, in seconds.
        ahead_secs: i64,
        /// The accepted skew, in seconds.
        tolerance_secs: i64,
    },
    /// No `v1` signature in the header matches the body under any of our secrets (this covers
    /// malformed base64, unknown versions only, a wrong secret and a tampered id/timestamp/body).
    #[error("no valid webhook signature")]
    BadSignature,
}

impl VerifyError {
    /// Stable machine-readable code: `missing_headers`, `bad_timestamp` (not an integer, or too
    /// far in the future), `expired` (too old) or `bad_signature`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_headers",
            Self::BadTimestamp | Self::FromTheFuture { .. } => "bad_timestamp",
            Self::Expired { .. } => "expired",
            Self::BadSignature => "bad_signature",
        }
    }
}

/// Verifies a received webhook: all three headers present, timestamp within `tolerance` of
/// `now` (either way; use [`DEFAULT_TOLERANCE`]), and at least one `v1` signature in the header
/// matching the body under at least one of `secrets` (rotation: accept old and new).
///
/// Entries with another version prefix (`v1a,…`, `v2,…`) and entries that are not valid base64
/// are skipped. Comparison is constant-time (`hmac`'s `verify_slice`). The signed content uses
/// the timestamp as parsed (decimal, no leading zeros), like the reference libraries.
///
/// This does **not** detect replays within the tolerance window: the caller must refuse a
/// `webhook-id` it has already accepted (see the module documentation).
///
/// # Errors
/// See [`VerifyError`]; checks run in the order headers → timestamp → signature.
pub fn verify(
    secrets: &[WebhookSecret],
    headers: &ReceivedHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let msg_id = required(headers.webhook_id, HEADER_WEBHOOK_ID)?;
    let timestamp = required(headers.webhook_timestamp, HEADER_WEBHOOK_TIMESTAMP)?;
    let signatures = required(headers.webhook_signature, HEADER_WEBHOOK_SIGNATURE)?;

    let timestamp = parse_timestamp(timestamp)?;
    let tolerance_secs = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    let now = now.timestamp();
    let age_secs = now.saturating_sub(timestamp);
    if age_secs > tolerance_secs {
        return Err(VerifyError::Expired {
            age_secs,
            tolerance_secs,
        });
    }
    let ahead_secs = timestamp.saturating_sub(now);
    if ahead_secs > tolerance_secs {
        return Err(VerifyError::FromTheFuture {
            ahead_secs,
            tolerance_secs,
        });
    }

    let candidates: Vec<Vec<u8>> = signatures
        .split_ascii_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == SIGNATURE_VERSION)
        .filter_map(|(_, sig)| STANDARD_LENIENT.decode(sig).ok())
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::BadSignature);
    }
    for secret in secrets {
        let mac = secret.mac(msg_id, timestamp, body);
        // `verify_slice` compares in constant time (a length mismatch fails early, which
        // reveals nothing about the key).
        if candidates
            .iter()
            .any(|sig| mac.clone().verify_slice(sig).is_ok())
        {
            return Ok(());
        }
    }
    Err(VerifyError::BadSignature)
}

fn required<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, VerifyError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(VerifyError::MissingHeader(name)),
    }
}

fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    text.parse::<i64>().map_err(|_| VerifyError::BadTimestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_print_the_key() {
        let secret = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let shown = format!("{secret:?}");
        assert!(!shown.contains("C2FVsBQ"), "{shown}");
        assert!(shown.contains("24 bytes"), "{shown}");
    }

    #[test]
    fn text_form_round_trips() {
        let secret = WebhookSecret::generate().unwrap();
        let text = secret.expose_whsec();
        let again = WebhookSecret::parse(text.expose_secret()).unwrap();
        assert_eq!(again.key.expose_secret(), secret.key.expose_secret());
        assert_eq!(again.len(), WebhookSecret::DEFAULT_LEN);
    }

    #[test]
    fn timestamps_must_be_plain_digits() {
        for bad in ["+1", "-1", "1.5", "1e9", "abc", "99999999999999999999"] {
            assert_eq!(
                parse_timestamp(bad),
                Err(VerifyError::BadTimestamp),
                "{bad}"
            );
        }
        assert_eq!(parse_timestamp("1649367553"), Ok(1_649_367_553));
    }
}
