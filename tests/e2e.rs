//! End-to-end tests (DESIGN §8; issue "End-to-end tests"): billbridge's `Application` on port 0,
//! the Qonto sandbox in-process, and an ERP receiver on port 0 that verifies EVERY request with
//! the published `standardwebhooks` crate (never with billbridge's own signing code).
//!
//! The organization, its source and the callback are set up through the HTTP API; bills go in
//! through the signed intake (canonical JSON, or the demo's Factur-X PDF). Each scenario
//! asserts the real outcomes: bill and run statuses, the sandbox's own transfer log (each bill
//! exactly once, bulk or single), and the ERP's events — the right types in the right per-bill
//! order, none twice by `webhook-id`, none lost.
//!
//! Scenarios: trusted autopay; untrusted bulk with SCA allowed; SCA denied; SCA expired; the
//! Solo Basic fallback; above 30,000 EUR (PDF attached and paid, JSON held
//! `needs_attachment`); the ERP failing its first requests then recovering.
//!
//! Every scenario runs on SQLite, and again on PostgreSQL when `BILLBRIDGE_TEST_POSTGRES_URL`
//! is set (a fresh database per run). Nothing depends on the machine's speed: conditions are
//! polled with generous deadlines.
//!
//! Run: `cargo test --test e2e` (`RUST_LOG=info` for the service's logs).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{NaiveDate, Utc};
use connector::config::RawSettings;
use connector::http::Application;
use connector::secrets::SecretBox;
use connector::signing::{sign, WebhookSecret};
use connector::store::Store;
use sandbox::{Plan, RunningSandbox, SandboxConfig, ScaAuto, TransferLogEntry};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdef0123";
/// How long any condition may take to come true (2 busy cores, debug build).
const DEADLINE: Duration = Duration::from_secs(60);

/// (seller name, VAT id, IBAN) of the sandbox's seeded beneficiaries.
type Supplier = (&'static str, &'static str, &'static str);
const ACME: Supplier = ("ACME SAS", "FR32123456789", "FR7630006000011234567890189");
const MULLER: Supplier = (
    "Müller Elektro GmbH",
    "DE123456789",
    "DE89370400440532013000",
);
const VANDIJK: Supplier = (
    "Van Dijk Logistics BV",
    "NL123456789B01",
    "NL20INGB0001234567",
);
/// Not trusted at the sandbox.
const ALICE: Supplier = (
    "Alice In Wonderland",
    "DE811569869",
    "DE91100000000123456789",
);
const MALT: Supplier = ("Malt", "FR00123456789", "DE31100101238050671253");
const ROSSI: Supplier = (
    "Rossi Forniture SRL",
    "IT12345678901",
    "IT60X0542811101000000123456",
);

const RECEIVED: &str = "bill.received";
const HELD: &str = "bill.held";
const SUBMITTED: &str = "bill.payment_submitted";
const PAID: &str = "bill.paid";
const FAILED: &str = "bill.payment_failed";

// ------------------------------------------------------------------------------------------
// Databases.
// ------------------------------------------------------------------------------------------

/// Database URLs for one scenario: a fresh SQLite file, and a fresh PostgreSQL database when
/// `BILLBRIDGE_TEST_POSTGRES_URL` is set.
async fn databases() -> Vec<String> {
    let dir = std::env::temp_dir().join("billbridge-e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let mut urls = vec![format!(
        "sqlite://{}/{}.db?mode=rwc",
        dir.display(),
        uuid::Uuid::new_v4().simple()
    )];
    match std::env::var("BILLBRIDGE_TEST_POSTGRES_URL") {
        Ok(pg) if !pg.is_empty() => {
            let name = format!("bb_e2e_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(pg.as_str()).await.unwrap_or_else(|e| {
                panic!("BILLBRIDGE_TEST_POSTGRES_URL={pg} is set but unreachable: {e}")
            });
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let _ = admin.close().await;
            let mut url = reqwest::Url::parse(&pg).unwrap();
            url.set_path(&format!("/{name}"));
            urls.push(url.to_string());
        }
        _ => eprintln!("BILLBRIDGE_TEST_POSTGRES_URL is not set: this run covers SQLite only"),
    }
    urls
}

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,sqlx=error".into()))
        .with_test_writer()
        .try_init();
}

// ------------------------------------------------------------------------------------------
// The ERP receiver.
// ------------------------------------------------------------------------------------------

/// One request the ERP received.
#[derive(Debug, Clone)]
struct Hit {
    webhook_id: String,
    /// The `standardwebhooks` crate accepted the signature.
    verified: bool,
    /// What the ERP answered.
    status: u16,
    payload: Value,
}

impl Hit {
    fn event_type(&self) -> &str {
        self.payload["type"].as_str().unwrap_or_default()
    }
    fn bill_id(&self) -> Option<&str> {
        self.payload["data"]["bill_id"].as_str()
    }
    fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Default)]
struct ErpState {
    /// The callback secret (`whsec_…`) billbridge gave for this endpoint.
    secret: Option<String>,
    /// Answers to the next verified requests, in order: (status, Retry-After); then 200.
    script: VecDeque<(u16, Option<&'static str>)>,
    hits: Vec<Hit>,
}

#[derive(Clone)]
struct Erp {
    url: String,
    state: Arc<Mutex<ErpState>>,
}

async fn erp_handler(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<ErpState>>>,
) -> HttpResponse {
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        if let Some(v) = req.headers().get(name).and_then(|v| v.to_str().ok()) {
            if let Ok(v) = v.parse() {
                headers.insert(name, v);
            }
        }
    }
    let mut st = state.lock().unwrap();
    let verified = st.secret.as_deref().is_some_and(|s| {
        standardwebhooks::Webhook::new(s)
            .expect("the callback secret is a valid whsec_ secret")
            .verify(&body, &headers)
            .is_ok()
    });
    let (status, retry_after) = if !verified {
        (401, None)
    } else {
        st.script.pop_front().unwrap_or((200, None))
    };
    st.hits.push(Hit {
        webhook_id: headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        verified,
        status,
        payload: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let mut resp = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(ra) = retry_after {
        resp.insert_header(("retry-after", ra));
    }
    resp.body(format!("erp says {status}"))
}

impl Erp {
    fn start() -> Erp {
        let state = Arc::new(Mutex::new(ErpState::default()));
        let data = web::Data::new(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
                .default_service(web::to(erp_handler))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Erp {
            url: format!("http://127.0.0.1:{port}/erp/billbridge-events"),
            state,
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.state.lock().unwrap().hits.clone()
    }

    /// Fail the next verified requests with these answers.
    fn fail_next(&self, answers: &[(u16, Option<&'static str>)]) {
        self.state.lock().unwrap().script = answers.iter().copied().collect();
    }

    /// Event ids (webhook-id) the ERP accepted (answered 2xx), with how many times.
    fn accepted_counts(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for h in self.hits().iter().filter(|h| h.accepted()) {
            *m.entry(h.webhook_id.clone()).or_insert(0) += 1;
        }
        m
    }

    /// The payloads the ERP accepted for one bill, in the order it accepted them.
    fn bill_events(&self, bill: &str) -> Vec<Value> {
        self.hits()
            .into_iter()
            .filter(|h| h.accepted() && h.bill_id() == Some(bill))
            .map(|h| h.payload)
            .collect()
    }

    fn bill_types(&self, bill: &str) -> Vec<String> {
        self.bill_events(bill)
            .iter()
            .map(|p| p["type"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn accepted_of_type(&self, t: &str) -> Vec<Value> {
        self.hits()
            .into_iter()
            .filter(|h| h.accepted() && h.event_type() == t)
            .map(|h| h.payload)
            .collect()
    }
}

// ------------------------------------------------------------------------------------------
// The world: sandbox + billbridge + ERP, set up through the API.
// ------------------------------------------------------------------------------------------

struct World {
    db: String,
    base: String,
    client: reqwest::Client,
    sb: RunningSandbox,
    erp: Erp,
    engine: Option<connector::engine::Engine>,
    token: String,
    source: String,
    intake_secret: WebhookSecret,
}

/// Settings tuned for speed; `tune` adjusts them per scenario.
fn settings(db: &str, tune: impl FnOnce(&mut RawSettings)) -> connector::config::Settings {
    let mut raw = RawSettings::default();
    raw.database.url = db.to_string();
    raw.server.bind = "127.0.0.1:0".into();
    raw.server.max_body_bytes = 4 * 1024 * 1024;
    raw.security.admin_token = Some(ADMIN_TOKEN.into());
    raw.engine.follow_interval_secs = 1;
    raw.engine.autopay_interval_secs = 1;
    raw.webhooks.poll_interval_ms = 100;
    raw.webhooks.retry_schedule_secs = vec![1, 1, 1, 2, 2, 5];
    raw.webhooks.jitter_percent = 0;
    tune(&mut raw);
    raw.validate().expect("valid e2e settings")
}

impl World {
    async fn start(db: &str, config: SandboxConfig, tune: impl FnOnce(&mut RawSettings)) -> World {
        init_logs();
        let sb = sandbox::Sandbox::start(config).await.unwrap();
        let provider: Arc<dyn connector::engine::QontoProvider> =
            Arc::new(connector::engine::StaticQonto::new(
                connector::http::sandbox_qonto_config(&sb),
                true,
                Arc::new(connector::qonto::TracingAuditSink),
            ));
        let store = Store::connect(db, 8).await.unwrap();
        store.migrate().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let app = Application::with_parts(
            settings(db, tune),
            store,
            SecretBox::from_key(&[42u8; 32]),
            listener,
            Some(provider),
        )
        .unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let engine = app.engine().cloned();
        tokio::spawn(app.run());
        let erp = Erp::start();
        let client = reqwest::Client::new();

        // The organization, its ERP source and the callback, through the API.
        let r = client
            .post(format!("{base}/v1/orgs"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "name": "Atelier Nord SAS" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        let token = v["token"].as_str().unwrap().to_string();
        let r = client
            .post(format!("{base}/v1/sources"))
            .bearer_auth(&token)
            .json(&json!({ "name": "erp" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        let source = v["source"]["id"].as_str().unwrap().to_string();
        let intake_secret = WebhookSecret::parse(v["signing_secret"].as_str().unwrap()).unwrap();
        let r = client
            .put(format!("{base}/v1/sources/{source}/callback"))
            .bearer_auth(&token)
            .json(&json!({ "url": erp.url }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let callback_secret = v["callback_secret"].as_str().unwrap().to_string();
        assert!(callback_secret.starts_with("whsec_"), "{v}");
        erp.state.lock().unwrap().secret = Some(callback_secret);

        World {
            db: db.to_string(),
            base,
            client,
            sb,
            erp,
            engine,
            token,
            source,
            intake_secret,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .put(self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POST a document to the source's intake, signed as the ERP would; returns the answer.
    async fn intake(&self, content_type: &str, body: &[u8]) -> Value {
        let h = sign(
            std::slice::from_ref(&self.intake_secret),
            &format!("msg_{}", uuid::Uuid::new_v4().simple()),
            Utc::now().timestamp(),
            body,
        );
        let r = self
            .client
            .post(self.url(&format!("/v1/sources/{}/bills", self.source)))
            .header("content-type", content_type)
            .header("webhook-id", h.webhook_id)
            .header("webhook-timestamp", h.webhook_timestamp)
            .header("webhook-signature", h.webhook_signature)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        r.json().await.unwrap()
    }

    /// A canonical JSON bill; returns its id (it must be `ready`).
    async fn bill(&self, number: &str, who: Supplier, amount: &str, due: NaiveDate) -> String {
        let body = json!({
            "external_id": format!("ERP-{number}"),
            "number": number,
            "type_code": "380",
            "issue_date": "2026-11-02",
            "due_date": due.to_string(),
            "currency": "EUR",
            "payable_amount": amount,
            "tax_inclusive_amount": amount,
            "seller": { "name": who.0, "vat_id": who.1, "country": &who.1[..2] },
            "payment": { "means_code": "58", "iban": who.2 },
            "payment_reference": number,
        });
        let v = self
            .intake("application/json", body.to_string().as_bytes())
            .await;
        assert_eq!(v["status"], "ready", "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    async fn bill_view(&self, id: &str) -> Value {
        self.get(&format!("/v1/bills/{id}")).await["bill"].clone()
    }

    async fn bill_status(&self, id: &str) -> String {
        self.bill_view(id).await["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn run(&self, id: &str) -> Value {
        self.get(&format!("/v1/payment-runs/{id}")).await
    }

    /// Create a run for these bills; returns its id once its preview is ready.
    async fn run_for(&self, bills: &[&str], sca_method: Option<&str>) -> (String, Value) {
        let mut body = json!({ "bill_ids": bills });
        if let Some(m) = sca_method {
            body["sca_method"] = json!(m);
        }
        let (status, run) = self.post("/v1/payment-runs", body).await;
        assert_eq!(status, 201, "{run}");
        let id = run["id"].as_str().unwrap().to_string();
        let preview = self.run_status_is(&id, "awaiting_confirmation").await;
        (id, preview)
    }

    async fn confirm(&self, run: &str) {
        let (status, v) = self
            .post(&format!("/v1/payment-runs/{run}/confirm"), json!({}))
            .await;
        assert_eq!(status, 200, "{v}");
    }

    async fn run_status_is(&self, run: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let last = self.run(run).await;
            if last["status"] == status {
                return last;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run never reached {status}: {last:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn bills_are(&self, bills: &[&str], status: &str) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        for b in bills {
            loop {
                let last = self.bill_status(b).await;
                if last == status {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "bill {b} never became {status} (it is {last})"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Move the sandbox clock past settlement and let the follow-up see it at once.
    fn settle(&self) {
        self.sb.advance_clock(Duration::from_secs(3 * 3600));
        if let Some(e) = &self.engine {
            e.nudge_follow_up();
        }
    }

    /// The sandbox's transfer log entry for a reference; exactly one must exist.
    fn logged_once(&self, reference: &str) -> TransferLogEntry {
        let log = self.sb.transfer_log();
        let mine: Vec<_> = log.iter().filter(|e| e.reference == reference).collect();
        assert_eq!(
            mine.len(),
            1,
            "{reference} must be paid exactly once at Qonto: {log:#?}"
        );
        mine[0].clone()
    }

    /// Every event the organization recorded (id → payload), oldest first.
    async fn events(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = "/v1/events?limit=500".to_string();
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&path).await;
            for e in page["events"].as_array().unwrap() {
                out.push((e["id"].as_str().unwrap().to_string(), e["payload"].clone()));
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        out.reverse();
        out
    }

    async fn deliveries(&self, query: &str) -> Vec<Value> {
        self.get(&format!("/v1/deliveries?limit=500&{query}")).await["deliveries"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Wait until every recorded event was delivered, then check the ERP's side: every request
    /// verified by `standardwebhooks`, every event accepted exactly once by `webhook-id`,
    /// nothing lost, nothing unknown. Returns the events.
    async fn all_events_delivered(&self) -> Vec<(String, Value)> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let events = self.events().await;
            let accepted = self.erp.accepted_counts();
            let missing: Vec<String> = events
                .iter()
                .filter(|(id, _)| !accepted.contains_key(id))
                .map(|(id, p)| format!("{id} {}", p["type"]))
                .collect();
            if missing.is_empty() && self.deliveries("status=pending").await.is_empty() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "events never delivered: {missing:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let events = self.events().await;
        let hits = self.erp.hits();
        assert!(
            hits.iter().all(|h| h.verified),
            "every request verifies with the standardwebhooks crate: {:?}",
            hits.iter().filter(|h| !h.verified).collect::<Vec<_>>()
        );
        let accepted = self.erp.accepted_counts();
        let twice: Vec<_> = accepted.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "events accepted twice: {twice:?}");
        let recorded: BTreeSet<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
        let got: BTreeSet<&str> = accepted.keys().map(String::as_str).collect();
        assert_eq!(recorded, got, "the ERP got exactly the recorded events");
        // The body the ERP got is the event as recorded, byte for byte in meaning.
        let by_id: HashMap<&str, &Value> = events.iter().map(|(i, p)| (i.as_str(), p)).collect();
        for h in hits.iter().filter(|h| h.accepted()) {
            assert_eq!(
                Some(&&h.payload),
                by_id.get(h.webhook_id.as_str()),
                "{}",
                h.webhook_id
            );
        }
        let dead = self.deliveries("status=dead").await;
        assert!(dead.is_empty(), "{dead:?}");
        events
    }

    /// The ERP got exactly these event types for the bill, in this order.
    fn assert_bill_events(&self, bill: &str, expected: &[&str]) {
        assert_eq!(
            self.erp.bill_types(bill),
            expected,
            "events of {bill}: {:#?}",
            self.erp.bill_events(bill)
        );
    }

    /// `bill.paid` for this bill carries what the ERP needs, consistent with the sandbox.
    fn assert_paid_event(&self, bill: &str, number: &str, amount: &str) -> TransferLogEntry {
        let events = self.erp.bill_events(bill);
        let paid: Vec<_> = events.iter().filter(|p| p["type"] == PAID).collect();
        assert_eq!(paid.len(), 1, "{events:#?}");
        let d = &paid[0]["data"];
        let entry = self.logged_once(d["reference"].as_str().unwrap_or("?"));
        assert_eq!(d["bill_id"], bill);
        assert_eq!(d["source_id"], self.source.as_str());
        assert_eq!(d["external_id"], format!("ERP-{number}").as_str(), "{d}");
        assert_eq!(d["number"], number, "{d}");
        assert_eq!(d["amount"], amount, "{d}");
        assert_eq!(d["currency"], "EUR", "{d}");
        assert_eq!(d["status"], "paid", "{d}");
        assert_eq!(d["qonto_transfer_id"], entry.transfer_id.as_str(), "{d}");
        assert_eq!(entry.amount, amount);
        assert!(d["transfer_id"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(d["run_id"].as_str().is_some_and(|t| !t.is_empty()));
        let paid_at = d["paid_at"].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(paid_at).is_ok(),
            "paid_at is RFC 3339: {d}"
        );
        // The submitted event named the same transfer.
        let sub: Vec<_> = events.iter().filter(|p| p["type"] == SUBMITTED).collect();
        assert_eq!(sub.len(), 1, "{events:#?}");
        assert_eq!(sub[0]["data"]["qonto_transfer_id"], d["qonto_transfer_id"]);
        assert_eq!(sub[0]["data"]["transfer_id"], d["transfer_id"]);
        assert_eq!(sub[0]["data"]["reference"], d["reference"]);
        entry
    }

    /// `bill.payment_failed` for this bill, with its reason.
    fn assert_failed_event(&self, bill: &str, reason: &str) {
        let events = self.erp.bill_events(bill);
        let failed: Vec<_> = events.iter().filter(|p| p["type"] == FAILED).collect();
        assert_eq!(failed.len(), 1, "{events:#?}");
        let d = &failed[0]["data"];
        assert_eq!(d["reason"], reason, "{d}");
        assert_eq!(d["status"], "ready", "{d}");
        assert_eq!(d["retryable"], true, "{d}");
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn in_days(n: i64) -> NaiveDate {
    today() + chrono::Duration::days(n)
}

fn done(name: &str, db: &str, started: Instant) {
    let kind = if db.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    eprintln!("{name} [{kind}]: passed in {:.1?}", started.elapsed());
}

// ------------------------------------------------------------------------------------------
// Scenarios.
// ------------------------------------------------------------------------------------------

/// Autopay on, limit 5,000.00: bills already due to trusted beneficiaries are paid with no
/// person (single transfers, no SCA); a bill above the limit, one to an untrusted payee and
/// one not yet due stay `ready`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trusted_autopay_pays_due_bills_without_a_person() {
    for db in databases().await {
        let started = Instant::now();
        let w = World::start(&db, SandboxConfig::default(), |_| {}).await;
        let a = w.bill("AP-1", ACME, "1200.00", today()).await;
        let b = w.bill("AP-2", MULLER, "845.50", in_days(-3)).await;
        let big = w.bill("AP-3", VANDIJK, "6000.00", today()).await;
        let untrusted = w.bill("AP-4", ALICE, "100.00", in_days(-1)).await;
        let later = w.bill("AP-5", ACME, "50.00", in_days(20)).await;

        let (status, policy) = w
            .put(
                "/v1/settings/payments",
                json!({ "autopay": true, "autopay_limit": "5000.00" }),
            )
            .await;
        assert_eq!(status, 200, "{policy}");
        assert_eq!(policy["autopay"], true);

        w.bills_are(&[&a, &b], "submitted").await;
        assert!(
            w.sb.sca_sessions().is_empty(),
            "trusted beneficiaries need no SCA"
        );
        w.settle();
        w.bills_are(&[&a, &b], "paid").await;

        let runs = w.get("/v1/payment-runs").await;
        let runs = runs.as_array().unwrap();
        assert!(!runs.is_empty());
        for r in runs {
            assert_eq!(r["kind"], "autopay", "{r}");
            assert_eq!(r["created_by"], "autopay", "{r}");
            let full = w
                .run_status_is(r["id"].as_str().unwrap(), "completed")
                .await;
            for t in full["transfers"].as_array().unwrap() {
                assert!(
                    t["bill_id"] == a.as_str() || t["bill_id"] == b.as_str(),
                    "{t}"
                );
            }
        }
        // Still not autopaid after several more scans.
        let scans_later = Instant::now();
        while scans_later.elapsed() < Duration::from_secs(3) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for bill in [&big, &untrusted, &later] {
            assert_eq!(w.bill_status(bill).await, "ready", "{bill} is not autopaid");
        }

        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 2, "{log:#?}");
        assert!(log.iter().all(|e| e.origin == "single"), "{log:#?}");
        w.assert_paid_event(&a, "AP-1", "1200.00");
        w.assert_paid_event(&b, "AP-2", "845.50");

        w.all_events_delivered().await;
        for bill in [&a, &b] {
            w.assert_bill_events(bill, &[RECEIVED, SUBMITTED, PAID]);
        }
        for bill in [&big, &untrusted, &later] {
            w.assert_bill_events(bill, &[RECEIVED]);
        }
        assert!(
            w.erp
                .accepted_of_type("payment_run.awaiting_confirmation")
                .is_empty(),
            "autopay asks nobody"
        );
        done("trusted autopay", &w.db, started);
    }
}

/// Untrusted payees in one bulk: confirming is not paying; the SCA approval sends the bulk
/// (replayed once), each bill paid once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn untrusted_bulk_with_sca_allowed_is_paid_once() {
    for db in databases().await {
        let started = Instant::now();
        let w = World::start(&db, SandboxConfig::default(), |_| {}).await;
        let due = in_days(10);
        let bills = [
            (w.bill("UB-1", ALICE, "310.00", due).await, "UB-1", "310.00"),
            (
                w.bill("UB-2", MALT, "1663.20", due).await,
                "UB-2",
                "1663.20",
            ),
            (w.bill("UB-3", ROSSI, "768.00", due).await, "UB-3", "768.00"),
        ];
        let ids: Vec<&str> = bills.iter().map(|b| b.0.as_str()).collect();
        let (run, preview) = w.run_for(&ids, Some("mock")).await;
        let s = &preview["summary"];
        assert_eq!(s["bill_count"], 3, "{s}");
        assert_eq!(s["needing_sca"], 3, "{s}");
        assert_eq!(s["chunks"], 1, "one bulk: {s}");

        w.confirm(&run).await;
        let waiting = w.run_status_is(&run, "awaiting_sca").await;
        assert!(w.sb.transfer_log().is_empty(), "nothing paid before SCA");
        w.bills_are(&ids, "in_run").await;
        assert_eq!(waiting["chunks"][0]["status"], "awaiting_sca", "{waiting}");

        let (status, v) = w
            .post(&format!("/v1/payment-runs/{run}/sca/allow"), json!({}))
            .await;
        assert_eq!(status, 200, "{v}");
        w.run_status_is(&run, "submitted").await;
        w.settle();
        let done_run = w.run_status_is(&run, "completed").await;
        assert!(done_run["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "settled"));
        w.bills_are(&ids, "paid").await;

        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 3, "{log:#?}");
        assert!(log.iter().all(|e| e.origin == "bulk"), "{log:#?}");
        let bulks: BTreeSet<_> = log.iter().map(|e| e.bulk_transfer_id.clone()).collect();
        assert_eq!(bulks.len(), 1, "one bulk transfer: {log:#?}");
        let sessions = w.sb.sca_sessions();
        assert_eq!(sessions.len(), 1, "{sessions:?}");

        w.all_events_delivered().await;
        for (id, number, amount) in &bills {
            w.assert_bill_events(id, &[RECEIVED, SUBMITTED, PAID]);
            w.assert_paid_event(id, number, amount);
        }
        let sca = w.erp.accepted_of_type("payment_run.awaiting_sca");
        assert_eq!(sca.len(), 1, "{sca:#?}");
        assert_eq!(sca[0]["data"]["run_id"], run.as_str());
        assert_eq!(sca[0]["data"]["sca_method"], "mock");
        let confirm = w.erp.accepted_of_type("payment_run.awaiting_confirmation");
        assert_eq!(confirm.len(), 1, "{confirm:#?}");
        done("untrusted bulk, SCA allowed", &w.db, started);
    }
}

/// The user refuses the SCA: nothing is paid, the bills go back to `ready`, the ERP hears
/// `bill.payment_failed` (sca_denied), and a new run can pay them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sca_denied_puts_bills_back_to_ready() {
    for db in databases().await {
        let started = Instant::now();
        let w = World::start(&db, SandboxConfig::default(), |_| {}).await;
        let a = w.bill("SD-1", ALICE, "55.00", in_days(5)).await;
        let b = w.bill("SD-2", ROSSI, "2712.00", in_days(5)).await;
        let (run, _) = w.run_for(&[&a, &b], Some("mock")).await;
        w.confirm(&run).await;
        w.run_status_is(&run, "awaiting_sca").await;
        let (status, v) = w
            .post(&format!("/v1/payment-runs/{run}/sca/deny"), json!({}))
            .await;
        assert_eq!(status, 200, "{v}");
        let denied = w.run_status_is(&run, "denied").await;
        for t in denied["transfers"].as_array().unwrap() {
            assert_eq!(t["failure_reason"], "sca_denied", "{t}");
            assert!(t["qonto_transfer_id"].is_null(), "{t}");
        }
        assert_eq!(denied["chunks"][0]["status"], "denied", "{denied}");
        w.bills_are(&[&a, &b], "ready").await;
        assert!(w.sb.transfer_log().is_empty(), "nothing paid");

        w.all_events_delivered().await;
        for bill in [&a, &b] {
            w.assert_bill_events(bill, &[RECEIVED, FAILED]);
            w.assert_failed_event(bill, "sca_denied");
        }
        // The bills can be paid by a new run.
        let (status, v) = w
            .post("/v1/payment-runs", json!({ "bill_ids": [a, b] }))
            .await;
        assert_eq!(status, 201, "{v}");
        done("SCA denied", &w.db, started);
    }
}

/// Nobody approves within `engine.sca_timeout_secs`: the chunk expires, the bills are ready
/// again and the ERP hears `bill.payment_failed` (sca_expired). A late approval pays nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sca_expired_when_nobody_approves() {
    for db in databases().await {
        let started = Instant::now();
        let w = World::start(&db, SandboxConfig::default(), |raw| {
            raw.engine.sca_timeout_secs = 10;
        })
        .await;
        let a = w.bill("SE-1", ALICE, "640.00", in_days(5)).await;
        let (run, _) = w.run_for(&[&a], Some("mock")).await;
        w.confirm(&run).await;
        let waiting = w.run_status_is(&run, "awaiting_sca").await;
        let sca_started = Instant::now();
        assert_eq!(waiting["chunks"][0]["status"], "awaiting_sca");

        let expired = w.run_status_is(&run, "expired").await;
        assert!(
            sca_started.elapsed() >= Duration::from_secs(5),
            "expired only after the timeout ({:?})",
            sca_started.elapsed()
        );
        assert_eq!(expired["chunks"][0]["status"], "expired", "{expired}");
        assert_eq!(expired["transfers"][0]["failure_reason"], "sca_expired");
        w.bills_are(&[&a], "ready").await;

        // The user approves too late: billbridge no longer replays, nothing is paid.
        for s in w.sb.sca_sessions() {
            let _ = w.sb.approve_sca(&s.token);
        }
        let after = Instant::now();
        while after.elapsed() < Duration::from_secs(3) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(w.sb.transfer_log().is_empty(), "nothing paid");
        assert_eq!(w.bill_status(&a).await, "ready");

        w.all_events_delivered().await;
        w.assert_bill_events(&a, &[RECEIVED, FAILED]);
        w.assert_failed_event(&a, "sca_expired");
        done("SCA expired", &w.db, started);
    }
}

/// The Qonto plan (Solo Basic) refuses bulk transfers: billbridge falls back to one single
/// transfer per bill, says so on the run (`single_transfers`) and remembers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn solo_basic_falls_back_to_single_transfers() {
    for db in databases().await {
        let started = Instant::now();
        let w = World::start(&db, SandboxConfig::default(), |_| {}).await;
        // The organization downgrades after billbridge was set up.
        w.sb.set_plan(Plan::SoloBasic);
        // The user approves every SCA on their phone at once.
        w.sb.set_sca_auto(ScaAuto::Allow);
        let due = in_days(7);
        let bills = [
            (w.bill("SB-1", ACME, "100.00", due).await, "SB-1", "100.00"),
            (
                w.bill("SB-2", VANDIJK, "200.00", due).await,
                "SB-2",
                "200.00",
            ),
            (w.bill("SB-3", ALICE, "390.00", due).await, "SB-3", "390.00"),
        ];
        let ids: Vec<&str> = bills.iter().map(|b| b.0.as_str()).collect();
        let (run, _) = w.run_for(&ids, Some("mock")).await;
        w.confirm(&run).await;
        let submitted = w.run_status_is(&run, "submitted").await;
        let warnings = submitted["summary"]["warnings"].as_array().unwrap();
        assert!(
            warnings.iter().any(|x| x["code"] == "single_transfers"),
            "the run says why: {warnings:?}"
        );
        let policy = w.get("/v1/settings/payments").await;
        assert_eq!(policy["plan_forbids_bulk"], true, "{policy}");
        w.settle();
        w.run_status_is(&run, "completed").await;
        w.bills_are(&ids, "paid").await;

        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 3, "{log:#?}");
        assert!(log.iter().all(|e| e.origin == "single"), "{log:#?}");

        w.all_events_delivered().await;
        for (id, number, amount) in &bills {
            w.assert_bill_events(id, &[RECEIVED, SUBMITTED, PAID]);
            w.assert_paid_event(id, number, amount);
        }
        done("Solo Basic fallback", &w.db, started);
    }
}

/// Above 30,000 EUR: the Factur-X PDF (33,810.00 EUR to Müller, trusted) is uploaded as the
/// transfer's attachment and paid; a JSON bill that large has no PDF and is held
/// `needs_attachment` (`bill.held`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn above_30k_pdf_is_attached_and_json_is_held() {
    let pdf = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("demo/invoices/mueller-06-above-30k.pdf"),
    )
    .expect("demo/invoices/mueller-06-above-30k.pdf");
    for db in databases().await {
        let started = Instant::now();
        let w = World::start(&db, SandboxConfig::default(), |_| {}).await;
        let v = w.intake("application/pdf", &pdf).await;
        assert_eq!(v["status"], "ready", "{v}");
        let big_pdf = v["id"].as_str().unwrap().to_string();
        let pdf_bill = w.bill_view(&big_pdf).await;
        assert_eq!(pdf_bill["amount_due"], "33810.00", "{pdf_bill}");
        let number = pdf_bill["number"].as_str().unwrap().to_string();
        let big_json = w.bill("BIG-JSON-1", ACME, "31000.00", in_days(5)).await;

        let (run, preview) = w.run_for(&[&big_pdf, &big_json], None).await;
        let s = &preview["summary"];
        assert_eq!(s["bill_count"], 1, "{s}");
        let removed = s["removed"].as_array().unwrap();
        assert_eq!(removed.len(), 1, "{s}");
        assert_eq!(removed[0]["bill_id"], big_json.as_str());
        assert_eq!(removed[0]["reason"], "needs_attachment");
        let held = w.bill_view(&big_json).await;
        assert_eq!(held["status"], "held", "{held}");
        assert!(
            held["hold_reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("needs_attachment")),
            "{held}"
        );

        w.confirm(&run).await;
        w.run_status_is(&run, "submitted").await;
        w.settle();
        w.run_status_is(&run, "completed").await;
        w.bills_are(&[&big_pdf], "paid").await;
        assert_eq!(w.bill_status(&big_json).await, "held");

        // Qonto's side: one transfer, with the invoice PDF attached.
        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 1, "the JSON bill was not sent: {log:#?}");
        let entry = &log[0];
        assert_eq!(entry.amount, "33810.00");
        assert_eq!(entry.beneficiary_iban, MULLER.2);
        let qonto = reqwest::Client::new();
        let t: Value = qonto
            .get(format!(
                "{}/v2/sepa/transfers/{}",
                w.sb.base_url(),
                entry.transfer_id
            ))
            .header("authorization", w.sb.api_key_header())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let atts = t["transfer"]["attachment_ids"].as_array().unwrap().clone();
        assert_eq!(atts.len(), 1, "{t}");
        let att: Value = qonto
            .get(format!(
                "{}/v2/attachments/{}",
                w.sb.base_url(),
                atts[0].as_str().unwrap()
            ))
            .header("authorization", w.sb.api_key_header())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            att["attachment"]["file_content_type"], "application/pdf",
            "{att}"
        );
        assert_eq!(
            att["attachment"]["file_size"],
            pdf.len().to_string().as_str(),
            "the very file the ERP sent: {att}"
        );

        let events = w.all_events_delivered().await;
        w.assert_bill_events(&big_pdf, &[RECEIVED, SUBMITTED, PAID]);
        let paid = w.erp.bill_events(&big_pdf);
        let d = &paid[2]["data"];
        assert_eq!(d["amount"], "33810.00");
        assert_eq!(d["number"], number.as_str());
        assert_eq!(d["qonto_transfer_id"], entry.transfer_id.as_str());
        assert_eq!(d["reference"], entry.reference.as_str());
        w.assert_bill_events(&big_json, &[RECEIVED, HELD]);
        let held_event = &w.erp.bill_events(&big_json)[1]["data"];
        assert_eq!(held_event["reason"], "needs_attachment", "{held_event}");
        assert!(held_event["hold_reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("needs_attachment")));
        assert!(events.iter().any(|(_, p)| p["type"] == HELD));
        done("above 30k", &w.db, started);
    }
}

/// The ERP's endpoint fails its first requests (500s, then 429 with Retry-After: 1) and then
/// recovers: every event is delivered, none twice by `webhook-id`, nothing lost, and every
/// attempt is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erp_failing_then_recovering_gets_every_event_once() {
    for db in databases().await {
        let started = Instant::now();
        let w = World::start(&db, SandboxConfig::default(), |_| {}).await;
        // Five 500s then a 429 (Retry-After: 1): even if one delivery got all six, the
        // schedule (seven attempts) still ends in a delivery.
        let failures = [
            (500, None),
            (500, None),
            (500, None),
            (500, None),
            (500, None),
            (429, Some("1")),
        ];
        w.erp.fail_next(&failures);
        let due = in_days(3);
        let bills = [
            (w.bill("EF-1", ACME, "120.00", due).await, "EF-1", "120.00"),
            (
                w.bill("EF-2", MULLER, "2834.00", due).await,
                "EF-2",
                "2834.00",
            ),
            (
                w.bill("EF-3", VANDIJK, "1317.00", due).await,
                "EF-3",
                "1317.00",
            ),
        ];
        // A bill without an account to pay: held at intake.
        let held = w
            .intake(
                "application/json",
                json!({
                    "external_id": "ERP-EF-H", "number": "EF-H", "payable_amount": "80.00",
                    "currency": "EUR", "seller": { "name": "Nowhere SARL" }
                })
                .to_string()
                .as_bytes(),
            )
            .await;
        assert_eq!(held["status"], "held", "{held}");
        let held = held["id"].as_str().unwrap().to_string();

        let ids: Vec<&str> = bills.iter().map(|b| b.0.as_str()).collect();
        let (run, _) = w.run_for(&ids, None).await;
        w.confirm(&run).await;
        w.run_status_is(&run, "submitted").await;
        w.settle();
        w.run_status_is(&run, "completed").await;
        w.bills_are(&ids, "paid").await;
        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 3, "{log:#?}");
        assert!(log.iter().all(|e| e.origin == "bulk"));

        let events = w.all_events_delivered().await;
        // 3 × (received, submitted, paid) + held bill (received, held) + run awaiting_confirmation.
        assert_eq!(events.len(), 3 * 3 + 2 + 1, "{events:#?}");
        for (id, number, amount) in &bills {
            w.assert_bill_events(id, &[RECEIVED, SUBMITTED, PAID]);
            w.assert_paid_event(id, number, amount);
        }
        w.assert_bill_events(&held, &[RECEIVED, HELD]);

        // The ERP saw the failures first, then recovered.
        let hits = w.erp.hits();
        let codes: Vec<u16> = hits.iter().map(|h| h.status).collect();
        let n = failures.len();
        let expected: Vec<u16> = failures.iter().map(|f| f.0).collect();
        assert_eq!(&codes[..n], &expected[..], "{codes:?}");
        assert!(codes[n..].iter().all(|c| *c == 200), "{codes:?}");
        assert_eq!(
            hits.len(),
            events.len() + n,
            "one extra request per failure"
        );

        // billbridge recorded every attempt.
        let deliveries = w.deliveries("").await;
        assert_eq!(deliveries.len(), events.len(), "one delivery per event");
        assert!(deliveries.iter().all(|d| d["status"] == "delivered"));
        let attempts: i64 = deliveries
            .iter()
            .map(|d| d["attempts"].as_i64().unwrap())
            .sum();
        assert_eq!(attempts as usize, hits.len(), "every request is an attempt");
        let mut codes_by_event: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for h in &hits {
            codes_by_event
                .entry(h.webhook_id.clone())
                .or_default()
                .push(h.status);
        }
        let retried: Vec<&Value> = deliveries
            .iter()
            .filter(|d| d["attempts"].as_i64().unwrap() > 1)
            .collect();
        assert!(!retried.is_empty());
        for d in retried {
            let id = d["id"].as_str().unwrap();
            let detail = w.get(&format!("/v1/deliveries/{id}")).await;
            let recorded: Vec<u16> = detail["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["status_code"].as_u64().unwrap() as u16)
                .collect();
            let event_id = d["event_id"].as_str().unwrap();
            assert_eq!(
                Some(&recorded),
                codes_by_event.get(event_id),
                "attempts of {id} as the ERP saw them: {detail:#}"
            );
            assert_eq!(recorded.last(), Some(&200));
        }
        done("ERP failing then recovering", &w.db, started);
    }
}
