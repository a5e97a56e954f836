//! Bills: intake (one transaction: document, supplier master, dedupe, bill, history, audit,
//! inbound idempotency key), listing and the actions a person takes (hold, release, cancel).

use adapters::{AssessOptions, Bill, HoldReason};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use super::audit::{append, AuditEntry};
use super::entities::{bill, bill_history, document, inbound_key, supplier, supplier_iban};
use super::{now, Scoped, Store, StoreError};
use crate::ids::{BillId, OrgId, SourceId, SupplierId};
use crate::qonto::mask_iban;

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

impl Store {
    /// Record an incoming bill. Repeats (same webhook-id, or same source and external id)
    /// return the existing bill; concurrent repeats resolve to exactly one bill.
    pub async fn record_bill(&self, new: NewBill<'_>) -> Result<IntakeOutcome, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_record_bill(&new).await {
                Err(e) if e.is_unique_violation() => {
                    // A concurrent request with the same key won the race: answer with its bill.
                    if let Some(view) = self.find_existing(self.connection(), &new).await? {
                        return Ok(IntakeOutcome::Existing(view));
                    }
                    // Otherwise another bill created the same supplier or supplier IBAN at the
                    // same moment (PostgreSQL runs intakes concurrently): do it again, the row
                    // is there now.
                    if attempt >= 3 {
                        return Err(e);
                    }
                }
                other => return other,
            }
        }
    }

    async fn find_existing<C: ConnectionTrait>(
        &self,
        conn: &C,
        new: &NewBill<'_>,
    ) -> Result<Option<BillView>, StoreError> {
        if let Some(wid) = &new.webhook_id {
            if let Some(k) =
                inbound_key::Entity::find_by_id((new.source_id.to_string(), wid.clone()))
                    .one(conn)
                    .await?
            {
                if k.body_sha256 != new.body_sha256 {
                    return Err(StoreError::Conflict(
                        "this webhook-id was already used for a different body".into(),
                    ));
                }
                if let Some(bid) = k.bill_id {
                    if let Some(b) = bill::Entity::find_by_id(bid).one(conn).await? {
                        return Ok(Some(to_view(&b)?));
                    }
                }
            }
        }
        if let Some(ext) = &new.external_id {
            if let Some(b) = bill::Entity::find()
                .filter(bill::Column::SourceId.eq(new.source_id.to_string()))
                .filter(bill::Column::ExternalId.eq(ext.clone()))
                .one(conn)
                .await?
            {
                return Ok(Some(to_view(&b)?));
            }
        }
        Ok(None)
    }

    async fn try_record_bill(&self, new: &NewBill<'_>) -> Result<IntakeOutcome, StoreError> {
        let w = self.begin_write().await?;
        let txn = &w.txn;
        let org = new.org_id.to_string();
        let source = new.source_id.to_string();

        // 1. Repeats.
        // Read inside the transaction: a second pooled connection per request could exhaust
        // the pool under load (every request holding one and waiting for another).
        let existing = self.find_existing(txn, new).await?;
        if let Some(view) = existing {
            if let Some(wid) = &new.webhook_id {
                let known = inbound_key::Entity::find_by_id((source.clone(), wid.clone()))
                    .one(txn)
                    .await?;
                if known.is_none() {
                    insert_key(txn, &source, wid, &new.body_sha256, Some(view.id.as_str())).await?;
                    w.commit().await?;
                }
            }
            return Ok(IntakeOutcome::Existing(view));
        }

        // 2. The original document, content-addressed.
        let sha = &new.body_sha256;
        if document::Entity::find_by_id(sha.clone())
            .one(txn)
            .await?
            .is_none()
        {
            document::ActiveModel {
                sha256: Set(sha.clone()),
                content_type: Set(new.content_type.to_string()),
                size: Set(i64::try_from(new.body.len()).unwrap_or(i64::MAX)),
                content: Set(new.body.to_vec()),
                created_at: Set(now()),
            }
            .insert(txn)
            .await?;
        }

        // 3. Supplier master: identity, known IBANs; a new IBAN for a known supplier waits
        //    for a person (the classic invoice-fraud pattern).
        let mut bill = new.bill.clone();
        let bill_id = BillId::new();
        let identity = supplier_identity(&bill);
        let mut supplier_id = None;
        if let Some(identity) = &identity {
            let sup = match supplier::Entity::find()
                .filter(supplier::Column::OrgId.eq(org.clone()))
                .filter(supplier::Column::Identity.eq(identity.clone()))
                .one(txn)
                .await?
            {
                Some(s) => s,
                None => {
                    supplier::ActiveModel {
                        id: Set(SupplierId::new().to_string()),
                        org_id: Set(org.clone()),
                        identity: Set(identity.clone()),
                        name: Set(bill.seller.name.clone()),
                        vat_id: Set(bill.seller.vat_id.clone()),
                        siren: Set(bill.seller.siren().map(str::to_string)),
                        created_at: Set(now()),
                    }
                    .insert(txn)
                    .await?
                }
            };
            let ibans = supplier_iban::Entity::find()
                .filter(supplier_iban::Column::SupplierId.eq(sup.id.clone()))
                .all(txn)
                .await?;
            let approved: Vec<String> = ibans
                .iter()
                .filter(|i| i.status == "approved")
                .map(|i| i.iban.clone())
                .collect();
            // Prefer an account already on record when the invoice offers several.
            adapters::assess(
                &mut bill,
                &AssessOptions {
                    known_ibans: &approved,
                    accept_any_specification: false,
                },
            );
            if let Some(iban) = bill.payee_iban().map(str::to_string) {
                let record = ibans.iter().find(|i| i.iban == iban);
                match record {
                    Some(r) if r.status == "approved" => {}
                    Some(_) => bill.hold_reasons.push(HoldReason::IbanChanged),
                    None => {
                        let status = if ibans.is_empty() {
                            "approved"
                        } else {
                            "pending"
                        };
                        if status == "pending" {
                            bill.hold_reasons.push(HoldReason::IbanChanged);
                        }
                        supplier_iban::ActiveModel {
                            id: Set(uuid::Uuid::now_v7().simple().to_string()),
                            org_id: Set(org.clone()),
                            supplier_id: Set(sup.id.clone()),
                            iban: Set(iban),
                            status: Set(status.to_string()),
                            first_bill_id: Set(Some(bill_id.to_string())),
                            created_at: Set(now()),
                            decided_at: Set(None),
                            decided_by: Set(None),
                        }
                        .insert(txn)
                        .await?;
                    }
                }
            }
            supplier_id = Some(sup.id);
        }

        // 4. Duplicates: same supplier, number and amount, from any source.
        let dedupe_key = match (&identity, &bill.number, bill.amounts.payable) {
            (Some(i), Some(n), Some(a)) => Some(format!("{i}|{n}|{}", a.normalize())),
            _ => None,
        };
        if let Some(key) = &dedupe_key {
            let twin = bill::Entity::find()
                .filter(bill::Column::OrgId.eq(org.clone()))
                .filter(bill::Column::DedupeKey.eq(key.clone()))
                .filter(bill::Column::Status.ne(status::CANCELED))
                .one(txn)
                .await?;
            if twin.is_some() {
                bill.hold_reasons.push(HoldReason::Duplicate);
            }
        }
        bill.hold_reasons.sort();
        bill.hold_reasons.dedup();
        bill.payable = bill.hold_reasons.is_empty();
        let state = if bill.payable {
            status::READY
        } else {
            status::HELD
        };

        let pm = bill.chosen_payment();
        let at = now();
        let m = bill::ActiveModel {
            id: Set(bill_id.to_string()),
            org_id: Set(org.clone()),
            source_id: Set(source.clone()),
            external_id: Set(new.external_id.clone()),
            status: Set(state.to_string()),
            hold_reasons: Set(serde_json::to_string(&bill.hold_reasons).map_err(corrupt)?),
            warnings: Set(serde_json::to_string(&bill.warnings).map_err(corrupt)?),
            syntax: Set(bill.syntax.as_str().to_string()),
            kind: Set(code(&bill.kind)),
            type_code: Set(bill.type_code.clone()),
            number: Set(bill.number.clone()),
            issue_date: Set(bill.issue_date),
            due_date: Set(bill.due_date),
            currency: Set(bill.currency.clone()),
            amount_due: Set(bill.amounts.payable.map(|a| a.to_string())),
            amount_cents: Set(bill.amounts.payable.and_then(cents)),
            seller_name: Set(bill.seller.name.clone()),
            seller_vat_id: Set(bill.seller.vat_id.clone()),
            seller_siren: Set(bill.seller.siren().map(str::to_string)),
            supplier_id: Set(supplier_id),
            creditor_name: Set(bill.creditor_name().map(str::to_string)),
            iban: Set(pm.and_then(|p| p.iban.clone())),
            bic: Set(pm.and_then(|p| p.bic.clone())),
            payment_reference: Set(bill.payment_reference.clone()),
            document_sha256: Set(Some(sha.clone())),
            dedupe_key: Set(dedupe_key),
            bill: Set(serde_json::to_string(&bill).map_err(corrupt)?),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(txn)
        .await?;
        history(
            txn,
            &m.id,
            &org,
            None,
            state,
            new.actor,
            (!bill.hold_reasons.is_empty()).then(|| {
                bill.hold_reasons
                    .iter()
                    .map(code)
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        )
        .await?;
        if let Some(wid) = &new.webhook_id {
            insert_key(txn, &source, wid, sha, Some(&m.id)).await?;
        }
        append(
            txn,
            AuditEntry {
                org_id: Some(new.org_id.clone()),
                actor: new.actor.to_string(),
                action: "bill.received".into(),
                bill_id: Some(m.id.clone()),
                source_id: Some(source.clone()),
                details: serde_json::json!({
                    "number": bill.number,
                    "amount_due": m.amount_due,
                    "status": state,
                    "hold_reasons": bill.hold_reasons,
                    "iban": m.iban.as_deref().map(mask_iban),
                    "document_sha256": sha,
                }),
                ..Default::default()
            },
        )
        .await?;
        // Outcome events for the ERP, in the same transaction (outbox).
        let data = crate::events::bill_data(&m);
        crate::events::emit(
            txn,
            new.org_id,
            crate::events::NewEvent::bill(
                crate::events::EventType::BillReceived,
                &m,
                data.clone(),
            )?,
        )
        .await?;
        if state == status::HELD {
            crate::events::emit(
                txn,
                new.org_id,
                crate::events::NewEvent::bill(crate::events::EventType::BillHeld, &m, data)?,
            )
            .await?;
        }
        w.commit().await?;
        crate::events::wake();
        Ok(IntakeOutcome::Created(to_view(&m)?))
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

async fn insert_key<C: ConnectionTrait>(
    conn: &C,
    source: &str,
    webhook_id: &str,
    sha: &str,
    bill_id: Option<&str>,
) -> Result<(), StoreError> {
    inbound_key::ActiveModel {
        source_id: Set(source.to_string()),
        webhook_id: Set(webhook_id.to_string()),
        body_sha256: Set(sha.to_string()),
        bill_id: Set(bill_id.map(str::to_string)),
        created_at: Set(now()),
    }
    .insert(conn)
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
