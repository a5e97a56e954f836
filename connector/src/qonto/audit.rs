//! The audit trail of every call made to Qonto. Records never hold secrets, tokens or full IBANs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::ErrorClass;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// 2xx.
    Success,
    /// Failed, with this class.
    Failed(ErrorClass),
}

/// One HTTP exchange with Qonto (one attempt: a retried call gives several records).
#[derive(Debug, Clone, Serialize)]
pub struct QontoCallRecord {
    /// The billbridge organization the call was made for (empty for OAuth token-endpoint
    /// calls, which belong to a credential, not to one client).
    pub organization_id: String,
    /// HTTP method.
    pub method: String,
    /// Path with secrets masked (SCA tokens replaced, IBANs in the query masked).
    pub path: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// HTTP status, when a response came back.
    pub status: Option<u16>,
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration: Duration,
    /// The idempotency key sent, if any (keys are not secrets).
    pub idempotency_key: Option<String>,
    /// Qonto's trace id, when returned.
    pub trace_id: Option<String>,
    /// Outcome class.
    pub outcome: CallOutcome,
}

/// Where call records go. The database-backed audit log implements this later.
pub trait AuditSink: Send + Sync {
    /// Records one call. Must not block for long: it runs on the request path.
    fn record(&self, entry: QontoCallRecord);
}

/// Default sink: one `tracing` event per call (target `billbridge::qonto::audit`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingAuditSink;

impl AuditSink for TracingAuditSink {
    fn record(&self, e: QontoCallRecord) {
        let duration_ms = u64::try_from(e.duration.as_millis()).unwrap_or(u64::MAX);
        let outcome = match e.outcome {
            CallOutcome::Success => "success".to_owned(),
            CallOutcome::Failed(class) => format!("{class:?}"),
        };
        tracing::info!(
            target: "billbridge::qonto::audit",
            org_id = %e.organization_id,
            method = %e.method,
            path = %e.path,
            attempt = e.attempt,
            status = e.status,
            duration_ms,
            idempotency_key = e.idempotency_key.as_deref(),
            trace_id = e.trace_id.as_deref(),
            outcome = %outcome,
            "qonto call"
        );
    }
}

/// A sink that keeps records in memory (tests, diagnostics).
#[derive(Debug, Default)]
pub struct MemoryAuditSink {
    records: std::sync::Mutex<Vec<QontoCallRecord>>,
}

impl MemoryAuditSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the records so far.
    pub fn records(&self) -> Vec<QontoCallRecord> {
        match self.records.lock() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl AuditSink for MemoryAuditSink {
    fn record(&self, entry: QontoCallRecord) {
        match self.records.lock() {
            Ok(mut r) => r.push(entry),
            Err(poisoned) => poisoned.into_inner().push(entry),
        }
    }
}
