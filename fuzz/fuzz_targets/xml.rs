//! `adapters::parse_xml` must not panic on any input. When it returns a bill, a payable bill
//! must have no hold reason and a payee IBAN (the payability decision's own promise).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = adapters::ParseOptions::default();
    if let Ok(bill) = adapters::parse_xml(data, &opts) {
        if bill.payable {
            assert!(
                bill.hold_reasons.is_empty(),
                "payable bill with hold reasons: {:?}",
                bill.hold_reasons
            );
            assert!(
                bill.payee_iban().is_some(),
                "payable bill without a payee IBAN"
            );
        }
    }
});
