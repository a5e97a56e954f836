//! `billbridge demo` end to end, as a new user runs it: the real binary, its own SQLite file,
//! the built-in sandbox and demo ERP; it must finish with every payable sample bill paid and
//! every `bill.paid` event delivered (exit status 0), and show the holds with their reasons.

use std::process::Command;

#[test]
fn demo_pays_the_sample_bills_and_tells_the_erp() {
    let dir = std::env::temp_dir().join(format!("billbridge-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_billbridge"))
        .args(["demo", "--db"])
        .arg(dir.join("demo.db"))
        .arg("--invoices")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/demo/invoices"))
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    // The sample set (demo/invoices/README.md): 44 payable bills, 6 held at intake.
    assert!(stdout.contains("totals: 6 held · 44 paid"), "{stdout}");
    for reason in ["direct_debit", "credit_note", "iban_changed", "duplicate"] {
        assert!(
            stdout.contains(reason),
            "hold {reason} not shown:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("strong customer authentication"),
        "{stdout}"
    );
    assert!(
        stdout.contains("completed; 44 bill(s) paid, 44 bill.paid event(s) delivered"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("refused)"),
        "every event's signature verified:\n{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
