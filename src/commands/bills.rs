//! `billbridge bills list | show | hold | release | cancel | retry`: an organization's bills
//! straight from the database (the operator's own access). Tables show IBANs masked.

use std::path::Path;

use anyhow::Context;
use connector::engine::{Engine, EngineSettings, OfflineQonto};
use connector::ids::{BillId, SourceId, SupplierId};
use connector::qonto::mask_iban;
use connector::store::bills::{code, status, BillAction, BillFilter, BillView};

use super::sources::open_org;

/// Print rows under a header, each column as wide as its widest cell (the last one unpadded).
pub(super) fn print_table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

/// At most `n` characters, with `…` when cut.
pub(super) fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn or_dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

fn amount(b: &BillView) -> String {
    match (&b.amount_due, &b.currency) {
        (Some(a), Some(c)) => format!("{a} {c}"),
        (Some(a), None) => a.clone(),
        _ => "-".into(),
    }
}

fn holds(b: &BillView) -> String {
    b.hold_reasons
        .iter()
        .map(code)
        .collect::<Vec<_>>()
        .join(",")
}

/// What `bills list` takes.
pub struct ListArgs {
    pub status: Option<String>,
    pub supplier: Option<String>,
    pub due_before: Option<chrono::NaiveDate>,
    pub source: Option<String>,
    pub limit: u64,
    pub cursor: Option<String>,
    pub json: bool,
}

const STATUSES: &[&str] = &[
    status::READY,
    status::HELD,
    status::IN_RUN,
    status::SUBMITTED,
    status::PAID,
    status::FAILED,
    status::CANCELED,
];

/// Bills newest first, one page; the next page's cursor is told on stderr.
pub async fn list(config: Option<&Path>, org: &str, a: ListArgs) -> anyhow::Result<()> {
    if let Some(s) = &a.status {
        anyhow::ensure!(
            STATUSES.contains(&s.as_str()),
            "--status must be one of {}",
            STATUSES.join(", ")
        );
    }
    anyhow::ensure!(
        (1..=500).contains(&a.limit),
        "--limit must be between 1 and 500"
    );
    let supplier = a
        .supplier
        .map(|s| s.parse::<SupplierId>().map(|s| s.to_string()))
        .transpose()?;
    let source = a
        .source
        .map(|s| s.parse::<SourceId>().map(|s| s.to_string()))
        .transpose()?;
    let cursor = a
        .cursor
        .map(|c| {
            c.parse::<BillId>()
                .map(|c| c.to_string())
                .context("--cursor must be the bill id printed as the next page's cursor")
        })
        .transpose()?;
    let (_, store, org) = open_org(config, org).await?;
    let page = store
        .scoped(&org)
        .list_bills(&BillFilter {
            status: a.status,
            supplier_id: supplier,
            due_before: a.due_before,
            source_id: source,
            limit: Some(a.limit),
            cursor,
        })
        .await?;
    if a.json {
        for b in &page.bills {
            println!("{}", serde_json::to_string(b)?);
        }
    } else if page.bills.is_empty() {
        println!("no bills");
    } else {
        let rows = page
            .bills
            .iter()
            .map(|b| {
                vec![
                    b.id.to_string(),
                    b.status.clone(),
                    b.due_date
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "-".into()),
                    amount(b),
                    cut(&or_dash(b.number.as_deref()), 24),
                    cut(
                        &or_dash(b.seller_name.as_deref().or(b.creditor_name.as_deref())),
                        28,
                    ),
                    b.iban
                        .as_deref()
                        .map(mask_iban)
                        .unwrap_or_else(|| "-".into()),
                    holds(b),
                ]
            })
            .collect();
        print_table(
            &[
                "ID", "STATUS", "DUE", "AMOUNT", "NUMBER", "SUPPLIER", "IBAN", "HOLDS",
            ],
            rows,
        );
    }
    if let Some(next) = &page.next_cursor {
        eprintln!("more bills: add --cursor {next}");
    }
    Ok(())
}

/// A bill's fields, history and transfers (`--json`: one object with the unmasked fields).
pub async fn show(config: Option<&Path>, org: &str, id: &str, json: bool) -> anyhow::Result<()> {
    let id: BillId = id.parse()?;
    let (_, store, org) = open_org(config, org).await?;
    let scoped = store.scoped(&org);
    let (b, history) = scoped.get_bill(&id).await.with_context(|| id.to_string())?;
    let transfers = scoped.bill_transfers(id.as_str()).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "bill": b,
                "history": history,
                "transfers": transfers,
            }))?
        );
        return Ok(());
    }
    let field = |name: &str, value: String| println!("{name:<12}{value}");
    field("bill", b.id.to_string());
    field(
        "status",
        if b.hold_reasons.is_empty() {
            b.status.clone()
        } else {
            format!("{} ({})", b.status, holds(&b))
        },
    );
    field(
        "number",
        format!(
            "{}  ({}, type {}, {})",
            or_dash(b.number.as_deref()),
            b.kind,
            or_dash(b.type_code.as_deref()),
            b.syntax
        ),
    );
    field("amount due", amount(&b));
    field(
        "dates",
        format!(
            "issued {}, due {}",
            b.issue_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
            b.due_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into())
        ),
    );
    field(
        "seller",
        format!(
            "{}  VAT {}  SIREN {}",
            or_dash(b.seller_name.as_deref()),
            or_dash(b.seller_vat_id.as_deref()),
            or_dash(b.seller_siren.as_deref())
        ),
    );
    field("supplier", or_dash(b.supplier_id.as_deref()));
    field("creditor", or_dash(b.creditor_name.as_deref()));
    field(
        "account",
        format!(
            "{}  BIC {}",
            b.iban
                .as_deref()
                .map(mask_iban)
                .unwrap_or_else(|| "-".into()),
            or_dash(b.bic.as_deref())
        ),
    );
    field("reference", or_dash(b.payment_reference.as_deref()));
    field(
        "source",
        format!(
            "{}  external id {}",
            b.source_id,
            or_dash(b.external_id.as_deref())
        ),
    );
    field("document", or_dash(b.document_sha256.as_deref()));
    if !b.warnings.is_empty() {
        field(
            "warnings",
            b.warnings.iter().map(code).collect::<Vec<_>>().join(", "),
        );
    }
    field(
        "received",
        format!(
            "{} (updated {})",
            b.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            b.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
    );
    println!("history:");
    for h in &history {
        println!(
            "  {}  {} → {}  by {}{}",
            h.at.format("%Y-%m-%d %H:%M:%S UTC"),
            h.from_status.as_deref().unwrap_or("-"),
            h.to_status,
            h.actor,
            h.reason
                .as_deref()
                .map(|r| format!("  ({})", cut(&r.replace('\n', " "), 200)))
                .unwrap_or_default()
        );
    }
    if transfers.is_empty() {
        println!("transfers:  none");
    } else {
        println!("transfers:");
        for t in &transfers {
            println!(
                "  {}  {:<10} {:>12} EUR  {}  payee check {}{}{}",
                t.id,
                t.status,
                t.amount,
                t.iban,
                t.vop_result
                    .as_deref()
                    .map(|v| v.trim_start_matches("MATCH_RESULT_"))
                    .unwrap_or("-"),
                t.qonto_transfer_id
                    .as_deref()
                    .map(|q| format!("  qonto {q}"))
                    .unwrap_or_default(),
                t.failure_reason
                    .as_deref()
                    .map(|f| format!("  ({f})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// Hold, release or cancel a bill, with an optional note kept in its history.
pub async fn act(
    config: Option<&Path>,
    org: &str,
    id: &str,
    action: BillAction,
    note: Option<String>,
) -> anyhow::Result<()> {
    let id: BillId = id.parse()?;
    let verb = match action {
        BillAction::Hold => "hold",
        BillAction::Release => "release",
        BillAction::Cancel => "cancel",
    };
    let note = note
        .map(|n| n.trim().chars().take(1000).collect::<String>())
        .filter(|n| !n.is_empty());
    let (_, store, org) = open_org(config, org).await?;
    let b = store
        .scoped(&org)
        .act_on_bill(&id, action, "cli", note)
        .await
        .with_context(|| format!("cannot {verb} {id}"))?;
    println!("bill {} is now {}", b.id, b.status);
    Ok(())
}

/// Send a failed bill back to `ready`.
pub async fn retry(config: Option<&Path>, org: &str, id: &str) -> anyhow::Result<()> {
    let id: BillId = id.parse()?;
    let (settings, store, org) = open_org(config, org).await?;
    let engine = Engine::new(
        store,
        std::sync::Arc::new(OfflineQonto),
        EngineSettings {
            workers: false,
            ..settings.engine
        },
    );
    engine
        .retry_bill(&org, &id, "cli")
        .await
        .with_context(|| format!("cannot retry {id}"))?;
    println!("bill {id} is ready again; it can go into a new payment run");
    Ok(())
}
