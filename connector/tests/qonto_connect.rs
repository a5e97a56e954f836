//! OAuth 2.0 connections per organization, end to end against the built-in sandbox, on SQLite
//! and (when `BILLBRIDGE_TEST_POSTGRES_URL` is set) PostgreSQL: `POST /v1/qonto/connect` →
//! consent in the sandbox → the callback stores the tokens sealed → the payment engine's
//! provider (the one `Application::build` wires) talks to Qonto with them; refresh rotation
//! across two instances (one refresh, newest refresh token stored); restart survival; bad,
//! expired and replayed `state`s refused.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use connector::config::RawSettings;
use connector::engine::{qonto_provider, EngineError, QontoProvider};
use connector::http::Application;
use connector::ids::OrgId;
use connector::qonto::{
    Environment, MemoryAuditSink, OAuthAppConfig, OAuthClient, QontoApi, QontoClient, QontoConfig,
    QontoError, ScaMethod, TokenStore,
};
use connector::secrets::SecretBox;
use connector::store::qonto_connections::entities::{qonto_connection, qonto_oauth_state};
use connector::store::qonto_connections::{DbTokenStore, QontoTarget};
use connector::store::Store;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::ExposeSecret;
use serde_json::Value;
use support::{databases, TestApp, ADMIN_TOKEN};

const REDIRECT: &str = "https://billbridge.test/v1/qonto/oauth/callback";
const SCOPES: [&str; 3] = ["offline_access", "organization.read", "payment.write"];

/// `[qonto]` for the sandbox with `[qonto.oauth]` and no API key: what an integrator writes.
fn oauth_config(sb: &sandbox::RunningSandbox) -> QontoConfig {
    let mut q = QontoConfig::new(Environment::Custom {
        api_base: sb.base_url(),
        oauth_base: sb.base_url(),
    });
    q.staging_token = Some(sb.staging_token().into());
    q.sca_method = ScaMethod::Mock;
    q.oauth = Some(OAuthAppConfig {
        client_id: sandbox::DEFAULT_CLIENT_ID.into(),
        client_secret: sandbox::DEFAULT_CLIENT_SECRET.into(),
        redirect_uri: REDIRECT.into(),
        scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
        refresh_margin_secs: 120,
    });
    q.retry.max_attempts = 2;
    q.retry.base_delay_ms = 10;
    q
}

struct Running {
    app: TestApp,
    key_file: std::path::PathBuf,
    config: QontoConfig,
}

/// `Application::build` (the path `billbridge serve` takes) with `[qonto.oauth]` pointing at
/// the sandbox.
async fn spawn(db: &str, sb: &sandbox::RunningSandbox) -> Running {
    let dir = std::env::temp_dir().join(format!(
        "billbridge-qonto-connect-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("billbridge.key");
    let config = oauth_config(sb);
    let mut raw = RawSettings::default();
    raw.database.url = db.to_string();
    raw.server.bind = "127.0.0.1:0".into();
    raw.security.admin_token = Some(ADMIN_TOKEN.into());
    raw.security.key_file = key_file.display().to_string();
    raw.engine.workers = false;
    raw.webhooks.enabled = false;
    raw.qonto = Some(config.clone());
    let settings = raw.validate().unwrap();
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let store = Store::connect(db, 4).await.unwrap();
    Running {
        app: TestApp {
            base,
            store,
            client: reqwest::Client::new(),
            db_url: db.to_string(),
            engine: None,
        },
        key_file,
        config,
    }
}

impl Running {
    /// A provider like the server's (same configuration, same database, same key), as a second
    /// instance or a restarted one would build it.
    async fn provider(&self, audit: Arc<MemoryAuditSink>) -> Arc<dyn QontoProvider> {
        let store = Store::connect(&self.app.db_url, 4).await.unwrap();
        let keys = SecretBox::load(&self.key_file).unwrap();
        qonto_provider(self.config.clone(), false, store, keys, audit).unwrap()
    }

    fn token_store(&self) -> DbTokenStore {
        DbTokenStore::new(
            self.app.store.clone(),
            SecretBox::load(&self.key_file).unwrap(),
            QontoTarget::of(&self.config),
        )
    }

    async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .app
            .client
            .get(self.app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn connect(&self, token: &str) -> Value {
        let r = self
            .app
            .client
            .post(self.app.url("/v1/qonto/connect"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    async fn callback(&self, query: &str) -> (u16, Value) {
        let r = self
            .app
            .client
            .get(self.app.url(&format!("/v1/qonto/oauth/callback?{query}")))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// Opens the authorize URL as the browser would: the sandbox consents at once and redirects to
/// the `redirect_uri` with `code` and `state`; returns that redirect's query string.
async fn consent(authorize_url: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = browser.get(authorize_url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    location.split_once('?').unwrap().1.to_string()
}

fn token_calls(audit: &MemoryAuditSink) -> usize {
    audit
        .records()
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .count()
}

fn not_connected(e: EngineError) {
    match e {
        EngineError::Config(m) => assert_eq!(
            m,
            "organization not connected to Qonto: POST /v1/qonto/connect"
        ),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_flow_stores_sealed_tokens_that_pay_and_survive_a_restart() {
    for db in databases().await {
        let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::default())
            .await
            .unwrap();
        let run = spawn(&db, &sb).await;
        let (org, token) = run.app.org("Acme").await;
        let org_id: OrgId = org.parse().unwrap();

        let (_, doc) = run.get(&token, "/openapi.json").await;
        for path in [
            "/v1/qonto/connect",
            "/v1/qonto/oauth/callback",
            "/v1/qonto/connection",
        ] {
            assert!(doc["paths"].get(path).is_some(), "openapi lacks {path}");
        }

        // Not connected yet: the status says so, the engine's provider refuses clearly.
        let (status, view) = run.get(&token, "/v1/qonto/connection").await;
        assert_eq!(status, 200);
        assert_eq!(view["connected"], false);
        assert_eq!(view["auth_kind"], "oauth");
        let audit = Arc::new(MemoryAuditSink::new());
        let provider = run.provider(audit.clone()).await;
        not_connected(provider.client(&org_id).await.err().unwrap());

        // Connect: authorize URL → consent in the sandbox → callback.
        let started = run.connect(&token).await;
        let url = reqwest::Url::parse(started["authorize_url"].as_str().unwrap()).unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(url.path(), "/oauth2/auth");
        assert_eq!(q["redirect_uri"], REDIRECT);
        assert_eq!(q["state"], started["state"].as_str().unwrap());
        assert_eq!(started["redirect_uri"], REDIRECT);
        let query = consent(url.as_str()).await;
        assert!(query.contains(&format!("state={}", q["state"])), "{query}");
        let (status, body) = run.callback(&query).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["connected"], true);
        assert_eq!(body["organization_id"], org);
        // The same redirect again (a replayed state) is refused.
        let (status, body) = run.callback(&query).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "invalid_state");

        // Status without secrets.
        let (status, view) = run.get(&token, "/v1/qonto/connection").await;
        assert_eq!(status, 200);
        assert_eq!(view["connected"], true, "{view}");
        assert_eq!(view["auth_kind"], "oauth");
        assert_eq!(view["refreshable"], true);
        assert_eq!(view["connected_by"], format!("api:{org}"));
        assert!(view["access_expires_at"].is_string());
        assert!(!view.to_string().contains("ory_"), "{view}");

        // The engine's provider pays with the stored tokens: a payment-capable client call.
        let client = provider.client(&org_id).await.unwrap();
        let o = client.get_organization().await.unwrap();
        assert!(!o.bank_accounts.is_empty());
        assert_eq!(token_calls(&audit), 0, "fresh tokens: no refresh");

        // At rest: sealed, bound to the organization; no plaintext anywhere in the row.
        let stored = run.token_store().load(&org).await.unwrap().expect("stored");
        let access = stored.tokens.access_token.expose_secret().to_string();
        let refresh = stored
            .tokens
            .refresh_token
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_string();
        assert!(access.starts_with("ory_at_") && refresh.starts_with("ory_rt_"));
        let row = qonto_connection::Entity::find_by_id(org.clone())
            .one(run.app.store.connection())
            .await
            .unwrap()
            .unwrap();
        let sealed_access = row.access_token.clone().unwrap();
        let sealed_refresh = row.refresh_token.clone().unwrap();
        assert!(sealed_access.starts_with("v1:") && sealed_refresh.starts_with("v1:"));
        let row_text = format!("{row:?}");
        assert!(!row_text.contains(&access) && !row_text.contains(&refresh));
        assert!(!row_text.contains("ory_"), "{row_text}");
        let keys = SecretBox::load(&run.key_file).unwrap();
        let other_org = format!("qonto_oauth_access:{}", OrgId::new());
        assert!(
            keys.decrypt(&sealed_access, other_org.as_bytes()).is_err(),
            "sealed value is bound to its organization"
        );
        if let Some(path) = db.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap();
            for file in [path.to_string(), format!("{path}-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    let text = String::from_utf8_lossy(&bytes);
                    assert!(
                        !text.contains(&access) && !text.contains(&refresh),
                        "token in clear in {file}"
                    );
                }
            }
        }
        // The audit log records the connection, never a token.
        let (_, log) = run.get(&token, "/v1/audit").await;
        let log = log.to_string();
        assert!(log.contains("qonto.connected"), "{log}");
        assert!(!log.contains(&access) && !log.contains(&refresh));

        // Restart: a new instance (new pool, key loaded again, new OAuth client) reads the
        // stored tokens and needs no new authorization nor refresh.
        let audit2 = Arc::new(MemoryAuditSink::new());
        let restarted = run.provider(audit2.clone()).await;
        restarted
            .client(&org_id)
            .await
            .unwrap()
            .get_organization()
            .await
            .unwrap();
        assert_eq!(token_calls(&audit2), 0);

        // Disconnect: the provider refuses at once, the status says so.
        let r = run
            .app
            .client
            .delete(run.app.url("/v1/qonto/connection"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        not_connected(provider.client(&org_id).await.err().unwrap());
        let (_, view) = run.get(&token, "/v1/qonto/connection").await;
        assert_eq!(view["connected"], false);
        let r = run
            .app
            .client
            .delete(run.app.url("/v1/qonto/connection"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        sb.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_expired_replayed_and_refused_states_are_400() {
    for db in databases().await {
        let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::default())
            .await
            .unwrap();
        let run = spawn(&db, &sb).await;
        let (org_a, token_a) = run.app.org("A").await;
        let (_, token_b) = run.app.org("B").await;

        // The admin token manages organizations; it cannot connect one.
        let r = run
            .app
            .client
            .post(run.app.url("/v1/qonto/connect"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = run
            .app
            .client
            .post(run.app.url("/v1/qonto/connect"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);

        for query in [
            "code=x".to_string(),
            "code=x&state=".to_string(),
            format!("code=x&state={}", "f".repeat(64)),
            format!("code=x&state={}", "a".repeat(600)),
        ] {
            let (status, body) = run.callback(&query).await;
            assert_eq!(status, 400, "{query}");
            assert_eq!(body["error"]["code"], "invalid_state", "{query}");
        }

        // Expired.
        let started = run.connect(&token_a).await;
        let state = started["state"].as_str().unwrap().to_string();
        qonto_oauth_state::Entity::update_many()
            .col_expr(
                qonto_oauth_state::Column::ExpiresAt,
                Expr::value(Utc::now() - chrono::Duration::seconds(1)),
            )
            .filter(
                qonto_oauth_state::Column::StateHash
                    .eq(connector::store::sha256_hex(state.as_bytes())),
            )
            .exec(run.app.store.connection())
            .await
            .unwrap();
        let code = sb.authorization_code(sandbox::DEFAULT_CLIENT_ID, REDIRECT, &SCOPES);
        let (status, body) = run.callback(&format!("code={code}&state={state}")).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "expired_state");

        // Refused at Qonto (the state is used up with it).
        let state = run.connect(&token_a).await["state"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, body) = run
            .callback(&format!(
                "error=access_denied&error_description=The+user+refused&state={state}"
            ))
            .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "authorization_refused");
        let (status, _) = run.callback(&format!("code={code}&state={state}")).await;
        assert_eq!(status, 400);

        // A code Qonto does not know.
        let state = run.connect(&token_a).await["state"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, body) = run
            .callback(&format!("code=ory_ac_forged&state={state}"))
            .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "code_exchange_refused");

        // A good one connects the organization that started it, and only that one.
        let state = run.connect(&token_a).await["state"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, body) = run.callback(&format!("code={code}&state={state}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["organization_id"], org_a);
        let (_, a) = run.get(&token_a, "/v1/qonto/connection").await;
        let (_, b) = run.get(&token_b, "/v1/qonto/connection").await;
        assert_eq!(a["connected"], true);
        assert_eq!(b["connected"], false);
        // A browser gets a page.
        let state = run.connect(&token_b).await["state"]
            .as_str()
            .unwrap()
            .to_string();
        let code = sb.authorization_code(sandbox::DEFAULT_CLIENT_ID, REDIRECT, &SCOPES);
        let r = run
            .app
            .client
            .get(run.app.url(&format!(
                "/v1/qonto/oauth/callback?code={code}&state={state}"
            )))
            .header("accept", "text/html,application/xhtml+xml")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("Connected to Qonto"));
        sb.stop().await;
    }
}

/// One instance of billbridge as far as Qonto tokens go: its own pool, OAuth client (with its
/// own in-process locks) and token store.
async fn instance(
    db: &str,
    config: &QontoConfig,
    keys: &SecretBox,
    org: &str,
) -> (Arc<QontoClient>, Arc<MemoryAuditSink>, DbTokenStore) {
    let store = Store::connect(db, 4).await.unwrap();
    let audit = Arc::new(MemoryAuditSink::new());
    let oauth = Arc::new(OAuthClient::new(config, audit.clone()).unwrap());
    let tokens = DbTokenStore::new(store, keys.clone(), QontoTarget::of(config));
    let client = QontoClient::builder(config.clone(), org)
        .audit_sink(audit.clone())
        .oauth(oauth, org, Arc::new(tokens.clone()))
        .build()
        .unwrap();
    (Arc::new(client), audit, tokens)
}

async fn expire(tokens: &DbTokenStore, org: &str) {
    let mut s = tokens.load(org).await.unwrap().unwrap();
    s.tokens.expires_at = Utc::now() - chrono::Duration::seconds(10);
    tokens
        .compare_and_swap(org, Some(s.version), s.tokens)
        .await
        .unwrap()
        .expect("swapped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_instances_refresh_an_expired_token_exactly_once() {
    for db in databases().await {
        let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::default())
            .await
            .unwrap();
        let config = oauth_config(&sb);
        let keys = SecretBox::from_key(&[9u8; 32]);
        let store = Store::connect(&db, 4).await.unwrap();
        store.migrate().await.unwrap();
        let org = store.create_org("Acme").await.unwrap().id;
        let org_s = org.to_string();

        // Connected through the sandbox's consent helper and a code exchange.
        let setup_audit = Arc::new(MemoryAuditSink::new());
        let oauth = OAuthClient::new(&config, setup_audit).unwrap();
        let code = sb.authorization_code(sandbox::DEFAULT_CLIENT_ID, REDIRECT, &SCOPES);
        let first = oauth.exchange_code(&code).await.unwrap();
        store
            .save_qonto_connection(&keys, &QontoTarget::of(&config), &org, &first, "test")
            .await
            .unwrap();
        let original_refresh = first.refresh_token.clone().unwrap();

        let (a, audit_a, tokens_a) = instance(&db, &config, &keys, &org_s).await;
        let (b, audit_b, _tokens_b) = instance(&db, &config, &keys, &org_s).await;
        expire(&tokens_a, &org_s).await;
        let before = tokens_a.load(&org_s).await.unwrap().unwrap().version;

        // Both instances need a token at the same moment, several times over.
        let mut calls = Vec::new();
        for i in 0..12 {
            let c: Arc<QontoClient> = if i % 2 == 0 { a.clone() } else { b.clone() };
            calls.push(tokio::spawn(async move { c.get_organization().await }));
        }
        for c in calls {
            c.await
                .unwrap()
                .expect("both instances end with working tokens");
        }
        assert_eq!(
            token_calls(&audit_a) + token_calls(&audit_b),
            1,
            "exactly one refresh at Qonto"
        );
        let after = tokens_a.load(&org_s).await.unwrap().unwrap();
        assert_eq!(after.version, before + 1, "one compare-and-swap");
        let newest = after.tokens.refresh_token.clone().unwrap();
        assert_ne!(newest.expose_secret(), original_refresh.expose_secret());
        assert!(after.tokens.expires_at > Utc::now() + chrono::Duration::seconds(3000));

        // After the 60 s grace the original refresh token is dead; the stored (newest) one
        // refreshes again.
        sb.advance_clock(Duration::from_secs(61));
        let e = oauth.refresh(&original_refresh).await.unwrap_err();
        assert!(matches!(e, QontoError::OAuth { ref error, .. } if error == "invalid_grant"));
        // A third instance (nothing cached) finds the token expired and refreshes with the
        // stored refresh token.
        let (c, audit_c, _) = instance(&db, &config, &keys, &org_s).await;
        expire(&tokens_a, &org_s).await;
        c.get_organization().await.unwrap();
        assert_eq!(token_calls(&audit_c), 1);
        // The first two keep working (their access token has not expired at Qonto).
        a.get_organization().await.unwrap();
        b.get_organization().await.unwrap();
        assert_eq!(token_calls(&audit_a) + token_calls(&audit_b), 1);
        let last = tokens_a.load(&org_s).await.unwrap().unwrap();
        assert_ne!(
            last.tokens.refresh_token.unwrap().expose_secret(),
            newest.expose_secret()
        );

        // The lease itself: one holder at a time, given back, expiring by itself.
        let l1 = tokens_a
            .try_lock_refresh(&org_s, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("free");
        assert!(tokens_a
            .try_lock_refresh(&org_s, Duration::from_secs(30))
            .await
            .unwrap()
            .is_none());
        tokens_a.unlock_refresh(&org_s, &l1).await.unwrap();
        let _l2 = tokens_a
            .try_lock_refresh(&org_s, Duration::from_millis(1))
            .await
            .unwrap()
            .expect("free again");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(tokens_a
            .try_lock_refresh(&org_s, Duration::from_secs(30))
            .await
            .unwrap()
            .is_some());
        sb.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crashed_refresh_holder_delays_but_does_not_block() {
    for db in databases().await {
        let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::default())
            .await
            .unwrap();
        let config = oauth_config(&sb);
        let keys = SecretBox::from_key(&[3u8; 32]);
        let store = Store::connect(&db, 4).await.unwrap();
        store.migrate().await.unwrap();
        let org = store.create_org("Acme").await.unwrap().id;
        let org_s = org.to_string();
        let oauth = OAuthClient::new(&config, Arc::new(MemoryAuditSink::new())).unwrap();
        let code = sb.authorization_code(sandbox::DEFAULT_CLIENT_ID, REDIRECT, &SCOPES);
        let first = oauth.exchange_code(&code).await.unwrap();
        store
            .save_qonto_connection(&keys, &QontoTarget::of(&config), &org, &first, "test")
            .await
            .unwrap();
        let (a, audit_a, tokens_a) = instance(&db, &config, &keys, &org_s).await;
        expire(&tokens_a, &org_s).await;
        // Taken for 1 s and never given back, as by an instance that died mid-refresh.
        tokens_a
            .try_lock_refresh(&org_s, Duration::from_secs(1))
            .await
            .unwrap()
            .expect("taken");
        let started = std::time::Instant::now();
        a.get_organization().await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(800));
        assert_eq!(token_calls(&audit_a), 1);
        sb.stop().await;
    }
}
