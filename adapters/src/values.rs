//! Lexical values: xs:decimal amounts, xs:date and CII `DateTimeString` dates.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Parse an xs:decimal (`115000`, `336.9`, `-10000`, `+0.10`). No exponent, no thousands separator.
pub fn parse_amount(s: &str) -> Option<Decimal> {
    let s = s.trim();
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut parts = unsigned.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let digits = |p: &str| p.bytes().all(|c| c.is_ascii_digit());
    if !digits(int)
        || !frac.is_none_or(digits)
        || (int.is_empty() && frac.is_none_or(str::is_empty))
    {
        return None;
    }
    Decimal::from_str(s.strip_prefix('+').unwrap_or(s)).ok()
}

/// Parse an xs:date `YYYY-MM-DD`, tolerating a trailing time zone (`Z`, `+01:00`), which xs:date allows.
pub fn parse_xs_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let (date, zone) = s.split_at_checked(10)?;
    if !(zone.is_empty() || zone == "Z" || is_offset(zone)) {
        return None;
    }
    let b = date.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &date[r];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

fn is_offset(z: &str) -> bool {
    let b = z.as_bytes();
    b.len() == 6
        && (b[0] == b'+' || b[0] == b'-')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3] == b':'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
}

/// Parse a CII `DateTimeString`: only format `102` (`YYYYMMDD`) is used by EN 16931; other
/// UNTDID 2379 formats (610 `YYYYMM`, 616 `YYYYWW`) do not name a day and are refused.
pub fn parse_cii_date(s: &str, format: Option<&str>) -> Option<NaiveDate> {
    if !matches!(format, None | Some("102")) {
        return None;
    }
    let s = s.trim();
    if s.len() != 8 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    NaiveDate::from_ymd_opt(
        s[0..4].parse().ok()?,
        s[4..6].parse().ok()?,
        s[6..8].parse().ok()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_xs_decimal() {
        assert_eq!(parse_amount("+0.10"), Some(Decimal::new(10, 2)));
        assert_eq!(parse_amount("-10000"), Some(Decimal::new(-10000, 0)));
        assert_eq!(parse_amount("336.9"), Some(Decimal::new(3369, 1)));
        assert_eq!(parse_amount(".5"), Some(Decimal::new(5, 1)));
        for bad in [
            "", "1e5", "1,5", "12 000", "NaN", "+", "-.", "0x10", "1.2.3",
        ] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates() {
        let d = NaiveDate::from_ymd_opt(2017, 12, 1);
        assert_eq!(parse_xs_date("2017-12-01"), d);
        assert_eq!(parse_xs_date("2017-12-01Z"), d);
        assert_eq!(parse_xs_date("2017-12-01+02:00"), d);
        assert_eq!(parse_xs_date("2017-13-01"), None);
        assert_eq!(parse_xs_date("01.12.2017"), None);
        assert_eq!(parse_xs_date("2017-12-01T10:00"), None);
        assert_eq!(parse_cii_date("20171201", Some("102")), d);
        assert_eq!(parse_cii_date("201712", Some("610")), None);
        assert_eq!(parse_cii_date("20170231", Some("102")), None);
    }
}
