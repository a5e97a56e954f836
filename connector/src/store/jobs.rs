//! The job outbox (DESIGN §3.4): jobs are enqueued in the same transaction as the state change
//! that needs them; workers claim them with a lease (heartbeat to extend it), so a crashed
//! worker's job is taken again once its lease runs out; failures retry with exponential backoff
//! and the job is `dead` after `max_attempts`.
//!
//! Claiming: PostgreSQL uses `FOR UPDATE SKIP LOCKED` so several instances never take the same
//! job; SQLite claims inside the single-writer transaction, which serialises claims.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Set,
    Statement,
};
use serde::{Deserialize, Serialize};

use super::entities::job;
use super::{now, Store, StoreError};
use crate::ids::{JobId, OrgId};

/// Job states.
pub mod state {
    pub const QUEUED: &str = "queued";
    pub const RUNNING: &str = "running";
    pub const DONE: &str = "done";
    pub const DEAD: &str = "dead";
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub org_id: Option<OrgId>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i32,
}

impl NewJob {
    pub fn now(kind: &str, org_id: Option<OrgId>, payload: serde_json::Value) -> NewJob {
        NewJob {
            org_id,
            kind: kind.to_string(),
            payload,
            run_at: now(),
            max_attempts: 10,
        }
    }
}

/// A claimed job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub org_id: Option<String>,
    pub kind: String,
    pub payload: serde_json::Value,
    /// 1 for the first run.
    pub attempt: i32,
    pub max_attempts: i32,
    pub locked_until: DateTime<Utc>,
}

/// Enqueue inside the caller's transaction.
pub async fn enqueue<C: ConnectionTrait>(conn: &C, j: NewJob) -> Result<JobId, StoreError> {
    let id = JobId::new();
    let at = now();
    job::ActiveModel {
        id: Set(id.to_string()),
        org_id: Set(j.org_id.map(|o| o.to_string())),
        kind: Set(j.kind),
        payload: Set(j.payload.to_string()),
        status: Set(state::QUEUED.into()),
        attempts: Set(0),
        max_attempts: Set(j.max_attempts.max(1)),
        run_at: Set(j.run_at),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(conn)
    .await?;
    Ok(id)
}

/// Exponential backoff with ±20 % jitter: 2 s, 4 s, 8 s… capped at one hour.
pub fn backoff(attempt: i32) -> Duration {
    let base = 2i64.saturating_pow(attempt.clamp(1, 12) as u32).min(3600);
    let jitter = (base as f64 * 0.2 * (fastrand::f64() * 2.0 - 1.0)) as i64;
    Duration::seconds((base + jitter).max(1))
}

impl Store {
    /// Claim the next due job of one of `kinds`: queued and due, or running with an expired
    /// lease (its worker died). Returns `None` when there is nothing to do.
    pub async fn claim_job(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let w = self.begin_write().await?;
        let at = now();
        let backend = self.backend();
        let placeholders = |start: usize| {
            (0..kinds.len())
                .map(|i| match backend {
                    DatabaseBackend::Postgres => format!("${}", start + i),
                    _ => "?".to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Placeholders in the order they appear in the SQL (SQLite's `?` are positional).
        let (p_queued, p_now, p_running, p_now2) = match backend {
            DatabaseBackend::Postgres => ("$1", "$2", "$3", "$4"),
            _ => ("?", "?", "?", "?"),
        };
        let lock = if backend == DatabaseBackend::Postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id FROM jobs WHERE ((status = {p_queued} AND run_at <= {p_now}) \
             OR (status = {p_running} AND locked_until < {p_now2})) AND kind IN ({}) \
             ORDER BY run_at LIMIT 1{lock}",
            placeholders(5)
        );
        let mut values: Vec<sea_orm::Value> = vec![
            state::QUEUED.into(),
            at.into(),
            state::RUNNING.into(),
            at.into(),
        ];
        values.extend(kinds.iter().map(|k| sea_orm::Value::from(k.to_string())));
        let row = w
            .txn
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id: String = row.try_get("", "id")?;
        let m = job::Entity::find_by_id(id)
            .one(&w.txn)
            .await?
            .ok_or(StoreError::NotFound("job"))?;
        let until = at + lease;
        let mut am: job::ActiveModel = m.clone().into();
        am.status = Set(state::RUNNING.into());
        // A job retaken after its worker died (lease expired while `running`) does not count
        // as a new attempt: a crash is not the job's failure, and a run of crashes must not
        // kill a payment job. Jobs that fail count through `fail_job`.
        let retaken = m.status == state::RUNNING;
        am.attempts = Set(if retaken { m.attempts } else { m.attempts + 1 });
        am.locked_by = Set(Some(worker.to_string()));
        am.locked_until = Set(Some(until));
        am.updated_at = Set(at);
        let m = am.update(&w.txn).await?;
        w.commit().await?;
        Ok(Some(Job {
            id: m.id,
            org_id: m.org_id,
            kind: m.kind,
            payload: serde_json::from_str(&m.payload)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            attempt: m.attempts,
            max_attempts: m.max_attempts,
            locked_until: until,
        }))
    }

    /// Extend the lease of a job this worker holds; false if the lease was lost.
    pub async fn heartbeat_job(
        &self,
        id: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let w = self.begin_write().await?;
        let res = job::Entity::update_many()
            .col_expr(
                job::Column::LockedUntil,
                sea_orm::sea_query::Expr::value(now() + lease),
            )
            .filter(job::Column::Id.eq(id))
            .filter(job::Column::LockedBy.eq(worker))
            .filter(job::Column::Status.eq(state::RUNNING))
            .exec(&w.txn)
            .await?;
        w.commit().await?;
        Ok(res.rows_affected == 1)
    }

    /// Mark a job done (only by the worker holding it).
    pub async fn complete_job(&self, id: &str, worker: &str) -> Result<bool, StoreError> {
        let w = self.begin_write().await?;
        let res = job::Entity::update_many()
            .col_expr(
                job::Column::Status,
                sea_orm::sea_query::Expr::value(state::DONE),
            )
            .col_expr(
                job::Column::LockedUntil,
                sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                job::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(now()),
            )
            .filter(job::Column::Id.eq(id))
            .filter(job::Column::LockedBy.eq(worker))
            .filter(job::Column::Status.eq(state::RUNNING))
            .exec(&w.txn)
            .await?;
        w.commit().await?;
        Ok(res.rows_affected == 1)
    }

    /// Record a failure: retry after a backoff (or `retry_after`), or `dead` after the last attempt.
    pub async fn fail_job(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        retry_after: Option<Duration>,
    ) -> Result<&'static str, StoreError> {
        let w = self.begin_write().await?;
        let m = job::Entity::find_by_id(id.to_string())
            .filter(job::Column::LockedBy.eq(worker))
            .filter(job::Column::Status.eq(state::RUNNING))
            .one(&w.txn)
            .await?
            .ok_or(StoreError::NotFound("running job held by this worker"))?;
        let dead = m.attempts >= m.max_attempts;
        let next = if dead { state::DEAD } else { state::QUEUED };
        let mut am: job::ActiveModel = m.clone().into();
        am.status = Set(next.into());
        am.run_at = Set(now() + retry_after.unwrap_or_else(|| backoff(m.attempts)));
        am.locked_by = Set(None);
        am.locked_until = Set(None);
        am.last_error = Set(Some(error.chars().take(2000).collect()));
        am.updated_at = Set(now());
        am.update(&w.txn).await?;
        w.commit().await?;
        Ok(next)
    }

    /// Put a job back in the queue to run at `run_at` without counting the run as a failed
    /// attempt (a poll that found nothing final yet: SCA still waiting, transfers pending).
    pub async fn snooze_job(
        &self,
        id: &str,
        worker: &str,
        run_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let w = self.begin_write().await?;
        let res = job::Entity::update_many()
            .col_expr(
                job::Column::Status,
                sea_orm::sea_query::Expr::value(state::QUEUED),
            )
            .col_expr(job::Column::RunAt, sea_orm::sea_query::Expr::value(run_at))
            .col_expr(
                job::Column::LockedBy,
                sea_orm::sea_query::Expr::value(Option::<String>::None),
            )
            .col_expr(
                job::Column::LockedUntil,
                sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                job::Column::Attempts,
                sea_orm::sea_query::ExprTrait::sub(
                    sea_orm::sea_query::Expr::col(job::Column::Attempts),
                    1,
                ),
            )
            .col_expr(
                job::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(now()),
            )
            .filter(job::Column::Id.eq(id))
            .filter(job::Column::LockedBy.eq(worker))
            .filter(job::Column::Status.eq(state::RUNNING))
            .exec(&w.txn)
            .await?;
        w.commit().await?;
        Ok(res.rows_affected == 1)
    }

    /// Give back the jobs a worker holds (graceful shutdown): they run again at once elsewhere.
    pub async fn release_jobs(&self, worker: &str) -> Result<u64, StoreError> {
        let w = self.begin_write().await?;
        let res = job::Entity::update_many()
            .col_expr(
                job::Column::Status,
                sea_orm::sea_query::Expr::value(state::QUEUED),
            )
            .col_expr(
                job::Column::LockedBy,
                sea_orm::sea_query::Expr::value(Option::<String>::None),
            )
            .col_expr(
                job::Column::LockedUntil,
                sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                job::Column::Attempts,
                sea_orm::sea_query::ExprTrait::sub(
                    sea_orm::sea_query::Expr::col(job::Column::Attempts),
                    1,
                ),
            )
            .filter(job::Column::LockedBy.eq(worker))
            .filter(job::Column::Status.eq(state::RUNNING))
            .exec(&w.txn)
            .await?;
        w.commit().await?;
        Ok(res.rows_affected)
    }

    /// A job's current row (for tests and operators).
    pub async fn job_status(&self, id: &str) -> Result<(String, i32), StoreError> {
        let m = job::Entity::find_by_id(id.to_string())
            .one(self.connection())
            .await?
            .ok_or(StoreError::NotFound("job"))?;
        Ok((m.status, m.attempts))
    }
}
