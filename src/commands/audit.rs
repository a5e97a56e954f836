//! `billbridge audit`: an organization's audit log, newest first, straight from the database.
//! Entries never hold a secret or a full IBAN (the writers mask them).

use std::path::Path;

use connector::ids::{BillId, RunId};
use connector::store::audit::AuditFilter;

use super::bills::{cut, print_table};
use super::sources::open_org;

/// An RFC 3339 time, or a date (`YYYY-MM-DD`, midnight UTC).
pub fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(format!(
        "{s:?} is not a time (RFC 3339, e.g. 2026-11-02T09:00:00Z, or a date YYYY-MM-DD)"
    ))
}

/// What `audit` takes.
pub struct AuditArgs {
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub bill: Option<String>,
    pub run: Option<String>,
    pub before: Option<i64>,
    pub limit: u64,
    pub json: bool,
}

pub async fn run(config: Option<&Path>, org: &str, a: AuditArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=1000).contains(&a.limit),
        "--limit must be between 1 and 1000"
    );
    if let (Some(from), Some(to)) = (a.from, a.to) {
        anyhow::ensure!(from < to, "--from must be before --to");
    }
    let bill = a
        .bill
        .map(|b| b.parse::<BillId>().map(|b| b.to_string()))
        .transpose()?;
    let run = a
        .run
        .map(|r| r.parse::<RunId>().map(|r| r.to_string()))
        .transpose()?;
    let (_, store, org) = open_org(config, org).await?;
    let entries = store
        .scoped(&org)
        .audit(&AuditFilter {
            from: a.from,
            to: a.to,
            bill_id: bill,
            run_id: run,
            before_id: a.before,
            limit: Some(a.limit),
        })
        .await?;
    if a.json {
        for e in &entries {
            println!("{}", serde_json::to_string(e)?);
        }
    } else if entries.is_empty() {
        println!("no audit entries");
    } else {
        let rows = entries
            .iter()
            .map(|e| {
                let about = [&e.bill_id, &e.run_id, &e.source_id]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ");
                vec![
                    e.id.to_string(),
                    e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    e.actor.clone(),
                    e.action.clone(),
                    if about.is_empty() { "-".into() } else { about },
                    if e.details.is_null() {
                        String::new()
                    } else {
                        cut(&e.details.to_string(), 160)
                    },
                ]
            })
            .collect();
        print_table(
            &["ID", "AT (UTC)", "ACTOR", "ACTION", "ABOUT", "DETAILS"],
            rows,
        );
    }
    if entries.len() as u64 == a.limit {
        if let Some(last) = entries.last() {
            eprintln!("maybe more entries: add --before {}", last.id);
        }
    }
    Ok(())
}
