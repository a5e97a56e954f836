//! Hostile and broken inputs: each gets a coded error (or a held bill), never a panic, and
//! never unbounded work or memory.

mod common;

use adapters::{ErrorCode as E, ParseOptions};
use common::{parse_bytes, UBL};

fn code(doc: &[u8]) -> E {
    match parse_bytes(doc) {
        Ok(b) => panic!("expected an error, got bill {:?}", b.number),
        Err(e) => e.code,
    }
}

#[test]
fn billion_laughs_is_refused() {
    let doc = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol3;</Invoice>"#;
    assert_eq!(code(doc.as_bytes()), E::DtdForbidden);
}

#[test]
fn external_entities_are_refused() {
    let doc = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&xxe;</Invoice>"#;
    assert_eq!(code(doc.as_bytes()), E::DtdForbidden);
    // An undeclared entity reference without any DTD, in text read or skipped, and in attributes.
    let doc = common::edit(
        UBL,
        "<cbc:ID>FA-2026-0042</cbc:ID>",
        "<cbc:ID>&xxe;</cbc:ID>",
    );
    assert_eq!(code(doc.as_bytes()), E::EntityForbidden);
    let doc = common::edit(
        UBL,
        "<cbc:Name>Ramettes A4</cbc:Name>",
        "<cbc:Name>&xxe;</cbc:Name>",
    );
    assert_eq!(code(doc.as_bytes()), E::EntityForbidden);
    let doc = common::edit(UBL, "schemeID=\"0002\"", "schemeID=\"&xxe;\"");
    assert_eq!(code(doc.as_bytes()), E::EntityForbidden);
}

#[test]
fn deep_nesting_is_capped() {
    let depth = 100_000;
    let mut doc =
        String::from(r#"<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">"#);
    doc.push_str(&"<a>".repeat(depth));
    doc.push_str(&"</a>".repeat(depth));
    doc.push_str("</Invoice>");
    assert_eq!(code(doc.as_bytes()), E::TooDeep);
    // Deep inside an element billbridge reads (not skipped) too.
    let mut doc = UBL.to_string();
    doc = doc.replacen(
        "<cac:PaymentMeans>",
        &format!(
            "<cac:PaymentMeans>{}{}",
            "<cbc:PaymentMeansCode>".repeat(200),
            "</cbc:PaymentMeansCode>".repeat(200)
        ),
        1,
    );
    assert_eq!(code(doc.as_bytes()), E::TooDeep);
}

#[test]
fn fifty_megabytes_is_refused_by_default_and_read_when_allowed() {
    // A real-shaped invoice with ~50 MB of lines.
    let line_start = UBL.find("<cac:InvoiceLine>").unwrap();
    let line_end = UBL.find("</Invoice>").unwrap();
    let line = &UBL[line_start..line_end];
    let copies = 50 * 1024 * 1024 / line.len() + 1;
    let mut doc = String::with_capacity(copies * line.len() + UBL.len());
    doc.push_str(&UBL[..line_end]);
    for _ in 0..copies {
        doc.push_str(line);
    }
    doc.push_str("</Invoice>");
    assert!(doc.len() > 50 * 1024 * 1024);
    assert_eq!(code(doc.as_bytes()), E::TooLarge);
    let opts = ParseOptions {
        max_bytes: 64 * 1024 * 1024,
        ..ParseOptions::default()
    };
    let bill = adapters::parse(doc.as_bytes(), &opts).unwrap();
    assert_eq!(bill.number.as_deref(), Some("FA-2026-0042"));
    assert!(bill.payable);
}

#[test]
fn truncated_documents_are_refused() {
    for cut in [10, 100, UBL.len() / 2, UBL.len() - 12] {
        assert_eq!(
            code(&UBL.as_bytes()[..cut]),
            E::MalformedXml,
            "cut at {cut}"
        );
    }
    let pdf = common::pdf_with_attachment("factur-x.xml", UBL.as_bytes());
    assert_eq!(code(&pdf[..pdf.len() / 2]), E::MalformedPdf);
    assert_eq!(
        code(br#"{"number": "1", "payable_amount": "#),
        E::MalformedJson
    );
}

#[test]
fn wrong_roots_are_refused() {
    assert_eq!(code(b"<html><body>hi</body></html>"), E::UnknownDocument);
    let doc = r#"<FreightInvoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:FreightInvoice-2"/>"#;
    assert_eq!(code(doc.as_bytes()), E::UnknownDocument);
    // The right local name in the wrong namespace is not an invoice.
    assert_eq!(
        code(b"<Invoice xmlns=\"urn:example\"><ID>1</ID></Invoice>"),
        E::UnknownDocument
    );
    assert_eq!(code(b"<Invoice><ID>1</ID></Invoice>"), E::UnknownDocument);
    assert_eq!(code(b"[1, 2]"), E::UnrecognizedFormat);
    assert_eq!(code(b"{\"number\": 1}"), E::InvalidJson);
}

#[test]
fn garbage_and_empty_input() {
    assert_eq!(code(b""), E::Empty);
    assert_eq!(code(b"   \n\t "), E::Empty);
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let c = code(&garbage);
    assert!(
        matches!(c, E::UnrecognizedFormat | E::MalformedXml),
        "{c:?}"
    );
    assert_eq!(code(b"%PDF-1.7\n garbage that is no PDF"), E::MalformedPdf);
    let c = code(b"<<<<>>>>");
    assert!(matches!(c, E::MalformedXml | E::UnknownDocument), "{c:?}");
    assert_eq!(code(b"<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"><a></b></Invoice>"), E::MalformedXml);
}

#[test]
fn non_utf8_bytes_are_refused_unless_declared() {
    let latin: Vec<u8> = UBL
        .replace("Papeterie Moderne SAS", "Papeterie M\u{fc}ller SAS")
        .chars()
        .map(|c| c as u32 as u8)
        .collect();
    assert_eq!(code(&latin), E::UnsupportedEncoding);
    let doc = UBL.replacen("encoding=\"UTF-8\"", "encoding=\"UTF-8_W/O_BOM\"", 1);
    assert_eq!(code(doc.as_bytes()), E::UnsupportedEncoding);
}

#[test]
fn every_prefix_of_a_document_is_handled() {
    // Each truncation of a real document is an error or (for a complete one) a bill; none panics.
    let bytes = UBL.as_bytes();
    for cut in (0..bytes.len()).step_by(7) {
        let _ = parse_bytes(&bytes[..cut]);
    }
    let pdf = common::pdf_with_attachment("factur-x.xml", bytes);
    for cut in (0..pdf.len()).step_by(97) {
        let _ = parse_bytes(&pdf[..cut]);
    }
}

#[test]
fn skipped_subtrees_are_checked_like_the_rest() {
    // Invoice lines are skipped without being read; they are still held to the same rules.
    let line = |extra: &str| {
        common::edit(
            UBL,
            "<cac:InvoiceLine>",
            &format!("<cac:InvoiceLine>{extra}"),
        )
    };
    for ok in [
        "<a b='>' c=\"'\"></a >",
        "<a/><a\n/><b x='1'/>",
        "<!-- a comment with <tags> -->",
        "<![CDATA[ <not> a </tag> ]]>",
        "<?pi data?>",
        "<a>&lt;&#65;&#x42;&amp;</a>",
        "<a:b xmlns:a='urn:x'><c xmlns='urn:y'/></a:b>",
    ] {
        let bill = parse_bytes(line(ok).as_bytes()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert!(bill.payable, "{ok}");
    }
    for (bad, expected) in [
        ("<a></b>", E::MalformedXml),
        ("<a><b></a></b>", E::MalformedXml),
        ("<a b='1>", E::MalformedXml),
        ("</x>", E::MalformedXml),
        ("<a>&</a>", E::MalformedXml),
        ("<a>&#xZZ;</a>", E::MalformedXml),
        ("<!x>", E::MalformedXml),
        ("<![CDAT[x]]>", E::MalformedXml),
        ("<!DOCTYPE x>", E::DtdForbidden),
        ("<a>&nbsp;</a>", E::EntityForbidden),
        ("<a xmlns:xml='urn:x'/>", E::MalformedXml),
    ] {
        assert_eq!(code(line(bad).as_bytes()), expected, "{bad}");
    }
    // Truncated inside a skipped subtree: in a tag, in text, just after `<`.
    let doc = line("<a>text");
    let cut = doc.find("<a>text").unwrap();
    for end in [cut + 1, cut + 2, cut + 5] {
        assert_eq!(
            code(&doc.as_bytes()[..end]),
            E::MalformedXml,
            "cut at {end}"
        );
    }
}
