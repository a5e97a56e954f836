//! The demo invoices (`demo/invoices`, written by `demo/generate.py`): every file is read, and
//! each one is payable or held exactly as `demo/invoices/README.md` says.
//!
//! `adapters::parse` decides from the document alone. Two holds of the demo are decided at intake,
//! against what billbridge recorded before (the supplier's first IBAN, the bills already received):
//! they are the `intake` column below, and `parse` reports those bills as payable.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use adapters::HoldReason::{self, CreditNote, DirectDebit, Duplicate, IbanChanged};
use adapters::ParseOptions;

struct Expected {
    file: &'static str,
    /// BT-115 as the generator writes it.
    amount: &'static str,
    /// What `adapters::parse` holds the bill for (empty: payable).
    parse: &'static [HoldReason],
    /// The hold added at intake, when the demo's bills are taken in file-name order.
    intake: Option<HoldReason>,
}

const fn e(
    file: &'static str,
    amount: &'static str,
    parse: &'static [HoldReason],
    intake: Option<HoldReason>,
) -> Expected {
    Expected {
        file,
        amount,
        parse,
        intake,
    }
}

const EXPECTED: &[Expected] = &[
    e("acme-01.xml", "2404.80", &[], None),
    e("acme-02.xml", "783.37", &[], None),
    e("acme-03.xml", "3899.57", &[], None),
    e("acme-04.xml", "4498.00", &[], None),
    e("acme-05.xml", "884.52", &[], None),
    e("acme-06.xml", "10548.00", &[], None),
    e("acme-07-credit-note.xml", "130.82", &[CreditNote], None),
    e("alice-01.json", "850.00", &[], None),
    e("alice-02.json", "1275.50", &[], None),
    e("alice-03.json", "640.00", &[], None),
    e("alice-04.json", "1600.00", &[], None),
    e("alice-05.json", "390.00", &[], None),
    e("cleanpro-01.xml", "2105.40", &[], None),
    e("cleanpro-02.xml", "1893.17", &[], None),
    e("cleanpro-03.xml", "767.14", &[], None),
    e("cleanpro-04.xml", "2178.00", &[], None),
    e("durand-01.xml", "717.60", &[], None),
    e("durand-02.xml", "5856.00", &[], None),
    e("durand-03-duplicate.json", "5856.00", &[], Some(Duplicate)),
    e("durand-04.xml", "986.40", &[], None),
    e("durand-05.xml", "2611.50", &[], None),
    e("lucia-01.json", "5040.00", &[], None),
    e("lucia-02.json", "6300.00", &[], None),
    e("lucia-03.json", "1850.00", &[], None),
    e("lucia-04.json", "3780.00", &[], None),
    e("lucia-05.json", "600.00", &[], None),
    e("malt-01.pdf", "3630.00", &[], None),
    e("malt-02.pdf", "5068.80", &[], None),
    e("malt-03.pdf", "8184.00", &[], None),
    e("malt-04.pdf", "1663.20", &[], None),
    e("malt-05.pdf", "9345.60", &[], None),
    e("mueller-01.xml", "2834.00", &[], None),
    e("mueller-02.xml", "3295.60", &[], None),
    e("mueller-03.xml", "2583.60", &[], None),
    e("mueller-04.xml", "1779.20", &[], None),
    e("mueller-05.xml", "4047.00", &[], None),
    e("mueller-06-above-30k.pdf", "33810.00", &[], None),
    e("rossi-01.xml", "3730.00", &[], None),
    e("rossi-02.xml", "2712.00", &[], None),
    e("rossi-03.xml", "3896.00", &[], None),
    e("rossi-04.xml", "2035.00", &[], None),
    e("rossi-05.xml", "768.00", &[], None),
    e("vandijk-01.xml", "3708.75", &[], None),
    e("vandijk-02.xml", "1317.00", &[], None),
    e("vandijk-03.xml", "1474.00", &[], None),
    e("vandijk-04.xml", "1939.25", &[], None),
    e("vandijk-05-new-iban.xml", "3027.50", &[], Some(IbanChanged)),
    e("volta-01.xml", "1142.50", &[DirectDebit], None),
    e("volta-02.xml", "1437.19", &[DirectDebit], None),
    e("volta-03.xml", "1077.88", &[DirectDebit], None),
];

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/invoices")
}

/// Parse `s` as the same type as `like` (the adapters' decimal type, without naming its crate).
fn parse_like<T: FromStr>(_like: &T, s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().unwrap()
}

/// A hold reason's code, as in `billbridge parse` and the README (`credit_note`…).
fn code(h: HoldReason) -> String {
    serde_json::to_value(h)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn the_expectation_table_covers_every_demo_invoice() {
    let mut on_disk: Vec<String> = std::fs::read_dir(demo_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| [".xml", ".pdf", ".json"].iter().any(|x| name.ends_with(x)))
        .collect();
    on_disk.sort();
    let mut listed: Vec<&str> = EXPECTED.iter().map(|x| x.file).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn every_demo_invoice_is_read_and_assessed_as_expected() {
    let dir = demo_dir();
    let mut failures = Vec::new();
    for x in EXPECTED {
        let bytes = std::fs::read(dir.join(x.file)).unwrap();
        let bill = match adapters::parse(&bytes, &ParseOptions::default()) {
            Ok(bill) => bill,
            Err(err) => {
                failures.push(format!("{}: not read: {err:?}", x.file));
                continue;
            }
        };
        if bill.hold_reasons != x.parse || bill.payable != x.parse.is_empty() {
            failures.push(format!(
                "{}: payable {} holds {:?}, expected holds {:?}",
                x.file, bill.payable, bill.hold_reasons, x.parse
            ));
        }
        match bill.amounts.payable {
            Some(due) if due == parse_like(&due, x.amount) => {}
            other => failures.push(format!(
                "{}: amount {other:?}, expected {}",
                x.file, x.amount
            )),
        }
        if bill.currency.as_deref() != Some("EUR") || bill.number.is_none() {
            failures.push(format!("{}: currency or number missing", x.file));
        }
        if !bill.warnings.is_empty() {
            failures.push(format!("{}: warnings {:?}", x.file, bill.warnings));
        }
        // Every bill names a payee account: a valid IBAN for transfers, none for direct debits.
        let direct_debit = x.parse.contains(&DirectDebit);
        if bill.payee_iban().is_none() != direct_debit {
            failures.push(format!("{}: payee IBAN {:?}", x.file, bill.payee_iban()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The README's table says the same as this test: `paid`, or `held` with the reason code.
#[test]
fn the_readme_table_agrees() {
    let readme = std::fs::read_to_string(demo_dir().join("README.md")).unwrap();
    for x in EXPECTED {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", x.file)))
            .unwrap_or_else(|| panic!("{} is not in the README table", x.file));
        let outcome = row.trim_end_matches(" |").rsplit(" | ").next().unwrap();
        let holds: Vec<String> = x.parse.iter().copied().chain(x.intake).map(code).collect();
        let expected = match holds.as_slice() {
            [] => "paid".to_string(),
            [one] => format!("held `{one}`"),
            many => panic!("{}: several holds {many:?}", x.file),
        };
        assert_eq!(outcome, expected, "{}", x.file);
        let (int, cents) = x.amount.split_once('.').unwrap();
        let groups: Vec<&str> = int
            .as_bytes()
            .rchunks(3)
            .rev()
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let with_commas = format!("{}.{cents}", groups.join(","));
        assert!(
            row.contains(&format!(" | {with_commas} | ")),
            "{}: the README does not show {with_commas}: {row}",
            x.file
        );
    }
}
