//! Strict sending: amounts, references, names and IBANs are checked before anything leaves.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::QontoError;

/// Maximum `reference` length for a single SEPA transfer. The current `/v2/sepa/transfers` limit
/// is not documented; the legacy single endpoint allowed 99 (API.md §6.1: "keep ≤ 99 to be safe").
pub const MAX_SINGLE_REFERENCE_LEN: usize = 99;
/// Maximum `reference` length for a bulk item and a transfer request (140: SEPA remittance limit).
pub const MAX_BULK_REFERENCE_LEN: usize = 140;
/// Maximum `note` length (legacy object: "140 characters max").
pub const MAX_NOTE_LEN: usize = 140;
/// Maximum beneficiary name length (VoP `beneficiary_name` 1..140).
pub const MAX_NAME_LEN: usize = 140;
/// Maximum attachments per transfer.
pub const MAX_ATTACHMENTS: usize = 5;
/// Above this amount (EUR) a transfer needs at least one attachment.
pub const ATTACHMENT_THRESHOLD_EUR: i64 = 30_000;
/// Maximum items in a bulk transfer, a bulk VoP or a transfer request.
pub const MAX_BULK_ITEMS: usize = 400;
/// Maximum ids in one `GET /v2/sepa/transfers?ids[]=` call.
pub const MAX_IDS_PER_LIST: usize = 100;

/// A positive EUR amount with at most two decimals, sent as a decimal string (`"1100.50"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(Decimal);

impl Amount {
    /// Checks that `value` is positive and has at most two decimals (trailing zeros allowed).
    pub fn new(value: Decimal) -> Result<Self, QontoError> {
        if value <= Decimal::ZERO {
            return Err(QontoError::InvalidRequest(format!(
                "amount must be positive, got {value}"
            )));
        }
        if value.round_dp(2) != value {
            return Err(QontoError::InvalidRequest(format!(
                "amount {value} has more than two decimals"
            )));
        }
        let mut v = value;
        v.rescale(2);
        Ok(Amount(v))
    }

    /// The value.
    pub fn value(&self) -> Decimal {
        self.0
    }

    /// Whether the amount needs an attachment (> 30,000 EUR).
    pub fn needs_attachment(&self) -> bool {
        self.0 > Decimal::from(ATTACHMENT_THRESHOLD_EUR)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl FromStr for Amount {
    type Err = QontoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = Decimal::from_str_exact(s)
            .map_err(|_| QontoError::InvalidRequest(format!("not a decimal amount: {s:?}")))?;
        Amount::new(d)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether `c` is in the SEPA basic character set (EPC: `a-z A-Z 0-9 / - ? : ( ) . , ' +` and space).
pub fn is_sepa_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '/' | '-' | '?' | ':' | '(' | ')' | '.' | ',' | '\'' | '+' | ' '
        )
}

/// Checks a payment reference: not blank, at most `max_len` characters, SEPA character set only.
/// Nothing is truncated or replaced: a reference that does not fit is refused.
pub fn check_reference(reference: &str, max_len: usize) -> Result<(), QontoError> {
    if reference.trim().is_empty() {
        return Err(QontoError::InvalidRequest("reference is empty".into()));
    }
    let len = reference.chars().count();
    if len > max_len {
        return Err(QontoError::InvalidRequest(format!(
            "reference is {len} characters long, Qonto accepts at most {max_len}"
        )));
    }
    if let Some(bad) = reference.chars().find(|c| !is_sepa_char(*c)) {
        return Err(QontoError::InvalidRequest(format!(
            "reference contains {bad:?}, outside the SEPA character set"
        )));
    }
    Ok(())
}

/// Checks a free-text field's length (`what` names it in the error).
pub fn check_len(what: &str, value: &str, min: usize, max: usize) -> Result<(), QontoError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(QontoError::InvalidRequest(format!(
            "{what} must be {min}..={max} characters, got {len}"
        )));
    }
    Ok(())
}

/// Normalises an IBAN (spaces removed, upper case) and checks its shape and ISO 7064 checksum.
pub fn normalize_iban(iban: &str) -> Result<String, QontoError> {
    let s = normalize_iban_shape(iban)?;
    if !iban_checksum_ok(&s) {
        return Err(QontoError::InvalidRequest(format!(
            "IBAN checksum is wrong: {}",
            mask_iban(&s)
        )));
    }
    Ok(s)
}

/// Normalises an IBAN (spaces removed, upper case) and checks its shape only: two letters,
/// two digits, 11..=30 letters or digits. Request bodies are checked this way; the checksum is
/// left to Qonto, whose own documented sandbox VoP IBAN (`FR7610002006000000141790000`) fails
/// ISO 7064 (bills' IBANs are checksum-checked earlier, by `adapters`).
pub fn normalize_iban_shape(iban: &str) -> Result<String, QontoError> {
    let s: String = iban
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = s.as_bytes();
    let shape_ok = (15..=34).contains(&bytes.len())
        && bytes.iter().all(u8::is_ascii_alphanumeric)
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..4].iter().all(u8::is_ascii_digit);
    if !shape_ok {
        return Err(QontoError::InvalidRequest(format!(
            "not an IBAN: {}",
            mask_iban(&s)
        )));
    }
    Ok(s)
}

fn iban_checksum_ok(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() < 5 {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in bytes[4..].iter().chain(&bytes[..4]) {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Masks an IBAN for logs: the first four and last four characters, `FR76…0189`.
/// Short or odd input is masked whole (`…`).
pub fn mask_iban(iban: &str) -> String {
    let s: Vec<char> = iban.chars().filter(|c| !c.is_whitespace()).collect();
    if s.len() < 12 {
        return "…".into();
    }
    let head: String = s[..4].iter().collect();
    let tail: String = s[s.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// A client-generated idempotency key (`X-Qonto-Idempotency-Key`). DESIGN §3 invariant 2:
/// derive it from our own row id and persist it before the call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Wraps a key; refuses empty keys and keys with characters not allowed in a header.
    pub fn new(key: impl Into<String>) -> Result<Self, QontoError> {
        let key = key.into();
        if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(QontoError::InvalidRequest(
                "idempotency key must be 1..=255 visible ASCII characters".into(),
            ));
        }
        Ok(IdempotencyKey(key))
    }

    /// A fresh random (UUID v4) key.
    pub fn random() -> Self {
        IdempotencyKey(uuid::Uuid::new_v4().to_string())
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<uuid::Uuid> for IdempotencyKey {
    fn from(u: uuid::Uuid) -> Self {
        IdempotencyKey(u.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_two_decimal_strings() {
        let a: Amount = "1100.5".parse().expect("valid");
        assert_eq!(a.to_string(), "1100.50");
        assert_eq!(serde_json::to_string(&a).expect("ser"), "\"1100.50\"");
        assert_eq!(
            Amount::new(Decimal::new(42, 0)).expect("ok").to_string(),
            "42.00"
        );
        assert_eq!(
            Amount::new(Decimal::new(1_500, 3)).expect("ok").to_string(),
            "1.50"
        );
        assert!(Amount::new(Decimal::new(1_005, 3)).is_err());
        assert!(Amount::new(Decimal::ZERO).is_err());
        assert!(Amount::new(Decimal::new(-1, 0)).is_err());
        assert!("1e3".parse::<Amount>().is_err());
        assert!(Amount::new(Decimal::new(3_000_001, 2))
            .expect("ok")
            .needs_attachment());
        assert!(!Amount::new(Decimal::new(30_000, 0))
            .expect("ok")
            .needs_attachment());
    }

    #[test]
    fn references_are_refused_not_truncated() {
        assert!(check_reference("INV-2026/0042 (march)", 99).is_ok());
        assert!(check_reference("", 99).is_err());
        assert!(check_reference("Facture n°12", 99).is_err());
        assert!(check_reference("Rechnung für März", 99).is_err());
        assert!(check_reference("a_b", 99).is_err());
        assert!(check_reference(&"A".repeat(99), 99).is_ok());
        assert!(check_reference(&"A".repeat(100), 99).is_err());
        assert!(check_reference(&"A".repeat(140), 140).is_ok());
    }

    #[test]
    fn ibans_are_normalised_checked_and_masked() {
        assert_eq!(
            normalize_iban("fr76 3000 6000 0112 3456 7890 189").expect("valid"),
            "FR7630006000011234567890189"
        );
        assert!(normalize_iban("FR7630006000011234567890188").is_err());
        assert!(normalize_iban_shape("FR7630006000011234567890188").is_ok());
        assert!(normalize_iban_shape("FR76-3000").is_err());
        assert!(normalize_iban("not an iban").is_err());
        assert_eq!(mask_iban("FR7630006000011234567890189"), "FR76…0189");
        assert_eq!(mask_iban("FR76 3000 6000 0112 3456 7890 189"), "FR76…0189");
        assert_eq!(mask_iban("FR76"), "…");
    }

    #[test]
    fn idempotency_keys_are_header_safe() {
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("a b").is_err());
        assert!(IdempotencyKey::new("bill-42-attempt-1").is_ok());
    }
}
