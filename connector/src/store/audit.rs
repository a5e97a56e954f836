//! The audit log: append-only; every intake, rejection, state change and Qonto call lands here.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use super::entities::audit_log;
use super::{now, Scoped, StoreError};
use crate::ids::OrgId;

/// One audit entry to write. `details` must never hold a secret or a full IBAN.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub org_id: Option<OrgId>,
    pub actor: String,
    pub action: String,
    pub bill_id: Option<String>,
    pub run_id: Option<String>,
    pub source_id: Option<String>,
    pub details: serde_json::Value,
}

/// An audit entry as read back.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub bill_id: Option<String>,
    pub run_id: Option<String>,
    pub source_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Filters for reading the audit log.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct AuditFilter {
    /// Entries at or after this time (RFC 3339).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Entries before this time (RFC 3339).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub bill_id: Option<String>,
    pub run_id: Option<String>,
    /// Entries with an id below this one (to page backwards).
    pub before_id: Option<i64>,
    /// At most this many entries (default 100, at most 1000).
    pub limit: Option<u64>,
}

/// Append an entry inside the caller's transaction (or on a plain connection).
pub async fn append<C: ConnectionTrait>(conn: &C, e: AuditEntry) -> Result<(), StoreError> {
    audit_log::ActiveModel {
        org_id: Set(e.org_id.map(|o| o.to_string())),
        at: Set(now()),
        actor: Set(e.actor),
        action: Set(e.action),
        bill_id: Set(e.bill_id),
        run_id: Set(e.run_id),
        source_id: Set(e.source_id),
        details: Set(e.details.to_string()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

impl Scoped<'_> {
    /// The organization's audit log, newest first.
    pub async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let mut q = audit_log::Entity::find()
            .filter(audit_log::Column::OrgId.eq(self.org.to_string()))
            .order_by_desc(audit_log::Column::Id)
            .limit(f.limit.unwrap_or(100).clamp(1, 1000));
        if let Some(from) = f.from {
            q = q.filter(audit_log::Column::At.gte(from));
        }
        if let Some(to) = f.to {
            q = q.filter(audit_log::Column::At.lt(to));
        }
        if let Some(b) = &f.bill_id {
            q = q.filter(audit_log::Column::BillId.eq(b.clone()));
        }
        if let Some(r) = &f.run_id {
            q = q.filter(audit_log::Column::RunId.eq(r.clone()));
        }
        if let Some(before) = f.before_id {
            q = q.filter(audit_log::Column::Id.lt(before));
        }
        Ok(q.all(self.store.connection())
            .await?
            .into_iter()
            .map(|m| AuditRecord {
                id: m.id,
                at: m.at,
                actor: m.actor,
                action: m.action,
                bill_id: m.bill_id,
                run_id: m.run_id,
                source_id: m.source_id,
                details: serde_json::from_str(&m.details).unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }
}
