//! `billbridge deliveries list | show | replay`: outcome webhooks to the ERPs, straight from the
//! database (the operator's own access; the running server's dispatcher sends replays).

use std::path::Path;

use anyhow::Context;
use connector::events::delivery_status;
use connector::ids::{DeliveryId, OrgId};
use connector::store::deliveries::DeliveryFilter;
use connector::store::Store;

use super::serve::settings;

async fn open(config: Option<&Path>, org: &str) -> anyhow::Result<(Store, OrgId)> {
    let org: OrgId = org.parse()?;
    let settings = settings(config)?;
    let store = Store::connect(&settings.database_url, 2).await?;
    store.migrate().await?;
    store.get_org(&org).await.context("no such organization")?;
    Ok((store, org))
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), or `-`.
macro_rules! when {
    ($t:expr) => {
        $t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "-".to_string())
    };
}

/// One line per delivery, newest first: id, status, attempts, last code, event type, bill,
/// next attempt (pending) or delivery time.
pub async fn list(
    config: Option<&Path>,
    org: &str,
    status: Option<String>,
    bill: Option<String>,
    limit: u64,
) -> anyhow::Result<()> {
    if let Some(s) = &status {
        anyhow::ensure!(
            delivery_status::ALL.contains(&s.as_str()),
            "--status must be one of {}",
            delivery_status::ALL.join(", ")
        );
    }
    let (store, org) = open(config, org).await?;
    let page = store
        .scoped(&org)
        .list_deliveries(&DeliveryFilter {
            status,
            bill_id: bill,
            limit: Some(limit),
            ..Default::default()
        })
        .await?;
    if page.deliveries.is_empty() {
        println!("no deliveries");
    }
    for d in page.deliveries {
        let at = if d.status == delivery_status::PENDING {
            format!("next {}", when!(d.next_attempt_at))
        } else {
            format!("delivered {}", when!(d.delivered_at))
        };
        println!(
            "{}\t{}\t{} attempt(s)\t{}\t{}\t{}\t{}",
            d.id,
            d.status,
            d.attempts,
            d.last_status_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            d.event_type,
            d.bill_id.as_deref().unwrap_or("-"),
            if d.status == delivery_status::PENDING || d.delivered_at.is_some() {
                at
            } else {
                "-".into()
            },
        );
    }
    if page.next_cursor.is_some() {
        println!("… more (raise --limit)");
    }
    Ok(())
}

/// A delivery, its event and every attempt.
pub async fn show(config: Option<&Path>, org: &str, id: &str) -> anyhow::Result<()> {
    let id: DeliveryId = id.parse()?;
    let (store, org) = open(config, org).await?;
    let detail = store.scoped(&org).get_delivery(&id).await?;
    let d = &detail.delivery;
    println!("delivery   {}", d.id);
    println!("event      {} ({}) = webhook-id", d.event_id, d.event_type);
    println!("bill       {}", d.bill_id.as_deref().unwrap_or("-"));
    println!("source     {}  {}", d.source_id, d.url);
    println!("status     {}", d.status);
    println!("attempts   {}", d.attempts);
    if d.status == delivery_status::PENDING {
        println!("next       {}", when!(d.next_attempt_at));
    }
    if let Some(e) = &d.last_error {
        println!("last error {e}");
    }
    for a in &detail.attempts {
        println!(
            "  {}  {:>4}  {:>6} ms  {}",
            when!(Some(a.at)),
            a.status_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            a.duration_ms,
            a.error
                .as_deref()
                .or(a.response_body.as_deref())
                .unwrap_or("")
                .chars()
                .take(120)
                .collect::<String>()
                .replace('\n', " ")
        );
    }
    println!(
        "payload    {}",
        serde_json::to_string_pretty(&detail.event.payload)?
    );
    Ok(())
}

/// Queue a delivery to be sent again now, with the same webhook-id.
pub async fn replay(config: Option<&Path>, org: &str, id: &str) -> anyhow::Result<()> {
    let id: DeliveryId = id.parse()?;
    let (store, org) = open(config, org).await?;
    let d = store.scoped(&org).replay_delivery(&id, "cli").await?;
    println!(
        "delivery {} queued again (webhook-id {}); a running `billbridge serve` sends it",
        d.id, d.event_id
    );
    Ok(())
}
