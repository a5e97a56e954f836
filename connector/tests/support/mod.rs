//! Test support: a fresh database per test (SQLite file, and PostgreSQL when
//! `BILLBRIDGE_TEST_POSTGRES_URL` is set) and the app spawned on port 0 (zero2prod style).
#![allow(dead_code)]

use std::net::TcpListener;

use connector::config::RawSettings;
use connector::http::Application;
use connector::secrets::SecretBox;
use connector::signing::{sign, WebhookSecret};
use connector::store::Store;
use sea_orm::{ConnectionTrait, Database};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// Database URLs to run a test against: always SQLite, and PostgreSQL when configured.
pub async fn databases() -> Vec<String> {
    let dir = std::env::temp_dir().join("billbridge-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let mut urls = vec![format!(
        "sqlite://{}/{}.db?mode=rwc",
        dir.display(),
        uuid::Uuid::new_v4().simple()
    )];
    if let Ok(pg) = std::env::var("BILLBRIDGE_TEST_POSTGRES_URL") {
        if !pg.is_empty() {
            let name = format!("bb_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(pg.as_str()).await.unwrap_or_else(|e| {
                panic!("BILLBRIDGE_TEST_POSTGRES_URL={pg} is set but unreachable: {e}")
            });
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let mut url = reqwest::Url::parse(&pg).unwrap();
            url.set_path(&format!("/{name}"));
            urls.push(url.to_string());
        }
    } else {
        eprintln!("BILLBRIDGE_TEST_POSTGRES_URL is not set: this run covers SQLite only");
    }
    urls
}

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub client: reqwest::Client,
    pub db_url: String,
    /// The payment engine, when the app was spawned with a Qonto provider.
    pub engine: Option<connector::engine::Engine>,
}

/// A sandbox on port 0 and a Qonto provider for the app that talks to it.
pub async fn sandbox_provider(
    config: sandbox::SandboxConfig,
) -> (
    sandbox::RunningSandbox,
    std::sync::Arc<dyn connector::engine::QontoProvider>,
) {
    let sb = sandbox::Sandbox::start(config).await.unwrap();
    let mut q = connector::http::sandbox_qonto_config(&sb);
    q.retry.max_attempts = 2;
    let provider = std::sync::Arc::new(connector::engine::StaticQonto::new(
        q,
        true,
        std::sync::Arc::new(connector::qonto::TracingAuditSink),
    ));
    (sb, provider)
}

impl TestApp {
    /// The app with a Qonto provider (the engine runs) and settings adjusted by `tune`.
    pub async fn spawn_with(
        db_url: &str,
        tune: impl FnOnce(&mut RawSettings),
        qonto: Option<std::sync::Arc<dyn connector::engine::QontoProvider>>,
    ) -> TestApp {
        let mut raw = RawSettings::default();
        raw.database.url = db_url.to_string();
        raw.server.bind = "127.0.0.1:0".into();
        raw.server.max_body_bytes = 1024 * 1024;
        raw.security.admin_token = Some(ADMIN_TOKEN.into());
        raw.engine.follow_interval_secs = 1;
        raw.webhooks.poll_interval_ms = 100;
        tune(&mut raw);
        let settings = raw.validate().unwrap();
        let store = Store::connect(db_url, 8).await.unwrap();
        store.migrate().await.unwrap();
        let keys = SecretBox::from_key(&[7u8; 32]);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let app = Application::with_parts(settings, store.clone(), keys, listener, qonto).unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let engine = app.engine().cloned();
        tokio::spawn(app.run());
        TestApp {
            base,
            store,
            client: reqwest::Client::new(),
            db_url: db_url.to_string(),
            engine,
        }
    }

    pub async fn spawn(db_url: &str) -> TestApp {
        let mut raw = RawSettings::default();
        raw.database.url = db_url.to_string();
        raw.server.bind = "127.0.0.1:0".into();
        raw.server.max_body_bytes = 1024 * 1024;
        raw.security.admin_token = Some(ADMIN_TOKEN.into());
        let settings = raw.validate().unwrap();
        let store = Store::connect(db_url, 8).await.unwrap();
        store.migrate().await.unwrap();
        let keys = SecretBox::from_key(&[7u8; 32]);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let app = Application::with_listener(settings, store.clone(), keys, listener).unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run());
        TestApp {
            base,
            store,
            client: reqwest::Client::new(),
            db_url: db_url.to_string(),
            engine: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Create an organization through the admin API; returns (org id, token).
    pub async fn org(&self, name: &str) -> (String, String) {
        let r = self
            .client
            .post(self.url("/v1/orgs"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        (
            v["organization"]["id"].as_str().unwrap().to_string(),
            v["token"].as_str().unwrap().to_string(),
        )
    }

    /// Create a source; returns (source id, signing secret).
    pub async fn source(&self, token: &str, name: &str) -> (String, WebhookSecret) {
        let r = self
            .client
            .post(self.url("/v1/sources"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        (
            v["source"]["id"].as_str().unwrap().to_string(),
            WebhookSecret::parse(v["signing_secret"].as_str().unwrap()).unwrap(),
        )
    }

    /// POST a signed document to a source's intake.
    pub async fn send(
        &self,
        source: &str,
        secret: &WebhookSecret,
        msg_id: &str,
        content_type: &str,
        body: &[u8],
    ) -> reqwest::Response {
        let h = sign(
            std::slice::from_ref(secret),
            msg_id,
            chrono::Utc::now().timestamp(),
            body,
        );
        self.client
            .post(self.url(&format!("/v1/sources/{source}/bills")))
            .header("content-type", content_type)
            .header("webhook-id", h.webhook_id)
            .header("webhook-timestamp", h.webhook_timestamp)
            .header("webhook-signature", h.webhook_signature)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }
}

pub const UBL: &str = include_str!("../../../adapters/tests/fixtures/ubl-invoice.xml");
pub const CII: &str = include_str!("../../../adapters/tests/fixtures/cii-invoice.xml");
pub const JSON: &str = include_str!("../../../adapters/tests/fixtures/bill.json");
