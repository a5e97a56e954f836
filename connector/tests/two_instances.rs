//! Invariant 1 across instances (DESIGN §3; issue "Payment engine", "Exactly once — prove it"):
//! two billbridge instances — two engines, two HTTP servers — on ONE PostgreSQL database and
//! one Qonto sandbox pay 2,000 bills. Both are asked at the same moment, several times, to pay
//! "all ready bills due by …", and to pay explicit, overlapping sets of bills; both confirm the
//! same previews at the same moment. Every bill must be paid exactly once (the sandbox's own
//! transfer log, and billbridge's rows), and the losers of each race must get 409.
//!
//! PostgreSQL only (SQLite is one file for one process): skipped unless
//! `BILLBRIDGE_TEST_POSTGRES_URL` is set.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandbox::{ClockMode, SandboxConfig, ScaAuto};
use serde_json::{json, Value};
use support::{databases, sandbox_provider, TestApp};

const BILLS: usize = 2000;
/// The bills fall due on this many dates; each date is a round of concurrent runs.
const ROUNDS: usize = 4;

const SUPPLIERS: &[(&str, &str, &str)] = &[
    ("ACME SAS", "FR32123456789", "FR7630006000011234567890189"),
    (
        "Müller Elektro GmbH",
        "DE123456789",
        "DE89370400440532013000",
    ),
    (
        "Van Dijk Logistics BV",
        "NL123456789B01",
        "NL20INGB0001234567",
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

fn due(round: usize) -> String {
    format!("2026-12-{:02}", round + 1)
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn post(&self, url: String, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, url: String) -> Value {
        let r = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {url}");
        r.json().await.unwrap()
    }
}

/// Tally of answers.
#[derive(Default, Debug)]
struct Tally {
    codes: BTreeMap<u16, usize>,
}

impl Tally {
    fn add(&mut self, code: u16) {
        *self.codes.entry(code).or_default() += 1;
    }
    fn get(&self, code: u16) -> usize {
        self.codes.get(&code).copied().unwrap_or(0)
    }
}

/// Fire every (instance, path, body) at the same moment; returns the answers in order.
async fn all_at_once(c: &Client, calls: Vec<(String, Value)>) -> Vec<(u16, Value)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(calls.len()));
    let mut tasks = Vec::new();
    for (url, body) in calls {
        let c = c.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            c.post(url, body).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Confirm every previewed run, each from both instances at once (one wins, one gets 409).
async fn confirm_previews(c: &Client, apps: [&TestApp; 2], tally: &mut Tally) -> usize {
    let runs = c.get(apps[0].url("/v1/payment-runs?limit=500")).await;
    let mut confirmed = 0;
    for r in runs.as_array().unwrap() {
        if r["status"] != "awaiting_confirmation" {
            continue;
        }
        let id = r["id"].as_str().unwrap();
        let path = format!("/v1/payment-runs/{id}/confirm");
        let answers = all_at_once(
            c,
            vec![
                (apps[0].url(&path), json!({})),
                (apps[1].url(&path), json!({})),
            ],
        )
        .await;
        for (code, v) in &answers {
            assert!(*code == 200 || *code == 409, "confirm: {code} {v}");
            tally.add(*code);
        }
        assert_eq!(
            answers.iter().filter(|(c, _)| *c == 200).count(),
            1,
            "exactly one confirmation wins: {answers:?}"
        );
        confirmed += 1;
    }
    confirmed
}

/// Wait until no run is being prepared (`verifying`), then confirm the previews.
async fn settle_previews(c: &Client, apps: [&TestApp; 2], tally: &mut Tally) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let runs = c.get(apps[1].url("/v1/payment-runs?limit=500")).await;
        let verifying = runs
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == "verifying");
        if !verifying {
            confirm_previews(c, apps, tally).await;
            return;
        }
        assert!(Instant::now() < deadline, "runs still verifying: {runs:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_pay_each_bill_once() {
    if std::env::var("BILLBRIDGE_TEST_POSTGRES_URL").map_or(true, |v| v.is_empty()) {
        eprintln!(
            "two_instances: skipped — set BILLBRIDGE_TEST_POSTGRES_URL (e.g. \
             postgres://postgres@127.0.0.1:5432/postgres) to run two instances on one PostgreSQL"
        );
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,sqlx=error".into()))
        .with_test_writer()
        .try_init();
    let started = Instant::now();
    let db = databases()
        .await
        .into_iter()
        .find(|u| u.starts_with("postgres"))
        .expect("a fresh PostgreSQL database");
    let (sb, provider_a) = sandbox_provider(SandboxConfig {
        clock_mode: ClockMode::Manual,
        sca_auto: ScaAuto::Allow,
        ..Default::default()
    })
    .await;
    // The second instance has its own Qonto client (its own connection pool, audit sink, …).
    let mut q = connector::http::sandbox_qonto_config(&sb);
    q.retry.max_attempts = 2;
    let provider_b: Arc<dyn connector::engine::QontoProvider> = Arc::new(
        connector::engine::StaticQonto::new(q, true, Arc::new(connector::qonto::TracingAuditSink)),
    );
    let a = TestApp::spawn_with(&db, |_| {}, Some(provider_a)).await;
    let b = TestApp::spawn_with(&db, |_| {}, Some(provider_b)).await;
    let apps = [&a, &b];
    let (_, token) = a.org("Two Instances SAS").await;
    let (source, secret) = b.source(&token, "erp").await;
    let c = Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        token,
    };

    // 2,000 signed bills, 16 at a time, half through each instance.
    let sem = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BILLS {
        let (name, vat, iban) = SUPPLIERS[i % SUPPLIERS.len()];
        let number = format!("TI-{i:05}");
        let amount = format!("{}.{:02}", 5 + (i * 31) % 700, (i * 7) % 100);
        let body = json!({
            "external_id": format!("ERP-{number}"),
            "number": number,
            "type_code": "380",
            "issue_date": "2026-11-02",
            "due_date": due(i % ROUNDS),
            "currency": "EUR",
            "payable_amount": amount,
            "tax_inclusive_amount": amount,
            "seller": { "name": name, "vat_id": vat, "country": &vat[..2] },
            "payment": { "means_code": "58", "iban": iban },
            "payment_reference": number,
        })
        .to_string();
        let h = connector::signing::sign(
            std::slice::from_ref(&secret),
            &format!("msg_{number}"),
            chrono::Utc::now().timestamp(),
            body.as_bytes(),
        );
        let req = c
            .http
            .post(apps[i % 2].url(&format!("/v1/sources/{source}/bills")))
            .header("content-type", "application/json")
            .header("webhook-id", h.webhook_id)
            .header("webhook-timestamp", h.webhook_timestamp)
            .header("webhook-signature", h.webhook_signature)
            .body(body);
        let sem = sem.clone();
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await.unwrap();
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 201, "{number}: {v}");
            assert_eq!(v["status"], "ready", "{number}: {v}");
            (number, v["id"].as_str().unwrap().to_string())
        });
    }
    let mut bills: HashMap<String, String> = HashMap::new(); // reference → bill id
    while let Some(r) = tasks.join_next().await {
        let (number, id) = r.unwrap();
        bills.insert(number, id);
    }
    assert_eq!(bills.len(), BILLS);
    let ingest_took = started.elapsed();

    let mut create = Tally::default();
    let mut confirm = Tally::default();
    let mut by_number: Vec<(&String, &String)> = bills.iter().collect();
    by_number.sort();

    // Explicit, overlapping sets: [0, 60) and [40, 100) of round 0's bills, each asked of both
    // instances twice at once. At most one run may hold a bill; the others get 409.
    let round0: Vec<&String> = by_number
        .iter()
        .filter(|(n, _)| n[3..].parse::<usize>().unwrap() % ROUNDS == 0)
        .map(|(_, id)| *id)
        .take(100)
        .collect();
    let set_a = json!({ "bill_ids": round0[..60] });
    let set_b = json!({ "bill_ids": round0[40..] });
    let answers = all_at_once(
        &c,
        vec![
            (a.url("/v1/payment-runs"), set_a.clone()),
            (b.url("/v1/payment-runs"), set_a.clone()),
            (a.url("/v1/payment-runs"), set_b.clone()),
            (b.url("/v1/payment-runs"), set_b.clone()),
        ],
    )
    .await;
    for (code, v) in &answers {
        assert!([201, 409].contains(code), "explicit run: {code} {v}");
        create.add(*code);
    }
    // The sets overlap, so exactly one request wins: a loser waits on the winner's rows and is
    // refused once it commits (a loser never blocks the winner: all lock bills in one order).
    assert_eq!(
        answers.iter().filter(|(c, _)| *c == 201).count(),
        1,
        "one run for overlapping bill sets: {answers:?}"
    );

    // Each round: both instances, three times each, at once: "pay everything due by D".
    for round in 0..ROUNDS {
        let body = json!({ "due_before": due(round) });
        let calls = (0..6)
            .map(|i| (apps[i % 2].url("/v1/payment-runs"), body.clone()))
            .collect();
        for (code, v) in all_at_once(&c, calls).await {
            // 201: this request took the ready bills; 409: another one took (some of) them
            // first and the unique index or the status check refused; 422: it started after
            // the winner committed and found nothing ready.
            assert!([201, 409, 422].contains(&code), "run: {code} {v}");
            create.add(code);
        }
        settle_previews(&c, apps, &mut confirm).await;
    }

    // Whatever is still ready (a losing request refused them all), pay now; then settle.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut clock = Instant::now();
    loop {
        let ready = c.get(a.url("/v1/bills?status=ready&limit=1")).await;
        if !ready["bills"].as_array().unwrap().is_empty() {
            let (code, v) = c.post(b.url("/v1/payment-runs"), json!({})).await;
            assert!([201, 409, 422].contains(&code), "run: {code} {v}");
            create.add(code);
        }
        settle_previews(&c, apps, &mut confirm).await;
        if clock.elapsed() > Duration::from_secs(1) {
            sb.advance_clock(Duration::from_secs(3600));
            for app in apps {
                if let Some(e) = &app.engine {
                    e.nudge_follow_up();
                }
            }
            clock = Instant::now();
        }
        let mut paid = 0;
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(cur) => a.url(&format!("/v1/bills?status=paid&limit=500&cursor={cur}")),
                None => a.url("/v1/bills?status=paid&limit=500"),
            };
            let page = c.get(url).await;
            paid += page["bills"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(cur) => cursor = Some(cur.to_string()),
                None => break,
            }
        }
        if paid == BILLS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {paid} of {BILLS} bills paid; runs: {:#}",
            c.get(a.url("/v1/payment-runs?limit=500")).await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The sandbox's transfer log: exactly one transfer per bill.
    let log = sb.transfer_log();
    let mut per_ref: HashMap<&str, usize> = HashMap::new();
    for e in &log {
        *per_ref.entry(e.reference.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = per_ref.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "paid twice at Qonto: {twice:?}");
    assert_eq!(log.len(), BILLS, "one Qonto transfer per bill");
    assert!(bills.keys().all(|n| per_ref.get(n.as_str()) == Some(&1)));
    let ctids: HashSet<_> = log
        .iter()
        .filter_map(|e| e.client_transfer_id.as_deref())
        .collect();
    assert_eq!(
        ctids.len(),
        log.len(),
        "one client_transfer_id per transfer"
    );

    // billbridge's rows: one settled transfer per bill, the one Qonto logged; no run open.
    let qonto_ids: HashMap<&str, &str> = log
        .iter()
        .map(|e| (e.reference.as_str(), e.transfer_id.as_str()))
        .collect();
    let runs = c.get(a.url("/v1/payment-runs?limit=500")).await;
    let runs = runs.as_array().unwrap();
    let mut settled = 0;
    for r in runs {
        assert!(
            ["completed", "canceled", "partially_failed", "failed"]
                .contains(&r["status"].as_str().unwrap()),
            "run left open: {r}"
        );
        let id = r["id"].as_str().unwrap();
        let detail = c.get(a.url(&format!("/v1/payment-runs/{id}"))).await;
        for t in detail["transfers"].as_array().unwrap() {
            if t["status"] == "settled" {
                settled += 1;
                assert_eq!(
                    t["qonto_transfer_id"].as_str(),
                    qonto_ids.get(t["reference"].as_str().unwrap()).copied(),
                    "{t}"
                );
            }
        }
    }
    assert_eq!(settled, BILLS, "one settled transfer row per bill");

    println!(
        "two instances on one PostgreSQL: {BILLS} bills ingested in {:.1}s, paid once each by \
         {} runs in {:.1}s; create-run answers {:?}, confirm answers {:?}",
        ingest_took.as_secs_f64(),
        runs.len(),
        started.elapsed().as_secs_f64(),
        create.codes,
        confirm.codes,
    );
    assert!(
        create.get(409) + confirm.get(409) > 0,
        "concurrent requests must have been refused with 409"
    );
    assert!(
        create.get(409) > 0,
        "the overlapping bill sets must have met a 409"
    );
    sb.stop().await;
}
