//! Where the engine gets a Qonto client for an organization, and the audit sink that writes
//! every Qonto call into the audit log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::EngineError;
use crate::ids::OrgId;
use crate::qonto::{
    AuditSink, CallOutcome, OAuthClient, QontoApi, QontoCallRecord, QontoClient, QontoConfig,
    ScaMethod,
};
use crate::secrets::SecretBox;
use crate::store::audit::AuditEntry;
use crate::store::qonto_connections::{DbTokenStore, QontoTarget, AUTH_OAUTH};
use crate::store::Store;

/// Gives the engine a Qonto client per organization.
#[async_trait]
pub trait QontoProvider: Send + Sync {
    /// The client to use for `org`'s payments.
    async fn client(&self, org: &OrgId) -> Result<Arc<dyn QontoApi>, EngineError>;
    /// The `X-Qonto-2fa-Preference` used when neither the run nor the org says otherwise.
    fn default_sca_method(&self) -> ScaMethod;
    /// Whether this is a sandbox (built-in or Qonto's): mock SCA decisions are allowed.
    fn is_sandbox(&self) -> bool;
    /// The OAuth application organizations connect through (`POST /v1/qonto/connect`), when
    /// this provider uses OAuth connections per organization.
    fn oauth_connections(&self) -> Option<OAuthConnections> {
        None
    }
}

/// What the connect flow (`POST /v1/qonto/connect`, the OAuth callback, `billbridge qonto`)
/// needs: the OAuth application (shared with the payment clients) and the deployment the
/// tokens belong to.
#[derive(Clone)]
pub struct OAuthConnections {
    /// The OAuth application of `[qonto.oauth]`.
    pub oauth: Arc<OAuthClient>,
    /// Where the tokens are valid.
    pub target: QontoTarget,
}

/// The provider for a `[qonto]` configuration, as `billbridge serve` builds it: an API key
/// (or the built-in sandbox) gives one [`StaticQonto`] connection for every organization;
/// `[qonto.oauth]` without an API key gives [`OAuthQonto`], each organization with its own
/// tokens in the database.
pub fn qonto_provider(
    config: QontoConfig,
    builtin_sandbox: bool,
    store: Store,
    keys: SecretBox,
    audit: Arc<dyn AuditSink>,
) -> Result<Arc<dyn QontoProvider>, EngineError> {
    if config.api_key.is_none() && config.oauth.is_some() {
        Ok(Arc::new(OAuthQonto::new(config, store, keys, audit)?))
    } else {
        Ok(Arc::new(StaticQonto::new(config, builtin_sandbox, audit)))
    }
}

/// OAuth 2.0 connections per organization: each organization authorizes billbridge in Qonto
/// (`POST /v1/qonto/connect`, then the callback), its tokens live sealed in
/// `qonto_connections`, and its client refreshes them through a [`DbTokenStore`] (one refresh
/// at a time across instances; the new refresh token stored before the new access token is
/// used). One [`OAuthClient`] is shared by every client of the process.
pub struct OAuthQonto {
    config: QontoConfig,
    oauth: Arc<OAuthClient>,
    target: QontoTarget,
    store: Store,
    keys: SecretBox,
    audit: Arc<dyn AuditSink>,
    clients: Mutex<HashMap<OrgId, CachedClient>>,
}

/// An organization's client, with when it connected: a reconnection builds a new client.
type CachedClient = (chrono::DateTime<chrono::Utc>, Arc<dyn QontoApi>);

impl OAuthQonto {
    /// Needs `config.oauth`.
    pub fn new(
        config: QontoConfig,
        store: Store,
        keys: SecretBox,
        audit: Arc<dyn AuditSink>,
    ) -> Result<OAuthQonto, EngineError> {
        let oauth = Arc::new(OAuthClient::new(&config, audit.clone())?);
        Ok(OAuthQonto {
            target: QontoTarget::of(&config),
            config,
            oauth,
            store,
            keys,
            audit,
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// The token store of this provider's organizations.
    pub fn token_store(&self) -> DbTokenStore {
        DbTokenStore::new(self.store.clone(), self.keys.clone(), self.target.clone())
    }
}

#[async_trait]
impl QontoProvider for OAuthQonto {
    async fn client(&self, org: &OrgId) -> Result<Arc<dyn QontoApi>, EngineError> {
        // One indexed read per call, so that a disconnection or a reconnection is seen at once
        // (by every instance).
        let row = self.store.qonto_connection_row(org).await?;
        let row = match row {
            Some(r) if r.auth_kind == AUTH_OAUTH && r.access_token.is_some() => r,
            _ => {
                return Err(EngineError::Config(
                    "organization not connected to Qonto: POST /v1/qonto/connect".into(),
                ))
            }
        };
        if !self.target.matches(&row) {
            return Err(EngineError::Config(format!(
                "organization connected to Qonto at {}, but this instance is configured for {}:                  connect again with POST /v1/qonto/connect",
                row.api_base, self.target.api_base
            )));
        }
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| EngineError::Config("Qonto client cache poisoned".into()))?;
        if let Some((connected_at, c)) = clients.get(org) {
            if *connected_at == row.connected_at {
                return Ok(c.clone());
            }
        }
        let client: Arc<dyn QontoApi> = Arc::new(
            QontoClient::builder(self.config.clone(), org.to_string())
                .audit_sink(self.audit.clone())
                .oauth(
                    self.oauth.clone(),
                    org.to_string(),
                    Arc::new(self.token_store()),
                )
                .build()?,
        );
        clients.insert(org.clone(), (row.connected_at, client.clone()));
        Ok(client)
    }

    fn default_sca_method(&self) -> ScaMethod {
        self.config.sca_method
    }

    fn is_sandbox(&self) -> bool {
        !self.config.environment.is_production()
    }

    fn oauth_connections(&self) -> Option<OAuthConnections> {
        Some(OAuthConnections {
            oauth: self.oauth.clone(),
            target: self.target.clone(),
        })
    }
}

/// One Qonto connection from configuration, shared by the organizations of this instance (the
/// built-in sandbox, Qonto's sandbox or production with an API key). Clients are built once per
/// organization so that audit records name it.
pub struct StaticQonto {
    config: QontoConfig,
    sandbox: bool,
    audit: Arc<dyn AuditSink>,
    clients: Mutex<HashMap<OrgId, Arc<dyn QontoApi>>>,
}

impl StaticQonto {
    pub fn new(config: QontoConfig, sandbox: bool, audit: Arc<dyn AuditSink>) -> StaticQonto {
        StaticQonto {
            config,
            sandbox,
            audit,
            clients: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl QontoProvider for StaticQonto {
    async fn client(&self, org: &OrgId) -> Result<Arc<dyn QontoApi>, EngineError> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| EngineError::Config("Qonto client cache poisoned".into()))?;
        if let Some(c) = clients.get(org) {
            return Ok(c.clone());
        }
        if self.config.api_key.is_none() {
            return Err(EngineError::Config(
                "no Qonto credentials are configured: set [qonto.api_key], or [qonto.oauth] and \
                 connect each organization with POST /v1/qonto/connect"
                    .into(),
            ));
        }
        let client: Arc<dyn QontoApi> = Arc::new(
            QontoClient::builder(self.config.clone(), org.to_string())
                .audit_sink(self.audit.clone())
                .build()?,
        );
        clients.insert(org.clone(), client.clone());
        Ok(client)
    }

    fn default_sca_method(&self) -> ScaMethod {
        self.config.sca_method
    }

    fn is_sandbox(&self) -> bool {
        self.sandbox || !self.config.environment.is_production()
    }
}

/// Writes one audit entry (`qonto.call`) per HTTP exchange with Qonto, off the request path:
/// records go through a channel to a background writer, and a full channel drops to `tracing`
/// rather than slowing payments down.
pub struct DbAuditSink {
    tx: tokio::sync::mpsc::Sender<QontoCallRecord>,
}

impl DbAuditSink {
    /// Start the writer task on the current runtime.
    pub fn spawn(store: Store) -> Arc<DbAuditSink> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<QontoCallRecord>(10_000);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < 200 {
                    match rx.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
                if let Err(e) = write_batch(&store, &batch).await {
                    tracing::warn!(error = %e, count = batch.len(), "could not write Qonto call records to the audit log");
                }
            }
        });
        Arc::new(DbAuditSink { tx })
    }
}

async fn write_batch(
    store: &Store,
    batch: &[QontoCallRecord],
) -> Result<(), crate::store::StoreError> {
    let w = store.begin_write().await?;
    for r in batch {
        let org = r.organization_id.parse::<OrgId>().ok();
        let outcome = match r.outcome {
            CallOutcome::Success => "success".to_string(),
            CallOutcome::Failed(class) => crate::store::bills::code(&class),
        };
        crate::store::audit::append(
            &w.txn,
            AuditEntry {
                org_id: org,
                actor: "qonto-client".into(),
                action: "qonto.call".into(),
                details: serde_json::json!({
                    "method": r.method,
                    "path": r.path,
                    "attempt": r.attempt,
                    "status": r.status,
                    "duration_ms": u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
                    "idempotency_key": r.idempotency_key,
                    "trace_id": r.trace_id,
                    "outcome": outcome,
                    "started_at": r.started_at,
                }),
                ..Default::default()
            },
        )
        .await?;
    }
    w.commit().await
}

impl AuditSink for DbAuditSink {
    fn record(&self, entry: QontoCallRecord) {
        if let Err(e) = self.tx.try_send(entry) {
            let entry = match e {
                tokio::sync::mpsc::error::TrySendError::Full(r)
                | tokio::sync::mpsc::error::TrySendError::Closed(r) => r,
            };
            crate::qonto::TracingAuditSink.record(entry);
        }
    }
}

/// For the CLI: creating, confirming and canceling runs only touches the database (a running
/// `billbridge serve` does the Qonto work), so the CLI's engine has no Qonto connection.
pub struct OfflineQonto;

#[async_trait]
impl QontoProvider for OfflineQonto {
    async fn client(&self, _org: &OrgId) -> Result<Arc<dyn QontoApi>, EngineError> {
        Err(EngineError::Config(
            "this command does not talk to Qonto; a running `billbridge serve` does".into(),
        ))
    }

    fn default_sca_method(&self) -> ScaMethod {
        ScaMethod::default()
    }

    fn is_sandbox(&self) -> bool {
        false
    }
}
