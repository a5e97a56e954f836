//! `adapters::parse_pdf` must not panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = adapters::parse_pdf(data, &adapters::ParseOptions::default());
});
