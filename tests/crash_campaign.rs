//! The crash campaign (DESIGN §3, invariants 1–5; issue "Payment engine", "Exactly once —
//! prove it").
//!
//! `billbridge serve` runs as a child process (SQLite file, `[qonto]` pointing at a Qonto
//! sandbox that lives in this test, with 5xx, 429 and commit-then-drop faults on the payment
//! endpoints) while payment runs are created and confirmed through the HTTP API. A killer loop
//! SIGKILLs the child at random moments (50–1500 ms after it became healthy, seeded RNG) and
//! restarts it, at least [`KILLS`] times; every 5th kill the sandbox clock jumps 31 minutes, so
//! idempotency keys of unanswered requests expire and billbridge has to look transfers up
//! instead of resending. Odd waves run with the organization's `group_by_supplier` on (one
//! transfer for a supplier's bills), even waves with it off. Then the child is left alone to finish, the clock settles everything,
//! and the sandbox's own transfer log must show every bill paid exactly once; billbridge must
//! agree (every bill `paid`, one settled transfer each, no run left open).
//!
//! Run: `cargo test --test crash_campaign -- --nocapture`. `CRASH_SEED=n` picks another
//! schedule, `CRASH_KILLS=n` more kills. On failure the child's log is kept and its path printed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector::signing::{sign, WebhookSecret};
use sandbox::{ClockMode, Fault, RunningSandbox, SandboxConfig, ScaAuto};
use serde_json::{json, Value};

/// Bills paid by the campaign.
const BILLS: usize = 300;
/// Runs are created in waves: the bills of wave `i` fall due on day `i`.
const WAVES: usize = 6;
/// Kills, at least.
const KILLS: usize = 50;
/// Transfers per chunk (small, so that a run has several chunks to crash between).
const CHUNK_SIZE: usize = 10;
const ADMIN_TOKEN: &str = "crash-campaign-admin-token-0123456789abcdef";
/// `BILLBRIDGE_SECRET_KEY` of every child (32 bytes, hex).
const SECRET_KEY: &str = "7f3c1e9a0b5d4c2e8f6a1b3d5c7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e";

/// (seller name, VAT id, IBAN, trusted at the sandbox).
const SUPPLIERS: &[(&str, &str, &str, bool)] = &[
    (
        "ACME SAS",
        "FR32123456789",
        "FR7630006000011234567890189",
        true,
    ),
    (
        "Müller Elektro GmbH",
        "DE123456789",
        "DE89370400440532013000",
        true,
    ),
    (
        "Van Dijk Logistics BV",
        "NL123456789B01",
        "NL20INGB0001234567",
        true,
    ),
    (
        "Alice In Wonderland",
        "DE811569869",
        "DE91100000000123456789",
        false,
    ),
    (
        "Rossi Forniture SRL",
        "IT12345678901",
        "IT60X0542811101000000123456",
        false,
    ),
];

fn due_date(wave: usize) -> String {
    format!("2026-12-{:02}", wave + 1)
}

/// A free port on 127.0.0.1 (bound and released; a fresh one for every start).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The `billbridge serve` child and how to (re)start it.
struct Node {
    dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_billbridge"));
        // Nothing from the developer's environment leaks into the child's configuration.
        for (k, _) in std::env::vars() {
            if k.starts_with("BILLBRIDGE") || k == "RUST_LOG" {
                c.env_remove(k);
            }
        }
        c.env("BILLBRIDGE_SECRET_KEY", SECRET_KEY)
            .current_dir(&self.dir)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null());
        c
    }

    /// Run a one-shot CLI command and return its stdout.
    fn cli(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("billbridge runs");
        assert!(
            out.status.success(),
            "billbridge {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Start `billbridge serve` and wait until it answers `/healthz`; returns its base URL.
    async fn start(&mut self, http: &reqwest::Client) -> String {
        for _ in 0..5 {
            let port = free_port();
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .unwrap();
            let mut child = self
                .command()
                .arg("serve")
                .env("BILLBRIDGE__SERVER__BIND", format!("127.0.0.1:{port}"))
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("billbridge serve starts");
            let base = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    // Most likely the port was taken meanwhile: try another one.
                    eprintln!("billbridge serve exited at start ({status}); starting again");
                    break;
                }
                let ok = http
                    .get(format!("{base}/healthz"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    self.child = Some(child);
                    return base;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "billbridge serve never became healthy; log: {}",
                        self.log.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        panic!(
            "billbridge serve could not start; log: {}",
            self.log.display()
        );
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown hook runs, leases stay taken.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The HTTP API of whichever child runs now (requests fail while none does).
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: Arc<Mutex<String>>,
    token: String,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.lock().unwrap())
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("GET {path}: {}", r.status()));
        }
        r.json().await.map_err(|e| e.to_string())
    }

    async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn put(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        self.send(reqwest::Method::PUT, path, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<(u16, Value), String> {
        let r = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    /// Every bill of the organization (id → status).
    async fn bills(&self) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/bills?limit=500&cursor={c}"),
                None => "/v1/bills?limit=500".to_string(),
            };
            let page = self.get(&path).await?;
            for b in page["bills"].as_array().into_iter().flatten() {
                out.insert(
                    b["id"].as_str().unwrap_or_default().to_string(),
                    b["status"].as_str().unwrap_or_default().to_string(),
                );
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(out),
            }
        }
    }
}

#[derive(Default)]
struct Stats {
    /// Kills so far (the driver spreads the waves over the campaign).
    kills: AtomicUsize,
    /// Whether a run was open (being prepared, sent or followed) at the driver's last look.
    runs_open: AtomicBool,
    runs_created: AtomicUsize,
    runs_confirmed: AtomicUsize,
    refused: AtomicUsize,
    clock_moves: AtomicUsize,
}

/// One look at the state of things and the next step a person (or the ERP) would take:
/// confirm previewed runs, start the next wave, pay bills that came back to `ready`.
/// Returns true when every bill is paid and no run is open.
async fn step(
    api: &Api,
    wave: &mut usize,
    stats: &Stats,
    kills_wanted: usize,
    draining: bool,
) -> Result<bool, String> {
    let runs = api.get("/v1/payment-runs?limit=500").await?;
    let runs = runs.as_array().cloned().unwrap_or_default();
    let mut preparing = false;
    let mut open = 0;
    for r in &runs {
        let id = r["id"].as_str().unwrap_or_default();
        match r["status"].as_str().unwrap_or_default() {
            "verifying" => preparing = true,
            "awaiting_confirmation" => {
                preparing = true;
                let detail = api.get(&format!("/v1/payment-runs/{id}")).await?;
                let accept: Vec<&str> = detail["transfers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| t["status"] == "planned")
                    .filter(|t| {
                        t["vop_result"] != "MATCH_RESULT_MATCH" && t["vop_decision"].is_null()
                    })
                    .filter_map(|t| t["id"].as_str())
                    .collect();
                let (status, v) = api
                    .post(
                        &format!("/v1/payment-runs/{id}/confirm"),
                        &json!({ "accept_payees": accept }),
                    )
                    .await?;
                match status {
                    200 => {
                        stats.runs_confirmed.fetch_add(1, Ordering::Relaxed);
                    }
                    409 => {
                        stats.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => return Err(format!("confirm {id}: {status} {v}")),
                }
            }
            "submitting" | "awaiting_sca" | "submitted" => open += 1,
            _ => {}
        }
    }
    stats
        .runs_open
        .store(preparing || open > 0, Ordering::SeqCst);
    if preparing {
        return Ok(false);
    }
    // Wave i starts after i/WAVES of the kills, so that runs are under way all along.
    let kills = stats.kills.load(Ordering::SeqCst);
    if *wave < WAVES && (draining || kills >= *wave * kills_wanted / WAVES) {
        // Odd waves pay each supplier's bills by one transfer (the organization's
        // `group_by_supplier`), even waves one transfer per bill: both paths get killed.
        let (status, v) = api
            .put(
                "/v1/settings/payments",
                &json!({ "group_by_supplier": *wave % 2 == 1 }),
            )
            .await?;
        if status != 200 {
            return Err(format!("set the policy: {status} {v}"));
        }
        let (status, v) = api
            .post(
                "/v1/payment-runs",
                &json!({ "due_before": due_date(*wave) }),
            )
            .await?;
        match status {
            201 => {
                stats.runs_created.fetch_add(1, Ordering::Relaxed);
                *wave += 1;
            }
            // Nothing ready up to that date (an earlier, unanswered request took the bills).
            422 => *wave += 1,
            409 => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
            }
            _ => return Err(format!("create run: {status} {v}")),
        }
        return Ok(false);
    }
    if *wave < WAVES {
        return Ok(false);
    }
    let bills = api.bills().await?;
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for s in bills.values() {
        *by_status.entry(s.as_str()).or_default() += 1;
    }
    for (id, s) in &bills {
        if s == "failed" {
            // Declined or canceled at Qonto: a person retries it.
            api.post(&format!("/v1/bills/{id}/retry"), &json!({}))
                .await?;
        }
    }
    if by_status.get("ready").copied().unwrap_or(0) > 0 {
        // Bills whose chunk failed as a whole (an SCA session that expired when the clock
        // jumped, a refused VoP token) are ready again: pay them by a new run.
        let (status, v) = api.post("/v1/payment-runs", &json!({})).await?;
        match status {
            201 => {
                stats.runs_created.fetch_add(1, Ordering::Relaxed);
            }
            409 | 422 => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
            }
            _ => return Err(format!("create run: {status} {v}")),
        }
        return Ok(false);
    }
    Ok(draining
        && open == 0
        && bills.len() == BILLS
        && by_status.get("paid").copied() == Some(BILLS))
}

fn write_config(dir: &Path, sb: &RunningSandbox) -> PathBuf {
    let header = sb.api_key_header();
    let (login, secret) = header.split_once(':').unwrap();
    let db = dir.join("billbridge.db");
    let config = format!(
        r#"
[database]
url = "sqlite://{db}?mode=rwc"
max_connections = 8

[server]
shutdown_timeout_secs = 1

[log]
level = "warn,billbridge=info,connector=info"

[security]
admin_token = "{ADMIN_TOKEN}"
key_file = "{key}"

[engine]
follow_interval_secs = 1
job_lease_secs = 5
chunk_size = {CHUNK_SIZE}
concurrency = 4

[webhooks]
enabled = false

[qonto]
staging_token = "{staging}"
sca_method = "mock"
request_timeout_ms = 10000

[qonto.environment.custom]
api_base = "{base}"
oauth_base = "{base}"

[qonto.api_key]
login = "{login}"
secret_key = "{secret}"

[qonto.retry]
max_attempts = 3
base_delay_ms = 50
max_delay_ms = 500
max_retry_after_ms = 5000
"#,
        db = db.display(),
        key = dir.join("billbridge.key").display(),
        staging = sb.staging_token(),
        base = sb.base_url(),
    );
    let path = dir.join("billbridge.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Faults that make progress slower but never impossible: each applies to a few calls.
/// A commit-then-drop as often as the client retries (3 attempts) makes the job fail with the
/// outcome unknown: the next attempt has to look the bulk up before anything else.
fn random_fault(rng: &mut fastrand::Rng) -> Fault {
    const BULK: &str = "/v2/sepa/bulk_transfers";
    match rng.u8(..8) {
        0 | 1 => Fault::commit_then_drop("POST", BULK).times(3),
        2 => Fault::commit_then_drop("POST", BULK).times(1),
        3 => Fault::server_error("POST", BULK, [500, 502, 503][rng.usize(..3)]).times(1),
        4 => Fault::rate_limited("POST", BULK, Some(1)).times(1),
        5 => Fault::server_error("GET", "/v2/sepa/transfers", 503).times(2),
        6 => Fault::rate_limited("POST", "/v2/sepa/bulk_verify_payee", Some(1)).times(1),
        _ => Fault::server_error("GET", "/v2/sepa/bulk_transfers/*", 502).times(1),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_campaign_pays_every_bill_exactly_once() {
    let started = Instant::now();
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_127);
    let kills_wanted: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(KILLS)
        .max(KILLS);
    let mut rng = fastrand::Rng::with_seed(seed);

    let sb = Arc::new(
        sandbox::Sandbox::start(SandboxConfig {
            clock_mode: ClockMode::Manual,
            sca_auto: ScaAuto::Allow,
            ..Default::default()
        })
        .await
        .unwrap(),
    );
    let dir = std::env::temp_dir().join(format!(
        "billbridge-crash-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config = write_config(&dir, &sb);
    let mut node = Node {
        log: dir.join("serve.log"),
        config,
        dir: dir.clone(),
        child: None,
    };

    // The organization and its ERP source, through the CLI.
    let out = node.cli(&["orgs", "create", "Crash Campaign SAS"]);
    let token = out
        .lines()
        .find_map(|l| l.split("keep it safe): ").nth(1))
        .expect("an org token")
        .trim()
        .to_string();
    let org = out
        .split_whitespace()
        .find(|w| w.starts_with("org_"))
        .expect("an org id")
        .to_string();
    let out = node.cli(&["sources", "create", "--org", &org, "erp"]);
    let source = out
        .split_whitespace()
        .find(|w| w.starts_with("src_"))
        .expect("a source id")
        .to_string();
    let secret = WebhookSecret::parse(
        out.lines()
            .find_map(|l| l.split("give it to the ERP): ").nth(1))
            .expect("a signing secret")
            .trim(),
    )
    .unwrap();

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let base = node.start(&http).await;
    let api = Api {
        http: http.clone(),
        base: Arc::new(Mutex::new(base)),
        token,
    };

    // The bills, signed by the ERP (Standard Webhooks), before the first kill.
    let mut numbers: HashMap<String, String> = HashMap::new(); // reference → bill id
    let mut pending: Vec<usize> = (0..BILLS).collect();
    while !pending.is_empty() {
        let batch: Vec<usize> = pending.drain(..pending.len().min(16)).collect();
        let mut tasks = Vec::new();
        for i in batch {
            let (name, vat, iban, _) = SUPPLIERS[i % SUPPLIERS.len()];
            let number = format!("CC-{i:04}");
            let amount = format!("{}.{:02}", 10 + (i * 37) % 900, (i * 13) % 100);
            let body = json!({
                "external_id": format!("ERP-{number}"),
                "number": number,
                "type_code": "380",
                "issue_date": "2026-11-02",
                "due_date": due_date(i % WAVES),
                "currency": "EUR",
                "payable_amount": amount,
                "tax_inclusive_amount": amount,
                "seller": { "name": name, "vat_id": vat, "country": &vat[..2] },
                "payment": { "means_code": "58", "iban": iban },
                "payment_reference": number,
            })
            .to_string();
            let h = sign(
                std::slice::from_ref(&secret),
                &format!("msg_{number}"),
                chrono::Utc::now().timestamp(),
                body.as_bytes(),
            );
            let req = http
                .post(api.url(&format!("/v1/sources/{source}/bills")))
                .header("content-type", "application/json")
                .header("webhook-id", h.webhook_id)
                .header("webhook-timestamp", h.webhook_timestamp)
                .header("webhook-signature", h.webhook_signature)
                .body(body);
            tasks.push(tokio::spawn(async move {
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                (i, number, status, v)
            }));
        }
        for t in tasks {
            let (_, number, status, v) = t.await.unwrap();
            assert!(
                status == 201 || status == 200,
                "intake {number}: {status} {v}"
            );
            assert_eq!(v["status"], "ready", "{number}: {v}");
            numbers.insert(number, v["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(numbers.len(), BILLS);

    // The driver: what people and the ERP do, whether or not billbridge is up.
    let stats = Arc::new(Stats::default());
    let draining = Arc::new(AtomicBool::new(false));
    let driver = {
        let api = api.clone();
        let stats = stats.clone();
        let draining = draining.clone();
        let sb = sb.clone();
        tokio::spawn(async move {
            let mut wave = 0;
            let mut last_error = String::new();
            let mut last_settle = Instant::now();
            // Generous: ~4 minutes of kills and recovery on a slow, busy machine.
            let deadline = Instant::now() + Duration::from_secs(420);
            loop {
                let drain = draining.load(Ordering::SeqCst);
                if drain && last_settle.elapsed() > Duration::from_secs(2) {
                    // Everything sent settles at the sandbox (processing after 60 s, settled
                    // an hour later); the follow-up loop sees it within a second.
                    sb.advance_clock(Duration::from_secs(3600));
                    stats.clock_moves.fetch_add(1, Ordering::Relaxed);
                    last_settle = Instant::now();
                }
                match step(&api, &mut wave, &stats, kills_wanted, drain).await {
                    Ok(true) => return Ok(wave),
                    Ok(false) => {}
                    Err(e) => last_error = e,
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "the bills were not all paid in time (wave {wave}); last error: {last_error}"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    // The killer: SIGKILL at a random moment, restart, again; faults keep coming.
    let mut kills = 0;
    let mut kills_mid_run = 0;
    let mut faults_added = 0;
    while kills < kills_wanted {
        if driver.is_finished() {
            break;
        }
        // A few faults at a time, so that they hit the calls of the runs under way.
        if sb.faults().len() < 3 {
            for _ in 0..rng.usize(1..=2) {
                sb.add_fault(random_fault(&mut rng));
                faults_added += 1;
            }
        }
        let wait = Duration::from_millis(rng.u64(50..=1500));
        tokio::time::sleep(wait).await;
        if stats.runs_open.load(Ordering::SeqCst) {
            kills_mid_run += 1;
        }
        node.kill();
        kills += 1;
        stats.kills.store(kills, Ordering::SeqCst);
        if kills % 5 == 0 {
            // Long enough for Qonto to forget the idempotency keys of unanswered requests.
            sb.advance_clock(Duration::from_secs(31 * 60));
            stats.clock_moves.fetch_add(1, Ordering::Relaxed);
        }
        let base = node.start(&http).await;
        *api.base.lock().unwrap() = base;
    }
    let killing_took = started.elapsed();
    draining.store(true, Ordering::SeqCst);
    let outcome = driver.await.unwrap();
    let kept = dir.display().to_string();
    let waves = match outcome {
        Ok(w) => w,
        Err(e) => {
            let bills = api.bills().await.unwrap_or_default();
            let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
            for s in bills.values() {
                *by_status.entry(s.clone()).or_default() += 1;
            }
            let runs = api
                .get("/v1/payment-runs?limit=500")
                .await
                .unwrap_or_default();
            let open: Vec<String> = runs
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| {
                    ![
                        "completed",
                        "partially_failed",
                        "failed",
                        "denied",
                        "expired",
                        "canceled",
                    ]
                    .contains(&r["status"].as_str().unwrap_or_default())
                })
                .map(|r| format!("{} {}", r["id"], r["status"]))
                .collect();
            node.kill();
            panic!(
                "{e}\nbills by status: {by_status:?}\nopen runs: {open:?}\nkills: {kills}\n\
                 seed: {seed}\nlog kept in {kept}"
            );
        }
    };

    // The sandbox's own log: every bill in exactly one transfer, never two. A grouped transfer
    // carries its bills' references joined by ", ".
    let log = sb.transfer_log();
    let mut per_reference: HashMap<&str, usize> = HashMap::new();
    for e in &log {
        for number in e.reference.split(", ") {
            *per_reference.entry(number).or_default() += 1;
        }
    }
    let grouped = log.iter().filter(|e| e.reference.contains(", ")).count();
    assert!(
        grouped > 0 && grouped < log.len(),
        "both grouped and one-bill transfers were made: {grouped} of {} (seed {seed})",
        log.len()
    );
    let twice: Vec<_> = per_reference.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "bills paid more than once at Qonto: {twice:?} (seed {seed}, log in {kept})"
    );
    let missing: Vec<_> = numbers
        .keys()
        .filter(|n| !per_reference.contains_key(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "bills never paid at Qonto: {missing:?} (seed {seed})"
    );
    assert_eq!(
        per_reference.values().sum::<usize>(),
        BILLS,
        "each bill in one Qonto transfer (seed {seed})"
    );
    let ctids: HashSet<_> = log
        .iter()
        .filter_map(|e| e.client_transfer_id.clone())
        .collect();
    assert_eq!(
        ctids.len(),
        log.iter()
            .filter(|e| e.client_transfer_id.is_some())
            .count(),
        "client_transfer_id unique"
    );
    assert!(
        log.iter()
            .all(|e| e.status == sandbox::TransferStatus::Settled),
        "every transfer settled at Qonto"
    );
    let qonto_ids: HashMap<&str, &str> = log
        .iter()
        .flat_map(|e| {
            e.reference
                .split(", ")
                .map(|number| (number, e.transfer_id.as_str()))
        })
        .collect();

    // billbridge agrees: each bill paid, by one settled transfer, the one Qonto logged.
    let bills = api.bills().await.unwrap();
    assert_eq!(bills.len(), BILLS);
    assert!(bills.values().all(|s| s == "paid"), "{bills:?}");
    let mut attempts = 0;
    for (number, bill) in &numbers {
        let ts = api
            .get(&format!("/v1/bills/{bill}/transfers"))
            .await
            .unwrap();
        let ts = ts.as_array().unwrap();
        attempts += ts.len();
        let settled: Vec<&Value> = ts.iter().filter(|t| t["status"] == "settled").collect();
        assert_eq!(settled.len(), 1, "{number}: {ts:?}");
        assert_eq!(
            settled[0]["qonto_transfer_id"].as_str(),
            qonto_ids.get(number.as_str()).copied(),
            "{number}"
        );
        assert!(
            ts.iter().all(|t| ["settled", "failed", "canceled"]
                .contains(&t["status"].as_str().unwrap_or_default())),
            "{number}: {ts:?}"
        );
    }
    let runs = api.get("/v1/payment-runs?limit=500").await.unwrap();
    let runs = runs.as_array().unwrap();
    for r in runs {
        assert!(
            [
                "completed",
                "partially_failed",
                "failed",
                "denied",
                "expired",
                "canceled"
            ]
            .contains(&r["status"].as_str().unwrap_or_default()),
            "run left open: {r}"
        );
    }
    node.kill();
    let faults_left = sb.faults().len();
    let served = std::fs::read_to_string(&node.log).unwrap_or_default();
    let lookups = served
        .matches("found the bulk transfer an unanswered request created")
        .count()
        + served
            .matches("found the transfer an unanswered request created")
            .count();
    println!(
        "crash campaign: {kills} SIGKILLs ({kills_mid_run} with a run open) in {:.1}s; \
         {BILLS} bills in {} runs ({} confirmed, {waves} waves, {} requests refused); \
         {attempts} transfer rows, {} Qonto transfers; {lookups} lost answers looked up; \
         {faults_added} faults ({faults_left} unused); {} clock jumps; seed {seed}; total {:.1}s",
        killing_took.as_secs_f64(),
        runs.len(),
        stats.runs_confirmed.load(Ordering::Relaxed),
        stats.refused.load(Ordering::Relaxed),
        log.len(),
        stats.clock_moves.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    );
    assert!(kills >= KILLS, "only {kills} kills");
    if std::env::var_os("CRASH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("kept {kept}");
    }
}
