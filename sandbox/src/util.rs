//! Small pure helpers: deterministic generator, money, IBANs, names, query strings, multipart.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// SplitMix64: tiny, deterministic, good enough for ids and tokens of a simulator.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        out
    }
    pub fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.bytes::<16>())
            .into_uuid()
            .to_string()
    }
    /// URL-safe base64 token of `N` random bytes.
    pub fn token<const N: usize>(&mut self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.bytes::<N>())
    }
    pub fn hex<const N: usize>(&mut self) -> String {
        hex(&self.bytes::<N>())
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse a decimal EUR amount string (`"1100.50"`): digits, optional 1–2 decimals, > 0.
pub(crate) fn parse_amount(s: &str) -> Option<i64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || s.contains('.') && (frac.is_empty() || frac.len() > 2)
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.len() > 12
    {
        return None;
    }
    let whole: i64 = int.parse().ok()?;
    let frac_cents: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac_cents)
}

pub(crate) fn cents_to_decimal(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// `"1100.50"`
pub(crate) fn cents_str(cents: i64) -> String {
    cents_to_decimal(cents).to_string()
}

/// The amount as a JSON number (`1100.5`), built from the decimal text (no float arithmetic on
/// our side; JSON numbers are what Qonto sends in these fields).
pub(crate) fn cents_num(cents: i64) -> Value {
    let text = cents_to_decimal(cents).normalize().to_string();
    serde_json::from_str::<serde_json::Number>(&text)
        .map(Value::Number)
        .unwrap_or(Value::String(text))
}

pub(crate) fn normalize_iban(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(|c| c.to_uppercase())
        .collect()
}

/// Structure + ISO 7064 mod-97 check.
pub(crate) fn iban_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    if b.len() < 15 || b.len() > 34 {
        return false;
    }
    if !b[0].is_ascii_uppercase() || !b[1].is_ascii_uppercase() {
        return false;
    }
    if !b[2].is_ascii_digit() || !b[3].is_ascii_digit() {
        return false;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(b[..4].iter()) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            let v = u32::from(c - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

/// SEPA scheme countries (+ a few territories), by IBAN prefix.
pub(crate) fn iban_is_sepa(iban: &str) -> bool {
    const SEPA: &[&str] = &[
        "AD", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GI",
        "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MT", "NL", "NO", "PL",
        "PT", "RO", "SE", "SI", "SK", "SM", "VA", "GF", "GP", "MQ", "RE", "YT", "PM", "BL", "MF",
        "NC", "PF", "WF", "AX", "ME", "AL", "MD", "MK",
    ];
    iban.get(..2).is_some_and(|cc| SEPA.contains(&cc))
}

/// Lowercase, accents folded, punctuation dropped, common legal forms removed.
pub(crate) fn normalize_name(s: &str) -> String {
    let folded: String = s
        .chars()
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => {
                'a'
            }
            'ç' | 'Ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
            'ñ' | 'Ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
            'ß' => 's',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .flat_map(|c| c.to_lowercase())
        .collect();
    const FORMS: &[&str] = &[
        "sas", "sasu", "sarl", "sa", "eurl", "sci", "gmbh", "ag", "kg", "ug", "bv", "nv", "srl",
        "spa", "sprl", "ltd", "llc", "inc", "plc", "co", "cie", "et", "and",
    ];
    folded
        .split_whitespace()
        .filter(|w| !FORMS.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// VoP outcome from two names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameMatch {
    Match,
    Close,
    NoMatch,
}

pub(crate) fn compare_names(given: &str, held: &str) -> NameMatch {
    let g = normalize_name(given);
    let h = normalize_name(held);
    if g.is_empty() || h.is_empty() {
        return NameMatch::NoMatch;
    }
    if g == h {
        return NameMatch::Match;
    }
    let max = g.chars().count().max(h.chars().count());
    let dist = levenshtein(&g, &h);
    let similarity = 1.0 - dist as f64 / max as f64;
    let gw: Vec<&str> = g.split_whitespace().collect();
    let hw: Vec<&str> = h.split_whitespace().collect();
    let subset = gw.iter().all(|w| hw.contains(w)) || hw.iter().all(|w| gw.contains(w));
    if similarity >= 0.75 || subset {
        NameMatch::Close
    } else {
        NameMatch::NoMatch
    }
}

/// Parse a query string into pairs (repeated keys kept, `key[]` left as is).
pub(crate) fn query_pairs(q: &str) -> Result<Vec<(String, String)>, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(q).map_err(|e| e.to_string())
}

/// Parse a `multipart/form-data` body; returns `(name, filename, content_type, data)` of each part.
pub(crate) type Part = (String, Option<String>, Option<String>, Vec<u8>);

pub(crate) fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    if boundary.is_empty() {
        return None;
    }
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut parts = Vec::new();
    let mut pos = find(body, delim, 0)? + delim.len();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            break;
        }
        // skip CRLF after the delimiter
        if body.get(pos..pos + 2) == Some(b"\r\n") {
            pos += 2;
        }
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = std::str::from_utf8(body.get(pos..head_end)?).ok()?;
        let data_start = head_end + 4;
        let next = find(body, delim, data_start)?;
        let mut data_end = next;
        if data_end >= data_start + 2 && body.get(data_end - 2..data_end) == Some(b"\r\n") {
            data_end -= 2;
        }
        let mut name = String::new();
        let mut filename = None;
        let mut ctype = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            if k == "content-disposition" {
                for p in v.split(';').map(str::trim) {
                    if let Some(n) = p.strip_prefix("name=") {
                        name = n.trim_matches('"').to_string();
                    } else if let Some(f) = p.strip_prefix("filename=") {
                        filename = Some(f.trim_matches('"').to_string());
                    }
                }
            } else if k == "content-type" {
                ctype = Some(v.trim().to_string());
            }
        }
        parts.push((
            name,
            filename,
            ctype,
            body.get(data_start..data_end)?.to_vec(),
        ));
        pos = next + delim.len();
    }
    Some(parts)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("1100.50"), Some(110050));
        assert_eq!(parse_amount("1"), Some(100));
        assert_eq!(parse_amount("0.5"), Some(50));
        assert_eq!(parse_amount("1.234"), None);
        assert_eq!(parse_amount("-1"), None);
        assert_eq!(parse_amount("1e3"), None);
        assert_eq!(parse_amount("1."), None);
        assert_eq!(parse_amount(""), None);
        assert_eq!(cents_str(110050), "1100.50");
        assert_eq!(cents_num(110050).to_string(), "1100.5");
    }

    #[test]
    fn ibans() {
        assert!(iban_valid("FR7630006000011234567890189"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("DE89370400440532013001"));
        assert!(!iban_valid("É"));
        assert!(iban_is_sepa("DE89370400440532013000"));
    }

    #[test]
    fn names() {
        assert_eq!(compare_names("ACME SAS", "Acme"), NameMatch::Match);
        assert_eq!(compare_names("Jon Jones", "John Jones"), NameMatch::Close);
        assert_eq!(
            compare_names("Totally Else", "John Jones"),
            NameMatch::NoMatch
        );
        assert_eq!(
            compare_names("Müller Elektro", "Muller Elektro GmbH"),
            NameMatch::Match
        );
    }

    #[test]
    fn multipart() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1\r\n--XX--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=XX", body).unwrap_or_default();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].0, "file");
        assert_eq!(parts[0].3, b"%PDF-1");
        assert!(parse_multipart("multipart/form-data; boundary=XX", b"garbage").is_none());
    }
}
