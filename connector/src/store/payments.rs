//! Payments in the database: payment runs, their chunks, one transfer per bill, the cached Qonto
//! beneficiaries, and each organization's payment policy.
//!
//! The state machines themselves live in `crate::engine`; this module holds the rows, the
//! status names and the org-scoped finders the HTTP API and the CLI read through.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use super::entities::organization;
use super::{now, Scoped, Store, StoreError};
use crate::ids::{OrgId, RunId};

/// Payment run statuses (DESIGN §4).
pub mod run_status {
    pub const DRAFT: &str = "draft";
    pub const VERIFYING: &str = "verifying";
    pub const AWAITING_CONFIRMATION: &str = "awaiting_confirmation";
    pub const SUBMITTING: &str = "submitting";
    pub const AWAITING_SCA: &str = "awaiting_sca";
    pub const SUBMITTED: &str = "submitted";
    pub const COMPLETED: &str = "completed";
    pub const PARTIALLY_FAILED: &str = "partially_failed";
    pub const FAILED: &str = "failed";
    pub const DENIED: &str = "denied";
    pub const EXPIRED: &str = "expired";
    pub const CANCELED: &str = "canceled";
    /// A run in one of these states no longer changes.
    pub const FINAL: &[&str] = &[
        COMPLETED,
        PARTIALLY_FAILED,
        FAILED,
        DENIED,
        EXPIRED,
        CANCELED,
    ];
}

/// Chunk statuses: one Qonto bulk transfer (or a batch of single transfers) each.
pub mod chunk_status {
    /// Planned and verified (VoP), not yet prepared for sending.
    pub const PLANNED: &str = "planned";
    /// Body and idempotency key persisted; a submit job is queued.
    pub const READY: &str = "ready";
    pub const AWAITING_SCA: &str = "awaiting_sca";
    /// Qonto accepted it.
    pub const SUBMITTED: &str = "submitted";
    pub const FAILED: &str = "failed";
    pub const DENIED: &str = "denied";
    pub const EXPIRED: &str = "expired";
    pub const CANCELED: &str = "canceled";
    pub const FINAL: &[&str] = &[SUBMITTED, FAILED, DENIED, EXPIRED, CANCELED];
}

/// Transfer statuses (DESIGN §4). `failed`, `declined` and `canceled` free the bill for a new
/// transfer (the partial unique index ignores them); `settled` is the paid state.
pub mod transfer_status {
    pub const PLANNED: &str = "planned";
    pub const CREATED: &str = "created";
    pub const PROCESSING: &str = "processing";
    pub const SETTLED: &str = "settled";
    pub const DECLINED: &str = "declined";
    pub const CANCELED: &str = "canceled";
    pub const FAILED: &str = "failed";
    /// Terminal (invariant 5: never left).
    pub const FINAL: &[&str] = &[SETTLED, DECLINED, CANCELED, FAILED];
    /// Not terminal.
    pub const LIVE: &[&str] = &[PLANNED, CREATED, PROCESSING];
}

/// How a run's chunks reach Qonto.
pub mod chunk_mode {
    /// `POST /v2/sepa/bulk_transfers` (≤ 400 items).
    pub const BULK: &str = "bulk";
    /// One `POST /v2/sepa/transfers` per bill (autopay; plans without bulk).
    pub const SINGLE: &str = "single";
    /// `POST /v2/requests/multi_transfers`: an approval request for an owner or admin (the
    /// initiator may not pay directly, or a payment policy asks for four eyes).
    pub const REQUEST: &str = "request";
}

pub mod entities {
    macro_rules! no_relations {
        () => {
            #[derive(Copy, Clone, Debug, sea_orm::EnumIter, sea_orm::DeriveRelation)]
            pub enum Relation {}
            impl sea_orm::ActiveModelBehavior for ActiveModel {}
        };
    }

    pub mod payment_run {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "payment_runs")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub org_id: String,
            /// `manual` or `autopay`.
            pub kind: String,
            pub status: String,
            /// `now` or `due_date`.
            pub execution: String,
            pub sca_method: Option<String>,
            /// JSON [`super::super::RunSummary`].
            pub summary: String,
            pub bill_count: i32,
            pub total_cents: i64,
            pub created_by: String,
            pub reason: Option<String>,
            pub created_at: ChronoDateTimeUtc,
            pub updated_at: ChronoDateTimeUtc,
            pub confirmed_at: Option<ChronoDateTimeUtc>,
            pub completed_at: Option<ChronoDateTimeUtc>,
        }
        no_relations!();
    }

    pub mod run_chunk {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "run_chunks")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub org_id: String,
            pub run_id: String,
            pub seq: i32,
            pub mode: String,
            pub status: String,
            pub trusted_only: bool,
            pub vop_token: Option<String>,
            pub vop_at: Option<ChronoDateTimeUtc>,
            /// The exact bytes sent (and replayed after SCA).
            pub request_body: Option<String>,
            pub idempotency_key: Option<String>,
            /// Bumped when a body must change (new VoP token) after a definite refusal.
            pub key_generation: i32,
            pub sca_token: Option<String>,
            pub sca_method: Option<String>,
            pub sca_started_at: Option<ChronoDateTimeUtc>,
            pub qonto_bulk_id: Option<String>,
            pub first_sent_at: Option<ChronoDateTimeUtc>,
            /// Set before each SCA replay: a later try looks the bulk up before replaying.
            pub replayed_at: Option<ChronoDateTimeUtc>,
            pub last_error: Option<String>,
            pub created_at: ChronoDateTimeUtc,
            pub updated_at: ChronoDateTimeUtc,
        }
        no_relations!();
    }

    pub mod transfer {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "transfers")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub org_id: String,
            pub run_id: String,
            pub chunk_id: Option<String>,
            pub bill_id: String,
            pub status: String,
            pub amount: String,
            pub amount_cents: i64,
            pub reference: String,
            pub iban: String,
            pub creditor_name: String,
            pub beneficiary_id: Option<String>,
            pub trusted: bool,
            pub vop_result: Option<String>,
            pub vop_matched_name: Option<String>,
            pub vop_decision: Option<String>,
            pub scheduled_date: Option<Date>,
            pub attachment_id: Option<String>,
            pub qonto_transfer_id: Option<String>,
            pub failure_reason: Option<String>,
            pub created_at: ChronoDateTimeUtc,
            pub updated_at: ChronoDateTimeUtc,
            pub submitted_at: Option<ChronoDateTimeUtc>,
            pub settled_at: Option<ChronoDateTimeUtc>,
            /// Per-supplier grouping: the id of the first row of the Qonto transfer this bill
            /// is paid by together with others (its `client_transfer_id`); `None` when the
            /// bill is paid by a transfer of its own.
            pub group_id: Option<String>,
        }
        no_relations!();
    }

    pub mod beneficiary {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "beneficiaries")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub org_id: String,
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub iban: String,
            pub name: String,
            pub trusted: bool,
            pub status: String,
            pub refreshed_at: ChronoDateTimeUtc,
        }
        no_relations!();
    }
}

use entities::{payment_run, run_chunk, transfer};

/// An organization's payment policy (stored in `organizations.settings`). Every field has a
/// safe default: nothing is paid without a person unless the organization turns autopay on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct PaymentPolicy {
    /// Pay bills to trusted beneficiaries with a VoP match, under `autopay_limit`, on their
    /// due date, without a person (off by default).
    pub autopay: bool,
    /// Largest amount autopay may pay (decimal string, EUR).
    #[schema(value_type = String)]
    pub autopay_limit: Decimal,
    /// Accept VoP `CLOSE_MATCH` results without a person's confirmation.
    pub accept_close_match: bool,
    /// Accept VoP `NO_MATCH` / `NOT_POSSIBLE` results without a person's confirmation.
    pub accept_unverified: bool,
    /// `X-Qonto-2fa-Preference` for this organization (`paired-device`, `passkey`, `mock`);
    /// the instance's `[qonto] sca_method` when unset.
    pub sca_method: Option<String>,
    /// Learned from Qonto's 403: the plan (Solo Basic) refuses bulk transfers, so runs go out
    /// as single transfers.
    pub plan_forbids_bulk: bool,
    /// Send runs as approval requests (`requests/multi_transfers`) that an owner or admin
    /// approves in Qonto: for an initiator who is neither owner nor admin.
    pub approval_requests: bool,
    /// Transfers included in the plan each month, to warn before a run exceeds it.
    pub included_transfers_per_month: Option<u32>,
    /// Pay the bills of one supplier in a run by one transfer (same IBAN, payee name and
    /// execution date; the invoice references joined, within Qonto's 99 characters; at most
    /// 30,000 EUR so that no attachment is needed). A bill with a structured creditor reference
    /// (ISO 11649 `RF…`) is always paid on its own: the supplier's bank matches it exactly.
    /// Off by default: one transfer per bill.
    pub group_by_supplier: bool,
    /// Create the Qonto beneficiary (`POST /v2/sepa/beneficiaries`) of a supplier that has none
    /// when a run is submitted, and pay it by `beneficiary_id`, so that it shows in Qonto and an
    /// admin can trust it for later runs. Off by default: such payees go as inline beneficiary
    /// data (Qonto creates an untrusted beneficiary on the way). Either way the first payment
    /// needs SCA: beneficiaries created through the API are untrusted.
    pub create_beneficiaries: bool,
    /// Learned: Qonto asked for SCA to create a beneficiary, so `create_beneficiaries` pays new
    /// payees with inline data instead (no extra prompt on the user's phone for a request
    /// billbridge would not replay). Clear it to try again.
    pub beneficiary_create_needs_sca: bool,
    /// Qonto webhook subscription secret (`X-Qonto-Signature`), sealed at rest.
    #[schema(value_type = Option<String>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qonto_webhook_secret_sealed: Option<String>,
}

impl Default for PaymentPolicy {
    fn default() -> Self {
        PaymentPolicy {
            autopay: false,
            autopay_limit: Decimal::new(100_000, 2),
            accept_close_match: false,
            accept_unverified: false,
            sca_method: None,
            plan_forbids_bulk: false,
            approval_requests: false,
            included_transfers_per_month: None,
            group_by_supplier: false,
            create_beneficiaries: false,
            beneficiary_create_needs_sca: false,
            qonto_webhook_secret_sealed: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OrgSettings {
    #[serde(default)]
    payments: PaymentPolicy,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn parse_settings(raw: &str) -> Result<OrgSettings, StoreError> {
    if raw.trim().is_empty() {
        return Ok(OrgSettings::default());
    }
    serde_json::from_str(raw).map_err(corrupt)
}

/// What a run's preview says: counts, totals, per supplier, SCA, holds and warnings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunSummary {
    pub bill_count: usize,
    /// Total of the live transfers, decimal string.
    pub total: String,
    pub currency: String,
    pub suppliers: Vec<SupplierTotal>,
    /// Transfers that go without SCA (trusted beneficiaries referenced by id).
    pub without_sca: usize,
    /// Transfers that need the user's approval on their device.
    pub needing_sca: usize,
    /// Transfers whose payee check needs a person (CLOSE_MATCH, NO_MATCH, NOT_POSSIBLE).
    pub needing_review: usize,
    /// Bills taken out of the run, with the reason.
    pub removed: Vec<RemovedBill>,
    /// Coded warnings (`low_balance`, `quota_exceeded`, `single_transfers`, …).
    pub warnings: Vec<RunWarning>,
    /// Number of chunks (one Qonto bulk transfer each, ≤ 400 transfers).
    pub chunks: usize,
    /// Qonto transfers the run makes: `bill_count`, or fewer when the organization groups the
    /// bills of one supplier (`group_by_supplier`).
    #[serde(default)]
    pub qonto_transfers: usize,
    /// Payees without a Qonto beneficiary that billbridge creates when the run is submitted
    /// (`create_beneficiaries`).
    #[serde(default)]
    pub beneficiaries_to_create: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SupplierTotal {
    pub name: String,
    pub iban_masked: String,
    pub count: usize,
    pub total: String,
    pub trusted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RemovedBill {
    pub bill_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunWarning {
    pub code: String,
    pub message: String,
}

/// A run as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunView {
    #[schema(value_type = String)]
    pub id: RunId,
    pub kind: String,
    pub status: String,
    pub execution: String,
    pub sca_method: Option<String>,
    pub bill_count: i32,
    pub total: String,
    pub reason: Option<String>,
    pub summary: RunSummary,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Present on `GET /v1/payment-runs/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<ChunkView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfers: Option<Vec<TransferView>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChunkView {
    pub id: String,
    pub seq: i32,
    pub mode: String,
    pub status: String,
    pub trusted_only: bool,
    pub transfer_count: usize,
    /// While `awaiting_sca`: when the SCA session started (it expires 15 minutes later).
    pub sca_started_at: Option<DateTime<Utc>>,
    pub qonto_bulk_id: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferView {
    pub id: String,
    pub bill_id: String,
    pub chunk_id: Option<String>,
    pub status: String,
    pub amount: String,
    pub reference: String,
    /// Masked (`FR76…0189`).
    pub iban: String,
    pub creditor_name: String,
    pub beneficiary_id: Option<String>,
    pub trusted: bool,
    /// `MATCH_RESULT_MATCH`, `MATCH_RESULT_CLOSE_MATCH`, …
    pub vop_result: Option<String>,
    pub vop_matched_name: Option<String>,
    /// `accepted` when a person (or the policy) accepted a non-matching payee.
    pub vop_decision: Option<String>,
    pub scheduled_date: Option<NaiveDate>,
    pub qonto_transfer_id: Option<String>,
    pub failure_reason: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    /// Set when this bill is paid together with other bills of the same supplier by one Qonto
    /// transfer (the organization's `group_by_supplier` option): the same value on each of them.
    pub group_id: Option<String>,
}

pub(crate) fn cents_to_string(cents: i64) -> String {
    Decimal::new(cents, 2).to_string()
}

pub(crate) fn run_view(m: &payment_run::Model) -> Result<RunView, StoreError> {
    Ok(RunView {
        id: m.id.parse().map_err(corrupt)?,
        kind: m.kind.clone(),
        status: m.status.clone(),
        execution: m.execution.clone(),
        sca_method: m.sca_method.clone(),
        bill_count: m.bill_count,
        total: cents_to_string(m.total_cents),
        reason: m.reason.clone(),
        summary: if m.summary.is_empty() {
            RunSummary::default()
        } else {
            serde_json::from_str(&m.summary).map_err(corrupt)?
        },
        created_by: m.created_by.clone(),
        created_at: m.created_at,
        updated_at: m.updated_at,
        confirmed_at: m.confirmed_at,
        completed_at: m.completed_at,
        chunks: None,
        transfers: None,
    })
}

pub(crate) fn transfer_view(m: &transfer::Model) -> TransferView {
    TransferView {
        id: m.id.clone(),
        bill_id: m.bill_id.clone(),
        chunk_id: m.chunk_id.clone(),
        status: m.status.clone(),
        amount: m.amount.clone(),
        reference: m.reference.clone(),
        iban: crate::qonto::mask_iban(&m.iban),
        creditor_name: m.creditor_name.clone(),
        beneficiary_id: m.beneficiary_id.clone(),
        trusted: m.trusted,
        vop_result: m.vop_result.clone(),
        vop_matched_name: m.vop_matched_name.clone(),
        vop_decision: m.vop_decision.clone(),
        scheduled_date: m.scheduled_date,
        qonto_transfer_id: m.qonto_transfer_id.clone(),
        failure_reason: m.failure_reason.clone(),
        submitted_at: m.submitted_at,
        settled_at: m.settled_at,
        group_id: m.group_id.clone(),
    }
}

/// Filters for listing runs.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct RunFilter {
    pub status: Option<String>,
    /// At most this many (default 50, at most 500), newest first.
    pub limit: Option<u64>,
}

impl Store {
    /// The payment policy of an organization (defaults when never set).
    pub async fn payment_policy(&self, org: &OrgId) -> Result<PaymentPolicy, StoreError> {
        let m = organization::Entity::find_by_id(org.to_string())
            .one(self.connection())
            .await?
            .ok_or(StoreError::NotFound("organization"))?;
        Ok(parse_settings(&m.settings)?.payments)
    }

    /// Change an organization's payment policy with `f` (read-modify-write in one transaction).
    pub async fn update_payment_policy(
        &self,
        org: &OrgId,
        actor: &str,
        f: impl FnOnce(&mut PaymentPolicy),
    ) -> Result<PaymentPolicy, StoreError> {
        let w = self.begin_write().await?;
        let m = organization::Entity::find_by_id(org.to_string())
            .one(&w.txn)
            .await?
            .ok_or(StoreError::NotFound("organization"))?;
        let mut settings = parse_settings(&m.settings)?;
        let before = settings.payments.clone();
        f(&mut settings.payments);
        let after = settings.payments.clone();
        let mut am: organization::ActiveModel = m.into();
        am.settings = Set(serde_json::to_string(&settings).map_err(corrupt)?);
        am.update(&w.txn).await?;
        if before != after {
            let mut shown = serde_json::to_value(&after).map_err(corrupt)?;
            if let Some(o) = shown.as_object_mut() {
                o.remove("qonto_webhook_secret_sealed");
            }
            super::audit::append(
                &w.txn,
                super::audit::AuditEntry {
                    org_id: Some(org.clone()),
                    actor: actor.to_string(),
                    action: "org.payment_policy_changed".into(),
                    details: shown,
                    ..Default::default()
                },
            )
            .await?;
        }
        w.commit().await?;
        Ok(after)
    }

    /// Organizations with live transfers or runs in progress (for the follow-up loop).
    pub async fn orgs_with_open_payments(&self) -> Result<Vec<OrgId>, StoreError> {
        use sea_orm::QuerySelect;
        let mut orgs: Vec<String> = transfer::Entity::find()
            .select_only()
            .column(transfer::Column::OrgId)
            .distinct()
            .filter(transfer::Column::Status.is_in(transfer_status::LIVE.iter().copied()))
            .into_tuple::<String>()
            .all(self.connection())
            .await?;
        orgs.sort();
        orgs.dedup();
        orgs.into_iter()
            .map(|o| o.parse().map_err(corrupt))
            .collect()
    }
}

impl Scoped<'_> {
    /// List the organization's runs, newest first.
    pub async fn list_runs(&self, f: &RunFilter) -> Result<Vec<RunView>, StoreError> {
        let mut q = payment_run::Entity::find()
            .filter(payment_run::Column::OrgId.eq(self.org.to_string()))
            .order_by_desc(payment_run::Column::CreatedAt);
        if let Some(s) = &f.status {
            q = q.filter(payment_run::Column::Status.eq(s.clone()));
        }
        let limit = f.limit.unwrap_or(50).clamp(1, 500);
        use sea_orm::QuerySelect;
        q.limit(limit)
            .all(self.store.connection())
            .await?
            .iter()
            .map(run_view)
            .collect()
    }

    /// One run with its chunks and transfers.
    pub async fn get_run(&self, id: &RunId) -> Result<RunView, StoreError> {
        let m = payment_run::Entity::find_by_id(id.to_string())
            .filter(payment_run::Column::OrgId.eq(self.org.to_string()))
            .one(self.store.connection())
            .await?
            .ok_or(StoreError::NotFound("payment run"))?;
        let mut view = run_view(&m)?;
        let chunks = run_chunk::Entity::find()
            .filter(run_chunk::Column::RunId.eq(m.id.clone()))
            .order_by_asc(run_chunk::Column::Seq)
            .all(self.store.connection())
            .await?;
        let transfers = transfer::Entity::find()
            .filter(transfer::Column::RunId.eq(m.id.clone()))
            .order_by_asc(transfer::Column::Id)
            .all(self.store.connection())
            .await?;
        view.chunks = Some(
            chunks
                .iter()
                .map(|c| ChunkView {
                    id: c.id.clone(),
                    seq: c.seq,
                    mode: c.mode.clone(),
                    status: c.status.clone(),
                    trusted_only: c.trusted_only,
                    transfer_count: transfers
                        .iter()
                        .filter(|t| t.chunk_id.as_deref() == Some(c.id.as_str()))
                        .count(),
                    sca_started_at: c.sca_started_at,
                    qonto_bulk_id: c.qonto_bulk_id.clone(),
                    last_error: c.last_error.clone(),
                })
                .collect(),
        );
        view.transfers = Some(transfers.iter().map(transfer_view).collect());
        Ok(view)
    }

    /// Transfers of one bill (its payment attempts), oldest first.
    pub async fn bill_transfers(&self, bill_id: &str) -> Result<Vec<TransferView>, StoreError> {
        Ok(transfer::Entity::find()
            .filter(transfer::Column::OrgId.eq(self.org.to_string()))
            .filter(transfer::Column::BillId.eq(bill_id.to_string()))
            .order_by_asc(transfer::Column::CreatedAt)
            .all(self.store.connection())
            .await?
            .iter()
            .map(transfer_view)
            .collect())
    }
}

/// `now()` re-exported for the engine.
pub(crate) fn stamp() -> DateTime<Utc> {
    now()
}
