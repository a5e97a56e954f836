//! The payment engine: from "Pay" to settled, exactly once (DESIGN §3–§5).
//!
//! * [`Engine::create_run`] turns ready bills into a payment run (one `planned` transfer per
//!   bill, the bills `in_run`) and queues `run.prepare`.
//! * `run.prepare` reconciles each supplier with a Qonto beneficiary (cached list, refreshed),
//!   plans chunks of ≤ 400 (trusted-only chunks apart, so they need no SCA), verifies payees
//!   per chunk (`bulk_verify_payee`) and writes the preview; the run waits for confirmation.
//! * [`Engine::confirm_run`] (a person, or autopay) → `run.submit` persists every chunk's exact
//!   request body and idempotency key, then queues one `chunk.submit` per chunk.
//! * `chunk.submit` sends it; a 428 stores the SCA session and `chunk.sca` polls it (≥ 1 s
//!   apart, 15 minutes at most) and replays the same bytes with the same key.
//! * The follow-up loop maps bulk results to Qonto transfer ids and polls
//!   `GET /v2/sepa/transfers?ids[]=` until every transfer is final.
//!
//! Every state change commits together with the jobs and outbound events it implies
//! (transactional outbox, invariant 4); every handler is idempotent because jobs run at least
//! once. The database refuses a second live transfer for a bill (invariant 1).

mod follow;
mod group;
mod plan;
mod provider;
pub mod qonto_webhook;
mod submit;

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tracing::Instrument;

pub use provider::{
    qonto_provider, DbAuditSink, OAuthConnections, OAuthQonto, OfflineQonto, QontoProvider,
    StaticQonto,
};

use crate::ids::{BillId, OrgId, TransferId};
use crate::qonto::{QontoError, ScaMethod};
use crate::store::jobs::Job;
use crate::store::{Store, StoreError};

/// Job kinds the engine handles.
/// The `run.submit` job of a run: prepare and send its planned chunks.
pub(crate) fn submit_job(org: &OrgId, run_id: &str) -> crate::store::jobs::NewJob {
    crate::store::jobs::NewJob::now(
        kinds::RUN_SUBMIT,
        Some(org.clone()),
        serde_json::json!({ "run_id": run_id }),
    )
}

pub mod kinds {
    pub const RUN_PREPARE: &str = "run.prepare";
    pub const RUN_SUBMIT: &str = "run.submit";
    pub const CHUNK_SUBMIT: &str = "chunk.submit";
    pub const CHUNK_SCA: &str = "chunk.sca";
    pub const ALL: &[&str] = &[RUN_PREPARE, RUN_SUBMIT, CHUNK_SUBMIT, CHUNK_SCA];
}

/// What can go wrong in the engine. `is_transient` decides between "retry the job later" and
/// "record the failure on the run".
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Qonto(#[from] QontoError),
    /// The request cannot be carried out as asked (HTTP 422).
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the current state (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// Something the engine needs is not configured.
    #[error("configuration: {0}")]
    Config(String),
}

impl EngineError {
    pub fn is_transient(&self) -> bool {
        match self {
            EngineError::Store(e) => e.is_transient(),
            EngineError::Qonto(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl From<sea_orm::DbErr> for EngineError {
    fn from(e: sea_orm::DbErr) -> Self {
        EngineError::Store(StoreError::Db(e))
    }
}

/// Engine settings (`[engine]` in billbridge.toml).
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Run the background workers in this process.
    pub workers: bool,
    /// Jobs handled at the same time by this process.
    pub concurrency: usize,
    /// How long a claimed job stays ours without a heartbeat.
    pub job_lease: Duration,
    /// Idle wait between two looks at the job queue.
    pub idle_poll: Duration,
    /// Transfer follow-up interval (bulk results, transfer statuses).
    pub follow_interval: Duration,
    /// SCA session polling interval (never below one second: Qonto's rule).
    pub sca_poll: Duration,
    /// How long an SCA session may wait before the chunk is expired (Qonto: 15 minutes).
    pub sca_timeout: Duration,
    /// Autopay scan interval.
    pub autopay_interval: Duration,
    /// Bills per chunk (Qonto's maximum is 400).
    pub chunk_size: usize,
    /// Most bills in one run.
    pub max_run_bills: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            workers: true,
            concurrency: 4,
            job_lease: Duration::from_secs(60),
            idle_poll: Duration::from_millis(250),
            follow_interval: Duration::from_secs(30),
            sca_poll: Duration::from_secs(1),
            sca_timeout: Duration::from_secs(15 * 60),
            autopay_interval: Duration::from_secs(15 * 60),
            chunk_size: crate::qonto::MAX_BULK_ITEMS,
            max_run_bills: 10_000,
        }
    }
}

/// How a run pays: at once, or each transfer on its bill's due date (`scheduled_date`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Execution {
    #[default]
    Now,
    DueDate,
}

impl Execution {
    pub fn as_str(self) -> &'static str {
        match self {
            Execution::Now => "now",
            Execution::DueDate => "due_date",
        }
    }
}

/// A request for a payment run: explicit bills, or a filter over ready bills.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    /// Bills to pay (each must be `ready`). When empty, the filter picks ready bills.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub bill_ids: Vec<BillId>,
    /// Filter: bills due on or before this date.
    #[serde(default)]
    pub due_before: Option<NaiveDate>,
    /// Filter: one supplier's bills.
    #[serde(default)]
    pub supplier_id: Option<String>,
    /// Filter: stop adding bills (earliest due first) before the total passes this amount.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub max_total: Option<Decimal>,
    /// `now` (default) or `due_date`.
    #[serde(default)]
    pub execution: Execution,
    /// `X-Qonto-2fa-Preference` for this run (`paired-device`, `passkey`, `mock`).
    #[serde(default)]
    pub sca_method: Option<String>,
}

/// A person's confirmation of a previewed run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// Transfers whose payee check was not a MATCH that the person accepts as they are.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub accept_payees: Vec<TransferId>,
    /// Transfers to take out of the run (their bills go back to `ready`).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub exclude: Vec<TransferId>,
}

struct Inner {
    store: Store,
    qonto: Arc<dyn QontoProvider>,
    settings: EngineSettings,
    worker: String,
    wake_jobs: Notify,
    wake_follow: Notify,
}

/// The payment engine (cheap to clone).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    pub fn new(store: Store, qonto: Arc<dyn QontoProvider>, settings: EngineSettings) -> Engine {
        let worker = format!(
            "{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..8)
                .unwrap_or("0")
        );
        Engine {
            inner: Arc::new(Inner {
                store,
                qonto,
                settings,
                worker,
                wake_jobs: Notify::new(),
                wake_follow: Notify::new(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    pub fn qonto(&self) -> &Arc<dyn QontoProvider> {
        &self.inner.qonto
    }

    /// This process's worker name (job leases carry it).
    pub fn worker_id(&self) -> &str {
        &self.inner.worker
    }

    /// Look at the job queue now (a job was just queued).
    pub fn wake(&self) {
        self.inner.wake_jobs.notify_waiters();
    }

    /// Poll Qonto for transfer statuses now (a Qonto webhook arrived).
    pub fn nudge_follow_up(&self) {
        self.inner.wake_follow.notify_one();
    }

    /// The SCA method for an organization: the run's, else the policy's, else the instance's.
    pub(crate) fn sca_method(&self, explicit: Option<&str>, policy: Option<&str>) -> ScaMethod {
        explicit
            .or(policy)
            .and_then(|m| parse_sca_method(m).ok())
            .unwrap_or_else(|| self.inner.qonto.default_sca_method())
    }

    /// Run the workers until `shutdown` turns true, then give back held jobs.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..self.inner.settings.concurrency.max(1) {
            let engine = self.clone();
            let rx = shutdown.clone();
            tasks.spawn(async move { engine.job_loop(i, rx).await });
        }
        {
            let engine = self.clone();
            let rx = shutdown.clone();
            tasks.spawn(async move { engine.follow_loop(rx).await });
        }
        {
            let engine = self.clone();
            let rx = shutdown.clone();
            tasks.spawn(async move { engine.autopay_loop(rx).await });
        }
        while tasks.join_next().await.is_some() {}
        match self.inner.store.release_jobs(&self.inner.worker).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "gave back running jobs at shutdown"),
            Err(e) => tracing::warn!(error = %e, "could not release jobs at shutdown"),
        }
    }

    async fn job_loop(self, slot: usize, mut shutdown: watch::Receiver<bool>) {
        let lease = chrono::Duration::from_std(self.inner.settings.job_lease)
            .unwrap_or_else(|_| chrono::Duration::seconds(60));
        loop {
            if *shutdown.borrow() {
                return;
            }
            let claimed = self
                .inner
                .store
                .claim_job(&self.inner.worker, kinds::ALL, lease)
                .await;
            match claimed {
                Ok(Some(job)) => {
                    // Finish the job even when shutdown is asked meanwhile: handlers are short
                    // (one Qonto call and one transaction), and a half-done job is retaken anyway.
                    self.run_job(job).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(slot, error = %e, "claiming a job failed"),
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = self.inner.wake_jobs.notified() => {}
                _ = tokio::time::sleep(self.inner.settings.idle_poll) => {}
            }
        }
    }

    async fn run_job(&self, job: Job) {
        let span = tracing::info_span!(
            "job",
            job_id = %job.id,
            kind = %job.kind,
            attempt = job.attempt,
            org_id = job.org_id.as_deref().unwrap_or("-"),
        );
        async {
            let heartbeat = self.spawn_heartbeat(&job.id);
            let outcome = self.handle(&job).await;
            heartbeat.abort();
            let store = &self.inner.store;
            let worker = &self.inner.worker;
            let res = match outcome {
                Ok(Next::Done) => store.complete_job(&job.id, worker).await.map(|_| ()),
                Ok(Next::At(at)) => store.snooze_job(&job.id, worker, at).await.map(|_| ()),
                Err(e) => {
                    let retry_after = match &e {
                        EngineError::Qonto(q) => q
                            .retry_after()
                            .and_then(|d| chrono::Duration::from_std(d).ok()),
                        _ => None,
                    };
                    tracing::warn!(error = %e, transient = e.is_transient(), "job failed; it will be retried");
                    store
                        .fail_job(&job.id, worker, &e.to_string(), retry_after)
                        .await
                        .map(|state| {
                            if state == crate::store::jobs::state::DEAD {
                                tracing::error!(error = %e, "job is dead after its last attempt");
                            }
                        })
                }
            };
            if let Err(e) = res {
                tracing::warn!(error = %e, "could not record the job's outcome");
            }
        }
        .instrument(span)
        .await
    }

    fn spawn_heartbeat(&self, job_id: &str) -> tokio::task::JoinHandle<()> {
        let store = self.inner.store.clone();
        let worker = self.inner.worker.clone();
        let id = job_id.to_string();
        let lease = self.inner.settings.job_lease;
        tokio::spawn(async move {
            let every = lease / 3;
            let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
            loop {
                tokio::time::sleep(every).await;
                match store.heartbeat_job(&id, &worker, lease).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(error = %e, "job heartbeat failed"),
                }
            }
        })
    }

    async fn handle(&self, job: &Job) -> Result<Next, EngineError> {
        let id = |key: &str| -> Result<String, EngineError> {
            job.payload
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| EngineError::Invalid(format!("job payload lacks {key}")))
        };
        match job.kind.as_str() {
            kinds::RUN_PREPARE => self.prepare_run(&id("run_id")?).await,
            kinds::RUN_SUBMIT => self.submit_run(&id("run_id")?).await,
            kinds::CHUNK_SUBMIT => self.submit_chunk(&id("chunk_id")?).await,
            kinds::CHUNK_SCA => self.poll_sca(&id("chunk_id")?).await,
            other => Err(EngineError::Invalid(format!("unknown job kind {other}"))),
        }
    }

    async fn follow_loop(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.follow_up_all().await {
                tracing::warn!(error = %e, "transfer follow-up failed; will try again");
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = self.inner.wake_follow.notified() => {}
                _ = tokio::time::sleep(self.inner.settings.follow_interval) => {}
            }
        }
    }

    async fn autopay_loop(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.autopay_all().await {
                tracing::warn!(error = %e, "autopay scan failed; will try again");
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(self.inner.settings.autopay_interval) => {}
            }
        }
    }

    /// Run one pass of the follow-up for every organization with open payments (tests, CLI).
    pub async fn follow_up_all(&self) -> Result<(), EngineError> {
        for org in self.inner.store.orgs_with_open_payments().await? {
            let span = tracing::info_span!("follow_up", org_id = %org);
            if let Err(e) = self.follow_up(&org).instrument(span).await {
                tracing::warn!(org_id = %org, error = %e, "follow-up of this organization failed");
            }
        }
        Ok(())
    }
}

/// What a job handler asks for next.
pub(crate) enum Next {
    Done,
    /// Run this job again at that time (a poll that is not finished).
    At(chrono::DateTime<Utc>),
}

pub fn parse_sca_method(s: &str) -> Result<ScaMethod, EngineError> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
        EngineError::Invalid(format!(
            "unknown SCA method {s:?} (paired-device, passkey or mock)"
        ))
    })
}

pub(crate) fn sca_method_str(m: ScaMethod) -> &'static str {
    m.as_header_value()
}

pub(crate) fn org_of(s: &str) -> Result<OrgId, EngineError> {
    s.parse()
        .map_err(|e: crate::ids::BadId| EngineError::Store(StoreError::Corrupt(e.to_string())))
}
