//! The payment engine against the Qonto sandbox, on SQLite and PostgreSQL: runs from preview to
//! settled, SCA allowed and denied, the Solo Basic fallback, and the exactly-once invariants
//! (concurrent runs on one bill; a lost answer looked up after the idempotency key expired).

mod support;

use std::time::Duration;

use sandbox::{Fault, Plan, RunningSandbox, SandboxConfig};
use serde_json::{json, Value};
use support::{databases, sandbox_provider, TestApp};

struct World {
    app: TestApp,
    sb: RunningSandbox,
    token: String,
    source: String,
    secret: connector::signing::WebhookSecret,
}

async fn world(db: &str, config: SandboxConfig) -> World {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,sqlx=error".into()))
        .with_test_writer()
        .try_init();
    let (sb, provider) = sandbox_provider(config).await;
    let app = TestApp::spawn_with(db, |_| {}, Some(provider)).await;
    let (_, token) = app.org("Payer SAS").await;
    let (source, secret) = app.source(&token, "erp").await;
    World {
        app,
        sb,
        token,
        source,
        secret,
    }
}

/// (seller name, VAT id, IBAN) of the sandbox's seeded beneficiaries.
const ACME: (&str, &str, &str) = ("ACME SAS", "FR32123456789", "FR7630006000011234567890189");
const MULLER: (&str, &str, &str) = (
    "Müller Elektro GmbH",
    "DE123456789",
    "DE89370400440532013000",
);
const VANDIJK: (&str, &str, &str) = (
    "Van Dijk Logistics BV",
    "NL123456789B01",
    "NL20INGB0001234567",
);
const ALICE: (&str, &str, &str) = (
    "Alice In Wonderland",
    "DE811569869",
    "DE91100000000123456789",
);

impl World {
    async fn bill(&self, number: &str, who: (&str, &str, &str), amount: &str) -> String {
        self.bill_ref(number, number, who, amount).await
    }

    /// A ready bill; its payment reference (BT-83) may differ from its number.
    async fn bill_ref(
        &self,
        number: &str,
        reference: &str,
        who: (&str, &str, &str),
        amount: &str,
    ) -> String {
        let body = json!({
            "external_id": format!("ERP-{number}"),
            "number": number,
            "type_code": "380",
            "issue_date": "2026-11-02",
            "due_date": "2026-12-02",
            "currency": "EUR",
            "payable_amount": amount,
            "tax_inclusive_amount": amount,
            "seller": { "name": who.0, "vat_id": who.1, "country": &who.1[..2] },
            "payment": { "means_code": "58", "iban": who.2 },
            "payment_reference": reference,
        });
        let r = self
            .app
            .send(
                &self.source,
                &self.secret,
                &format!("msg_{}", uuid::Uuid::new_v4().simple()),
                "application/json",
                body.to_string().as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], "ready", "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    async fn set_policy(&self, body: Value) {
        let r = self
            .app
            .client
            .put(self.app.url("/v1/settings/payments"))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .app
            .client
            .post(self.app.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .app
            .client
            .get(self.app.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    /// Poll the run until `pred` holds (the workers run in the background).
    async fn run_until(&self, run: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.get(&format!("/v1/payment-runs/{run}")).await;
            if pred(&v) {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("run never reached {what}: {v:#}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Create a run, wait for its preview, confirm it as previewed; its id.
    async fn confirmed_run(&self, body: Value) -> String {
        let (status, run) = self.post("/v1/payment-runs", body).await;
        assert_eq!(status, 201, "{run}");
        let id = run["id"].as_str().unwrap().to_string();
        self.run_status_is(&id, "awaiting_confirmation").await;
        let (status, v) = self
            .post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
            .await;
        assert_eq!(status, 200, "{v}");
        id
    }

    /// The id of the run's approval request, once sent.
    async fn sent_request(&self, run: &str) -> String {
        let v = self
            .run_until(run, "the request sent", |v| {
                v["chunks"][0]["status"] == "submitted"
            })
            .await;
        v["chunks"][0]["qonto_bulk_id"]
            .as_str()
            .and_then(|s| s.strip_prefix("request:"))
            .unwrap()
            .to_string()
    }

    /// An owner approves or declines the request in Qonto; billbridge looks at once.
    fn decide_request(&self, request_id: &str, approve: bool) {
        self.sb.decide_request(request_id, approve).unwrap();
        if let Some(e) = &self.app.engine {
            e.nudge_follow_up();
        }
    }

    /// Until every bill of the run is linked to its Qonto transfer.
    async fn all_linked(&self, run: &str) -> Value {
        self.run_until(run, "every bill linked to its Qonto transfer", |v| {
            v["transfers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["qonto_transfer_id"].is_string())
        })
        .await
    }

    async fn run_status_is(&self, run: &str, status: &str) -> Value {
        self.run_until(run, status, |v| v["status"] == status).await
    }

    /// Move the sandbox clock past settlement and let the follow-up see it.
    async fn settle(&self) {
        self.sb.advance_clock(Duration::from_secs(3 * 3600));
        if let Some(e) = &self.app.engine {
            e.nudge_follow_up();
        }
    }

    async fn bill_status(&self, id: &str) -> String {
        self.get(&format!("/v1/bills/{id}")).await["bill"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trusted_beneficiaries_are_paid_in_one_bulk_without_sca() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        let a = w.bill("T-1", ACME, "1200.00").await;
        let b = w.bill("T-2", MULLER, "845.50").await;
        let c = w.bill("T-3", VANDIJK, "99.99").await;

        let (status, run) = w
            .post("/v1/payment-runs", json!({ "bill_ids": [a, b, c] }))
            .await;
        assert_eq!(status, 201, "{run}");
        let id = run["id"].as_str().unwrap().to_string();
        let preview = w.run_status_is(&id, "awaiting_confirmation").await;
        let s = &preview["summary"];
        assert_eq!(s["bill_count"], 3);
        assert_eq!(s["total"], "2145.49");
        assert_eq!(s["without_sca"], 3, "{s}");
        assert_eq!(s["needing_sca"], 0);
        assert_eq!(s["needing_review"], 0, "{s}");
        assert_eq!(s["chunks"], 1);
        for t in preview["transfers"].as_array().unwrap() {
            assert_eq!(t["vop_result"], "MATCH_RESULT_MATCH");
            assert!(
                t["iban"].as_str().unwrap().contains('…'),
                "IBANs are masked"
            );
        }
        assert_eq!(w.bill_status(&a).await, "in_run");

        let (status, _) = w
            .post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
            .await;
        assert_eq!(status, 200);
        let submitted = w.run_status_is(&id, "submitted").await;
        assert!(submitted["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["qonto_transfer_id"].is_string()));
        assert!(
            w.sb.sca_sessions().is_empty(),
            "trusted beneficiaries by id need no SCA"
        );
        assert_eq!(w.bill_status(&b).await, "submitted");

        w.settle().await;
        let done = w.run_status_is(&id, "completed").await;
        assert!(done["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "settled"));
        for bill in [&a, &b, &c] {
            assert_eq!(w.bill_status(bill).await, "paid");
        }
        // The sandbox's own log: one transfer per bill, with our references.
        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 3);
        let mut refs: Vec<_> = log.iter().map(|e| e.reference.clone()).collect();
        refs.sort();
        assert_eq!(refs, ["T-1", "T-2", "T-3"]);
        assert!(log.iter().all(|e| e.origin == "bulk"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn untrusted_payee_waits_for_sca_then_is_paid_once() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        let a = w.bill("U-1", ALICE, "310.00").await;
        let b = w.bill("U-2", ACME, "20.00").await;
        let (_, run) = w
            .post(
                "/v1/payment-runs",
                json!({ "bill_ids": [a, b], "sca_method": "mock" }),
            )
            .await;
        let id = run["id"].as_str().unwrap().to_string();
        let preview = w.run_status_is(&id, "awaiting_confirmation").await;
        assert_eq!(preview["summary"]["needing_sca"], 1);
        assert_eq!(preview["summary"]["without_sca"], 1);
        assert_eq!(
            preview["summary"]["chunks"], 2,
            "trusted and untrusted go apart"
        );

        // Confirming is not paying: the untrusted chunk waits for the user's approval.
        w.post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
            .await;
        w.run_status_is(&id, "awaiting_sca").await;
        assert_eq!(w.bill_status(&a).await, "in_run");
        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 1, "only the trusted chunk went through: {log:?}");

        let (status, v) = w
            .post(&format!("/v1/payment-runs/{id}/sca/allow"), json!({}))
            .await;
        assert_eq!(status, 200, "{v}");
        w.run_status_is(&id, "submitted").await;
        w.settle().await;
        w.run_status_is(&id, "completed").await;
        assert_eq!(w.bill_status(&a).await, "paid");
        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 2);
        assert_eq!(
            log.iter().filter(|e| e.reference == "U-1").count(),
            1,
            "the SCA replay created exactly one transfer"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn denied_sca_puts_the_bills_back_to_ready() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        let a = w.bill("D-1", ALICE, "55.00").await;
        let id = w
            .confirmed_run(json!({ "bill_ids": [a], "sca_method": "mock" }))
            .await;
        w.run_status_is(&id, "awaiting_sca").await;
        let (status, _) = w
            .post(&format!("/v1/payment-runs/{id}/sca/deny"), json!({}))
            .await;
        assert_eq!(status, 200);
        let v = w.run_status_is(&id, "denied").await;
        assert_eq!(v["transfers"][0]["failure_reason"], "sca_denied");
        assert_eq!(w.bill_status(&a).await, "ready");
        assert!(w.sb.transfer_log().is_empty());
        // The bill can be paid by a new run.
        let (status, _) = w.post("/v1/payment-runs", json!({ "bill_ids": [a] })).await;
        assert_eq!(status, 201);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runs_on_the_same_bills_create_one_run() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        let a = w.bill("C-1", ACME, "10.00").await;
        let b = w.bill("C-2", MULLER, "11.00").await;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let client = w.app.client.clone();
            let url = w.app.url("/v1/payment-runs");
            let token = w.token.clone();
            let body = json!({ "bill_ids": [a, b] });
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        let mut codes = Vec::new();
        for t in tasks {
            codes.push(t.await.unwrap());
        }
        assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
        assert!(codes.iter().all(|c| *c == 201 || *c == 409), "{codes:?}");
        let runs = w.get("/v1/payment-runs").await;
        assert_eq!(runs.as_array().unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn solo_basic_plan_falls_back_to_single_transfers() {
    for db in databases().await {
        let config = SandboxConfig {
            plan: Plan::SoloBasic,
            ..Default::default()
        };
        let w = world(&db, config).await;
        let a = w.bill("S-1", ACME, "100.00").await;
        let b = w.bill("S-2", VANDIJK, "200.00").await;
        let (_, run) = w
            .post("/v1/payment-runs", json!({ "bill_ids": [a, b] }))
            .await;
        let id = run["id"].as_str().unwrap().to_string();
        w.run_status_is(&id, "awaiting_confirmation").await;
        w.post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
            .await;
        let v = w.run_status_is(&id, "submitted").await;
        let warnings = v["summary"]["warnings"].as_array().unwrap();
        assert!(
            warnings.iter().any(|x| x["code"] == "single_transfers"),
            "the run says why: {warnings:?}"
        );
        let policy = w.get("/v1/settings/payments").await;
        assert_eq!(
            policy["plan_forbids_bulk"], true,
            "remembered for the organization"
        );
        w.settle().await;
        w.run_status_is(&id, "completed").await;
        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 2);
        assert!(log.iter().all(|e| e.origin == "single"), "{log:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_answer_after_key_expiry_is_looked_up_not_resent() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        let a = w.bill("K-1", ACME, "70.00").await;
        let b = w.bill("K-2", MULLER, "80.00").await;
        // Qonto creates the bulk, then the connection drops before the answer: the client's
        // own retry (same key) is dropped too, so the job fails and is retried later.
        w.sb.add_fault(Fault::commit_then_drop("POST", "/v2/sepa/bulk_transfers").times(3));
        let (_, run) = w
            .post("/v1/payment-runs", json!({ "bill_ids": [a, b] }))
            .await;
        let id = run["id"].as_str().unwrap().to_string();
        w.run_status_is(&id, "awaiting_confirmation").await;
        w.post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while w.sb.faults().first().and_then(|f| f.count) != Some(1) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bulk was never sent"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // 31 minutes pass at Qonto before the retry: the idempotency key has expired there,
        // so resending would create a second bulk. billbridge must look it up instead.
        w.sb.advance_clock(Duration::from_secs(31 * 60));
        w.run_status_is(&id, "submitted").await;
        w.settle().await;
        w.run_status_is(&id, "completed").await;
        let log = w.sb.transfer_log();
        assert_eq!(
            log.len(),
            2,
            "each bill paid once although the answer was lost: {log:?}"
        );
        assert_eq!(
            w.sb.faults().first().and_then(|f| f.count),
            Some(1),
            "the bulk was never sent a third time"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn qonto_webhooks_must_be_signed() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        let org = w.get("/v1/settings/payments").await;
        assert_eq!(org["autopay"], false);
        let (status, _) = w.post("/v1/settings/payments", json!({})).await;
        assert_eq!(status, 404, "PUT, not POST");
        let r = w
            .app
            .client
            .put(w.app.url("/v1/settings/payments"))
            .bearer_auth(&w.token)
            .json(&json!({ "qonto_webhook_secret": "qonto-subscription-secret" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert!(v.get("qonto_webhook_secret_sealed").is_none(), "{v}");
        let orgs = w.app.store.list_orgs().await.unwrap();
        let org_id = orgs[0].id.to_string();
        let body = br#"{"id":"evt_1","type":"v1/transactions","data":{}}"#;
        let url = w.app.url(&format!("/v1/qonto/webhooks/{org_id}"));
        let now = chrono::Utc::now().timestamp();
        let good = sandbox::webhook::signature_header("qonto-subscription-secret", now, body);
        let forged = sandbox::webhook::signature_header("not-the-secret", now, body);
        let stale =
            sandbox::webhook::signature_header("qonto-subscription-secret", now - 600, body);
        for (header, expect) in [
            (Some(good.as_str()), 204),
            (Some(forged.as_str()), 401),
            (Some(stale.as_str()), 401),
            (None, 401),
        ] {
            let mut rq = w.app.client.post(&url).body(body.to_vec());
            if let Some(h) = header {
                rq = rq.header("X-Qonto-Signature", h);
            }
            let r = rq.send().await.unwrap();
            assert_eq!(r.status().as_u16(), expect, "{header:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approval_requests_are_followed_until_approved() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        let r = w
            .app
            .client
            .put(w.app.url("/v1/settings/payments"))
            .bearer_auth(&w.token)
            .json(&json!({ "approval_requests": true }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let a = w.bill("R-1", ACME, "150.00").await;
        let b = w.bill("R-2", ALICE, "250.00").await;
        let (_, run) = w
            .post("/v1/payment-runs", json!({ "bill_ids": [a, b] }))
            .await;
        let id = run["id"].as_str().unwrap().to_string();
        let v = w.run_status_is(&id, "awaiting_confirmation").await;
        assert_eq!(v["chunks"][0]["mode"], "request");
        w.post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
            .await;
        let request_id = w.sent_request(&id).await;
        // Nothing is paid before an owner approves the request in Qonto.
        assert!(w.sb.transfer_log().is_empty());
        assert_eq!(w.bill_status(&a).await, "in_run");
        w.decide_request(&request_id, true);
        w.all_linked(&id).await;
        w.settle().await;
        w.run_status_is(&id, "completed").await;
        assert_eq!(w.bill_status(&b).await, "paid");
        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 2);
        assert!(log.iter().all(|e| e.origin == "request"), "{log:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn declined_approval_request_puts_bills_back() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        w.app
            .client
            .put(w.app.url("/v1/settings/payments"))
            .bearer_auth(&w.token)
            .json(&json!({ "approval_requests": true }))
            .send()
            .await
            .unwrap();
        let a = w.bill("RD-1", ACME, "15.00").await;
        let (_, run) = w.post("/v1/payment-runs", json!({ "bill_ids": [a] })).await;
        let id = run["id"].as_str().unwrap().to_string();
        w.run_status_is(&id, "awaiting_confirmation").await;
        w.post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
            .await;
        let request_id = w.sent_request(&id).await;
        w.decide_request(&request_id, false);
        let v = w.run_status_is(&id, "failed").await;
        assert_eq!(v["transfers"][0]["failure_reason"], "approval_declined");
        assert_eq!(w.bill_status(&a).await, "ready");
        assert!(w.sb.transfer_log().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_qonto_call_is_in_the_audit_log_without_secrets() {
    for db in databases().await {
        let sb = sandbox::Sandbox::start(SandboxConfig::default())
            .await
            .unwrap();
        let audit_store = connector::store::Store::connect(&db, 2).await.unwrap();
        audit_store.migrate().await.unwrap();
        let provider = std::sync::Arc::new(connector::engine::StaticQonto::new(
            connector::http::sandbox_qonto_config(&sb),
            true,
            connector::engine::DbAuditSink::spawn(audit_store),
        ));
        let app = TestApp::spawn_with(&db, |_| {}, Some(provider)).await;
        let (_, token) = app.org("Audited SAS").await;
        let (source, secret) = app.source(&token, "erp").await;
        let w = World {
            app,
            sb,
            token,
            source,
            secret,
        };
        let a = w.bill("AU-1", ACME, "42.00").await;
        let (_, run) = w.post("/v1/payment-runs", json!({ "bill_ids": [a] })).await;
        let id = run["id"].as_str().unwrap().to_string();
        w.run_status_is(&id, "awaiting_confirmation").await;
        w.post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
            .await;
        w.run_status_is(&id, "submitted").await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let calls = loop {
            let log = w.get("/v1/audit?limit=1000").await;
            let calls: Vec<Value> = log
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["action"] == "qonto.call")
                .cloned()
                .collect();
            if calls
                .iter()
                .any(|c| c["details"]["path"] == "/v2/sepa/bulk_transfers")
            {
                break calls;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no bulk call audited: {log:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let bulk = calls
            .iter()
            .find(|c| c["details"]["path"] == "/v2/sepa/bulk_transfers")
            .unwrap();
        assert_eq!(bulk["details"]["method"], "POST");
        assert!(bulk["details"]["status"]
            .as_u64()
            .is_some_and(|s| (200..300).contains(&s)));
        assert!(bulk["details"]["idempotency_key"].is_string(), "{bulk}");
        assert!(bulk["details"]["duration_ms"].is_u64());
        for path in ["/v2/sepa/bulk_verify_payee", "/v2/organization"] {
            assert!(
                calls.iter().any(|c| c["details"]["path"] == path),
                "{path} not audited"
            );
        }
        let text = serde_json::to_string(&calls).unwrap();
        assert!(
            !text.contains(ACME.2),
            "a full IBAN leaked into the audit log"
        );
        assert!(
            !text.contains("sk_sandbox"),
            "the API secret leaked into the audit log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn excluding_a_payee_verifies_the_rest_again_and_pays_only_them() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        let a = w.bill("X-1", ACME, "10.00").await;
        let b = w.bill("X-2", MULLER, "20.00").await;
        let (_, run) = w
            .post("/v1/payment-runs", json!({ "bill_ids": [a, b] }))
            .await;
        let id = run["id"].as_str().unwrap().to_string();
        let v = w.run_status_is(&id, "awaiting_confirmation").await;
        let excluded = v["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["bill_id"] == b.as_str())
            .unwrap()["id"]
            .clone();
        let (status, _) = w
            .post(
                &format!("/v1/payment-runs/{id}/confirm"),
                json!({ "exclude": [excluded] }),
            )
            .await;
        assert_eq!(status, 200);
        w.run_status_is(&id, "submitted").await;
        assert_eq!(w.bill_status(&b).await, "ready");
        w.settle().await;
        w.run_status_is(&id, "completed").await;
        assert_eq!(w.bill_status(&a).await, "paid");
        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].reference, "X-1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grouping_pays_a_suppliers_bills_by_one_transfer_and_never_merges_rf_references() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        w.set_policy(json!({ "group_by_supplier": true })).await;
        let a1 = w.bill("G-1", ACME, "100.00").await;
        let a2 = w.bill("G-2", ACME, "250.50").await;
        let rf = w.bill_ref("G-3", "RF18539007547034", ACME, "40.00").await;
        let m1 = w.bill("G-4", MULLER, "10.00").await;
        let bills = [&a1, &a2, &rf, &m1];
        let (status, run) = w
            .post("/v1/payment-runs", json!({ "bill_ids": bills }))
            .await;
        assert_eq!(status, 201, "{run}");
        let id = run["id"].as_str().unwrap().to_string();
        let preview = w.run_status_is(&id, "awaiting_confirmation").await;
        assert_eq!(preview["summary"]["bill_count"], 4);
        assert_eq!(preview["summary"]["qonto_transfers"], 3, "{preview:#}");
        w.post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
            .await;
        let submitted = w.run_status_is(&id, "submitted").await;

        // Qonto's own log: ACME's two plain invoices in one transfer, the RF one alone.
        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 3, "{log:?}");
        let grouped = log
            .iter()
            .find(|e| e.reference.contains("G-1"))
            .expect("ACME's grouped transfer");
        assert!(
            grouped.reference == "G-1, G-2" || grouped.reference == "G-2, G-1",
            "{}",
            grouped.reference
        );
        assert_eq!(grouped.amount_cents, 35_050);
        assert_eq!(grouped.beneficiary_iban, ACME.2);
        let alone = log
            .iter()
            .find(|e| e.reference == "RF18539007547034")
            .expect("the RF reference travels untouched");
        assert_eq!(alone.amount_cents, 4_000);
        assert!(log
            .iter()
            .any(|e| e.reference == "G-4" && e.amount_cents == 1_000));

        // Our rows: one per bill, the grouped two share the group and the Qonto transfer.
        let transfers = submitted["transfers"].as_array().unwrap();
        assert_eq!(transfers.len(), 4);
        let row = |bill: &str| {
            transfers
                .iter()
                .find(|t| t["bill_id"] == bill)
                .unwrap()
                .clone()
        };
        assert_eq!(row(&a1)["group_id"], row(&a2)["group_id"]);
        assert!(row(&a1)["group_id"].is_string());
        assert_eq!(row(&a1)["qonto_transfer_id"], grouped.transfer_id.as_str());
        assert_eq!(row(&a2)["qonto_transfer_id"], grouped.transfer_id.as_str());
        assert!(row(&rf)["group_id"].is_null());
        assert_eq!(
            row(&a1)["reference"],
            "G-1",
            "each bill keeps its own reference"
        );

        w.settle().await;
        w.run_status_is(&id, "completed").await;
        for b in bills {
            assert_eq!(w.bill_status(b).await, "paid");
        }
        assert_eq!(w.sb.transfer_log().len(), 3, "nothing paid twice");

        // The ERP hears of each bill, with what the supplier's statement shows.
        let events = w
            .get(&format!("/v1/events?type=bill.paid&bill_id={a2}"))
            .await;
        let data = &events["events"][0]["payload"]["data"];
        assert_eq!(data["reference"], grouped.reference.as_str(), "{events:#}");
        assert_eq!(data["group_id"], row(&a1)["group_id"]);
        assert_eq!(data["qonto_transfer_id"], grouped.transfer_id.as_str());
        assert_eq!(data["amount"], "250.50");
        let events = w
            .get(&format!("/v1/events?type=bill.paid&bill_id={rf}"))
            .await;
        let data = &events["events"][0]["payload"]["data"];
        assert_eq!(data["reference"], "RF18539007547034", "{events:#}");
        assert!(data.get("group_id").is_none_or(|g| g.is_null()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn policy_creates_missing_beneficiaries_and_falls_back_when_qonto_refuses() {
    for db in databases().await {
        let w = world(&db, SandboxConfig::default()).await;
        w.set_policy(json!({ "create_beneficiaries": true })).await;
        let newcomer = (
            "Dupont Fournitures SARL",
            "FR40303265045",
            "FR7630001007941234567890185",
        );
        assert!(
            !w.sb.beneficiaries().iter().any(|b| b.iban == newcomer.2),
            "a new payee"
        );
        let a = w.bill("N-1", newcomer, "310.00").await;
        let (_, run) = w
            .post(
                "/v1/payment-runs",
                json!({ "bill_ids": [a], "sca_method": "mock" }),
            )
            .await;
        let id = run["id"].as_str().unwrap().to_string();
        let preview = w.run_status_is(&id, "awaiting_confirmation").await;
        assert_eq!(preview["summary"]["beneficiaries_to_create"], 1);
        w.post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
            .await;
        // Created by API before the transfer: untrusted, so the payment still needs SCA.
        let waiting = w.run_status_is(&id, "awaiting_sca").await;
        let created: Vec<_> =
            w.sb.beneficiaries()
                .into_iter()
                .filter(|b| b.iban == newcomer.2)
                .collect();
        assert_eq!(created.len(), 1, "{created:?}");
        assert!(!created[0].trusted);
        assert!(w.sb.transfer_log().is_empty());
        assert_eq!(
            waiting["transfers"][0]["beneficiary_id"],
            created[0].id.as_str()
        );
        w.post(&format!("/v1/payment-runs/{id}/sca/allow"), json!({}))
            .await;
        w.run_status_is(&id, "submitted").await;
        let log = w.sb.transfer_log();
        assert_eq!(log.len(), 1);
        assert_eq!(
            log[0].beneficiary_id, created[0].id,
            "paid by beneficiary_id"
        );
        let audit = w.get(&format!("/v1/audit?run_id={id}&limit=500")).await;
        assert!(
            audit.to_string().contains("beneficiary.created"),
            "{audit:#}"
        );
        assert!(
            !audit.to_string().contains(newcomer.2),
            "no full IBAN in the audit log"
        );

        // Where Qonto asks for SCA to create a beneficiary, the payee goes inline as before.
        let mut q = w.sb.quirks();
        q.beneficiary_create_requires_sca = true;
        w.sb.set_quirks(q);
        let new_payee = (
            "Zeta Supplies SARL",
            "FR44987654321",
            "FR1420041010050500013M02606",
        );
        let z = w.bill("N-2", new_payee, "12.00").await;
        let id = w
            .confirmed_run(json!({ "bill_ids": [z], "sca_method": "mock" }))
            .await;
        w.run_status_is(&id, "awaiting_sca").await;
        w.post(&format!("/v1/payment-runs/{id}/sca/allow"), json!({}))
            .await;
        w.run_status_is(&id, "submitted").await;
        let audit = w.get(&format!("/v1/audit?run_id={id}&limit=500")).await;
        assert!(
            audit.to_string().contains("beneficiary.create_failed"),
            "{audit:#}"
        );
        // Remembered, so no further prompt is started for a creation billbridge would drop.
        let policy = w.get("/v1/settings/payments").await;
        assert_eq!(policy["beneficiary_create_needs_sca"], true);
        w.settle().await;
        w.run_status_is(&id, "completed").await;
        assert_eq!(w.bill_status(&z).await, "paid");
        assert_eq!(
            w.sb.transfer_log()
                .iter()
                .filter(|e| e.beneficiary_iban == new_payee.2)
                .count(),
            1
        );
    }
}

/// Grouping holds in the other two ways of paying: single transfers (Solo Basic, learned from
/// Qonto's 403 on the bulk) and approval requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grouped_bills_stay_one_transfer_as_single_transfers_and_in_approval_requests() {
    for db in databases().await {
        for mode in ["solo_basic", "request"] {
            let config = SandboxConfig {
                plan: if mode == "solo_basic" {
                    Plan::SoloBasic
                } else {
                    Plan::Business
                },
                ..Default::default()
            };
            let w = world(&db, config).await;
            w.set_policy(json!({
                "group_by_supplier": true,
                "approval_requests": mode == "request",
            }))
            .await;
            let a1 = w.bill("H-1", ACME, "10.00").await;
            let a2 = w.bill("H-2", ACME, "20.00").await;
            let v1 = w.bill("H-3", VANDIJK, "30.00").await;
            let (_, run) = w
                .post("/v1/payment-runs", json!({ "bill_ids": [a1, a2, v1] }))
                .await;
            let id = run["id"].as_str().unwrap().to_string();
            w.run_status_is(&id, "awaiting_confirmation").await;
            w.post(&format!("/v1/payment-runs/{id}/confirm"), json!({}))
                .await;
            if mode == "request" {
                let request_id = w.sent_request(&id).await;
                w.decide_request(&request_id, true);
            }
            w.all_linked(&id).await;
            w.settle().await;
            w.run_status_is(&id, "completed").await;
            for b in [&a1, &a2, &v1] {
                assert_eq!(w.bill_status(b).await, "paid", "{mode}");
            }
            let log = w.sb.transfer_log();
            assert_eq!(log.len(), 2, "{mode}: {log:?}");
            let expect = if mode == "request" {
                "request"
            } else {
                "single"
            };
            assert!(log.iter().all(|e| e.origin == expect), "{mode}: {log:?}");
            let acme = log.iter().find(|e| e.beneficiary_iban == ACME.2).unwrap();
            assert_eq!(acme.amount_cents, 3_000, "{mode}");
            assert!(acme.reference.contains("H-1") && acme.reference.contains("H-2"));
        }
    }
}
