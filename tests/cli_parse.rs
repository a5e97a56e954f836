//! `billbridge parse` as a user runs it: output shape (DESIGN.md §7) and exit statuses.

use std::path::Path;
use std::process::Command;

fn billbridge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_billbridge"))
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("adapters/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn parse_prints_one_json_object_per_file() {
    let out = billbridge()
        .args([
            "parse",
            &fixture("ubl-invoice.xml"),
            &fixture("cii-invoice.xml"),
            &fixture("bill.json"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let ubl = &lines[0];
    for key in [
        "file",
        "syntax",
        "profile",
        "number",
        "type_code",
        "kind",
        "issue_date",
        "due_date",
        "currency",
        "payable_amount",
        "seller",
        "payee",
        "payment",
        "payable",
        "hold_reasons",
    ] {
        assert!(ubl.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(ubl["syntax"], "ubl-invoice");
    assert_eq!(ubl["number"], "FA-2026-0042");
    assert_eq!(ubl["due_date"], "2026-12-02");
    assert_eq!(ubl["payable_amount"], "1100.10");
    assert_eq!(ubl["seller"]["vat_id"], "FR44123456782");
    assert_eq!(ubl["payment"]["iban"], "FR7630006000011234567890189");
    assert_eq!(
        ubl["payment"]["account_id"],
        "FR76 3000 6000 0112 3456 7890 189"
    );
    assert_eq!(ubl["payment"]["reference"], "RF18539007547034");
    assert_eq!(ubl["payable"], true);
    assert_eq!(lines[1]["syntax"], "cii");
    assert_eq!(lines[2]["syntax"], "json");
}

#[test]
fn unreadable_file_gives_a_coded_error_and_status_1() {
    let dir = std::env::temp_dir().join(format!("billbridge-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.xml");
    std::fs::write(&garbage, b"<Invoice").unwrap();
    let missing = dir.join("missing.xml");
    let out = billbridge()
        .args(["parse", &fixture("ubl-invoice.xml")])
        .arg(&garbage)
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "every file gets its line, readable or not");
    assert_eq!(lines[0]["payable"], true);
    assert_eq!(lines[1]["error"]["code"], "malformed_xml");
    assert_eq!(lines[2]["error"]["code"], "unreadable");
    assert!(lines[2]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing.xml"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn usage_errors_exit_2() {
    let out = billbridge().arg("parse").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = billbridge()
        .args(["parse", "--no-such-flag", "x.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
