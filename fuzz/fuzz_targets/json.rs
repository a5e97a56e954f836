//! `adapters::parse_json` must not panic on any input: read as the canonical JSON bill (no
//! mapping), and read through a fixed small ERP mapping (pointers, a dated field, a constant).
#![no_main]

use std::sync::OnceLock;

use adapters::JsonMapping;
use libfuzzer_sys::fuzz_target;

const MAPPING: &str = r#"{ "fields": {
    "external_id": "/id",
    "number": "/invoice/no",
    "issue_date": "/invoice/date",
    "due_date": { "pointer": "/invoice/due", "date_format": "%d.%m.%Y" },
    "currency": { "value": "EUR" },
    "payable_amount": "/totals/open",
    "prepaid_amount": "/totals/paid",
    "seller.name": "/vendor/name",
    "seller.vat_id": "/vendor/vat",
    "payment.iban": "/vendor/bank/iban",
    "payment.bic": "/vendor/bank/bic",
    "payment_reference": "/invoice/ref"
} }"#;

fn mapping() -> &'static JsonMapping {
    static MAPPING_CELL: OnceLock<JsonMapping> = OnceLock::new();
    MAPPING_CELL.get_or_init(|| {
        let m: JsonMapping = serde_json::from_str(MAPPING).expect("the fuzz mapping parses");
        m.validate().expect("the fuzz mapping is valid");
        m
    })
}

fuzz_target!(|data: &[u8]| {
    let opts = adapters::ParseOptions::default();
    let _ = adapters::parse_json(data, None, &opts);
    let _ = adapters::parse_json(data, Some(mapping()), &opts);
});
