//! Bytes → UTF-8 text before the XML reader sees them.
//!
//! quick-xml 0.42 reads `&str`, so every supported encoding is transcoded up front with
//! encoding_rs: UTF-8 with or without BOM, UTF-16 (BOM or `<?` sniffing), and any label the
//! XML declaration names that the WHATWG Encoding Standard knows (ISO-8859-1 maps to
//! windows-1252, a superset). A declaration naming an unknown encoding is refused, not guessed.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

use crate::error::{ErrorCode, ParseError};

/// Decode `bytes` into UTF-8 text, stripping any byte order mark.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, ParseError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest);
    }
    if bytes.starts_with(b"\xFF\xFE") {
        return utf16(&bytes[2..], UTF_16LE);
    }
    if bytes.starts_with(b"\xFE\xFF") {
        return utf16(&bytes[2..], UTF_16BE);
    }
    if bytes.starts_with(b"<\0?\0") {
        return utf16(bytes, UTF_16LE);
    }
    if bytes.starts_with(b"\0<\0?") {
        return utf16(bytes, UTF_16BE);
    }
    match declared_encoding(bytes) {
        None => utf8(bytes),
        Some(label) => {
            let enc = Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                ParseError::new(
                    ErrorCode::UnsupportedEncoding,
                    format!("the XML declaration names an unknown encoding {label:?}"),
                )
            })?;
            if enc == UTF_8 {
                utf8(bytes)
            } else if enc == UTF_16LE || enc == UTF_16BE {
                Err(ParseError::new(
                    ErrorCode::UnsupportedEncoding,
                    "the XML declaration says UTF-16 but the bytes are not UTF-16",
                ))
            } else {
                let (text, _, had_errors) = enc.decode(bytes);
                if had_errors {
                    return Err(ParseError::new(
                        ErrorCode::UnsupportedEncoding,
                        format!("the bytes are not valid {}", enc.name()),
                    ));
                }
                Ok(text)
            }
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<Cow<'_, str>, ParseError> {
    std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| {
        ParseError::new(
            ErrorCode::UnsupportedEncoding,
            format!(
                "not valid UTF-8 at byte {} (declare the encoding in the XML declaration)",
                e.valid_up_to()
            ),
        )
    })
}

fn utf16<'a>(bytes: &[u8], enc: &'static Encoding) -> Result<Cow<'a, str>, ParseError> {
    let (text, had_errors) = enc.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(ParseError::new(
            ErrorCode::UnsupportedEncoding,
            format!("the bytes are not valid {}", enc.name()),
        ));
    }
    Ok(Cow::Owned(text.into_owned()))
}

/// The `encoding` pseudo-attribute of an ASCII-compatible XML declaration, if any.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &bytes[start..];
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = rest.iter().take(512).position(|&b| b == b'>')?;
    let decl = std::str::from_utf8(&rest[..end]).ok()?;
    let at = decl.find("encoding")?;
    let after = decl[at + "encoding".len()..].trim_start();
    let after = after.strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    let close = value.find(quote)?;
    Some(value[..close].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_utf8_bom() {
        let t = decode(b"\xEF\xBB\xBF<a/>").unwrap();
        assert_eq!(t, "<a/>");
    }

    #[test]
    fn transcodes_latin1_declared() {
        let t = decode(b"<?xml version='1.0' encoding='ISO-8859-1'?><a>M\xFCller</a>").unwrap();
        assert!(t.contains("Müller"));
    }

    #[test]
    fn transcodes_utf16le_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a>é</a>".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        assert!(decode(&bytes).unwrap().contains("<a>é</a>"));
    }

    #[test]
    fn refuses_unknown_label_and_bad_utf8() {
        let e = decode(b"<?xml version='1.0' encoding='UTF-8_W/O_BOM'?><a/>").unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedEncoding);
        let e = decode(b"<a>\xFF\xFE\xFD</a>").unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedEncoding);
    }
}
