//! Where the engine gets a Qonto client for an organization, and the audit sink that writes
//! every Qonto call into the audit log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::EngineError;
use crate::ids::OrgId;
use crate::qonto::{
    AuditSink, CallOutcome, QontoApi, QontoCallRecord, QontoClient, QontoConfig, ScaMethod,
};
use crate::store::audit::AuditEntry;
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
                "no Qonto API key is configured ([qonto.api_key]); OAuth connections per \
                 organization are not supported by the payment engine yet"
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
