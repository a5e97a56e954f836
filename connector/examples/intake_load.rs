//! Load test of signed UBL intake (issue "Storage, intake service…", performance).
//!
//! Spawns billbridge in-process on port 0 (SQLite temp file by default, or PostgreSQL with
//! `--postgres URL`), creates an organization and a source, then 32 concurrent clients POST
//! signed UBL invoices (each a distinct invoice number, all pre-signed before the clock starts).
//! Reports throughput, latency percentiles, CPU time and peak RSS, and the same bill rows
//! inserted by a plain loop with the same durability for comparison: one transaction per row,
//! and `--plain-batch` (32) rows per transaction.
//!
//!     cargo run --release -p connector --example intake_load -- [--bills 20000] [--clients 32] [--postgres URL] [--plain-batch 32]
//!
//! Bounded: a fixed number of requests to 127.0.0.1 only.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector::config::RawSettings;
use connector::http::Application;
use connector::secrets::SecretBox;
use connector::signing::sign;
use connector::store::Store;
use sea_orm::{ConnectionTrait, Database};

const UBL: &str = include_str!("../../adapters/tests/fixtures/ubl-invoice.xml");

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU time of this process so far.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `RUST_LOG=connector=debug` shows, e.g., intake batches that fall back to the per-bill path.
    if let Ok(filter) = std::env::var("RUST_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let bills: usize = arg("--bills")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let clients: usize = arg("--clients").and_then(|v| v.parse().ok()).unwrap_or(32);
    let dir = std::env::temp_dir().join(format!("billbridge-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db_url = match arg("--postgres") {
        Some(pg) => {
            let name = format!("bb_load_{}", std::process::id());
            Database::connect(pg.as_str())
                .await?
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            let mut u = reqwest::Url::parse(&pg)?;
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        None => format!("sqlite://{}/load.db?mode=rwc", dir.display()),
    };
    let mut raw = RawSettings::default();
    raw.database.url = db_url.clone();
    raw.database.max_connections = 16;
    raw.server.bind = "127.0.0.1:0".into();
    raw.security.admin_token = Some("load-test-admin-token-0123456789".into());
    raw.log.level = "warn".into();
    let settings = raw.validate()?;
    let store = Store::connect(&db_url, 16).await?;
    store.migrate().await?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let app = Application::with_listener(
        settings,
        store.clone(),
        SecretBox::from_key(&[9; 32]),
        listener,
    )?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());

    let org = store.create_org("load").await?;
    let keys = SecretBox::from_key(&[9; 32]);
    let (source, secret) = store
        .scoped(&org.id)
        .create_source("erp", "erp", &keys)
        .await?;

    // Each client builds and signs its next bill (a distinct invoice number) just before
    // sending: cheap next to the request, and it keeps the generator's memory small.
    let url = format!("{base}/v1/sources/{}/bills", source.id);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let cpu_at_start = cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, client, url, secret) =
            (next.clone(), client.clone(), url.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= bills {
                    break;
                }
                let body = UBL
                    .replace("FA-2026-0042", &format!("LOAD-{i:08}"))
                    .into_bytes();
                let h = sign(
                    std::slice::from_ref(&secret),
                    &format!("msg_{i}"),
                    chrono::Utc::now().timestamp(),
                    &body,
                );
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .header("content-type", "application/xml")
                    .header("webhook-id", h.webhook_id)
                    .header("webhook-timestamp", h.webhook_timestamp)
                    .header("webhook-signature", h.webhook_signature)
                    .body(body)
                    .send()
                    .await;
                lat.push(t.elapsed());
                if !matches!(r.map(|r| r.status().as_u16()), Ok(201)) {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    let intake_cpu = cpu_seconds() - cpu_at_start;
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let rate = bills as f64 / elapsed.as_secs_f64();
    println!(
        "backend: {}",
        if db_url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        }
    );
    println!("intake: {bills} signed UBL bills, {clients} clients, {:.2} s, {rate:.0} bills/s, errors {errors}", elapsed.as_secs_f64());
    println!(
        "latency: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        lat.last().copied().unwrap_or_default()
    );
    println!(
        "CPU during intake (server and generator): {intake_cpu:.2} s, {:.2} cores, {:.0} us per bill",
        intake_cpu / elapsed.as_secs_f64(),
        intake_cpu * 1e6 / bills as f64
    );
    println!(
        "peak RSS (server and load generator in one process): {:.1} MiB",
        peak_rss_mib()
    );

    // The same rows with the same durability, inserted by a plain loop: one transaction per
    // row (what a plain durable insert gives each acknowledged row), then the same rows with
    // `--plain-batch` rows per transaction (the group commit alone, without intake's work).
    let conn = store.connection();
    let ids: Vec<String> = {
        use sea_orm::{EntityTrait, QuerySelect};
        connector::store::entities::bill::Entity::find()
            .select_only()
            .column(connector::store::entities::bill::Column::Id)
            .into_tuple()
            .all(conn)
            .await?
    };
    let n = ids.len().min(5_000);
    let plain_batch: usize = arg("--plain-batch")
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let mut plain = Vec::new();
    for (table, per_txn) in [("plain_bills", 1), ("plain_bills_batched", plain_batch)] {
        conn.execute_unprepared(&format!(
            "CREATE TABLE {table} AS SELECT * FROM bills WHERE 1 = 0"
        ))
        .await?;
        let t = Instant::now();
        for chunk in ids[..n].chunks(per_txn) {
            let w = store.begin_write().await?;
            for id in chunk {
                w.txn
                    .execute_unprepared(&format!(
                        "INSERT INTO {table} SELECT * FROM bills WHERE id = '{id}'"
                    ))
                    .await?;
            }
            w.commit().await?;
        }
        let rate = n as f64 / t.elapsed().as_secs_f64();
        println!("plain insert of the same bill rows, {per_txn} per transaction, same durability: {rate:.0} rows/s ({n} rows)");
        plain.push(rate);
    }
    println!(
        "intake / plain insert (1 per transaction): {:.2}; intake / plain insert ({plain_batch} per transaction): {:.2}",
        rate / plain[0],
        rate / plain[1]
    );
    println!(
        "CPU time of the process (server, load generator, plain inserts): {:.2} s",
        cpu_seconds()
    );
    std::fs::remove_dir_all(&dir).ok();
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
