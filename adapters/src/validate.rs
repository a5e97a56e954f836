//! Bank identifiers: IBAN (iban_validate), BIC shape (ISO 9362), RF creditor reference (ISO 11649),
//! SEPA reach and the SEPA character set.

use iban::{Iban, IbanLike};

/// Remove all whitespace, upper-case, and return the electronic form when it is a valid IBAN
/// (format, country length, BBAN structure, ISO 13616 mod-97). Print-format input such as
/// `NL57 RABO 0107307510` is accepted; masked or bad-checksum example data is not "fixed".
pub fn normalize_iban(raw: &str) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if compact.len() < 15 || compact.len() > 34 || !compact.is_ascii() {
        return None;
    }
    compact
        .parse::<Iban>()
        .ok()
        .map(|iban| iban.electronic_str().to_string())
}

/// ISO 9362 shape: 4 letters (institution), 2 letters (country), 2 alphanumerics (location),
/// optional 3 alphanumerics (branch). The shape is all a BIC can be checked for offline.
pub fn bic_is_valid(bic: &str) -> bool {
    let b = bic.as_bytes();
    (b.len() == 8 || b.len() == 11)
        && b[..6].iter().all(u8::is_ascii_uppercase)
        && b[6..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The country code inside a BIC (characters 5–6).
pub fn bic_country(bic: &str) -> Option<&str> {
    bic.get(4..6)
}

/// ISO 11649 creditor reference: `RF`, two check digits, 1–21 alphanumerics, mod-97 = 1.
///
/// Written by hand: it is the IBAN's mod-97 over a moved prefix, a dozen lines, and the
/// `iso_11649` crate would add a dependency for no extra checking.
pub fn rf_reference_is_valid(reference: &str) -> bool {
    let r: String = reference
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let b = r.as_bytes();
    if !(5..=25).contains(&b.len())
        || !r.starts_with("RF")
        || !b[2].is_ascii_digit()
        || !b[3].is_ascii_digit()
        || !b[4..].iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let rearranged = b[4..].iter().chain(b[..4].iter());
    let mut rem: u32 = 0;
    for &c in rearranged {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Countries whose IBANs are reachable by a SEPA credit transfer (EPC list of SEPA countries and
/// territories, 2025: EU/EEA, CH, GB, MC, SM, VA, AD, GI, the Crown Dependencies, AL, MD, ME, MK, RS).
pub fn is_sepa_country(cc: &str) -> bool {
    matches!(
        cc,
        "AT" | "BE"
            | "BG"
            | "CY"
            | "CZ"
            | "DE"
            | "DK"
            | "EE"
            | "ES"
            | "FI"
            | "FR"
            | "GR"
            | "HR"
            | "HU"
            | "IE"
            | "IT"
            | "LT"
            | "LU"
            | "LV"
            | "MT"
            | "NL"
            | "PL"
            | "PT"
            | "RO"
            | "SE"
            | "SI"
            | "SK"
            | "IS"
            | "LI"
            | "NO"
            | "CH"
            | "GB"
            | "MC"
            | "SM"
            | "VA"
            | "AD"
            | "GI"
            | "GG"
            | "IM"
            | "JE"
            | "AL"
            | "MD"
            | "ME"
            | "MK"
            | "RS"
    )
}

/// Whether every character is in the SEPA basic Latin character set
/// (`a-z A-Z 0-9 / - ? : ( ) . , ' +` and space).
pub fn is_sepa_charset(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '/' | '-' | '?' | ':' | '(' | ')' | '.' | ',' | '\'' | '+' | ' '
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iban_normalisation_and_rejection() {
        assert_eq!(
            normalize_iban("NL57 RABO 0107307510").as_deref(),
            Some("NL57RABO0107307510")
        );
        assert_eq!(
            normalize_iban("fr76 3000 6000 0112 3456 7890 189").as_deref(),
            Some("FR7630006000011234567890189")
        );
        for bad in [
            "IBAN32423940",
            "DE8576040061XXXXXXXXXX",
            "DE12 1234 4321 9876 00",
            "DE12123456781234567890",
            "",
        ] {
            assert_eq!(normalize_iban(bad), None, "{bad}");
        }
    }

    #[test]
    fn bic_shapes() {
        assert!(bic_is_valid("GENODEF1M04"));
        assert!(bic_is_valid("DEUTDEFF"));
        for bad in [
            "BIC324098",
            "BIC_MONCOMPTE",
            "SE:BANKGIRO",
            "deutdeff",
            "DEUTDEF",
        ] {
            assert!(!bic_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn rf_references() {
        // ISO 11649 examples.
        assert!(rf_reference_is_valid("RF18539007547034"));
        assert!(rf_reference_is_valid("RF18 5390 0754 7034"));
        assert!(rf_reference_is_valid("RF712348231"));
        assert!(!rf_reference_is_valid("RF19539007547034"));
        assert!(!rf_reference_is_valid("010676609538"));
    }
}
