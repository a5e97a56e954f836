//! Payment benchmarks (issue "Payment engine", performance), against the in-process sandbox:
//!
//! * `one-click` (default): N ready bills (400) in a run that has been previewed; measured from
//!   the confirmation to N transfers created at the sandbox, with SCA approved at once
//!   (`sca_auto = allow`). Half the bills go to trusted beneficiaries, half to new payees.
//! * `e2e`: N bills (10,000) from signed intake (32 concurrent clients) to paid, the sandbox
//!   settling at once; reports each phase.
//!
//!     cargo run --release -p connector --example pay_bench -- [one-click|e2e] [--bills N] [--postgres URL]
//!
//! Bounded: a fixed number of requests to 127.0.0.1 only.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector::config::RawSettings;
use connector::http::{sandbox_qonto_config, Application};
use connector::secrets::SecretBox;
use connector::signing::sign;
use connector::store::Store;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

const SUPPLIERS: [(&str, &str, &str); 4] = [
    ("ACME SAS", "FR32123456789", "FR7630006000011234567890189"),
    (
        "Müller Elektro GmbH",
        "DE123456789",
        "DE89370400440532013000",
    ),
    (
        "Alice In Wonderland",
        "DE811569869",
        "DE91100000000123456789",
    ),
    (
        "Rossi Forniture SRL",
        "IT12345678901",
        "IT60X0542811101000000123456",
    ),
];

fn bill(i: usize) -> Vec<u8> {
    let (name, vat, iban) = SUPPLIERS[i % SUPPLIERS.len()];
    let cents = 1000 + (i * 37) % 90_000;
    let amount = format!("{}.{:02}", cents / 100, cents % 100);
    json!({
        "external_id": format!("BENCH-{i:06}"),
        "number": format!("B-{i:06}"),
        "type_code": "380",
        "issue_date": "2026-11-02",
        "due_date": "2026-12-02",
        "currency": "EUR",
        "payable_amount": amount,
        "tax_inclusive_amount": amount,
        "seller": { "name": name, "vat_id": vat, "country": &vat[..2] },
        "payment": { "means_code": "58", "iban": iban },
        "payment_reference": format!("B-{i:06}"),
    })
    .to_string()
    .into_bytes()
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mode = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "one-click".into());
    let e2e = mode == "e2e";
    let bills: usize = arg("--bills")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if e2e { 10_000 } else { 400 });
    let dir = std::env::temp_dir().join(format!("billbridge-pay-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db_url = match arg("--postgres") {
        Some(pg) => {
            let name = format!("bb_pay_{}", std::process::id());
            Database::connect(pg.as_str())
                .await?
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            let mut u = reqwest::Url::parse(&pg)?;
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        None => format!("sqlite://{}/pay.db?mode=rwc", dir.display()),
    };

    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig {
        sca_auto: sandbox::ScaAuto::Allow,
        // 10,000 bills average ~460 EUR: more than the default 1,000,000 EUR balance.
        balance: rust_decimal::Decimal::new(100_000_000, 0),
        ..Default::default()
    })
    .await?;
    let mut raw = RawSettings::default();
    raw.database.url = db_url.clone();
    raw.database.max_connections = 16;
    raw.server.bind = "127.0.0.1:0".into();
    raw.security.admin_token = Some("bench-admin-token-0123456789abcdef".into());
    raw.log.level = "warn".into();
    raw.engine.follow_interval_secs = 1;
    raw.engine.max_run_bills = bills.max(1);
    raw.webhooks.enabled = false;
    let settings = raw.validate()?;
    let store = Store::connect(&db_url, 16).await?;
    store.migrate().await?;
    let provider: Arc<dyn connector::engine::QontoProvider> =
        Arc::new(connector::engine::StaticQonto::new(
            sandbox_qonto_config(&sb),
            true,
            Arc::new(connector::qonto::MemoryAuditSink::new()),
        ));
    let keys = SecretBox::from_key(&[9; 32]);
    let app = Application::with_parts(
        settings,
        store.clone(),
        keys.clone(),
        TcpListener::bind("127.0.0.1:0")?,
        Some(provider),
    )?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let engine = app.engine().cloned();
    tokio::spawn(app.run());

    let org = store.create_org("bench").await?;
    let (_, token) = store.create_token(Some(&org.id), "bench").await?;
    let (source, secret) = store
        .scoped(&org.id)
        .create_source("erp", "erp", &keys)
        .await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;

    // Intake through the signed HTTP API, 32 clients.
    let t_start = Instant::now();
    let url = format!("{base}/v1/sources/{}/bills", source.id);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (next, client, url, secret) =
            (next.clone(), client.clone(), url.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= bills {
                    break;
                }
                let body = bill(i);
                let h = sign(
                    std::slice::from_ref(&secret),
                    &format!("msg_{i}"),
                    chrono::Utc::now().timestamp(),
                    &body,
                );
                let ok = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", h.webhook_id)
                    .header("webhook-timestamp", h.webhook_timestamp)
                    .header("webhook-signature", h.webhook_signature)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16() == 201)
                    .unwrap_or(false);
                if !ok {
                    errors += 1;
                }
            }
            errors
        }));
    }
    let mut errors = 0;
    for t in tasks {
        errors += t.await?;
    }
    let t_intake = t_start.elapsed();
    anyhow::ensure!(errors == 0, "{errors} intake requests failed");

    let get = |path: String| {
        let client = client.clone();
        let token = token.clone();
        let base = base.clone();
        async move {
            client
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await?
                .json::<Value>()
                .await
                .map_err(anyhow::Error::from)
        }
    };
    let created: Value = client
        .post(format!("{base}/v1/payment-runs"))
        .bearer_auth(&token)
        .json(&json!({ "sca_method": "mock" }))
        .send()
        .await?
        .json()
        .await?;
    let run = created["id"].as_str().unwrap_or_default().to_string();
    loop {
        let v = get(format!("/v1/payment-runs/{run}")).await?;
        if v["status"] == "awaiting_confirmation" {
            break;
        }
        anyhow::ensure!(v["status"] == "verifying", "run is {}", v["status"]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t_preview = t_start.elapsed() - t_intake;

    // Confirmation → transfers created at the sandbox.
    let t_confirm = Instant::now();
    let r = client
        .post(format!("{base}/v1/payment-runs/{run}/confirm"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "confirm: {}", r.status());
    let deadline = Instant::now() + Duration::from_secs(600);
    while sb.transfer_log().len() < bills {
        anyhow::ensure!(Instant::now() < deadline, "transfers never all created");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let t_created = t_confirm.elapsed();
    println!(
        "confirm → {bills} transfers created at the sandbox (SCA approved at once): {:.3} s",
        t_created.as_secs_f64()
    );
    if !e2e {
        println!(
            "(intake {:.2} s, preview with VoP {:.2} s; peak RSS {:.0} MiB)",
            t_intake.as_secs_f64(),
            t_preview.as_secs_f64(),
            peak_rss_mib()
        );
        return Ok(());
    }

    // Settle at once and follow every transfer to paid.
    let t_settle = Instant::now();
    loop {
        sb.advance_clock(Duration::from_secs(3 * 3600));
        if let Some(e) = &engine {
            e.nudge_follow_up();
        }
        let v = get(format!("/v1/payment-runs/{run}")).await?;
        if v["status"] == "completed" {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "run stuck in {}", v["status"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let paid = get("/v1/bills?status=paid&limit=1".to_string()).await?;
    anyhow::ensure!(paid["bills"].as_array().is_some_and(|b| !b.is_empty()));
    let total = t_start.elapsed();
    println!(
        "{bills} bills from intake to paid: {:.1} s (intake {:.1} s = {:.0} bills/s; preview with VoP {:.1} s; confirm → created {:.1} s; settled → all paid {:.1} s); peak RSS {:.0} MiB",
        total.as_secs_f64(),
        t_intake.as_secs_f64(),
        bills as f64 / t_intake.as_secs_f64(),
        t_preview.as_secs_f64(),
        t_created.as_secs_f64(),
        t_settle.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
    anyhow::ensure!(sb.transfer_log().len() == bills, "each bill paid once");
    Ok(())
}
