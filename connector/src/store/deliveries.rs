//! Outcome events and their deliveries: what the API and CLI list, show and replay, and what
//! the dispatcher claims (with a lease) and records (every attempt).
//!
//! Claiming: PostgreSQL uses `FOR UPDATE … SKIP LOCKED`, so several instances never take the
//! same delivery; SQLite claims inside the single-writer transaction. A delivery is claimable
//! when it is pending, due, not leased (or its lease ran out: its instance died), its endpoint is
//! enabled, and no earlier event of the same bill to the same endpoint is still pending
//! (per-bill order: a `bill.paid` never overtakes that bill's `bill.payment_submitted`).

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use serde::{Deserialize, Serialize};

use super::audit::{append, AuditEntry};
use super::entities::{delivery, delivery_attempt, event, source};
use super::{now, Scoped, Store, StoreError};
use crate::events::delivery_status as status;
use crate::ids::{DeliveryId, OrgId, SourceId};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// An event as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventView {
    /// `msg_…`: the `webhook-id` header of its deliveries.
    pub id: String,
    /// `bill.received`, `bill.paid`…
    #[serde(rename = "type")]
    pub event_type: String,
    pub source_id: Option<String>,
    pub bill_id: Option<String>,
    pub run_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The exact body sent (`{"type", "timestamp", "data"}`).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// A page of events, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// Filters for listing events.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct EventFilter {
    pub bill_id: Option<String>,
    pub run_id: Option<String>,
    /// An event type, e.g. `bill.paid`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Events recorded at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Page size (default 50, at most 500).
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A delivery (one event to one endpoint) as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// `dlv_…`.
    pub id: String,
    /// The event (`msg_…`), sent as `webhook-id`.
    pub event_id: String,
    pub event_type: String,
    pub source_id: String,
    pub bill_id: Option<String>,
    /// The endpoint when the event was recorded (attempts go to the source's current callback).
    pub url: String,
    /// `pending`, `delivered`, `dead`, `canceled`.
    pub status: String,
    /// Attempts made so far (all rounds, replays included).
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The HTTP status answered, absent when no answer came (connection error, timeout).
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    /// The first 20 KB of the answer's body.
    pub response_body: Option<String>,
    /// What went wrong, when something did.
    pub error: Option<String>,
}

/// A delivery with its event and every attempt, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    pub delivery: DeliveryView,
    pub event: EventView,
    pub attempts: Vec<AttemptView>,
}

/// A page of deliveries, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}

/// Filters for listing deliveries.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct DeliveryFilter {
    /// `pending`, `delivered`, `dead` or `canceled`.
    pub status: Option<String>,
    pub bill_id: Option<String>,
    pub source_id: Option<String>,
    pub event_id: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn event_view(m: &event::Model) -> EventView {
    EventView {
        id: m.id.clone(),
        event_type: m.event_type.clone(),
        source_id: m.source_id.clone(),
        bill_id: m.bill_id.clone(),
        run_id: m.run_id.clone(),
        created_at: m.created_at,
        payload: serde_json::from_str(&m.payload).unwrap_or(serde_json::Value::Null),
    }
}

fn delivery_view(m: &delivery::Model) -> DeliveryView {
    DeliveryView {
        id: m.id.clone(),
        event_id: m.event_id.clone(),
        event_type: m.event_type.clone(),
        source_id: m.source_id.clone(),
        bill_id: m.bill_id.clone(),
        url: m.url.clone(),
        status: m.status.clone(),
        attempts: m.attempts,
        next_attempt_at: (m.status == status::PENDING).then_some(m.next_attempt_at),
        last_status_code: m.last_status_code,
        last_error: m.last_error.clone(),
        created_at: m.created_at,
        updated_at: m.updated_at,
        delivered_at: m.delivered_at,
    }
}

fn attempt_view(m: delivery_attempt::Model) -> AttemptView {
    AttemptView {
        id: m.id,
        at: m.at,
        status_code: m.status_code,
        duration_ms: m.duration_ms,
        response_body: m.response_body,
        error: m.error,
    }
}

impl Scoped<'_> {
    /// The organization's events, newest first.
    pub async fn list_events(&self, f: &EventFilter) -> Result<EventPage, StoreError> {
        let limit = f.limit.unwrap_or(50).clamp(1, 500);
        let mut q = event::Entity::find()
            .filter(event::Column::OrgId.eq(self.org.to_string()))
            .order_by_desc(event::Column::Id)
            .limit(limit + 1);
        if let Some(b) = &f.bill_id {
            q = q.filter(event::Column::BillId.eq(b.clone()));
        }
        if let Some(r) = &f.run_id {
            q = q.filter(event::Column::RunId.eq(r.clone()));
        }
        if let Some(t) = &f.event_type {
            q = q.filter(event::Column::EventType.eq(t.clone()));
        }
        if let Some(since) = f.since {
            q = q.filter(event::Column::CreatedAt.gte(since));
        }
        if let Some(c) = &f.cursor {
            q = q.filter(event::Column::Id.lt(c.clone()));
        }
        let mut rows = q.all(self.store.connection()).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
        Ok(EventPage {
            events: rows.iter().map(event_view).collect(),
            next_cursor,
        })
    }

    /// The organization's deliveries, newest first.
    pub async fn list_deliveries(&self, f: &DeliveryFilter) -> Result<DeliveryPage, StoreError> {
        let limit = f.limit.unwrap_or(50).clamp(1, 500);
        let mut q = delivery::Entity::find()
            .filter(delivery::Column::OrgId.eq(self.org.to_string()))
            .order_by_desc(delivery::Column::Id)
            .limit(limit + 1);
        if let Some(s) = &f.status {
            q = q.filter(delivery::Column::Status.eq(s.clone()));
        }
        if let Some(b) = &f.bill_id {
            q = q.filter(delivery::Column::BillId.eq(b.clone()));
        }
        if let Some(s) = &f.source_id {
            q = q.filter(delivery::Column::SourceId.eq(s.clone()));
        }
        if let Some(e) = &f.event_id {
            q = q.filter(delivery::Column::EventId.eq(e.clone()));
        }
        if let Some(c) = &f.cursor {
            q = q.filter(delivery::Column::Id.lt(c.clone()));
        }
        let mut rows = q.all(self.store.connection()).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
        Ok(DeliveryPage {
            deliveries: rows.iter().map(delivery_view).collect(),
            next_cursor,
        })
    }

    async fn delivery_model<C: ConnectionTrait>(
        &self,
        conn: &C,
        id: &DeliveryId,
    ) -> Result<delivery::Model, StoreError> {
        delivery::Entity::find_by_id(id.to_string())
            .filter(delivery::Column::OrgId.eq(self.org.to_string()))
            .one(conn)
            .await?
            .ok_or(StoreError::NotFound("delivery"))
    }

    /// One delivery with its event and every attempt.
    pub async fn get_delivery(&self, id: &DeliveryId) -> Result<DeliveryDetail, StoreError> {
        let conn = self.store.connection();
        let d = self.delivery_model(conn, id).await?;
        let e = event::Entity::find_by_id(d.event_id.clone())
            .filter(event::Column::OrgId.eq(self.org.to_string()))
            .one(conn)
            .await?
            .ok_or(StoreError::NotFound("event"))?;
        let attempts = delivery_attempt::Entity::find()
            .filter(delivery_attempt::Column::DeliveryId.eq(d.id.clone()))
            .filter(delivery_attempt::Column::OrgId.eq(self.org.to_string()))
            .order_by_asc(delivery_attempt::Column::Id)
            .all(conn)
            .await?
            .into_iter()
            .map(attempt_view)
            .collect();
        Ok(DeliveryDetail {
            delivery: delivery_view(&d),
            event: event_view(&e),
            attempts,
        })
    }

    /// Send a delivery again now, with the same `webhook-id` (whatever its status); if that
    /// attempt fails, the retry schedule starts over. Refused while its endpoint is disabled
    /// (enable it first) or while an attempt is in flight.
    pub async fn replay_delivery(
        &self,
        id: &DeliveryId,
        actor: &str,
    ) -> Result<DeliveryView, StoreError> {
        let w = self.store.begin_write().await?;
        let d = self.delivery_model(&w.txn, id).await?;
        let src = source::Entity::find_by_id(d.source_id.clone())
            .filter(source::Column::OrgId.eq(self.org.to_string()))
            .one(&w.txn)
            .await?
            .ok_or(StoreError::NotFound("source"))?;
        if src.callback_url.is_none() {
            return Err(StoreError::Conflict(
                "the source has no callback URL any more".into(),
            ));
        }
        if src.callback_disabled_at.is_some() {
            return Err(StoreError::Conflict(
                "the source's callback is disabled; enable it first \
                 (POST /v1/sources/{id}/callback/enable)"
                    .into(),
            ));
        }
        let at = now();
        if d.status == status::PENDING && d.locked_until.is_some_and(|u| u > at) {
            return Err(StoreError::Conflict(
                "an attempt of this delivery is in progress".into(),
            ));
        }
        let from = d.status.clone();
        let mut am: delivery::ActiveModel = d.clone().into();
        am.status = Set(status::PENDING.into());
        am.round_attempts = Set(0);
        am.next_attempt_at = Set(at);
        am.locked_by = Set(None);
        am.locked_until = Set(None);
        am.updated_at = Set(at);
        let updated = am.update(&w.txn).await?;
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(self.org.clone()),
                actor: actor.to_string(),
                action: "delivery.replayed".into(),
                bill_id: d.bill_id.clone(),
                source_id: Some(d.source_id.clone()),
                details: serde_json::json!({
                    "delivery_id": d.id, "event_id": d.event_id, "from": from,
                }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        crate::events::wake();
        Ok(delivery_view(&updated))
    }

    /// Turn a source's outcome webhooks back on. With `redeliver` (the default in the API), its
    /// paused pending deliveries go out in order and its dead ones are queued again (with a
    /// fresh retry schedule); without, both are canceled and only new events are sent.
    pub async fn enable_callback(
        &self,
        id: &SourceId,
        redeliver: bool,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let w = self.store.begin_write().await?;
        let src = source::Entity::find_by_id(id.to_string())
            .filter(source::Column::OrgId.eq(self.org.to_string()))
            .one(&w.txn)
            .await?
            .ok_or(StoreError::NotFound("source"))?;
        if src.callback_url.is_none() {
            return Err(StoreError::Conflict(
                "this source has no callback; set one with PUT /v1/sources/{id}/callback".into(),
            ));
        }
        let at = now();
        let was = src.callback_disabled_reason.clone();
        let mut am: source::ActiveModel = src.into();
        am.callback_disabled_at = Set(None);
        am.callback_disabled_reason = Set(None);
        am.callback_failing_since = Set(None);
        am.updated_at = Set(at);
        am.update(&w.txn).await?;
        let base = delivery::Entity::update_many()
            .filter(delivery::Column::OrgId.eq(self.org.to_string()))
            .filter(delivery::Column::SourceId.eq(id.to_string()));
        let affected = if redeliver {
            base.col_expr(delivery::Column::Status, Expr::value(status::PENDING))
                .col_expr(delivery::Column::RoundAttempts, Expr::value(0))
                .col_expr(delivery::Column::NextAttemptAt, Expr::value(at))
                .col_expr(delivery::Column::UpdatedAt, Expr::value(at))
                .filter(delivery::Column::Status.eq(status::DEAD))
                .exec(&w.txn)
                .await?
                .rows_affected
        } else {
            base.col_expr(delivery::Column::Status, Expr::value(status::CANCELED))
                .col_expr(delivery::Column::UpdatedAt, Expr::value(at))
                .filter(delivery::Column::Status.is_in([status::DEAD, status::PENDING]))
                .exec(&w.txn)
                .await?
                .rows_affected
        };
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(self.org.clone()),
                actor: actor.to_string(),
                action: "source.callback_enabled".into(),
                source_id: Some(id.to_string()),
                details: serde_json::json!({
                    "redeliver": redeliver,
                    "was_disabled_because": was,
                    "deliveries_affected": affected,
                }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        crate::events::wake();
        Ok(affected)
    }
}

/// A delivery the dispatcher has claimed, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery: delivery::Model,
    /// The exact body to send.
    pub body: String,
    pub source: source::Model,
}

/// What an attempt gave.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub duration_ms: i64,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// What happens to a delivery after an attempt (decided by the dispatcher).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptDecision {
    /// 2xx.
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// 410 Gone: the endpoint is disabled; the delivery stays pending (paused) with the others.
    Gone,
    /// The retry schedule is exhausted: the delivery is dead and the endpoint disabled.
    Dead,
}

impl Store {
    /// Claim up to `limit` due deliveries for `worker`, leased for `lease`.
    pub async fn claim_deliveries(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let w = self.begin_write().await?;
        let at = now();
        let backend = self.backend();
        let (p1, p2, p3, p4) = match backend {
            DatabaseBackend::Postgres => ("$1", "$2", "$3", "$4"),
            _ => ("?", "?", "?", "?"),
        };
        let lock = if backend == DatabaseBackend::Postgres {
            " FOR UPDATE OF d SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "SELECT d.id FROM deliveries d JOIN sources s ON s.id = d.source_id \
             WHERE d.status = {p1} AND d.next_attempt_at <= {p2} \
             AND (d.locked_until IS NULL OR d.locked_until < {p3}) \
             AND s.callback_url IS NOT NULL AND s.callback_disabled_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.source_id = d.source_id \
               AND p.bill_id = d.bill_id AND p.status = {p4} AND p.event_id < d.event_id) \
             ORDER BY d.next_attempt_at, d.event_id LIMIT {limit}{lock}"
        );
        let values: Vec<sea_orm::Value> = vec![
            status::PENDING.into(),
            at.into(),
            at.into(),
            status::PENDING.into(),
        ];
        let rows = w
            .txn
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<String>("", "id"))
            .collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        delivery::Entity::update_many()
            .col_expr(delivery::Column::LockedBy, Expr::value(worker.to_string()))
            .col_expr(delivery::Column::LockedUntil, Expr::value(at + lease))
            .col_expr(delivery::Column::UpdatedAt, Expr::value(at))
            .filter(delivery::Column::Id.is_in(ids.clone()))
            .exec(&w.txn)
            .await?;
        let deliveries = delivery::Entity::find()
            .filter(delivery::Column::Id.is_in(ids))
            .all(&w.txn)
            .await?;
        let mut out = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let e = event::Entity::find_by_id(d.event_id.clone())
                .one(&w.txn)
                .await?
                .ok_or(StoreError::NotFound("event"))?;
            let s = source::Entity::find_by_id(d.source_id.clone())
                .one(&w.txn)
                .await?
                .ok_or(StoreError::NotFound("source"))?;
            out.push(ClaimedDelivery {
                delivery: d,
                body: e.payload,
                source: s,
            });
        }
        w.commit().await?;
        out.sort_by(|a, b| a.delivery.event_id.cmp(&b.delivery.event_id));
        Ok(out)
    }

    /// Store an attempt and apply `decision`: the delivery's new state, and the endpoint's
    /// (failing since, disabled) with an audit entry when it is disabled. When `worker` no
    /// longer holds the lease (it ran out and another instance took over), only the attempt is
    /// stored.
    pub async fn record_attempt(
        &self,
        worker: &str,
        claimed: &ClaimedDelivery,
        attempt: AttemptRecord,
        decision: AttemptDecision,
    ) -> Result<(), StoreError> {
        let d = &claimed.delivery;
        let w = self.begin_write().await?;
        let org: OrgId = d.org_id.parse().map_err(corrupt)?;
        delivery_attempt::ActiveModel {
            delivery_id: Set(d.id.clone()),
            org_id: Set(d.org_id.clone()),
            at: Set(attempt.at),
            status_code: Set(attempt.status_code.map(i32::from)),
            duration_ms: Set(attempt.duration_ms),
            response_body: Set(attempt.response_body.clone()),
            error: Set(attempt.error.clone()),
            ..Default::default()
        }
        .insert(&w.txn)
        .await?;
        let Some(current) = delivery::Entity::find_by_id(d.id.clone())
            .filter(delivery::Column::LockedBy.eq(worker))
            .filter(delivery::Column::Status.eq(status::PENDING))
            .one(&w.txn)
            .await?
        else {
            w.commit().await?;
            return Ok(());
        };
        let at = now();
        let mut am: delivery::ActiveModel = current.clone().into();
        am.attempts = Set(current.attempts + 1);
        am.round_attempts = Set(current.round_attempts + 1);
        am.last_status_code = Set(attempt.status_code.map(i32::from));
        am.last_error = Set(attempt.error.clone());
        am.locked_by = Set(None);
        am.locked_until = Set(None);
        am.updated_at = Set(at);
        if current.url != claimed.source.callback_url.clone().unwrap_or_default() {
            if let Some(u) = &claimed.source.callback_url {
                am.url = Set(u.clone());
            }
        }
        let src = source::Entity::find_by_id(d.source_id.clone())
            .one(&w.txn)
            .await?
            .ok_or(StoreError::NotFound("source"))?;
        let mut disable: Option<String> = None;
        let mut failing_since = src.callback_failing_since;
        match &decision {
            AttemptDecision::Delivered => {
                am.status = Set(status::DELIVERED.into());
                am.delivered_at = Set(Some(at));
                failing_since = None;
            }
            AttemptDecision::Retry(next) => {
                am.next_attempt_at = Set(*next);
                failing_since.get_or_insert(attempt.at);
            }
            AttemptDecision::Gone => {
                am.next_attempt_at = Set(at);
                am.round_attempts = Set(0);
                failing_since.get_or_insert(attempt.at);
                disable = Some("the endpoint answered 410 Gone".into());
            }
            AttemptDecision::Dead => {
                am.status = Set(status::DEAD.into());
                let since = *failing_since.get_or_insert(attempt.at);
                disable = Some(format!(
                    "delivery {} failed {} times in a row since {} (last: {})",
                    d.id,
                    current.round_attempts + 1,
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    attempt
                        .status_code
                        .map(|c| format!("HTTP {c}"))
                        .or_else(|| attempt.error.clone())
                        .unwrap_or_default()
                ));
                append(
                    &w.txn,
                    AuditEntry {
                        org_id: Some(org.clone()),
                        actor: "webhooks".into(),
                        action: "delivery.dead".into(),
                        bill_id: d.bill_id.clone(),
                        source_id: Some(d.source_id.clone()),
                        details: serde_json::json!({
                            "delivery_id": d.id, "event_id": d.event_id,
                            "event_type": d.event_type, "attempts": current.attempts + 1,
                            "last_status_code": attempt.status_code, "last_error": attempt.error,
                        }),
                        ..Default::default()
                    },
                )
                .await?;
            }
        }
        am.update(&w.txn).await?;
        let mut sam: source::ActiveModel = src.clone().into();
        let mut changed = false;
        if failing_since != src.callback_failing_since {
            sam.callback_failing_since = Set(failing_since);
            changed = true;
        }
        if let Some(reason) = &disable {
            if src.callback_disabled_at.is_none() {
                sam.callback_disabled_at = Set(Some(at));
                sam.callback_disabled_reason = Set(Some(reason.clone()));
                changed = true;
                append(
                    &w.txn,
                    AuditEntry {
                        org_id: Some(org.clone()),
                        actor: "webhooks".into(),
                        action: "source.callback_disabled".into(),
                        source_id: Some(d.source_id.clone()),
                        details: serde_json::json!({
                            "reason": reason, "url": claimed.source.callback_url,
                            "delivery_id": d.id,
                        }),
                        ..Default::default()
                    },
                )
                .await?;
            }
        }
        if changed {
            sam.updated_at = Set(at);
            sam.update(&w.txn).await?;
        }
        w.commit().await?;
        if let Some(reason) = disable {
            tracing::warn!(org_id = %org, source_id = %d.source_id, %reason,
                "outcome webhooks to this source are disabled until a person enables them");
        }
        Ok(())
    }

    /// Give back the deliveries a worker holds (shutdown): another instance may take them now.
    pub async fn release_deliveries(&self, worker: &str) -> Result<u64, StoreError> {
        let w = self.begin_write().await?;
        let res = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::LockedBy,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                delivery::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(delivery::Column::LockedBy.eq(worker))
            .filter(delivery::Column::Status.eq(status::PENDING))
            .exec(&w.txn)
            .await?;
        w.commit().await?;
        Ok(res.rows_affected)
    }
}
