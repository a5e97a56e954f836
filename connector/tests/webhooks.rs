//! Outcome webhooks end to end: billbridge's API and dispatcher against an ERP receiver on port 0
//! that verifies every request with the published `standardwebhooks` crate (DESIGN §8: never
//! with our own signing code). On SQLite and, when configured, PostgreSQL.

mod support;

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use connector::config::WebhookSettings;
use connector::secrets::SecretBox;
use connector::store::Store;
use serde_json::{json, Value};
use support::{databases, TestApp, UBL};
use tokio::sync::watch;

// ------------------------------------------------------------------------------------------
// The ERP side.
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Hit {
    webhook_id: String,
    event_type: String,
    bill_id: Option<String>,
    /// What the receiver answered.
    status: u16,
    /// Indexes of the receiver's secrets that verify the request.
    verified_by: Vec<usize>,
    /// `v1,…` entries in webhook-signature.
    signatures: usize,
}

#[derive(Default)]
struct ErpState {
    /// `whsec_…` texts the receiver knows.
    secrets: Vec<String>,
    /// Answers to give, in order: (status, Retry-After); then `default_status`.
    script: VecDeque<(u16, Option<String>)>,
    /// Answers for the first requests of one event type (status), before anything else.
    fail_type: Option<(String, VecDeque<u16>)>,
    default_status: u16,
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
    let mut map = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        if let Some(v) = req.headers().get(name).and_then(|v| v.to_str().ok()) {
            map.insert(name, v.parse().expect("header value"));
        }
    }
    let mut st = state.lock().expect("receiver state");
    let verified_by: Vec<usize> = st
        .secrets
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            standardwebhooks::Webhook::new(s)
                .expect("receiver secret")
                .verify(&body, &map)
                .is_ok()
        })
        .map(|(i, _)| i)
        .collect();
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let event_type = payload["type"].as_str().unwrap_or_default().to_string();
    let mut retry_after = None;
    let status = if verified_by.is_empty() {
        400
    } else if let Some(code) = st
        .fail_type
        .as_mut()
        .filter(|(t, _)| *t == event_type)
        .and_then(|(_, codes)| codes.pop_front())
    {
        code
    } else if let Some((code, ra)) = st.script.pop_front() {
        retry_after = ra;
        code
    } else {
        st.default_status
    };
    st.hits.push(Hit {
        webhook_id: map
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        event_type,
        bill_id: payload["data"]["bill_id"].as_str().map(str::to_string),
        status,
        verified_by,
        signatures: map
            .get("webhook-signature")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split_whitespace().count())
            .unwrap_or(0),
    });
    let mut resp =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status code"));
    if let Some(ra) = retry_after {
        resp.insert_header(("retry-after", ra));
    }
    resp.body(format!("answer {status}"))
}

impl Erp {
    async fn start() -> Erp {
        let state = Arc::new(Mutex::new(ErpState {
            default_status: 200,
            ..Default::default()
        }));
        let data = web::Data::new(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(erp_handler))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Erp {
            url: format!("http://127.0.0.1:{port}/billbridge/events"),
            state,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut ErpState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    fn hits(&self) -> Vec<Hit> {
        self.with(|s| s.hits.clone())
    }
}

// ------------------------------------------------------------------------------------------
// billbridge side helpers.
// ------------------------------------------------------------------------------------------

fn keys() -> SecretBox {
    // The key TestApp uses.
    SecretBox::from_key(&[7u8; 32])
}

fn fast(schedule_ms: &[u64]) -> WebhookSettings {
    WebhookSettings {
        enabled: true,
        timeout: Duration::from_secs(10),
        retry_schedule: schedule_ms
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect(),
        jitter: 0.0,
        max_retry_after: Duration::from_secs(60),
        concurrency: 4,
        poll_interval: Duration::from_millis(50),
    }
}

struct Running {
    stop: watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    fn start(stores: &[Store], settings: &WebhookSettings) -> Running {
        let (stop, rx) = watch::channel(false);
        let handles = stores
            .iter()
            .map(|s| connector::webhooks::spawn(s.clone(), keys(), settings.clone(), rx.clone()))
            .collect();
        Running { stop, handles }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            tokio::time::timeout(Duration::from_secs(30), h)
                .await
                .expect("the dispatcher stops")
                .expect("the dispatcher does not panic");
        }
    }
}

/// Wait for `cond` with a generous deadline (nothing here depends on how fast the machine is).
async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Point the source's callback at the receiver; returns the callback secret.
async fn set_callback(app: &TestApp, token: &str, src: &str, erp: &Erp) -> String {
    let r = app
        .client
        .put(app.url(&format!("/v1/sources/{src}/callback")))
        .bearer_auth(token)
        .json(&json!({ "url": erp.url }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["callback_secret"].as_str().unwrap().to_string()
}

/// A JSON bill without an account to pay: held (`no_iban`).
fn held_bill(ext: &str) -> String {
    json!({
        "external_id": ext, "number": format!("INV-{ext}"), "payable_amount": "120.00",
        "currency": "EUR", "seller": { "name": format!("Seller {ext}") }
    })
    .to_string()
}

/// A payable JSON bill.
fn ready_bill(ext: &str, n: u32) -> String {
    json!({
        "external_id": ext, "number": format!("INV-{ext}"), "payable_amount": format!("{n}.50"),
        "currency": "EUR", "due_date": "2026-12-31",
        "seller": { "name": "ACME Fournitures SAS", "vat_id": "FR32123456789" },
        "payment": { "means_code": "58", "iban": "FR7630006000011234567890189" }
    })
    .to_string()
}

async fn deliveries(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (s, v) = get(app, token, &format!("/v1/deliveries?limit=500&{query}")).await;
    assert_eq!(s, 200, "{v}");
    v["deliveries"].as_array().cloned().unwrap_or_default()
}

// ------------------------------------------------------------------------------------------
// Tests.
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn failures_then_recovery_deliver_every_event_once_and_store_every_attempt() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let erp = Erp::start().await;
        let (_, token) = app.org("Acme").await;
        let (src, signing) = app.source(&token, "erp").await;
        let secret = set_callback(&app, &token, &src, &erp).await;
        erp.with(|s| {
            s.secrets = vec![secret.clone()];
            s.script = VecDeque::from([(500, None), (500, None), (429, Some("1".to_string()))]);
        });

        // Bills: three payable ones, one held (bill.received then bill.held), one UBL.
        let mut bills = Vec::new();
        for i in 0..3 {
            let r = app
                .send(
                    &src,
                    &signing,
                    &format!("msg_in_{i}"),
                    "application/json",
                    ready_bill(&format!("ERP-{i}"), 100 + i).as_bytes(),
                )
                .await;
            assert_eq!(r.status(), 201);
            bills.push(r.json::<Value>().await.unwrap());
        }
        let r = app
            .send(
                &src,
                &signing,
                "msg_in_held",
                "application/json",
                held_bill("ERP-H").as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        let held: Value = r.json().await.unwrap();
        assert_eq!(held["status"], "held");
        let r = app
            .send(
                &src,
                &signing,
                "msg_in_ubl",
                "application/xml",
                UBL.as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        let expected_events = 3 + 2 + 1;

        // Events are in the outbox (and listed) before any dispatcher runs.
        let (s, page) = get(&app, &token, "/v1/events?limit=100").await;
        assert_eq!(s, 200);
        assert_eq!(page["events"].as_array().unwrap().len(), expected_events);
        let (_, held_events) = get(
            &app,
            &token,
            &format!(
                "/v1/events?bill_id={}&type=bill.held",
                held["id"].as_str().unwrap()
            ),
        )
        .await;
        let held_event = &held_events["events"][0];
        assert_eq!(held_event["payload"]["type"], "bill.held");
        assert!(
            held_event["payload"]["data"]["hold_reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("no_iban")),
            "{held_event}"
        );
        assert_eq!(held_event["payload"]["data"]["external_id"], "ERP-H");
        let (s, _) = get(&app, &token, "/v1/events?type=bill.nope").await;
        assert_eq!(s, 400);
        let (s, _) = get(&app, &token, "/v1/deliveries?status=nope").await;
        assert_eq!(s, 400);

        // Two dispatchers (two instances: on PostgreSQL each with its own pool).
        let second = if db.starts_with("postgres") {
            Store::connect(&db, 4).await.unwrap()
        } else {
            app.store.clone()
        };
        let running = Running::start(&[app.store.clone(), second], &fast(&[100, 100, 100, 100]));
        until("every delivery delivered", || async {
            deliveries(&app, &token, "status=delivered").await.len() == expected_events
        })
        .await;
        running.stop().await;

        let hits = erp.hits();
        assert!(hits.iter().all(|h| !h.verified_by.is_empty()), "{hits:?}");
        // Each event accepted exactly once, and nothing lost.
        let mut accepted: HashMap<String, usize> = HashMap::new();
        for h in hits.iter().filter(|h| (200..300).contains(&h.status)) {
            *accepted.entry(h.webhook_id.clone()).or_default() += 1;
        }
        assert_eq!(accepted.len(), expected_events, "{hits:?}");
        assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
        let codes: Vec<u16> = hits.iter().map(|h| h.status).collect();
        assert_eq!(&codes[..3], &[500, 500, 429], "{codes:?}");
        // The held bill's received came before its held.
        let hid = held["id"].as_str().unwrap();
        let order: Vec<&str> = hits
            .iter()
            .filter(|h| h.bill_id.as_deref() == Some(hid) && h.status == 200)
            .map(|h| h.event_type.as_str())
            .collect();
        assert_eq!(order, ["bill.received", "bill.held"]);

        // Every attempt is stored; the one after the 429 waited for its Retry-After.
        let all = deliveries(&app, &token, "").await;
        let total: i64 = all.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
        assert_eq!(total as usize, hits.len());
        let mut saw_retry_after = false;
        for d in &all {
            let (s, detail) = get(
                &app,
                &token,
                &format!("/v1/deliveries/{}", d["id"].as_str().unwrap()),
            )
            .await;
            assert_eq!(s, 200);
            let attempts = detail["attempts"].as_array().unwrap();
            assert_eq!(attempts.len() as i64, d["attempts"].as_i64().unwrap());
            assert_eq!(attempts.last().unwrap()["status_code"], 200);
            assert_eq!(attempts.last().unwrap()["response_body"], "answer 200");
            assert_eq!(detail["event"]["id"], d["event_id"]);
            for pair in attempts.windows(2) {
                if pair[0]["status_code"] == 429 {
                    saw_retry_after = true;
                    let t0: chrono::DateTime<chrono::Utc> =
                        serde_json::from_value(pair[0]["at"].clone()).unwrap();
                    let t1: chrono::DateTime<chrono::Utc> =
                        serde_json::from_value(pair[1]["at"].clone()).unwrap();
                    assert!((t1 - t0).num_milliseconds() >= 1000, "{t0} → {t1}");
                }
            }
        }
        assert!(saw_retry_after);
        // The endpoint is fine again.
        let (_, source) = get(&app, &token, &format!("/v1/sources/{src}")).await;
        assert!(source["callback_failing_since"].is_null(), "{source}");
        assert!(source["callback_disabled_at"].is_null(), "{source}");

        // Another organization sees none of it.
        let (_, other) = app.org("Other").await;
        let d0 = all[0]["id"].as_str().unwrap();
        let (s, _) = get(&app, &other, &format!("/v1/deliveries/{d0}")).await;
        assert_eq!(s, 404);
        assert!(deliveries(&app, &other, "").await.is_empty());
        let (s, _) = post(
            &app,
            &other,
            &format!("/v1/deliveries/{d0}/replay"),
            json!({}),
        )
        .await;
        assert_eq!(s, 404);
    }
}

#[tokio::test]
async fn payload_of_bill_received_carries_what_the_erp_needs() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let erp = Erp::start().await;
        let (_, token) = app.org("Acme").await;
        let (src, signing) = app.source(&token, "erp").await;
        let secret = set_callback(&app, &token, &src, &erp).await;
        erp.with(|s| s.secrets = vec![secret]);
        let r = app
            .send(
                &src,
                &signing,
                "msg_p",
                "application/json",
                ready_bill("ERP-77", 1100).as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        let (_, page) = get(&app, &token, "/v1/events").await;
        let p = &page["events"][0]["payload"];
        assert_eq!(p["type"], "bill.received");
        assert!(p["timestamp"].as_str().unwrap().ends_with('Z'));
        let d = &p["data"];
        assert_eq!(d["external_id"], "ERP-77");
        assert_eq!(d["number"], "INV-ERP-77");
        assert_eq!(d["amount"], "1100.50");
        assert_eq!(d["currency"], "EUR");
        assert_eq!(d["due_date"], "2026-12-31");
        assert_eq!(d["status"], "ready");
        assert_eq!(d["iban_masked"], "FR76…0189");
        assert_eq!(d["source_id"], src.as_str());
        // The full IBAN is never in a payload.
        assert!(!p.to_string().contains("FR7630006000011234567890189"));
        // The payload schemas are in the OpenAPI document.
        let (_, doc) = get(&app, &token, "/openapi.json").await;
        for schema in [
            "WebhookEnvelope",
            "BillPaidData",
            "BillEventData",
            "EventType",
        ] {
            assert!(
                doc["components"]["schemas"].get(schema).is_some(),
                "{schema}"
            );
        }
        for path in [
            "/v1/events",
            "/v1/deliveries/{delivery_id}/replay",
            "/v1/sources/{source_id}/callback/rotate-secret",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path}");
        }
    }
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_enable_sends_what_was_kept() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let erp = Erp::start().await;
        let (_, token) = app.org("Acme").await;
        let (src, signing) = app.source(&token, "erp").await;
        let secret = set_callback(&app, &token, &src, &erp).await;
        erp.with(|s| {
            s.secrets = vec![secret];
            s.default_status = 410;
        });
        // One at a time, so that the order of the two kept deliveries can be checked.
        let settings = WebhookSettings {
            concurrency: 1,
            ..fast(&[100, 100])
        };
        let running = Running::start(std::slice::from_ref(&app.store), &settings);
        let r = app
            .send(
                &src,
                &signing,
                "msg_g1",
                "application/json",
                ready_bill("G-1", 10).as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        until("the endpoint disabled", || async {
            get(&app, &token, &format!("/v1/sources/{src}")).await.1["callback_disabled_at"]
                .is_string()
        })
        .await;
        let (_, source) = get(&app, &token, &format!("/v1/sources/{src}")).await;
        assert!(source["callback_disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410"));
        let (_, audit) = get(&app, &token, "/v1/audit?limit=1000").await;
        assert!(audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "source.callback_disabled"));
        // While disabled: nothing is sent, new events are kept, replay is refused.
        let r = app
            .send(
                &src,
                &signing,
                "msg_g2",
                "application/json",
                ready_bill("G-2", 20).as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        let pending = deliveries(&app, &token, "status=pending").await;
        assert_eq!(pending.len(), 2);
        let (s, body) = post(
            &app,
            &token,
            &format!(
                "/v1/deliveries/{}/replay",
                pending[0]["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
        assert_eq!(s, 409, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(erp.hits().len(), 1, "a disabled endpoint gets nothing");

        // The ERP is back: enable, and both go out, in order.
        erp.with(|s| s.default_status = 200);
        let (s, body) = post(
            &app,
            &token,
            &format!("/v1/sources/{src}/callback/enable"),
            json!({}),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert!(body["source"]["callback_disabled_at"].is_null());
        until("both delivered", || async {
            deliveries(&app, &token, "status=delivered").await.len() == 2
        })
        .await;
        running.stop().await;
        let ok: Vec<Hit> = erp.hits().into_iter().filter(|h| h.status == 200).collect();
        assert_eq!(ok.len(), 2);
        assert!(ok[0].webhook_id < ok[1].webhook_id, "oldest event first");
    }
}

#[tokio::test]
async fn the_last_failed_retry_kills_the_delivery_and_replay_keeps_the_webhook_id() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let erp = Erp::start().await;
        let (_, token) = app.org("Acme").await;
        let (src, signing) = app.source(&token, "erp").await;
        let secret = set_callback(&app, &token, &src, &erp).await;
        erp.with(|s| {
            s.secrets = vec![secret];
            s.default_status = 503;
        });
        let running = Running::start(std::slice::from_ref(&app.store), &fast(&[50, 50]));
        let r = app
            .send(
                &src,
                &signing,
                "msg_d1",
                "application/json",
                ready_bill("D-1", 10).as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        until("the delivery dead", || async {
            deliveries(&app, &token, "status=dead").await.len() == 1
        })
        .await;
        let dead = deliveries(&app, &token, "status=dead").await.remove(0);
        assert_eq!(dead["attempts"], 3, "one attempt and two retries");
        assert_eq!(dead["last_status_code"], 503);
        let (_, source) = get(&app, &token, &format!("/v1/sources/{src}")).await;
        assert!(source["callback_disabled_at"].is_string(), "{source}");
        assert!(source["callback_failing_since"].is_string(), "{source}");
        let (_, audit) = get(&app, &token, "/v1/audit?limit=1000").await;
        let actions: Vec<&str> = audit
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["action"].as_str())
            .collect();
        assert!(actions.contains(&"delivery.dead"), "{actions:?}");
        assert!(actions.contains(&"source.callback_disabled"), "{actions:?}");

        // Enable without redelivery: the dead one is canceled.
        erp.with(|s| s.default_status = 200);
        let (s, body) = post(
            &app,
            &token,
            &format!("/v1/sources/{src}/callback/enable"),
            json!({ "redeliver": false }),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["deliveries_affected"], 1);
        assert_eq!(deliveries(&app, &token, "status=canceled").await.len(), 1);

        // A person replays it: same webhook-id, delivered.
        let id = dead["id"].as_str().unwrap();
        let (s, body) = post(
            &app,
            &token,
            &format!("/v1/deliveries/{id}/replay"),
            json!({}),
        )
        .await;
        assert_eq!(s, 202, "{body}");
        until("the replay delivered", || async {
            deliveries(&app, &token, "status=delivered").await.len() == 1
        })
        .await;
        // And once more, a delivered one.
        let (s, _) = post(
            &app,
            &token,
            &format!("/v1/deliveries/{id}/replay"),
            json!({}),
        )
        .await;
        assert_eq!(s, 202);
        until("the second replay", || async {
            erp.hits().iter().filter(|h| h.status == 200).count() == 2
        })
        .await;
        running.stop().await;
        let hits = erp.hits();
        assert_eq!(hits.len(), 5);
        assert!(hits
            .iter()
            .all(|h| h.webhook_id == dead["event_id"].as_str().unwrap()));
        let (_, detail) = get(&app, &token, &format!("/v1/deliveries/{id}")).await;
        assert_eq!(detail["attempts"].as_array().unwrap().len(), 5);
        assert_eq!(detail["delivery"]["status"], "delivered");
    }
}

#[tokio::test]
async fn rotation_sends_both_signatures_during_the_grace_period() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let erp = Erp::start().await;
        let (_, token) = app.org("Acme").await;
        let (src, signing) = app.source(&token, "erp").await;
        let old = set_callback(&app, &token, &src, &erp).await;
        let (s, body) = post(
            &app,
            &token,
            &format!("/v1/sources/{src}/callback/rotate-secret"),
            json!({ "grace_seconds": 3600 }),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let new = body["callback_secret"].as_str().unwrap().to_string();
        assert!(body["previous_secret_expires_at"].is_string());
        assert_ne!(old, new);
        // The receiver knows both; each must verify the message on its own.
        erp.with(|s| s.secrets = vec![old.clone(), new.clone()]);
        let running = Running::start(std::slice::from_ref(&app.store), &fast(&[100]));
        let r = app
            .send(
                &src,
                &signing,
                "msg_r1",
                "application/json",
                ready_bill("R-1", 10).as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        until("delivered", || async { !erp.hits().is_empty() }).await;
        let h = erp.hits().remove(0);
        assert_eq!(h.signatures, 2);
        assert_eq!(
            h.verified_by,
            vec![0, 1],
            "verifies with either secret alone"
        );

        // Rotate with no grace: only the newest secret signs.
        let (s, body) = post(
            &app,
            &token,
            &format!("/v1/sources/{src}/callback/rotate-secret"),
            json!({ "grace_seconds": 0 }),
        )
        .await;
        assert_eq!(s, 200);
        let newest = body["callback_secret"].as_str().unwrap().to_string();
        erp.with(|s| s.secrets = vec![old.clone(), new.clone(), newest.clone()]);
        let r = app
            .send(
                &src,
                &signing,
                "msg_r2",
                "application/json",
                ready_bill("R-2", 20).as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        until("delivered", || async { erp.hits().len() == 2 }).await;
        running.stop().await;
        let h = erp.hits().remove(1);
        assert_eq!(h.signatures, 1);
        assert_eq!(h.verified_by, vec![2]);
        // Bad grace is refused.
        let (s, _) = post(
            &app,
            &token,
            &format!("/v1/sources/{src}/callback/rotate-secret"),
            json!({ "grace_seconds": -1 }),
        )
        .await;
        assert_eq!(s, 400);
    }
}

#[tokio::test]
async fn a_bills_later_event_waits_while_its_earlier_one_is_retried() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let erp = Erp::start().await;
        let (_, token) = app.org("Acme").await;
        let (src, signing) = app.source(&token, "erp").await;
        let secret = set_callback(&app, &token, &src, &erp).await;
        // bill.received fails twice; bill.held (due at once) must not overtake it.
        erp.with(|s| {
            s.secrets = vec![secret];
            s.fail_type = Some(("bill.received".into(), VecDeque::from([500, 500])));
        });
        let running = Running::start(std::slice::from_ref(&app.store), &fast(&[400, 400, 400]));
        let r = app
            .send(
                &src,
                &signing,
                "msg_o1",
                "application/json",
                held_bill("O-1").as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        until("both delivered", || async {
            deliveries(&app, &token, "status=delivered").await.len() == 2
        })
        .await;
        running.stop().await;
        let seq: Vec<(String, u16)> = erp
            .hits()
            .into_iter()
            .map(|h| (h.event_type, h.status))
            .collect();
        assert_eq!(
            seq,
            [
                ("bill.received".to_string(), 500),
                ("bill.received".to_string(), 500),
                ("bill.received".to_string(), 200),
                ("bill.held".to_string(), 200),
            ]
        );
    }
}

#[tokio::test]
async fn a_release_is_an_event_too() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let (_, token) = app.org("Acme").await;
        let (src, signing) = app.source(&token, "erp").await;
        // Same supplier, number and amount twice: the second is held `duplicate`, which a
        // person may release.
        let r = app
            .send(
                &src,
                &signing,
                "msg_a",
                "application/json",
                ready_bill("A-1", 5).as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        let body = ready_bill("A-1", 5)
            .replace("\"A-1\"", "\"A-2\"")
            .replace("INV-A-2", "INV-A-1");
        let r = app
            .send(&src, &signing, "msg_b", "application/json", body.as_bytes())
            .await;
        assert_eq!(r.status(), 201);
        let dup: Value = r.json().await.unwrap();
        assert_eq!(dup["status"], "held", "{dup}");
        let id = dup["id"].as_str().unwrap();
        let (s, _) = post(&app, &token, &format!("/v1/bills/{id}/release"), json!({})).await;
        assert_eq!(s, 200);
        let (_, page) = get(&app, &token, &format!("/v1/events?bill_id={id}")).await;
        let types: Vec<&str> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        // Newest first.
        assert_eq!(types, ["bill.released", "bill.held", "bill.received"]);
        // No callback set: events are recorded, nothing is queued.
        assert!(deliveries(&app, &token, "").await.is_empty());
    }
}
