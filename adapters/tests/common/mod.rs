//! Helpers shared by the adapters' integration tests.
#![allow(dead_code)]

use adapters::{Bill, ParseError, ParseOptions};

pub const UBL: &str = include_str!("../fixtures/ubl-invoice.xml");
pub const CII: &str = include_str!("../fixtures/cii-invoice.xml");
pub const JSON: &str = include_str!("../fixtures/bill.json");

pub fn parse(doc: &str) -> Bill {
    parse_bytes(doc.as_bytes()).unwrap_or_else(|e| panic!("expected a bill, got {e}"))
}

pub fn parse_bytes(doc: &[u8]) -> Result<Bill, ParseError> {
    adapters::parse(doc, &ParseOptions::default())
}

/// Replace exactly one occurrence of `from` (so a fixture edit cannot silently miss).
pub fn edit(doc: &str, from: &str, to: &str) -> String {
    assert_eq!(
        doc.matches(from).count(),
        1,
        "fixture edit {from:?} must match once"
    );
    doc.replacen(from, to, 1)
}

/// Build a Factur-X-like PDF/A-3 with `xml` embedded as `name`, the way Factur-X writers do
/// (an /EmbeddedFiles name tree and the catalog's /AF array).
pub fn pdf_with_attachment(name: &str, xml: &[u8]) -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.7");
    let mut file = Stream::new(
        dictionary! { "Type" => "EmbeddedFile", "Subtype" => "text/xml" },
        xml.to_vec(),
    );
    file.compress().expect("compress");
    let file_id = doc.add_object(file);
    let spec_id = doc.add_object(dictionary! {
        "Type" => "Filespec",
        "F" => Object::string_literal(name),
        "UF" => Object::string_literal(name),
        "AFRelationship" => "Data",
        "EF" => dictionary! { "F" => file_id, "UF" => file_id },
    });
    let pages_id = doc.new_object_id();
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
        "Names" => dictionary! {
            "EmbeddedFiles" => dictionary! {
                "Names" => vec![Object::string_literal(name), spec_id.into()],
            },
        },
        "AF" => vec![spec_id.into()],
    });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save pdf");
    out
}
