//! Bills: intake (per bill: document, supplier master, dedupe, bill, history, audit, inbound
//! idempotency key and outbox events; group-committed in batches, written with a few
//! multi-row statements per batch, or bill by bill in savepoints when the batch fails, see
//! [`IntakeWriter`]), listing and the actions a person takes (hold, release, cancel).

use adapters::{AssessOptions, Bill, HoldReason};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set,
};
use serde::{Deserialize, Serialize};

use super::audit::{append, AuditEntry};
use super::entities::{
    audit_log, bill, bill_history, document, inbound_key, supplier, supplier_iban,
};
use super::{in_list, insert_runs, now, Scoped, Store, StoreError};
use crate::ids::{BillId, OrgId, SourceId, SupplierId};
use crate::qonto::mask_iban;
use std::sync::Arc;

/// Bill statuses (DESIGN §4).
pub mod status {
    pub const READY: &str = "ready";
    pub const HELD: &str = "held";
    pub const IN_RUN: &str = "in_run";
    pub const SUBMITTED: &str = "submitted";
    pub const PAID: &str = "paid";
    pub const FAILED: &str = "failed";
    pub const CANCELED: &str = "canceled";
}

/// Holds a person may not lift: the bill cannot or must not be paid by transfer at all.
pub const HARD_HOLDS: &[HoldReason] = &[
    HoldReason::CreditNote,
    HoldReason::NonPositiveAmount,
    HoldReason::MissingAmount,
    HoldReason::AmountPrecision,
    HoldReason::DirectDebit,
    HoldReason::CardPayment,
    HoldReason::UnsupportedMeans,
    HoldReason::InvalidIban,
    HoldReason::NoIban,
    HoldReason::NonSepaIban,
    HoldReason::NonEur,
    HoldReason::CurrencyMismatch,
    HoldReason::AlreadyPaid,
    HoldReason::PayerAccount,
    HoldReason::NotAnInvoice,
];

/// A bill as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BillView {
    #[schema(value_type = String)]
    pub id: BillId,
    #[schema(value_type = String)]
    pub source_id: SourceId,
    /// The ERP's id for the bill (or `sha256:…` of the document when it gave none).
    pub external_id: Option<String>,
    /// `ready`, `held`, `in_run`, `submitted`, `paid`, `failed`, `canceled`.
    pub status: String,
    #[schema(value_type = Vec<String>)]
    pub hold_reasons: Vec<HoldReason>,
    #[schema(value_type = Vec<String>)]
    pub warnings: Vec<adapters::Warning>,
    pub syntax: String,
    pub kind: String,
    pub type_code: Option<String>,
    pub number: Option<String>,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub currency: Option<String>,
    /// BT-115 as a decimal string.
    pub amount_due: Option<String>,
    pub seller_name: Option<String>,
    pub seller_vat_id: Option<String>,
    pub seller_siren: Option<String>,
    pub supplier_id: Option<String>,
    /// The name the transfer and Verification of Payee use (payee, else seller).
    pub creditor_name: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    pub payment_reference: Option<String>,
    /// SHA-256 of the original document (stored content-addressed).
    pub document_sha256: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One step of a bill's history.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor: String,
    pub reason: Option<String>,
}

/// What intake hands to the store.
pub struct NewBill<'a> {
    pub org_id: &'a OrgId,
    pub source_id: &'a SourceId,
    pub external_id: Option<String>,
    pub webhook_id: Option<String>,
    pub content_type: &'a str,
    pub body: &'a [u8],
    pub body_sha256: String,
    pub bill: Bill,
    pub actor: &'a str,
}

/// Whether intake created a bill or found it already there.
#[derive(Debug, Clone)]
pub enum IntakeOutcome {
    Created(BillView),
    Existing(BillView),
}

/// Filters for listing bills.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct BillFilter {
    /// Only bills in this status.
    pub status: Option<String>,
    /// Only this supplier's bills.
    pub supplier_id: Option<String>,
    /// Only bills due on or before this date.
    pub due_before: Option<NaiveDate>,
    /// Only bills from this source.
    pub source_id: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The snake_case code serde gives a unit enum variant (`HoldReason::IbanChanged` → `iban_changed`).
pub fn code<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(crate) fn to_view(m: &bill::Model) -> Result<BillView, StoreError> {
    Ok(BillView {
        id: m.id.parse().map_err(corrupt)?,
        source_id: m.source_id.parse().map_err(corrupt)?,
        external_id: m.external_id.clone(),
        status: m.status.clone(),
        hold_reasons: serde_json::from_str(&m.hold_reasons).map_err(corrupt)?,
        warnings: serde_json::from_str(&m.warnings).map_err(corrupt)?,
        syntax: m.syntax.clone(),
        kind: m.kind.clone(),
        type_code: m.type_code.clone(),
        number: m.number.clone(),
        issue_date: m.issue_date,
        due_date: m.due_date,
        currency: m.currency.clone(),
        amount_due: m.amount_due.clone(),
        seller_name: m.seller_name.clone(),
        seller_vat_id: m.seller_vat_id.clone(),
        seller_siren: m.seller_siren.clone(),
        supplier_id: m.supplier_id.clone(),
        creditor_name: m.creditor_name.clone(),
        iban: m.iban.clone(),
        bic: m.bic.clone(),
        payment_reference: m.payment_reference.clone(),
        document_sha256: m.document_sha256.clone(),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// How a supplier is recognised across bills and sources: VAT id, else SIREN, else name.
pub fn supplier_identity(b: &Bill) -> Option<String> {
    let compact = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_uppercase)
            .collect()
    };
    if let Some(vat) = b
        .seller
        .vat_id
        .as_deref()
        .map(compact)
        .filter(|v| !v.is_empty())
    {
        return Some(format!("vat:{vat}"));
    }
    if let Some(siren) = b.seller.siren() {
        return Some(format!("siren:{siren}"));
    }
    let name = b
        .seller
        .name
        .as_deref()
        .or(b.seller.trading_name.as_deref())?;
    let name: String = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (!name.is_empty()).then(|| format!("name:{name}"))
}

fn cents(amount: Decimal) -> Option<i64> {
    let c = (amount * Decimal::ONE_HUNDRED).trunc();
    i64::try_from(c).ok()
}

pub(crate) async fn history<C: ConnectionTrait>(
    conn: &C,
    bill_id: &str,
    org_id: &str,
    from: Option<&str>,
    to: &str,
    actor: &str,
    reason: Option<String>,
) -> Result<(), StoreError> {
    bill_history::ActiveModel {
        bill_id: Set(bill_id.to_string()),
        org_id: Set(org_id.to_string()),
        at: Set(now()),
        from_status: Set(from.map(str::to_string)),
        to_status: Set(to.to_string()),
        actor: Set(actor.to_string()),
        reason: Set(reason),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The most bills one intake transaction records.
const MAX_BATCH: usize = 64;

/// A bill waiting for the intake writer (owned: it crosses a channel).
struct PendingBill {
    org_id: OrgId,
    source_id: SourceId,
    external_id: Option<String>,
    webhook_id: Option<String>,
    content_type: String,
    body: Vec<u8>,
    body_sha256: String,
    bill: Bill,
    actor: String,
}

impl From<NewBill<'_>> for PendingBill {
    fn from(n: NewBill<'_>) -> Self {
        PendingBill {
            org_id: n.org_id.clone(),
            source_id: n.source_id.clone(),
            external_id: n.external_id,
            webhook_id: n.webhook_id,
            content_type: n.content_type.to_string(),
            body: n.body.to_vec(),
            body_sha256: n.body_sha256,
            bill: n.bill,
            actor: n.actor.to_string(),
        }
    }
}

type Answer = tokio::sync::oneshot::Sender<Result<IntakeOutcome, StoreError>>;
type IntakeQueue = tokio::sync::mpsc::UnboundedReceiver<(PendingBill, Answer)>;

/// Intake writers per store on PostgreSQL (SQLite has one: one write transaction at a time).
/// Measured with 5,000 bills from 32 clients: 1 writer 1,323/s, 2 writers 1,506/s, 4 writers
/// 1,357/s (BENCHMARKS.md).
const PG_WRITERS: usize = 2;

/// Group commit of intake: writer tasks per store take the bills waiting in their queue and
/// record them in one transaction (one fsync) per batch, with a few multi-row statements per
/// batch, in arrival order (a bill sees what the ones before it in the batch wrote: repeats,
/// the supplier's first IBAN, duplicates). Every caller gets its answer after the commit,
/// never before.
///
/// The writers run on a thread of their own, started by the first bill (and again should they
/// have stopped); they end when the store's last handle is dropped. SQLite has one writer;
/// PostgreSQL has [`PG_WRITERS`] sharing the queue, so that one batch's commit overlaps the
/// next batch's statements.
#[derive(Default)]
pub(crate) struct IntakeWriter {
    queue: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<(PendingBill, Answer)>>>,
}

impl IntakeWriter {
    fn submit(&self, store: &Store, job: (PendingBill, Answer)) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let job = match queue.as_ref() {
            Some(q) => match q.send(job) {
                Ok(()) => return,
                Err(tokio::sync::mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = tx.send(job);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let writers = if store.write_lock.is_some() {
            1
        } else {
            PG_WRITERS
        };
        // The writers' own store handles have no queue of their own: when the last handle of
        // this store goes, the channel closes and the writers end.
        let handles: Vec<Store> = (0..writers)
            .map(|_| Store {
                db: store.db.clone(),
                write_lock: store.write_lock.clone(),
                intake: Arc::default(),
            })
            .collect();
        // A thread of its own, so that the writers are never queued behind HTTP requests
        // between two statements (their statements are the serial part of intake).
        let spawned = std::thread::Builder::new()
            .name("billbridge-intake".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(futures_util::future::join_all(
                        handles.into_iter().map(|w| w.run_intake_writer(rx.clone())),
                    )),
                    Err(e) => {
                        tracing::error!(error = %e, "intake writer: no runtime");
                        Vec::new()
                    }
                };
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "intake writer: no thread");
        }
        *queue = Some(tx);
    }
}

/// What one bill's savepoint gave: its answer, or the whole transaction is unusable.
type BillResult = Result<IntakeOutcome, StoreError>;

/// Roll back now (not when the connection is next used), so another transaction waiting for
/// this one's rows goes on at once.
async fn abort(w: super::WriteTxn) {
    let super::WriteTxn { txn, _guard } = w;
    if let Err(e) = txn.rollback().await {
        tracing::warn!(error = %e, "intake: rollback failed");
    }
}

/// A deadlock or serialization failure (PostgreSQL): retrying the transaction may succeed.
fn is_deadlock(e: &StoreError) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        StoreError::Db(
            DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e))
            | DbErr::Conn(RuntimeErr::SqlxError(e)),
        ) => e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "40P01" || c == "40001"),
        _ => false,
    }
}

/// What a batch keeps between its bills: the suppliers it has read or created (with their
/// IBANs, kept up to date as it adds some), and the history and audit rows, written in one
/// multi-row insert each at the end of the batch (or of each bill's savepoint).
#[derive(Default)]
struct BatchState {
    /// (organization, identity) → (supplier id, its IBANs).
    suppliers: std::collections::HashMap<(String, String), (String, Vec<supplier_iban::Model>)>,
    history: Vec<bill_history::ActiveModel>,
    audit: Vec<audit_log::ActiveModel>,
}

impl BatchState {
    async fn flush<C: ConnectionTrait>(&mut self, conn: &C) -> Result<(), StoreError> {
        let history = std::mem::take(&mut self.history);
        for run in insert_runs(history, 7) {
            bill_history::Entity::insert_many(run)
                .exec_without_returning(conn)
                .await?;
        }
        let audit = std::mem::take(&mut self.audit);
        for run in insert_runs(audit, 8) {
            audit_log::Entity::insert_many(run)
                .exec_without_returning(conn)
                .await?;
        }
        Ok(())
    }
}

impl Store {
    /// Record an incoming bill. Repeats (same webhook-id, or same source and external id)
    /// return the existing bill; concurrent repeats resolve to exactly one bill. Answers once
    /// the bill is committed (group commit with the other bills arriving meanwhile).
    pub async fn record_bill(&self, new: NewBill<'_>) -> Result<IntakeOutcome, StoreError> {
        let new = PendingBill::from(new);
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.intake.submit(self, (new, tx));
        rx.await.map_err(|_| {
            StoreError::Db(sea_orm::DbErr::Custom(
                "the intake writer stopped before recording the bill".into(),
            ))
        })?
    }

    /// One intake writer: takes what waits in the queue (up to [`MAX_BATCH`] bills) and
    /// records it as one batch, until the queue closes. Several writers share one queue
    /// (PostgreSQL): while one commits, the next gathers and writes the following batch.
    async fn run_intake_writer(self, rx: Arc<tokio::sync::Mutex<IntakeQueue>>) {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        loop {
            let got = rx.lock().await.recv_many(&mut jobs, MAX_BATCH).await;
            if got == 0 {
                return;
            }
            let (bills, answers): (Vec<PendingBill>, Vec<Answer>) = jobs.drain(..).unzip();
            let started = std::time::Instant::now();
            let results = match self.record_batch(&bills).await {
                Ok(results) => results,
                // The transaction itself failed (begin, a savepoint, the commit): nothing of the
                // batch is recorded. Record each bill on its own so each caller gets its answer.
                Err(e) if bills.len() > 1 => {
                    tracing::warn!(error = %e, bills = bills.len(), "intake batch failed; recording its bills one at a time");
                    let mut results = Vec::with_capacity(bills.len());
                    for b in &bills {
                        results.push(match self.record_batch(std::slice::from_ref(b)).await {
                            Ok(mut r) => r.pop().unwrap_or(Err(StoreError::Conflict(
                                "no result for the bill".into(),
                            ))),
                            Err(e) => Err(e),
                        });
                    }
                    results
                }
                Err(e) => vec![Err(e)],
            };
            tracing::debug!(
                bills = bills.len(),
                elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                "intake batch recorded"
            );
            for (answer, result) in answers.into_iter().zip(results) {
                // A caller that went away (client disconnected) finds its bill on a retry.
                let _ = answer.send(result);
            }
        }
    }

    /// One transaction for `bills`. `Err` only when the transaction is unusable (then nothing
    /// was committed); a bill's own failure is its entry's `Err`.
    ///
    /// First the batch-native path ([`Store::record_batch_fast`]: a few multi-row statements
    /// for the whole batch); if a statement fails (a unique violation of a concurrent repeat
    /// from another transaction, …) the transaction is rolled back and the batch recorded again
    /// bill by bill with a savepoint per bill, so that bill's failure undoes only its own writes
    /// and gets its own answer while the others commit.
    async fn record_batch(&self, bills: &[PendingBill]) -> Result<Vec<BillResult>, StoreError> {
        let mut fast = true;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = if fast {
                self.record_batch_fast(bills).await
            } else {
                self.record_batch_with_savepoints(bills).await.map(Some)
            };
            match outcome {
                Ok(Some(results)) => return Ok(results),
                Ok(None) => fast = false,
                // PostgreSQL, another intake transaction waits for a row of this batch while
                // this one waits for one of its rows: the database gave up one of them.
                // Everything was rolled back (the other goes on); again, a bit later.
                Err(e) if is_deadlock(&e) && attempt < 5 => {
                    tracing::debug!(error = %e, attempt, "intake batch: deadlock; again");
                    let jitter = uuid::Uuid::new_v4().as_u128() % 20;
                    let pause = 5 * attempt + u64::try_from(jitter).unwrap_or(0);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    fast = false;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The batch-native path: the look-ups for the whole batch (repeats by webhook-id and by
    /// external id, suppliers and their IBANs, duplicates) in one statement each, everything
    /// resolved in memory in arrival order, then one multi-row insert per table.
    ///
    /// `None`: a statement failed or the batch holds a case this path does not resolve;
    /// nothing was committed (the caller records the batch bill by bill).
    async fn record_batch_fast(
        &self,
        bills: &[PendingBill],
    ) -> Result<Option<Vec<BillResult>>, StoreError> {
        let w = self.begin_write().await?;
        match write_batch(&w.txn, bills).await {
            Ok(Some(results)) => {
                w.commit().await?;
                if results
                    .iter()
                    .any(|r| matches!(r, Ok(IntakeOutcome::Created(_))))
                {
                    crate::events::wake();
                }
                Ok(Some(results))
            }
            Ok(None) => {
                abort(w).await;
                Ok(None)
            }
            Err(e) if is_deadlock(&e) => {
                abort(w).await;
                Err(e)
            }
            Err(e) => {
                tracing::debug!(error = %e, bills = bills.len(), "intake: the batch failed; again bill by bill");
                abort(w).await;
                Ok(None)
            }
        }
    }

    /// The batch bill by bill, each in a savepoint of one transaction.
    async fn record_batch_with_savepoints(
        &self,
        bills: &[PendingBill],
    ) -> Result<Vec<BillResult>, StoreError> {
        let w = self.begin_write().await?;
        let mut batch = BatchState::default();
        let mut results = Vec::with_capacity(bills.len());
        for b in bills {
            match self.record_in_savepoint(&w.txn, b, &mut batch).await {
                Ok(r) => results.push(r),
                Err(e) => {
                    abort(w).await;
                    return Err(e);
                }
            }
        }
        w.commit().await?;
        if results
            .iter()
            .any(|r| matches!(r, Ok(IntakeOutcome::Created(_))))
        {
            crate::events::wake();
        }
        Ok(results)
    }

    async fn record_in_savepoint(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        new: &PendingBill,
        batch: &mut BatchState,
    ) -> Result<BillResult, StoreError> {
        use sea_orm::TransactionTrait;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sp = txn.begin().await?;
            let e = match record_one(&sp, new, batch).await {
                Ok(outcome) => match batch.flush(&sp).await {
                    Ok(()) => {
                        sp.commit().await?;
                        return Ok(Ok(outcome));
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            sp.rollback().await?;
            // What the batch remembered may include this bill's undone writes.
            *batch = BatchState::default();
            if is_deadlock(&e) {
                // The whole batch goes again (see `record_batch`).
                return Err(e);
            }
            if !e.is_unique_violation() {
                return Ok(Err(e));
            }
            // Another transaction (PostgreSQL, or another instance) with the same key won the
            // race: answer with its bill.
            match find_existing(txn, new).await {
                Ok(Some((view, _))) => return Ok(Ok(IntakeOutcome::Existing(view))),
                // Otherwise it created the same supplier or supplier IBAN at the same moment:
                // do it again, the row is there now.
                Ok(None) if attempt < 3 => {}
                Ok(None) => return Ok(Err(e)),
                Err(other) => return Ok(Err(other)),
            }
        }
    }

    /// Keep a rejected payload and say why, so nothing disappears silently.
    pub async fn record_rejection(
        &self,
        org_id: &OrgId,
        source_id: &SourceId,
        content_type: &str,
        body: &[u8],
        code: &str,
        message: &str,
    ) -> Result<String, StoreError> {
        let sha = super::sha256_hex(body);
        let w = self.begin_write().await?;
        if document::Entity::find_by_id(sha.clone())
            .one(&w.txn)
            .await?
            .is_none()
        {
            document::ActiveModel {
                sha256: Set(sha.clone()),
                content_type: Set(content_type.to_string()),
                size: Set(i64::try_from(body.len()).unwrap_or(i64::MAX)),
                content: Set(body.to_vec()),
                created_at: Set(now()),
            }
            .insert(&w.txn)
            .await?;
        }
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(org_id.clone()),
                actor: "intake".into(),
                action: "bill.rejected".into(),
                source_id: Some(source_id.to_string()),
                details: serde_json::json!({ "code": code, "message": message, "document_sha256": sha, "size": body.len() }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        Ok(sha)
    }
}

/// The bill this one repeats (same webhook-id, or same source and external id), and whether
/// its webhook-id is already on record.
///
/// Single-row look-ups use `all()`, not `one()`: `one()` binds its `LIMIT 1` as a parameter,
/// and SQLite then re-prepares the statement on every execution.
async fn find_existing<C: ConnectionTrait>(
    conn: &C,
    new: &PendingBill,
) -> Result<Option<(BillView, bool)>, StoreError> {
    let mut key_known = false;
    if let Some(wid) = &new.webhook_id {
        let key = inbound_key::Entity::find_by_id((new.source_id.to_string(), wid.clone()))
            .all(conn)
            .await?
            .pop();
        if let Some(k) = key {
            key_known = true;
            if k.body_sha256 != new.body_sha256 {
                return Err(StoreError::Conflict(
                    "this webhook-id was already used for a different body".into(),
                ));
            }
            if let Some(bid) = k.bill_id {
                if let Some(b) = bill::Entity::find_by_id(bid).all(conn).await?.pop() {
                    return Ok(Some((to_view(&b)?, true)));
                }
            }
        }
    }
    if let Some(ext) = &new.external_id {
        if let Some(b) = bill::Entity::find()
            .filter(bill::Column::SourceId.eq(new.source_id.to_string()))
            .filter(bill::Column::ExternalId.eq(ext.clone()))
            .all(conn)
            .await?
            .pop()
        {
            return Ok(Some((to_view(&b)?, key_known)));
        }
    }
    Ok(None)
}

/// Record one bill on `txn` (the intake transaction, or the bill's savepoint in it). Its
/// history and audit rows go to `batch`, written at the end.
async fn record_one<C: ConnectionTrait>(
    txn: &C,
    new: &PendingBill,
    batch: &mut BatchState,
) -> Result<IntakeOutcome, StoreError> {
    let org = new.org_id.to_string();
    let source = new.source_id.to_string();

    // 1. Repeats (also of a bill recorded earlier in the same batch).
    if let Some((view, key_known)) = find_existing(txn, new).await? {
        if let (Some(wid), false) = (&new.webhook_id, key_known) {
            insert_key(txn, &source, wid, &new.body_sha256, Some(view.id.as_str())).await?;
        }
        return Ok(IntakeOutcome::Existing(view));
    }

    // 2. The original document, content-addressed.
    let sha = &new.body_sha256;
    document::Entity::insert(document::ActiveModel {
        sha256: Set(sha.clone()),
        content_type: Set(new.content_type.clone()),
        size: Set(i64::try_from(new.body.len()).unwrap_or(i64::MAX)),
        content: Set(new.body.clone()),
        created_at: Set(now()),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(txn)
    .await?;
    // 3. Supplier master: identity, known IBANs; a new IBAN for a known supplier waits
    //    for a person (the classic invoice-fraud pattern).
    let mut bill = new.bill.clone();
    let bill_id = BillId::new();
    let identity = supplier_identity(&bill);
    let mut supplier_id = None;
    if let Some(identity) = &identity {
        let key = (org.clone(), identity.clone());
        if !batch.suppliers.contains_key(&key) {
            let sup_id = match supplier::Entity::find()
                .filter(supplier::Column::OrgId.eq(org.clone()))
                .filter(supplier::Column::Identity.eq(identity.clone()))
                .all(txn)
                .await?
                .pop()
            {
                Some(s) => s.id,
                None => {
                    let id = SupplierId::new().to_string();
                    supplier::Entity::insert(supplier::ActiveModel {
                        id: Set(id.clone()),
                        org_id: Set(org.clone()),
                        identity: Set(identity.clone()),
                        name: Set(bill.seller.name.clone()),
                        vat_id: Set(bill.seller.vat_id.clone()),
                        siren: Set(bill.seller.siren().map(str::to_string)),
                        created_at: Set(now()),
                    })
                    .exec_without_returning(txn)
                    .await?;
                    id
                }
            };
            let ibans = supplier_iban::Entity::find()
                .filter(supplier_iban::Column::SupplierId.eq(sup_id.clone()))
                .all(txn)
                .await?;
            batch.suppliers.insert(key.clone(), (sup_id, ibans));
        }
        let Some((sup_id, ibans)) = batch.suppliers.get_mut(&key) else {
            unreachable!("inserted above")
        };
        if let Some(added) =
            check_supplier_iban(&mut bill, ibans, &org, sup_id, &bill_id.to_string())
        {
            let added = supplier_iban::ActiveModel::from(added).insert(txn).await?;
            ibans.push(added);
        }
        supplier_id = Some(sup_id.clone());
    }

    // 4. Duplicates: same supplier, number and amount, from any source.
    let dedupe_key = dedupe_key(identity.as_ref(), &bill);
    if let Some(key) = &dedupe_key {
        let twins: Vec<String> = bill::Entity::find()
            .select_only()
            .column(bill::Column::Id)
            .filter(bill::Column::OrgId.eq(org.clone()))
            .filter(bill::Column::DedupeKey.eq(key.clone()))
            .filter(bill::Column::Status.ne(status::CANCELED))
            .into_tuple()
            .all(txn)
            .await?;
        if !twins.is_empty() {
            bill.hold_reasons.push(HoldReason::Duplicate);
        }
    }
    let state = settle_status(&mut bill);

    let m = bill_row(new, &bill, &bill_id, state, supplier_id, dedupe_key)?;
    bill::Entity::insert(bill::ActiveModel::from(m.clone()))
        .exec_without_returning(txn)
        .await?;
    batch.history.push(history_row(&m, &bill, &new.actor));
    if let Some(wid) = &new.webhook_id {
        insert_key(txn, &source, wid, sha, Some(&m.id)).await?;
    }
    // The audit entry (`audit::append`'s row), written with the batch's others.
    batch.audit.push(audit_row(&m, &bill, &new.actor));
    // Outcome events for the ERP, in the same transaction (outbox).
    let data = crate::events::bill_data(&m);
    crate::events::emit(
        txn,
        &new.org_id,
        crate::events::NewEvent::bill(crate::events::EventType::BillReceived, &m, data.clone())?,
    )
    .await?;
    if state == status::HELD {
        crate::events::emit(
            txn,
            &new.org_id,
            crate::events::NewEvent::bill(crate::events::EventType::BillHeld, &m, data)?,
        )
        .await?;
    }
    Ok(IntakeOutcome::Created(to_view(&m)?))
}

/// The most bound parameters a multi-row insert of a batch may use: SQLite's default limit
/// (`SQLITE_MAX_VARIABLE_NUMBER`, 32766 since 3.32; the bundled SQLite is 3.5x) is the lower
/// one (PostgreSQL: 65535). The widest intake row (a bill) has 29 columns.
const _: () = assert!(MAX_BATCH * 32 < 32_766);

/// Record `bills` on `txn` with statements per batch, not per bill (see
/// [`Store::record_batch_fast`]): the same rows and answers as [`record_one`] for each bill in
/// turn. `None` when a bill needs what only [`record_one`] does (a webhook-id on record
/// without its bill); nothing is written then that the caller does not roll back.
async fn write_batch<C: ConnectionTrait>(
    txn: &C,
    bills: &[PendingBill],
) -> Result<Option<Vec<BillResult>>, StoreError> {
    use sea_orm::Condition;
    use std::collections::{HashMap, HashSet};

    // ---- Look-ups, one statement per kind for the whole batch. ----
    let source_ids: Vec<String> = bills.iter().map(|b| b.source_id.to_string()).collect();
    let org_ids: Vec<String> = bills.iter().map(|b| b.org_id.to_string()).collect();
    let sources = in_list(&source_ids);
    let orgs = in_list(&org_ids);
    // Repeats: webhook-ids on record ((source, webhook-id) → (body SHA-256, bill)).
    let mut keys: HashMap<(String, String), (String, Option<String>)> = HashMap::new();
    let wids = in_list(bills.iter().filter_map(|b| b.webhook_id.as_ref()));
    if !wids.is_empty() {
        for k in inbound_key::Entity::find()
            .filter(inbound_key::Column::SourceId.is_in(sources.clone()))
            .filter(inbound_key::Column::WebhookId.is_in(wids))
            .all(txn)
            .await?
        {
            keys.insert((k.source_id, k.webhook_id), (k.body_sha256, k.bill_id));
        }
    }
    // Repeats: the bills those keys name, and the bills with the batch's external ids.
    let key_bills = in_list(keys.values().filter_map(|(_, b)| b.as_ref()));
    let exts = in_list(bills.iter().filter_map(|b| b.external_id.as_ref()));
    let mut known: HashMap<String, bill::Model> = HashMap::new();
    let mut by_ext: HashMap<(String, String), String> = HashMap::new();
    if !key_bills.is_empty() || !exts.is_empty() {
        let mut cond = Condition::any();
        if !key_bills.is_empty() {
            cond = cond.add(bill::Column::Id.is_in(key_bills));
        }
        if !exts.is_empty() {
            cond = cond.add(
                Condition::all()
                    .add(bill::Column::SourceId.is_in(sources.clone()))
                    .add(bill::Column::ExternalId.is_in(exts)),
            );
        }
        for b in bill::Entity::find().filter(cond).all(txn).await? {
            if let Some(ext) = &b.external_id {
                by_ext.insert((b.source_id.clone(), ext.clone()), b.id.clone());
            }
            known.insert(b.id.clone(), b);
        }
    }
    // Suppliers the batch names, with their IBANs.
    let identities: Vec<Option<String>> =
        bills.iter().map(|b| supplier_identity(&b.bill)).collect();
    let mut suppliers: HashMap<(String, String), (String, Vec<supplier_iban::Model>)> =
        HashMap::new();
    let wanted = in_list(identities.iter().flatten());
    if !wanted.is_empty() {
        let found = supplier::Entity::find()
            .filter(supplier::Column::OrgId.is_in(orgs.clone()))
            .filter(supplier::Column::Identity.is_in(wanted))
            .all(txn)
            .await?;
        let ids = in_list(found.iter().map(|s| &s.id));
        let mut ibans: HashMap<String, Vec<supplier_iban::Model>> = HashMap::new();
        if !ids.is_empty() {
            for i in supplier_iban::Entity::find()
                .filter(supplier_iban::Column::SupplierId.is_in(ids))
                .all(txn)
                .await?
            {
                ibans.entry(i.supplier_id.clone()).or_default().push(i);
            }
        }
        for s in found {
            let list = ibans.remove(&s.id).unwrap_or_default();
            suppliers.insert((s.org_id, s.identity), (s.id, list));
        }
    }
    // Duplicates: bills on record (not canceled) with the batch's dedupe keys.
    let dedupe_keys: Vec<Option<String>> = bills
        .iter()
        .zip(&identities)
        .map(|(b, i)| dedupe_key(i.as_ref(), &b.bill))
        .collect();
    let looked_up: HashSet<String> = dedupe_keys.iter().flatten().cloned().collect();
    let mut twins: HashSet<(String, String)> = HashSet::new();
    if !looked_up.is_empty() {
        let rows: Vec<(String, Option<String>)> = bill::Entity::find()
            .select_only()
            .column(bill::Column::OrgId)
            .column(bill::Column::DedupeKey)
            .filter(bill::Column::OrgId.is_in(orgs.clone()))
            .filter(bill::Column::DedupeKey.is_in(in_list(&looked_up)))
            .filter(bill::Column::Status.ne(status::CANCELED))
            .into_tuple()
            .all(txn)
            .await?;
        twins.extend(rows.into_iter().filter_map(|(o, k)| k.map(|k| (o, k))));
    }

    // ---- Each bill in arrival order, in memory (it sees what the ones before it did). ----
    let mut results: Vec<BillResult> = Vec::with_capacity(bills.len());
    let mut documents = Vec::new();
    let mut seen_documents = HashSet::new();
    let mut new_suppliers = Vec::new();
    let mut new_ibans = Vec::new();
    let mut new_bills: Vec<bill::Model> = Vec::new();
    let mut new_keys = Vec::new();
    let mut batch = BatchState::default();
    let mut events = Vec::new();
    for (i, new) in bills.iter().enumerate() {
        let org = new.org_id.to_string();
        let source = new.source_id.to_string();

        // 1. Repeats (also of a bill recorded earlier in the same batch).
        let mut key_known = false;
        if let Some(wid) = &new.webhook_id {
            if let Some((sha, bid)) = keys.get(&(source.clone(), wid.clone())) {
                key_known = true;
                if *sha != new.body_sha256 {
                    results.push(Err(StoreError::Conflict(
                        "this webhook-id was already used for a different body".into(),
                    )));
                    continue;
                }
                if let Some(b) = bid.as_ref().and_then(|b| known.get(b)) {
                    results.push(Ok(IntakeOutcome::Existing(to_view(b)?)));
                    continue;
                }
            }
        }
        if let Some(ext) = &new.external_id {
            if let Some(b) = by_ext
                .get(&(source.clone(), ext.clone()))
                .and_then(|id| known.get(id))
            {
                if let (Some(wid), false) = (&new.webhook_id, key_known) {
                    new_keys.push(key_row(&source, wid, &new.body_sha256, Some(&b.id)));
                    keys.insert(
                        (source.clone(), wid.clone()),
                        (new.body_sha256.clone(), Some(b.id.clone())),
                    );
                }
                results.push(Ok(IntakeOutcome::Existing(to_view(b)?)));
                continue;
            }
        }
        if key_known {
            // A webhook-id on record without its bill: the per-bill path's business.
            return Ok(None);
        }

        // 2. The original document, content-addressed (once per batch).
        let sha = &new.body_sha256;
        if seen_documents.insert(sha.clone()) {
            documents.push(document::ActiveModel {
                sha256: Set(sha.clone()),
                content_type: Set(new.content_type.clone()),
                size: Set(i64::try_from(new.body.len()).unwrap_or(i64::MAX)),
                content: Set(new.body.clone()),
                created_at: Set(now()),
            });
        }

        // 3. Supplier master (see `record_one`).
        let mut bill = new.bill.clone();
        let bill_id = BillId::new();
        let identity = identities.get(i).cloned().flatten();
        let mut supplier_id = None;
        if let Some(identity) = &identity {
            let (sup_id, ibans) = suppliers
                .entry((org.clone(), identity.clone()))
                .or_insert_with(|| {
                    let id = SupplierId::new().to_string();
                    new_suppliers.push(supplier::ActiveModel {
                        id: Set(id.clone()),
                        org_id: Set(org.clone()),
                        identity: Set(identity.clone()),
                        name: Set(bill.seller.name.clone()),
                        vat_id: Set(bill.seller.vat_id.clone()),
                        siren: Set(bill.seller.siren().map(str::to_string)),
                        created_at: Set(now()),
                    });
                    (id, Vec::new())
                });
            if let Some(added) =
                check_supplier_iban(&mut bill, ibans, &org, sup_id, &bill_id.to_string())
            {
                new_ibans.push(added.clone());
                ibans.push(added);
            }
            supplier_id = Some(sup_id.clone());
        }

        // 4. Duplicates: on record, or earlier in this batch.
        let key = dedupe_key(identity.as_ref(), &bill);
        if let Some(k) = &key {
            if !looked_up.contains(k) {
                // Assessment changed what the key is made of: not looked up.
                return Ok(None);
            }
            if !twins.insert((org.clone(), k.clone())) {
                bill.hold_reasons.push(HoldReason::Duplicate);
            }
        }
        let state = settle_status(&mut bill);

        let m = bill_row(new, &bill, &bill_id, state, supplier_id, key)?;
        batch.history.push(history_row(&m, &bill, &new.actor));
        batch.audit.push(audit_row(&m, &bill, &new.actor));
        if let Some(wid) = &new.webhook_id {
            new_keys.push(key_row(&source, wid, sha, Some(&m.id)));
            keys.insert(
                (source.clone(), wid.clone()),
                (sha.clone(), Some(m.id.clone())),
            );
        }
        let data = crate::events::bill_data(&m);
        events.push((
            new.org_id.clone(),
            crate::events::NewEvent::bill(
                crate::events::EventType::BillReceived,
                &m,
                data.clone(),
            )?,
        ));
        if state == status::HELD {
            events.push((
                new.org_id.clone(),
                crate::events::NewEvent::bill(crate::events::EventType::BillHeld, &m, data)?,
            ));
        }
        results.push(Ok(IntakeOutcome::Created(to_view(&m)?)));
        if let Some(ext) = &m.external_id {
            by_ext.insert((source.clone(), ext.clone()), m.id.clone());
        }
        known.insert(m.id.clone(), m.clone());
        new_bills.push(m);
    }

    // ---- Multi-row inserts per table (parents first). ----
    if txn.get_database_backend() == sea_orm::DbBackend::Sqlite {
        // One round trip for all of them (see `OneTrip`): a batch's rows fit SQLite's
        // bound-parameter limit per statement (64 bills × 29 columns = 1,856).
        let mut trip = OneTrip::default();
        if !documents.is_empty() {
            trip.push(document::Entity::insert_many(documents).on_conflict_do_nothing());
        }
        if !new_suppliers.is_empty() {
            trip.push(supplier::Entity::insert_many(new_suppliers));
        }
        if !new_ibans.is_empty() {
            trip.push(supplier_iban::Entity::insert_many(
                new_ibans.into_iter().map(supplier_iban::ActiveModel::from),
            ));
        }
        if !new_bills.is_empty() {
            trip.push(bill::Entity::insert_many(
                new_bills.into_iter().map(bill::ActiveModel::from),
            ));
        }
        let history = std::mem::take(&mut batch.history);
        if !history.is_empty() {
            trip.push(bill_history::Entity::insert_many(history));
        }
        let audit = std::mem::take(&mut batch.audit);
        if !audit.is_empty() {
            trip.push(audit_log::Entity::insert_many(audit));
        }
        if !new_keys.is_empty() {
            trip.push(inbound_key::Entity::insert_many(new_keys));
        }
        trip.exec(txn).await?;
        crate::events::emit_many(txn, events).await?;
        return Ok(Some(results));
    }
    // PostgreSQL: in runs of 64, 32 … 1 rows (see `insert_runs`).
    for run in insert_runs(documents, 5) {
        document::Entity::insert_many(run)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?;
    }
    for run in insert_runs(new_suppliers, 7) {
        supplier::Entity::insert_many(run)
            .exec_without_returning(txn)
            .await?;
    }
    for run in insert_runs(new_ibans, 9) {
        supplier_iban::Entity::insert_many(run.into_iter().map(supplier_iban::ActiveModel::from))
            .exec_without_returning(txn)
            .await?;
    }
    for run in insert_runs(new_bills, 29) {
        bill::Entity::insert_many(run.into_iter().map(bill::ActiveModel::from))
            .exec_without_returning(txn)
            .await?;
    }
    batch.flush(txn).await?;
    for run in insert_runs(new_keys, 5) {
        inbound_key::Entity::insert_many(run)
            .exec_without_returning(txn)
            .await?;
    }
    crate::events::emit_many(txn, events).await?;
    Ok(Some(results))
}

/// Several `INSERT`s sent to SQLite as one query: sqlx runs each statement of a query in turn
/// and binds the query's `?` parameters across them in order, so the batch's inserts cost one
/// hand-off to the connection's worker thread instead of one each. (Measured: each hand-off
/// costs a thread wake-up, which on two busy cores is most of a small statement's time;
/// BENCHMARKS.md, intake round 3.) The values stay bound parameters, never inlined SQL.
#[derive(Default)]
struct OneTrip {
    sql: String,
    values: Vec<sea_orm::Value>,
}

impl OneTrip {
    fn push<Q: QueryTrait<QueryStatement = sea_orm::sea_query::InsertStatement>>(&mut self, q: Q) {
        let (sql, values) = q.into_query().build(sea_orm::sea_query::SqliteQueryBuilder);
        self.sql.push_str(&sql);
        self.sql.push_str(";\n");
        self.values.extend(values.0);
    }

    async fn exec<C: ConnectionTrait>(self, conn: &C) -> Result<(), StoreError> {
        if self.sql.is_empty() {
            return Ok(());
        }
        conn.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Sqlite,
            self.sql,
            self.values,
        ))
        .await?;
        Ok(())
    }
}

/// Assess the bill against its supplier's IBANs on record (an approved one is preferred when
/// the invoice offers several) and hold it `iban_changed` when it pays an account that is not
/// approved. Returns the row to record when the bill brings an account the supplier did not
/// have: approved when it is the supplier's first, pending otherwise.
fn check_supplier_iban(
    bill: &mut Bill,
    ibans: &[supplier_iban::Model],
    org: &str,
    supplier_id: &str,
    bill_id: &str,
) -> Option<supplier_iban::Model> {
    let approved: Vec<String> = ibans
        .iter()
        .filter(|i| i.status == "approved")
        .map(|i| i.iban.clone())
        .collect();
    adapters::assess(
        bill,
        &AssessOptions {
            known_ibans: &approved,
            accept_any_specification: false,
        },
    );
    let iban = bill.payee_iban()?.to_string();
    match ibans.iter().find(|i| i.iban == iban) {
        Some(r) if r.status == "approved" => None,
        Some(_) => {
            bill.hold_reasons.push(HoldReason::IbanChanged);
            None
        }
        None => {
            let status = if ibans.is_empty() {
                "approved"
            } else {
                bill.hold_reasons.push(HoldReason::IbanChanged);
                "pending"
            };
            Some(supplier_iban::Model {
                id: uuid::Uuid::now_v7().simple().to_string(),
                org_id: org.to_string(),
                supplier_id: supplier_id.to_string(),
                iban,
                status: status.to_string(),
                first_bill_id: Some(bill_id.to_string()),
                created_at: now(),
                decided_at: None,
                decided_by: None,
            })
        }
    }
}

/// The bill's hold reasons, sorted and each once, decide it: payable and `ready`, or `held`.
fn settle_status(bill: &mut Bill) -> &'static str {
    bill.hold_reasons.sort();
    bill.hold_reasons.dedup();
    bill.payable = bill.hold_reasons.is_empty();
    if bill.payable {
        status::READY
    } else {
        status::HELD
    }
}

/// Same supplier, number and amount: the key duplicates share.
fn dedupe_key(identity: Option<&String>, bill: &Bill) -> Option<String> {
    match (identity, &bill.number, bill.amounts.payable) {
        (Some(i), Some(n), Some(a)) => Some(format!("{i}|{n}|{}", a.normalize())),
        _ => None,
    }
}

/// The row of a new bill.
fn bill_row(
    new: &PendingBill,
    bill: &Bill,
    bill_id: &BillId,
    state: &str,
    supplier_id: Option<String>,
    dedupe_key: Option<String>,
) -> Result<bill::Model, StoreError> {
    let pm = bill.chosen_payment();
    // Microseconds, as PostgreSQL keeps them: the answer built from this row is the bill as
    // it reads back.
    let at = chrono::SubsecRound::trunc_subsecs(now(), 6);
    Ok(bill::Model {
        id: bill_id.to_string(),
        org_id: new.org_id.to_string(),
        source_id: new.source_id.to_string(),
        external_id: new.external_id.clone(),
        status: state.to_string(),
        hold_reasons: serde_json::to_string(&bill.hold_reasons).map_err(corrupt)?,
        warnings: serde_json::to_string(&bill.warnings).map_err(corrupt)?,
        syntax: bill.syntax.as_str().to_string(),
        kind: code(&bill.kind),
        type_code: bill.type_code.clone(),
        number: bill.number.clone(),
        issue_date: bill.issue_date,
        due_date: bill.due_date,
        currency: bill.currency.clone(),
        amount_due: bill.amounts.payable.map(|a| a.to_string()),
        amount_cents: bill.amounts.payable.and_then(cents),
        seller_name: bill.seller.name.clone(),
        seller_vat_id: bill.seller.vat_id.clone(),
        seller_siren: bill.seller.siren().map(str::to_string),
        supplier_id,
        creditor_name: bill.creditor_name().map(str::to_string),
        iban: pm.and_then(|p| p.iban.clone()),
        bic: pm.and_then(|p| p.bic.clone()),
        payment_reference: bill.payment_reference.clone(),
        document_sha256: Some(new.body_sha256.clone()),
        dedupe_key,
        bill: serde_json::to_string(bill).map_err(corrupt)?,
        created_at: at,
        updated_at: at,
    })
}

/// A new bill's first history row.
fn history_row(m: &bill::Model, bill: &Bill, actor: &str) -> bill_history::ActiveModel {
    bill_history::ActiveModel {
        bill_id: Set(m.id.clone()),
        org_id: Set(m.org_id.clone()),
        at: Set(m.created_at),
        from_status: Set(None),
        to_status: Set(m.status.clone()),
        actor: Set(actor.to_string()),
        reason: Set((!bill.hold_reasons.is_empty()).then(|| {
            bill.hold_reasons
                .iter()
                .map(code)
                .collect::<Vec<_>>()
                .join(",")
        })),
        ..Default::default()
    }
}

/// A new bill's `bill.received` audit entry (`audit::append`'s row).
fn audit_row(m: &bill::Model, bill: &Bill, actor: &str) -> audit_log::ActiveModel {
    audit_log::ActiveModel {
        org_id: Set(Some(m.org_id.clone())),
        at: Set(m.created_at),
        actor: Set(actor.to_string()),
        action: Set("bill.received".into()),
        bill_id: Set(Some(m.id.clone())),
        run_id: Set(None),
        source_id: Set(Some(m.source_id.clone())),
        details: Set(serde_json::json!({
            "number": bill.number,
            "amount_due": m.amount_due,
            "status": m.status,
            "hold_reasons": bill.hold_reasons,
            "iban": m.iban.as_deref().map(mask_iban),
            "document_sha256": m.document_sha256,
        })
        .to_string()),
        ..Default::default()
    }
}

fn key_row(
    source: &str,
    webhook_id: &str,
    sha: &str,
    bill_id: Option<&str>,
) -> inbound_key::ActiveModel {
    inbound_key::ActiveModel {
        source_id: Set(source.to_string()),
        webhook_id: Set(webhook_id.to_string()),
        body_sha256: Set(sha.to_string()),
        bill_id: Set(bill_id.map(str::to_string)),
        created_at: Set(now()),
    }
}

async fn insert_key<C: ConnectionTrait>(
    conn: &C,
    source: &str,
    webhook_id: &str,
    sha: &str,
    bill_id: Option<&str>,
) -> Result<(), StoreError> {
    inbound_key::Entity::insert(key_row(source, webhook_id, sha, bill_id))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// A page of bills.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillPage {
    pub bills: Vec<BillView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A person's action on a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillAction {
    Hold,
    Release,
    Cancel,
}

impl Scoped<'_> {
    async fn bill_model<C: ConnectionTrait>(
        &self,
        conn: &C,
        id: &BillId,
    ) -> Result<bill::Model, StoreError> {
        bill::Entity::find_by_id(id.to_string())
            .filter(bill::Column::OrgId.eq(self.org.to_string()))
            .one(conn)
            .await?
            .ok_or(StoreError::NotFound("bill"))
    }

    pub async fn get_bill(&self, id: &BillId) -> Result<(BillView, Vec<HistoryEntry>), StoreError> {
        let conn = self.store.connection();
        let m = self.bill_model(conn, id).await?;
        let hist = bill_history::Entity::find()
            .filter(bill_history::Column::BillId.eq(m.id.clone()))
            .filter(bill_history::Column::OrgId.eq(self.org.to_string()))
            .order_by_asc(bill_history::Column::Id)
            .all(conn)
            .await?
            .into_iter()
            .map(|h| HistoryEntry {
                at: h.at,
                from_status: h.from_status,
                to_status: h.to_status,
                actor: h.actor,
                reason: h.reason,
            })
            .collect();
        Ok((to_view(&m)?, hist))
    }

    pub async fn list_bills(&self, f: &BillFilter) -> Result<BillPage, StoreError> {
        let limit = f.limit.unwrap_or(50).clamp(1, 500);
        let mut q = bill::Entity::find()
            .filter(bill::Column::OrgId.eq(self.org.to_string()))
            .order_by_desc(bill::Column::Id)
            .limit(limit + 1);
        if let Some(s) = &f.status {
            q = q.filter(bill::Column::Status.eq(s.clone()));
        }
        if let Some(s) = &f.supplier_id {
            q = q.filter(bill::Column::SupplierId.eq(s.clone()));
        }
        if let Some(s) = &f.source_id {
            q = q.filter(bill::Column::SourceId.eq(s.clone()));
        }
        if let Some(d) = f.due_before {
            q = q.filter(bill::Column::DueDate.lte(d));
        }
        if let Some(c) = &f.cursor {
            q = q.filter(bill::Column::Id.lt(c.clone()));
        }
        let mut rows = q.all(self.store.connection()).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
        Ok(BillPage {
            bills: rows.iter().map(to_view).collect::<Result<_, _>>()?,
            next_cursor,
        })
    }

    /// Hold, release or cancel a bill. Releasing a bill held `iban_changed` approves the new
    /// IBAN for its supplier; hard holds (credit note, direct debit, no valid IBAN…) cannot be
    /// released.
    pub async fn act_on_bill(
        &self,
        id: &BillId,
        action: BillAction,
        actor: &str,
        note: Option<String>,
    ) -> Result<BillView, StoreError> {
        let w = self.store.begin_write().await?;
        let m = self.bill_model(&w.txn, id).await?;
        let mut holds: Vec<HoldReason> = serde_json::from_str(&m.hold_reasons).map_err(corrupt)?;
        let from = m.status.clone();
        let (to, audit_action) = match action {
            BillAction::Hold => {
                if from != status::READY && from != status::HELD {
                    return Err(StoreError::Conflict(format!(
                        "a bill in status {from} cannot be held"
                    )));
                }
                if !holds.contains(&HoldReason::Manual) {
                    holds.push(HoldReason::Manual);
                }
                (status::HELD, "bill.held")
            }
            BillAction::Release => {
                if from != status::HELD {
                    return Err(StoreError::Conflict(format!(
                        "a bill in status {from} is not held"
                    )));
                }
                let hard: Vec<_> = holds.iter().filter(|h| HARD_HOLDS.contains(h)).collect();
                if !hard.is_empty() {
                    return Err(StoreError::Conflict(format!(
                        "this bill cannot be paid by transfer ({}); it cannot be released",
                        hard.iter().map(code).collect::<Vec<_>>().join(", ")
                    )));
                }
                if holds.contains(&HoldReason::IbanChanged) {
                    if let (Some(sup), Some(iban)) = (&m.supplier_id, &m.iban) {
                        if let Some(rec) = supplier_iban::Entity::find()
                            .filter(supplier_iban::Column::SupplierId.eq(sup.clone()))
                            .filter(supplier_iban::Column::Iban.eq(iban.clone()))
                            .one(&w.txn)
                            .await?
                        {
                            let mut am: supplier_iban::ActiveModel = rec.into();
                            am.status = Set("approved".into());
                            am.decided_at = Set(Some(now()));
                            am.decided_by = Set(Some(actor.to_string()));
                            am.update(&w.txn).await?;
                        }
                    }
                }
                holds.clear();
                (status::READY, "bill.released")
            }
            BillAction::Cancel => {
                if ![status::READY, status::HELD].contains(&from.as_str()) {
                    return Err(StoreError::Conflict(format!(
                        "a bill in status {from} cannot be canceled"
                    )));
                }
                (status::CANCELED, "bill.canceled")
            }
        };
        let mut am: bill::ActiveModel = m.clone().into();
        am.status = Set(to.to_string());
        am.hold_reasons = Set(serde_json::to_string(&holds).map_err(corrupt)?);
        am.updated_at = Set(now());
        let updated = am.update(&w.txn).await?;
        history(
            &w.txn,
            &m.id,
            &m.org_id,
            Some(&from),
            to,
            actor,
            note.clone(),
        )
        .await?;
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(self.org.clone()),
                actor: actor.to_string(),
                action: audit_action.into(),
                bill_id: Some(m.id.clone()),
                details: serde_json::json!({ "from": from, "to": to, "note": note }),
                ..Default::default()
            },
        )
        .await?;
        // Outcome events: a release, or a person's hold of a bill that was not held yet.
        let event = match action {
            BillAction::Release => Some(crate::events::EventType::BillReleased),
            BillAction::Hold if from != status::HELD => Some(crate::events::EventType::BillHeld),
            _ => None,
        };
        if let Some(t) = event {
            let data = crate::events::bill_data(&updated);
            crate::events::emit(
                &w.txn,
                &self.org,
                crate::events::NewEvent::bill(t, &updated, data)?,
            )
            .await?;
        }
        w.commit().await?;
        if event.is_some() {
            crate::events::wake();
        }
        to_view(&updated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::PaginatorTrait;

    const UBL: &str = include_str!("../../../adapters/tests/fixtures/ubl-invoice.xml");

    fn parse(xml: &str) -> Bill {
        adapters::parse_xml(xml.as_bytes(), &adapters::ParseOptions::default()).unwrap()
    }

    /// A fresh, migrated store on SQLite, and one on PostgreSQL when
    /// `BILLBRIDGE_TEST_POSTGRES_URL` is set; each with an organization and a source whose
    /// callback is set (so that events get deliveries).
    async fn stores() -> Vec<(Store, OrgId, SourceId)> {
        let dir = std::env::temp_dir().join("billbridge-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let mut urls = vec![format!(
            "sqlite://{}/batch-{}.db?mode=rwc",
            dir.display(),
            uuid::Uuid::now_v7().simple()
        )];
        match std::env::var("BILLBRIDGE_TEST_POSTGRES_URL") {
            Ok(pg) if !pg.is_empty() => {
                let name = format!("bb_test_{}", uuid::Uuid::new_v4().simple());
                sea_orm::Database::connect(pg.as_str())
                    .await
                    .unwrap()
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                let mut url = reqwest::Url::parse(&pg).unwrap();
                url.set_path(&format!("/{name}"));
                urls.push(url.to_string());
            }
            _ => eprintln!("BILLBRIDGE_TEST_POSTGRES_URL is not set: this run covers SQLite only"),
        }
        let mut out = Vec::new();
        for url in urls {
            let store = Store::connect(&url, 4).await.unwrap();
            store.migrate().await.unwrap();
            let org = store.create_org("batch").await.unwrap();
            let keys = crate::secrets::SecretBox::from_key(&[7; 32]);
            let (src, _) = store
                .scoped(&org.id)
                .create_source("erp", "erp", &keys)
                .await
                .unwrap();
            store
                .scoped(&org.id)
                .set_source_callback(&src.id, "http://127.0.0.1:9/hook", &keys)
                .await
                .unwrap();
            out.push((store, org.id, src.id));
        }
        out
    }

    /// Submit `cases` (body, source, external id, webhook id) all at once, so that they land in
    /// one intake batch (the writer takes everything waiting).
    async fn submit_all(
        store: &Store,
        org: &OrgId,
        cases: &[(String, SourceId, &str, &str)],
    ) -> Vec<Result<IntakeOutcome, StoreError>> {
        let calls = cases.iter().map(|(body, src, ext, wid)| {
            store.record_bill(NewBill {
                org_id: org,
                source_id: src,
                external_id: Some(ext.to_string()),
                webhook_id: Some(wid.to_string()),
                content_type: "application/xml",
                body: body.as_bytes(),
                body_sha256: super::super::sha256_hex(body.as_bytes()),
                bill: parse(body),
                actor: "intake",
            })
        });
        futures_util::future::join_all(calls).await
    }

    fn outcome(
        results: &[Result<IntakeOutcome, StoreError>],
        i: usize,
    ) -> (&'static str, BillView) {
        match &results[i] {
            Ok(IntakeOutcome::Created(v)) => ("created", v.clone()),
            Ok(IntakeOutcome::Existing(v)) => ("existing", v.clone()),
            Err(e) => panic!("bill {i}: {e}"),
        }
    }

    async fn count_events(store: &Store, t: crate::events::EventType) -> u64 {
        use crate::store::entities::event;
        event::Entity::find()
            .filter(event::Column::EventType.eq(t.as_str()))
            .count(store.connection())
            .await
            .unwrap()
    }

    /// Bills that land in one intake batch see what the ones before them wrote: a repeat of a
    /// bill of the same batch is that bill, the supplier's first IBAN is the one on record and
    /// another is held, a duplicate is held, and a reused webhook-id is refused, alone.
    #[tokio::test]
    async fn one_batch_keeps_the_semantics_of_one_bill_at_a_time() {
        for (store, org, src) in stores().await {
            let other_iban = UBL.replace("FA-2026-0042", "FA-OTHER-IBAN").replace(
                "FR76 3000 6000 0112 3456 7890 189",
                "DE89 3704 0044 0532 0130 00",
            );
            let s = || src.clone();
            let cases: Vec<(String, SourceId, &str, &str)> = vec![
                (UBL.to_string(), s(), "e1", "w1"),    // 0: new, ready
                (UBL.to_string(), s(), "e1", "w1"),    // 1: same webhook-id: repeat of 0
                (UBL.to_string(), s(), "e1", "w2"),    // 2: same external id: repeat of 0
                (other_iban.clone(), s(), "e2", "w3"), // 3: another IBAN: held iban_changed
                (UBL.to_string(), s(), "e3", "w4"),    // 4: same number and amount: held duplicate
                (other_iban, s(), "e9", "w1"),         // 5: webhook-id of 0, another body: refused
            ];
            let results = submit_all(&store, &org, &cases).await;
            let (kind, first) = outcome(&results, 0);
            assert_eq!((kind, first.status.as_str()), ("created", "ready"));
            for i in [1, 2] {
                let (kind, v) = outcome(&results, i);
                assert_eq!(
                    (kind, v.id.clone()),
                    ("existing", first.id.clone()),
                    "bill {i}"
                );
            }
            let (kind, v) = outcome(&results, 3);
            assert_eq!(kind, "created");
            assert_eq!(v.hold_reasons, vec![HoldReason::IbanChanged]);
            let (kind, v) = outcome(&results, 4);
            assert_eq!(kind, "created");
            assert_eq!(v.hold_reasons, vec![HoldReason::Duplicate]);
            assert!(matches!(results[5], Err(StoreError::Conflict(_))));

            // Three bills, each with its history, audit entry and bill.received event (one
            // delivery each), the two held ones a bill.held event too; the second webhook-id of
            // the repeat is on record; the supplier has its approved IBAN and the pending one.
            let db = store.connection();
            assert_eq!(bill::Entity::find().count(db).await.unwrap(), 3);
            assert_eq!(bill_history::Entity::find().count(db).await.unwrap(), 3);
            let received = audit_log::Entity::find()
                .filter(audit_log::Column::Action.eq("bill.received"))
                .count(db)
                .await
                .unwrap();
            assert_eq!(received, 3);
            assert_eq!(inbound_key::Entity::find().count(db).await.unwrap(), 4);
            assert_eq!(document::Entity::find().count(db).await.unwrap(), 2);
            assert_eq!(supplier::Entity::find().count(db).await.unwrap(), 1);
            let mut ibans: Vec<(String, String)> = supplier_iban::Entity::find()
                .all(db)
                .await
                .unwrap()
                .into_iter()
                .map(|i| (i.iban, i.status))
                .collect();
            ibans.sort();
            assert_eq!(
                ibans,
                vec![
                    ("DE89370400440532013000".to_string(), "pending".to_string()),
                    (
                        "FR7630006000011234567890189".to_string(),
                        "approved".to_string()
                    ),
                ]
            );
            use crate::events::EventType;
            assert_eq!(count_events(&store, EventType::BillReceived).await, 3);
            assert_eq!(count_events(&store, EventType::BillHeld).await, 2);
            let deliveries = crate::store::entities::delivery::Entity::find()
                .filter(crate::store::entities::delivery::Column::SourceId.eq(src.to_string()))
                .count(db)
                .await
                .unwrap();
            assert_eq!(deliveries, 5);

            // The next batch sees the first one's rows: a repeat, and a duplicate.
            let cases: Vec<(String, SourceId, &str, &str)> = vec![
                (UBL.to_string(), s(), "e1", "w5"), // repeat of 0 by external id
                (UBL.to_string(), s(), "e4", "w6"), // duplicate of 0
            ];
            let results = submit_all(&store, &org, &cases).await;
            assert_eq!(outcome(&results, 0), ("existing", first.clone()));
            let (kind, v) = outcome(&results, 1);
            assert_eq!(kind, "created");
            assert_eq!(v.hold_reasons, vec![HoldReason::Duplicate]);
        }
    }

    /// A bill of a batch that fails when written (here: its source does not exist) gets its
    /// own error; the batch is recorded again bill by bill, and the others commit with the
    /// answers they would have had (a repeat of a bill of the batch is still that bill).
    #[tokio::test]
    async fn a_failing_bill_gets_its_own_error_and_the_rest_of_its_batch_commits() {
        for (store, org, src) in stores().await {
            let second = UBL.replace("FA-2026-0042", "FA-SECOND");
            let ghost: SourceId = crate::ids::SourceId::new();
            let cases: Vec<(String, SourceId, &str, &str)> = vec![
                (UBL.to_string(), src.clone(), "e1", "w1"), // 0: new
                (second.clone(), ghost, "g1", "g1"),        // 1: unknown source: fails
                (UBL.to_string(), src.clone(), "e1", "w2"), // 2: repeat of 0
                (second, src.clone(), "e2", "w3"),          // 3: new
            ];
            let results = submit_all(&store, &org, &cases).await;
            let (kind, first) = outcome(&results, 0);
            assert_eq!((kind, first.status.as_str()), ("created", "ready"));
            assert!(
                matches!(&results[1], Err(StoreError::Db(_))),
                "{:?}",
                results[1].as_ref().map(|_| ())
            );
            assert_eq!(outcome(&results, 2), ("existing", first.clone()));
            let (kind, v) = outcome(&results, 3);
            assert_eq!((kind, v.status.as_str()), ("created", "ready"));

            let db = store.connection();
            assert_eq!(bill::Entity::find().count(db).await.unwrap(), 2);
            assert_eq!(bill_history::Entity::find().count(db).await.unwrap(), 2);
            assert_eq!(inbound_key::Entity::find().count(db).await.unwrap(), 3);
            assert_eq!(
                count_events(&store, crate::events::EventType::BillReceived).await,
                2
            );
        }
    }
}
