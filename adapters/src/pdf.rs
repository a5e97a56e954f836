//! Factur-X / ZUGFeRD / XRechnung PDF: find the embedded invoice XML with lopdf and read it.

use lopdf::{Dictionary, Document, Object};

use crate::error::{ErrorCode, ParseError};
use crate::model::Bill;
use crate::ParseOptions;

/// Embedded file names that carry the invoice, in order of preference.
const KNOWN_NAMES: &[&str] = &[
    "factur-x.xml",
    "zugferd-invoice.xml",
    "xrechnung.xml",
    "order-x.xml",
];

/// Read the invoice XML embedded in a PDF/A-3.
pub(crate) fn read(bytes: &[u8], opts: &ParseOptions) -> Result<Bill, ParseError> {
    // lopdf is a well-kept crate, but it parses an attacker's bytes and has had panics on
    // malformed files; a panic there must become a coded error, never take the service down.
    let loaded = std::panic::catch_unwind(|| Document::load_mem(bytes));
    let doc = match loaded {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => {
            return Err(ParseError::new(
                ErrorCode::MalformedPdf,
                format!("cannot read the PDF: {e}"),
            ))
        }
        Err(_) => {
            return Err(ParseError::new(
                ErrorCode::MalformedPdf,
                "cannot read the PDF: its structure is broken",
            ))
        }
    };

    let mut files = embedded_files(&doc);
    files.sort_by_key(|(name, _)| {
        KNOWN_NAMES
            .iter()
            .position(|k| k.eq_ignore_ascii_case(name))
            .unwrap_or(KNOWN_NAMES.len())
    });
    let mut first_error = None;
    for (name, stream) in &files {
        let is_known = KNOWN_NAMES.iter().any(|k| k.eq_ignore_ascii_case(name));
        if !is_known && !name.to_ascii_lowercase().ends_with(".xml") {
            continue;
        }
        let xml = match stream.decompressed_content_with_limit(opts.max_bytes) {
            Ok(xml) => xml,
            Err(e) => {
                first_error.get_or_insert(ParseError::new(
                    ErrorCode::MalformedPdf,
                    format!("cannot decompress embedded file {name:?}: {e}"),
                ));
                continue;
            }
        };
        match crate::xml::read(&xml, opts) {
            Ok(bill) => return Ok(bill),
            Err(e) if is_known => return Err(e),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        ParseError::new(
            ErrorCode::NoEmbeddedInvoice,
            format!(
                "the PDF embeds no invoice XML (looked for {}{})",
                KNOWN_NAMES.join(", "),
                if files.is_empty() {
                    "; it embeds no file at all".to_string()
                } else {
                    format!(
                        "; it embeds {}",
                        files
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        )
    }))
}

/// Every file specification with an embedded stream (`/EF /F`), wherever it is referenced from
/// (the `/EmbeddedFiles` name tree, the catalog's `/AF`, page annotations).
fn embedded_files(doc: &Document) -> Vec<(String, &lopdf::Stream)> {
    let mut out = Vec::new();
    for obj in doc.objects.values() {
        let Ok(dict) = obj.as_dict() else { continue };
        let Ok(ef) = dict
            .get(b"EF")
            .and_then(|o| deref(doc, o))
            .and_then(Object::as_dict)
        else {
            continue;
        };
        let Some(stream) = ef
            .get(b"UF")
            .or_else(|_| ef.get(b"F"))
            .ok()
            .and_then(|o| deref(doc, o).ok())
            .and_then(|o| o.as_stream().ok())
        else {
            continue;
        };
        let name = file_name(doc, dict).unwrap_or_default();
        out.push((name, stream));
    }
    out
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> lopdf::Result<&'a Object> {
    match o {
        Object::Reference(id) => doc.get_object(*id),
        other => Ok(other),
    }
}

fn file_name(doc: &Document, filespec: &Dictionary) -> Option<String> {
    let raw = filespec
        .get(b"UF")
        .or_else(|_| filespec.get(b"F"))
        .ok()
        .and_then(|o| deref(doc, o).ok())?
        .as_str()
        .ok()?;
    Some(decode_text_string(raw))
}

/// A PDF text string: UTF-16BE with a byte order mark, else (close enough for file names) Latin-1.
fn decode_text_string(raw: &[u8]) -> String {
    if let Some(rest) = raw.strip_prefix(b"\xFE\xFF") {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Some(rest) = raw.strip_prefix(b"\xEF\xBB\xBF") {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        raw.iter().map(|&b| char::from(b)).collect()
    }
}
