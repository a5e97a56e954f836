//! `billbridge runs create | list | show | confirm | cancel`: payment runs from the command
//! line, straight on the database. The work with Qonto (payee checks, transfers, SCA,
//! follow-up) is done by a running `billbridge serve`, which picks the run up at once.

use std::path::Path;

use anyhow::Context;
use connector::engine::{Confirmation, Engine, EngineSettings, Execution, NewRun, OfflineQonto};
use connector::ids::{BillId, OrgId, RunId, TransferId};
use connector::store::payments::{RunFilter, RunView};
use connector::store::Store;

use super::serve::settings;

async fn open(config: Option<&Path>, org: &str) -> anyhow::Result<(Engine, OrgId)> {
    let org: OrgId = org.parse()?;
    let settings = settings(config)?;
    let store = Store::connect(&settings.database_url, 2).await?;
    store.migrate().await?;
    store.get_org(&org).await.context("no such organization")?;
    let engine = Engine::new(
        store,
        std::sync::Arc::new(OfflineQonto),
        EngineSettings {
            workers: false,
            ..settings.engine
        },
    );
    Ok((engine, org))
}

/// What `runs create` takes.
pub struct CreateArgs {
    pub bills: Vec<String>,
    pub due_before: Option<chrono::NaiveDate>,
    pub supplier: Option<String>,
    pub max_total: Option<rust_decimal::Decimal>,
    pub on_due_date: bool,
    pub sca_method: Option<String>,
}

pub async fn create(config: Option<&Path>, org: &str, a: CreateArgs) -> anyhow::Result<()> {
    let (engine, org) = open(config, org).await?;
    let bill_ids = a
        .bills
        .iter()
        .map(|b| b.parse::<BillId>())
        .collect::<Result<Vec<_>, _>>()?;
    let run = engine
        .create_run(
            &org,
            &NewRun {
                bill_ids,
                due_before: a.due_before,
                supplier_id: a.supplier,
                max_total: a.max_total,
                execution: if a.on_due_date {
                    Execution::DueDate
                } else {
                    Execution::Now
                },
                sca_method: a.sca_method,
            },
            "manual",
            "cli",
        )
        .await?;
    println!(
        "payment run {} created: {} bill(s), {} EUR; status {}",
        run.id, run.bill_count, run.total, run.status
    );
    println!(
        "a running `billbridge serve` now checks the payees; then review it with `billbridge runs show --org {org} {}` and confirm it",
        run.id
    );
    Ok(())
}

pub async fn list(config: Option<&Path>, org: &str, status: Option<String>) -> anyhow::Result<()> {
    let (engine, org) = open(config, org).await?;
    let runs = engine
        .store()
        .scoped(&org)
        .list_runs(&RunFilter {
            status,
            limit: Some(100),
        })
        .await?;
    if runs.is_empty() {
        println!("no payment runs");
    }
    for r in runs {
        println!(
            "{}\t{}\t{}\t{} bill(s)\t{} EUR\t{}",
            r.id,
            r.created_at.format("%Y-%m-%d %H:%M"),
            r.status,
            r.bill_count,
            r.total,
            r.reason.unwrap_or_default()
        );
    }
    Ok(())
}

fn print_run(r: &RunView) {
    println!("payment run {} ({}, {})", r.id, r.kind, r.status);
    println!(
        "  {} bill(s), {} EUR, execution: {}",
        r.bill_count, r.total, r.execution
    );
    if let Some(reason) = &r.reason {
        println!("  reason: {reason}");
    }
    let s = &r.summary;
    if s.qonto_transfers > 0 && s.qonto_transfers != s.bill_count {
        println!(
            "  {} Qonto transfer(s): the bills of one supplier are paid together",
            s.qonto_transfers
        );
    }
    if s.beneficiaries_to_create > 0 {
        println!(
            "  {} new payee(s) become Qonto beneficiaries when the run is submitted",
            s.beneficiaries_to_create
        );
    }
    println!(
        "  without SCA: {}, needing SCA: {}, payee checks to review: {}, chunks: {}",
        s.without_sca, s.needing_sca, s.needing_review, s.chunks
    );
    for w in &s.warnings {
        println!("  warning [{}]: {}", w.code, w.message);
    }
    for x in &s.removed {
        println!("  taken out: {} ({})", x.bill_id, x.reason);
    }
    if let Some(transfers) = &r.transfers {
        println!("  transfers:");
        for t in transfers {
            println!(
                "    {}  {:<10} {:>12} EUR  {:<30} {}  {}{}",
                t.id,
                t.status,
                t.amount,
                t.creditor_name.chars().take(30).collect::<String>(),
                t.iban,
                t.vop_result
                    .as_deref()
                    .map(|v| v.trim_start_matches("MATCH_RESULT_"))
                    .unwrap_or("-"),
                t.failure_reason
                    .as_deref()
                    .map(|f| format!("  ({f})"))
                    .unwrap_or_default()
            );
        }
    }
}

pub async fn show(config: Option<&Path>, org: &str, id: &str) -> anyhow::Result<()> {
    let (engine, org) = open(config, org).await?;
    let id: RunId = id.parse()?;
    let run = engine.store().scoped(&org).get_run(&id).await?;
    print_run(&run);
    Ok(())
}

pub async fn confirm(
    config: Option<&Path>,
    org: &str,
    id: &str,
    accept: &[String],
    exclude: &[String],
) -> anyhow::Result<()> {
    let (engine, org) = open(config, org).await?;
    let id: RunId = id.parse()?;
    let parse = |v: &[String]| {
        v.iter()
            .map(|t| t.parse::<TransferId>())
            .collect::<Result<Vec<_>, _>>()
    };
    let run = engine
        .confirm_run(
            &org,
            &id,
            &Confirmation {
                accept_payees: parse(accept)?,
                exclude: parse(exclude)?,
            },
            "cli",
        )
        .await?;
    println!(
        "payment run {} confirmed: {} bill(s), {} EUR; a running `billbridge serve` sends it to Qonto",
        run.id, run.bill_count, run.total
    );
    Ok(())
}

pub async fn cancel(config: Option<&Path>, org: &str, id: &str) -> anyhow::Result<()> {
    let (engine, org) = open(config, org).await?;
    let id: RunId = id.parse()?;
    let run = engine.cancel_run(&org, &id, "cli").await?;
    println!("payment run {} canceled; its bills are ready again", run.id);
    Ok(())
}
