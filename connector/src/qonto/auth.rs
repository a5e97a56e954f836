//! Authentication: API key, and OAuth 2.0 authorization code with rotating refresh tokens.
//!
//! Refresh rules (API.md §2.4): refresh tokens rotate, so the new refresh token is persisted
//! through the [`TokenStore`] (compare-and-swap on a version) **before** the new access token is
//! used; one refresh per credential at a time in a process (a per-credential async mutex) and
//! across instances (the store's refresh lease, [`TokenStore::try_lock_refresh`]), with the
//! compare-and-swap as the last guard; tokens are refreshed ahead of expiry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::Instrument;

use super::audit::{AuditSink, CallOutcome, QontoCallRecord};
use super::config::{OAuthAppConfig, QontoConfig};
use super::error::{QontoError, Result};
use super::lenient;

/// An OAuth token set.
#[derive(Debug, Clone)]
pub struct TokenSet {
    /// Access token (`Authorization: Bearer …`).
    pub access_token: SecretString,
    /// Refresh token (rotates on every refresh).
    pub refresh_token: Option<SecretString>,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// Granted scopes, space-separated.
    pub scope: Option<String>,
}

/// A token set as stored, with the version used for compare-and-swap.
#[derive(Debug, Clone)]
pub struct StoredTokens {
    /// The tokens.
    pub tokens: TokenSet,
    /// Incremented on every successful swap.
    pub version: u64,
}

/// Where OAuth tokens live. A database implementation does the swap as
/// `UPDATE … SET …, version = version + 1 WHERE credential_id = ? AND version = ?`.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The current tokens of a credential, if connected.
    async fn load(&self, credential_id: &str) -> Result<Option<StoredTokens>>;

    /// Stores `new` only if the stored version is still `expected_version` (`None`: nothing
    /// stored yet). Returns the new version, or `None` when someone else changed it first.
    async fn compare_and_swap(
        &self,
        credential_id: &str,
        expected_version: Option<u64>,
        new: TokenSet,
    ) -> Result<Option<u64>>;

    /// Takes the refresh lease of a credential for `ttl`, so that only one holder (across
    /// processes and instances) refreshes its tokens at a time. `Some(lease id)` when taken,
    /// `None` while someone else holds an unexpired lease.
    ///
    /// The default grants it at once: a store that lives in one process relies on the
    /// [`OAuthClient`]'s per-credential mutex. A database store takes a lease row
    /// (`UPDATE … SET locked_by = ?, locked_until = ? WHERE … AND (locked_until IS NULL OR
    /// locked_until < now)`).
    async fn try_lock_refresh(&self, credential_id: &str, ttl: Duration) -> Result<Option<String>> {
        let _ = (credential_id, ttl);
        Ok(Some(String::new()))
    }

    /// Gives back a lease taken with [`TokenStore::try_lock_refresh`] (no-op when it expired
    /// and someone else took it since).
    async fn unlock_refresh(&self, credential_id: &str, lease: &str) -> Result<()> {
        let _ = (credential_id, lease);
        Ok(())
    }
}

/// An in-memory [`TokenStore`] (tests, single-process demo).
#[derive(Debug, Default)]
pub struct InMemoryTokenStore {
    entries: Mutex<HashMap<String, StoredTokens>>,
}

impl InMemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl TokenStore for InMemoryTokenStore {
    async fn load(&self, credential_id: &str) -> Result<Option<StoredTokens>> {
        let map = self
            .entries
            .lock()
            .map_err(|_| QontoError::TokenStore("poisoned lock".into()))?;
        Ok(map.get(credential_id).cloned())
    }

    async fn compare_and_swap(
        &self,
        credential_id: &str,
        expected_version: Option<u64>,
        new: TokenSet,
    ) -> Result<Option<u64>> {
        let mut map = self
            .entries
            .lock()
            .map_err(|_| QontoError::TokenStore("poisoned lock".into()))?;
        let current = map.get(credential_id).map(|s| s.version);
        if current != expected_version {
            return Ok(None);
        }
        let version = current.map_or(1, |v| v + 1);
        map.insert(
            credential_id.to_owned(),
            StoredTokens {
                tokens: new,
                version,
            },
        );
        Ok(Some(version))
    }
}

/// The authorize URL to send the user to, with the `state` to keep and compare on return.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// `…/oauth2/auth?client_id=…&redirect_uri=…&response_type=code&scope=…&state=…`.
    pub url: String,
    /// Random `state` (64 hex characters).
    pub state: String,
}

impl AuthorizationRequest {
    /// Compares the `state` returned on the redirect, in constant time.
    pub fn verify_state(&self, returned: &str) -> bool {
        let (a, b) = (self.state.as_bytes(), returned.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    expires_in: Option<i64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// The OAuth 2.0 application: builds authorize URLs, exchanges codes, refreshes tokens.
/// Share one (in an `Arc`) between all clients of the process: it holds the per-credential
/// refresh locks.
pub struct OAuthClient {
    http: reqwest::Client,
    app: OAuthAppConfig,
    authorize_url: String,
    token_url: String,
    staging_token: Option<SecretString>,
    audit: Arc<dyn AuditSink>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    lease_ttl: Duration,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.app.client_id)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// Builds the OAuth client from `config.oauth` and the environment's OAuth URLs.
    pub fn new(config: &QontoConfig, audit: Arc<dyn AuditSink>) -> Result<Self> {
        config.validate()?;
        let app = config
            .oauth
            .clone()
            .ok_or_else(|| QontoError::Config("no [oauth] section".into()))?;
        let http = super::client::build_http(config)?;
        Ok(OAuthClient {
            http,
            app,
            authorize_url: config.environment.authorize_url(),
            token_url: config.environment.token_url(),
            staging_token: config.staging_token.clone(),
            audit,
            locks: Mutex::new(HashMap::new()),
            // Longer than one token call can take (its timeout), with room to store the result.
            lease_ttl: config.request_timeout() + Duration::from_secs(10),
        })
    }

    /// How long a refresh lease ([`TokenStore::try_lock_refresh`]) is taken for.
    pub fn refresh_lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    /// The refresh margin configured.
    pub fn refresh_margin(&self) -> Duration {
        Duration::from_secs(self.app.refresh_margin_secs)
    }

    /// An authorize URL with a fresh random `state`, for the configured scopes.
    pub fn authorize_url(&self, organization_id: Option<&str>) -> Result<AuthorizationRequest> {
        let state = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let scope = self.app.scopes.join(" ");
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", &self.app.client_id),
            ("redirect_uri", &self.app.redirect_uri),
            ("response_type", "code"),
            ("scope", &scope),
            ("state", &state),
        ];
        if let Some(org) = organization_id {
            params.push(("organization_id", org));
        }
        let url = reqwest::Url::parse_with_params(&self.authorize_url, &params)
            .map_err(|e| QontoError::Config(format!("authorize URL: {e}")))?;
        Ok(AuthorizationRequest {
            url: url.into(),
            state,
        })
    }

    /// Exchanges an authorization code (valid 10 minutes) for tokens.
    pub async fn exchange_code(&self, code: &str) -> Result<TokenSet> {
        self.token_call(
            "authorization_code",
            &[
                ("code", code),
                ("redirect_uri", self.app.redirect_uri.as_str()),
            ],
        )
        .await
    }

    /// Exchanges a code and stores the tokens for `credential_id` (replacing earlier ones).
    pub async fn connect(
        &self,
        credential_id: &str,
        code: &str,
        store: &dyn TokenStore,
    ) -> Result<()> {
        let tokens = self.exchange_code(code).await?;
        let lock = self.lock_for(credential_id);
        let _guard = lock.lock().await;
        let current = store.load(credential_id).await?.map(|s| s.version);
        match store
            .compare_and_swap(credential_id, current, tokens)
            .await?
        {
            Some(_) => Ok(()),
            None => Err(QontoError::TokenStore(
                "tokens changed while connecting; try again".into(),
            )),
        }
    }

    /// Uses a refresh token once. The caller must persist the result before using it.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet> {
        let mut t = self
            .token_call(
                "refresh_token",
                &[("refresh_token", refresh_token.expose_secret())],
            )
            .await?;
        if t.refresh_token.is_none() {
            t.refresh_token = Some(refresh_token.clone());
        }
        Ok(t)
    }

    pub(crate) fn lock_for(&self, credential_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.locks.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        locks
            .entry(credential_id.to_owned())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(())))
            .clone()
    }

    async fn token_call(&self, grant_type: &str, extra: &[(&str, &str)]) -> Result<TokenSet> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", grant_type),
            ("client_id", &self.app.client_id),
            ("client_secret", self.app.client_secret.expose_secret()),
        ];
        form.extend_from_slice(extra);
        let mut req = self
            .http
            .post(&self.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        if let Some(st) = &self.staging_token {
            req = req.header("X-Qonto-Staging-Token", st.expose_secret());
        }
        let started_at = Utc::now();
        let started = Instant::now();
        let result = self.send_token_request(req).await;
        self.audit.record(QontoCallRecord {
            organization_id: String::new(),
            method: "POST".into(),
            path: "/oauth2/token".into(),
            attempt: 1,
            status: match &result {
                Ok(_) => Some(200),
                Err(e) => e.status(),
            },
            started_at,
            duration: started.elapsed(),
            idempotency_key: None,
            trace_id: None,
            outcome: match &result {
                Ok(_) => CallOutcome::Success,
                Err(e) => CallOutcome::Failed(e.class()),
            },
        });
        result
    }

    async fn send_token_request(&self, req: reqwest::RequestBuilder) -> Result<TokenSet> {
        let resp = req.send().await.map_err(QontoError::from_reqwest)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(QontoError::from_reqwest)?;
        if !(200..300).contains(&status) {
            let err: Option<TokenError> = serde_json::from_slice(&body).ok();
            let (error, description) = match err {
                Some(e) => (e.error, e.error_description),
                None => (None, None),
            };
            return Err(QontoError::OAuth {
                status,
                error: error.unwrap_or_else(|| "unknown".into()),
                description,
            });
        }
        let t: TokenResponse = serde_json::from_slice(&body).map_err(|e| QontoError::Decode {
            status,
            message: format!("token response: {e}"),
            trace_id: None,
        })?;
        let expires_in = t.expires_in.unwrap_or(3600).max(0);
        Ok(TokenSet {
            access_token: SecretString::from(t.access_token),
            refresh_token: t.refresh_token.map(SecretString::from),
            expires_at: Utc::now() + chrono::Duration::seconds(expires_in),
            scope: t.scope,
        })
    }
}

/// The OAuth state of one client: which credential, where its tokens are, a cached copy.
pub(crate) struct OAuthSession {
    pub(crate) oauth: Arc<OAuthClient>,
    pub(crate) credential_id: String,
    pub(crate) store: Arc<dyn TokenStore>,
    cache: Mutex<Option<StoredTokens>>,
}

impl OAuthSession {
    pub(crate) fn new(
        oauth: Arc<OAuthClient>,
        credential_id: String,
        store: Arc<dyn TokenStore>,
    ) -> Self {
        OAuthSession {
            oauth,
            credential_id,
            store,
            cache: Mutex::new(None),
        }
    }

    fn is_fresh(&self, t: &TokenSet) -> bool {
        let margin = chrono::Duration::from_std(self.oauth.refresh_margin())
            .unwrap_or_else(|_| chrono::Duration::seconds(120));
        t.expires_at - margin > Utc::now()
    }

    fn cached(&self) -> Option<StoredTokens> {
        match self.cache.lock() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_cache(&self, s: StoredTokens) {
        match self.cache.lock() {
            Ok(mut c) => *c = Some(s),
            Err(p) => *p.into_inner() = Some(s),
        }
    }

    /// A valid access token, refreshing (once per credential at a time) when close to expiry.
    pub(crate) async fn access_token(&self) -> Result<SecretString> {
        if let Some(c) = self.cached() {
            if self.is_fresh(&c.tokens) {
                return Ok(c.tokens.access_token);
            }
        }
        let lock = self.oauth.lock_for(&self.credential_id);
        let _guard = lock.lock().await;
        let stored = self.load().await?;
        if self.is_fresh(&stored.tokens) {
            let token = stored.tokens.access_token.clone();
            self.set_cache(stored);
            return Ok(token);
        }
        self.refresh_leased(&|s: &StoredTokens| !self.is_fresh(&s.tokens))
            .await
    }

    /// After a 401 with `used`: refresh unless someone already did.
    pub(crate) async fn refresh_after_unauthorized(&self, used: &SecretString) -> Result<()> {
        let lock = self.oauth.lock_for(&self.credential_id);
        let _guard = lock.lock().await;
        let stored = self.load().await?;
        if stored.tokens.access_token.expose_secret() != used.expose_secret() {
            self.set_cache(stored);
            return Ok(());
        }
        self.refresh_leased(&|s: &StoredTokens| {
            s.tokens.access_token.expose_secret() == used.expose_secret()
        })
        .await
        .map(|_| ())
    }

    /// Refreshes under the store's refresh lease (the process mutex is held by the caller):
    /// while another instance holds the lease, waits for the tokens it stores instead of
    /// refreshing the same refresh token a second time. `needs_refresh` says whether stored
    /// tokens still need a refresh (someone else may have done it meanwhile).
    async fn refresh_leased(
        &self,
        needs_refresh: &(dyn Fn(&StoredTokens) -> bool + Sync),
    ) -> Result<SecretString> {
        let ttl = self.oauth.refresh_lease_ttl();
        // A crashed holder's lease expires after `ttl`; then we take it.
        let deadline = Instant::now() + ttl * 2;
        loop {
            if let Some(lease) = self
                .store
                .try_lock_refresh(&self.credential_id, ttl)
                .await?
            {
                let result = async {
                    // Read again under the lease: the previous holder may have just refreshed.
                    let stored = self.load().await?;
                    if !needs_refresh(&stored) {
                        let token = stored.tokens.access_token.clone();
                        self.set_cache(stored);
                        return Ok(token);
                    }
                    self.refresh_locked(stored).await
                }
                .await;
                if let Err(e) = self.store.unlock_refresh(&self.credential_id, &lease).await {
                    tracing::warn!(error = %e, "could not give back the OAuth refresh lease; it expires by itself");
                }
                return result;
            }
            if Instant::now() > deadline {
                return Err(QontoError::TokenStore(
                    "another instance has held the OAuth refresh lease for too long".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50 + fastrand::u64(0..100))).await;
            let current = self.load().await?;
            if !needs_refresh(&current) {
                let token = current.tokens.access_token.clone();
                self.set_cache(current);
                return Ok(token);
            }
        }
    }

    async fn load(&self) -> Result<StoredTokens> {
        self.store
            .load(&self.credential_id)
            .await?
            .ok_or_else(|| QontoError::Unauthorized {
                detail: Some("no OAuth tokens stored for this credential: connect first".into()),
                trace_id: None,
            })
    }

    /// Refreshes with the lock (and lease) held: persist first, then use.
    async fn refresh_locked(&self, stored: StoredTokens) -> Result<SecretString> {
        let refresh_token =
            stored
                .tokens
                .refresh_token
                .as_ref()
                .ok_or_else(|| QontoError::Unauthorized {
                    detail: Some(
                        "access token expired and no refresh token (offline_access): reconnect"
                            .into(),
                    ),
                    trace_id: None,
                })?;
        let span = tracing::info_span!("qonto.oauth_refresh", credential_id = %self.credential_id);
        let new = self.oauth.refresh(refresh_token).instrument(span).await?;
        match self
            .store
            .compare_and_swap(&self.credential_id, Some(stored.version), new.clone())
            .await?
        {
            Some(version) => {
                let token = new.access_token.clone();
                self.set_cache(StoredTokens {
                    tokens: new,
                    version,
                });
                Ok(token)
            }
            None => {
                // Another instance refreshed first: its tokens are the ones stored; use them.
                tracing::info!("refresh lost the compare-and-swap; using the stored tokens");
                let current = self.load().await?;
                let token = current.tokens.access_token.clone();
                self.set_cache(current);
                Ok(token)
            }
        }
    }
}
