//! Verifying Qonto's webhooks (`X-Qonto-Signature: t={unix},v1={hex}`, API.md §12.2):
//! `v1 = hex(HMAC-SHA256(secret, "{t}.{raw body}"))`, at most five minutes old, compared in
//! constant time. Written by hand: Qonto's scheme is not Standard Webhooks, and no published
//! crate implements it. A valid webhook only makes billbridge poll Qonto sooner; its content is
//! never trusted for a payment state.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a Qonto webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QontoSignatureError {
    #[error("the X-Qonto-Signature header is missing")]
    Missing,
    #[error("the X-Qonto-Signature header is malformed (expected t=…,v1=…)")]
    Malformed,
    #[error("the webhook timestamp is outside the five-minute tolerance")]
    Expired,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Verify `header` for `body` with `secret` at time `now` (unix seconds).
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), QontoSignatureError> {
    let header = header.ok_or(QontoSignatureError::Missing)?;
    let mut t: Option<i64> = None;
    let mut sigs: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(QontoSignatureError::Malformed)?;
        match k.trim() {
            "t" => {
                t = Some(
                    v.trim()
                        .parse()
                        .map_err(|_| QontoSignatureError::Malformed)?,
                )
            }
            "v1" => {
                if let Ok(bytes) = hex::decode(v.trim()) {
                    sigs.push(bytes);
                }
            }
            _ => {}
        }
    }
    let t = t.ok_or(QontoSignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(QontoSignatureError::Malformed);
    }
    if (now - t).abs() > tolerance_secs {
        return Err(QontoSignatureError::Expired);
    }
    for sig in sigs {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .map_err(|_| QontoSignatureError::Malformed)?;
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&sig).is_ok() {
            return Ok(());
        }
    }
    Err(QontoSignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented test vector (API.md §12.2).
    #[test]
    fn documented_vector_verifies() {
        let header =
            "t=1704110400,v1=56aff06dc227db80d6568a5070f912c601c31f20451745d257cbc0b5dfa93805";
        assert_eq!(
            verify(
                b"test-secret",
                Some(header),
                br#"{"test":"data"}"#,
                1704110400,
                300
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                b"test-secret",
                Some(header),
                br#"{"test":"datA"}"#,
                1704110400,
                300
            ),
            Err(QontoSignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"other",
                Some(header),
                br#"{"test":"data"}"#,
                1704110400,
                300
            ),
            Err(QontoSignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"test-secret",
                Some(header),
                br#"{"test":"data"}"#,
                1704110400 + 301,
                300
            ),
            Err(QontoSignatureError::Expired)
        );
        assert_eq!(
            verify(b"test-secret", None, b"", 0, 300),
            Err(QontoSignatureError::Missing)
        );
        assert_eq!(
            verify(b"test-secret", Some("v1=abc"), b"", 0, 300),
            Err(QontoSignatureError::Malformed)
        );
    }
}
