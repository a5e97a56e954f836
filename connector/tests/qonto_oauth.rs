//! OAuth 2.0: authorize URL, code exchange, refresh rotation (persist before use, one refresh at
//! a time, compare-and-swap across instances), refresh ahead of expiry and after a 401.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use connector::qonto::*;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CRED: &str = "cred-1";

fn config_for(base: &str) -> QontoConfig {
    let mut c = QontoConfig::new(Environment::Custom {
        api_base: base.to_owned(),
        oauth_base: base.to_owned(),
    });
    c.staging_token = Some("staging-tok".into());
    c.oauth = Some(OAuthAppConfig {
        client_id: "cid".into(),
        client_secret: "csecret".into(),
        redirect_uri: "https://app.example/cb".into(),
        scopes: vec!["offline_access".into(), "organization.read".into()],
        refresh_margin_secs: 120,
    });
    c.retry.base_delay_ms = 10;
    c
}

fn tokens(access: &str, refresh: &str, expires_in_secs: i64) -> TokenSet {
    TokenSet {
        access_token: SecretString::from(access.to_owned()),
        refresh_token: Some(SecretString::from(refresh.to_owned())),
        expires_at: Utc::now() + chrono::Duration::seconds(expires_in_secs),
        scope: None,
    }
}

fn token_response(access: &str, refresh: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": access, "expires_in": 3600, "refresh_token": refresh,
        "scope": "offline_access organization.read", "token_type": "bearer"}))
}

fn org_ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"organization": {"id": "o1", "bank_accounts": []}}))
}

struct Setup {
    server: Arc<MockServer>,
    oauth: Arc<OAuthClient>,
    audit: Arc<MemoryAuditSink>,
}

async fn setup() -> Setup {
    let server = Arc::new(MockServer::start().await);
    let audit = Arc::new(MemoryAuditSink::new());
    let oauth =
        Arc::new(OAuthClient::new(&config_for(&server.uri()), audit.clone()).expect("oauth"));
    Setup {
        server,
        oauth,
        audit,
    }
}

fn client(s: &Setup, store: Arc<dyn TokenStore>) -> QontoClient {
    QontoClient::builder(config_for(&s.server.uri()), "org-1")
        .audit_sink(s.audit.clone())
        .oauth(s.oauth.clone(), CRED, store)
        .build()
        .expect("client")
}

async fn seeded(t: TokenSet) -> Arc<InMemoryTokenStore> {
    let store = Arc::new(InMemoryTokenStore::new());
    store
        .compare_and_swap(CRED, None, t)
        .await
        .expect("seed")
        .expect("swapped");
    store
}

#[tokio::test]
async fn authorize_url_has_documented_parameters_and_random_state() {
    let s = setup().await;
    let a = s.oauth.authorize_url(Some("org-uuid")).expect("url");
    let b = s.oauth.authorize_url(None).expect("url");
    assert_ne!(a.state, b.state);
    assert_eq!(a.state.len(), 64);
    let url = reqwest::Url::parse(&a.url).expect("parse");
    assert_eq!(url.path(), "/oauth2/auth");
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "cid");
    assert_eq!(q["redirect_uri"], "https://app.example/cb");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["scope"], "offline_access organization.read");
    assert_eq!(q["state"], a.state);
    assert_eq!(q["organization_id"], "org-uuid");
    assert!(a.verify_state(&a.state));
    assert!(!a.verify_state(&b.state));
    assert!(!a.verify_state(""));
}

#[tokio::test]
async fn code_exchange_stores_tokens_then_bearer_is_used() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(header("X-Qonto-Staging-Token", "staging-tok"))
        .and(header("Content-Type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .and(body_string_contains("client_id=cid"))
        .and(body_string_contains("client_secret=csecret"))
        .and(body_string_contains(
            "redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
        ))
        .respond_with(token_response("at-1", "rt-1"))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .and(header("Authorization", "Bearer at-1"))
        .and(header("X-Qonto-Staging-Token", "staging-tok"))
        .respond_with(org_ok())
        .expect(1)
        .mount(&s.server)
        .await;
    let store = Arc::new(InMemoryTokenStore::new());
    s.oauth
        .connect(CRED, "the-code", store.as_ref())
        .await
        .expect("connect");
    let stored = store.load(CRED).await.expect("load").expect("stored");
    assert_eq!(stored.version, 1);
    assert_eq!(
        stored
            .tokens
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        Some("rt-1".into())
    );
    client(&s, store).get_organization().await.expect("org");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_calls_with_expired_token_refresh_exactly_once() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=rt-old"))
        .respond_with(token_response("at-new", "rt-new").set_delay(Duration::from_millis(150)))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .and(header("Authorization", "Bearer at-new"))
        .respond_with(org_ok())
        .expect(20)
        .mount(&s.server)
        .await;
    let store = seeded(tokens("at-old", "rt-old", -10)).await;
    // two clients of the same credential (e.g. two workers) share the OAuthClient's lock
    let clients = [
        Arc::new(client(&s, store.clone())),
        Arc::new(client(&s, store.clone())),
    ];
    let mut handles = Vec::new();
    for i in 0..20 {
        let c = clients[i % 2].clone();
        handles.push(tokio::spawn(async move { c.get_organization().await }));
    }
    for h in handles {
        h.await.expect("join").expect("org");
    }
    let stored = store.load(CRED).await.expect("load").expect("stored");
    assert_eq!(stored.version, 2, "one swap");
    assert_eq!(
        stored
            .tokens
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        Some("rt-new".into())
    );
    let recs = serde_json::to_string(&s.audit.records()).expect("json");
    for secret in [
        "at-new",
        "rt-new",
        "at-old",
        "rt-old",
        "csecret",
        "staging-tok",
    ] {
        assert!(!recs.contains(secret), "{secret} leaked into audit");
    }
}

/// A store that checks, at the moment the new tokens are persisted, that no API request has
/// used the new access token yet; or that fails the swap.
struct WatchingStore {
    inner: InMemoryTokenStore,
    server: Arc<MockServer>,
    fail: bool,
    checked: AtomicBool,
}

#[async_trait]
impl TokenStore for WatchingStore {
    async fn load(&self, id: &str) -> Result<Option<StoredTokens>> {
        self.inner.load(id).await
    }
    async fn compare_and_swap(
        &self,
        id: &str,
        expected: Option<u64>,
        new: TokenSet,
    ) -> Result<Option<u64>> {
        let used = self
            .server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| {
                r.headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains(new.access_token.expose_secret()))
            })
            .count();
        assert_eq!(used, 0, "new access token used before being stored");
        self.checked.store(true, Ordering::SeqCst);
        if self.fail {
            return Err(QontoError::TokenStore("database down".into()));
        }
        self.inner.compare_and_swap(id, expected, new).await
    }
}

async fn watching(server: &Arc<MockServer>, fail: bool) -> Arc<WatchingStore> {
    let inner = InMemoryTokenStore::new();
    inner
        .compare_and_swap(CRED, None, tokens("at-old", "rt-old", -10))
        .await
        .expect("seed");
    Arc::new(WatchingStore {
        inner,
        server: server.clone(),
        fail,
        checked: AtomicBool::new(false),
    })
}

#[tokio::test]
async fn new_refresh_token_is_stored_before_the_new_access_token_is_used() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(token_response("at-new", "rt-new"))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .and(header("Authorization", "Bearer at-new"))
        .respond_with(org_ok())
        .expect(1)
        .mount(&s.server)
        .await;
    let store = watching(&s.server, false).await;
    client(&s, store.clone())
        .get_organization()
        .await
        .expect("org");
    assert!(store.checked.load(Ordering::SeqCst));
}

#[tokio::test]
async fn failed_persist_means_the_new_access_token_is_never_used() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(token_response("at-new", "rt-new"))
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .respond_with(org_ok())
        .expect(0)
        .mount(&s.server)
        .await;
    let store = watching(&s.server, true).await;
    let e = client(&s, store)
        .get_organization()
        .await
        .expect_err("store failed");
    assert!(matches!(e, QontoError::TokenStore(_)));
}

/// Another instance refreshes between our load and our swap: we lose the compare-and-swap and
/// use the tokens it stored.
struct RacingStore {
    inner: InMemoryTokenStore,
    raced: AtomicUsize,
}

#[async_trait]
impl TokenStore for RacingStore {
    async fn load(&self, id: &str) -> Result<Option<StoredTokens>> {
        self.inner.load(id).await
    }
    async fn compare_and_swap(
        &self,
        id: &str,
        expected: Option<u64>,
        new: TokenSet,
    ) -> Result<Option<u64>> {
        if self.raced.fetch_add(1, Ordering::SeqCst) == 0 {
            self.inner
                .compare_and_swap(id, expected, tokens("at-other", "rt-other", 3600))
                .await?;
        }
        self.inner.compare_and_swap(id, expected, new).await
    }
}

#[tokio::test]
async fn losing_the_compare_and_swap_uses_the_other_instances_tokens() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(token_response("at-mine", "rt-mine"))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .and(header("Authorization", "Bearer at-other"))
        .respond_with(org_ok())
        .expect(1)
        .mount(&s.server)
        .await;
    let inner = InMemoryTokenStore::new();
    inner
        .compare_and_swap(CRED, None, tokens("at-old", "rt-old", -10))
        .await
        .expect("seed");
    let store = Arc::new(RacingStore {
        inner,
        raced: AtomicUsize::new(0),
    });
    client(&s, store.clone())
        .get_organization()
        .await
        .expect("org");
    let stored = store.load(CRED).await.expect("load").expect("stored");
    assert_eq!(stored.tokens.access_token.expose_secret(), "at-other");
}

#[tokio::test]
async fn token_close_to_expiry_is_refreshed_ahead() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(body_string_contains("refresh_token=rt-old"))
        .respond_with(token_response("at-new", "rt-new"))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .and(header("Authorization", "Bearer at-new"))
        .respond_with(org_ok())
        .expect(2)
        .mount(&s.server)
        .await;
    // valid for 60 s more, inside the 120 s margin
    let store = seeded(tokens("at-old", "rt-old", 60)).await;
    let c = client(&s, store);
    c.get_organization().await.expect("org");
    c.get_organization()
        .await
        .expect("cached, no second refresh");
}

#[tokio::test]
async fn a_401_triggers_one_refresh_and_one_retry() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(token_response("at-2", "rt-2"))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .and(header("Authorization", "Bearer at-1"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"errors": [{"code": "unauthorized"}]})),
        )
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .and(header("Authorization", "Bearer at-2"))
        .respond_with(org_ok())
        .expect(1)
        .mount(&s.server)
        .await;
    let store = seeded(tokens("at-1", "rt-1", 3600)).await;
    client(&s, store).get_organization().await.expect("org");
}

#[tokio::test]
async fn revoked_refresh_token_is_an_unauthorized_oauth_error() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "The refresh token is invalid"})))
        .expect(1)
        .mount(&s.server)
        .await;
    let store = seeded(tokens("at-1", "rt-1", -5)).await;
    let e = client(&s, store)
        .get_organization()
        .await
        .expect_err("invalid_grant");
    assert!(matches!(e, QontoError::OAuth { ref error, .. } if error == "invalid_grant"));
    assert_eq!(e.class(), ErrorClass::Unauthorized);
    assert!(!e.is_transient());
}
