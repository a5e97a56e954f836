//! Creating a run, preparing its preview (reconcile, chunks, VoP, warnings), confirming and
//! canceling it.

use std::collections::{BTreeMap, HashMap};

use adapters::HoldReason;
use chrono::{Datelike, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use tracing::Instrument;

use super::{kinds, EngineError, NewRun, Next};
use super::{Confirmation, Engine, Execution};
use crate::events::{EventType, NewEvent};
use crate::ids::{ChunkId, OrgId, RunId, TransferId};
use crate::qonto::{
    mask_iban, BeneficiaryFilter, BulkVerifyPayeeItem, BulkVerifyPayeeRequest, MatchResult,
    QontoApi, VerifyPayeeRequest, ATTACHMENT_THRESHOLD_EUR,
};
use crate::store::audit::{append, AuditEntry};
use crate::store::bills::{history, status as bill_status};
use crate::store::entities::bill;
use crate::store::jobs::{enqueue, NewJob};
use crate::store::payments::entities::{beneficiary, payment_run, run_chunk, transfer};
use crate::store::payments::{
    cents_to_string, chunk_mode, chunk_status, run_status, run_view, stamp, transfer_status,
    RemovedBill, RunSummary, RunView, RunWarning, SupplierTotal,
};
use crate::store::StoreError;

/// Longest reference sent (Qonto's single-transfer limit is the strictest documented: 99).
const MAX_REFERENCE: usize = 99;

/// The remittance reference: BT-83 when present (an RF creditor reference is kept intact),
/// else the invoice number; characters outside the SEPA set become spaces, and it is cut to
/// Qonto's limit.
pub(crate) fn reference_for(b: &bill::Model) -> String {
    let raw = b
        .payment_reference
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .or(b.number.as_deref())
        .unwrap_or(&b.id);
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        for c in fold_latin(c).chars() {
            let c = if crate::qonto::is_sepa_char(c) {
                c
            } else {
                ' '
            };
            if c == ' ' && out.ends_with(' ') {
                continue;
            }
            out.push(c);
        }
    }
    let trimmed: String = out.trim().chars().take(MAX_REFERENCE).collect();
    if trimmed.is_empty() {
        b.id.clone()
    } else {
        trimmed.trim_end().to_string()
    }
}

/// Latin letters with diacritics to their base letters, so that "März" stays readable in the
/// SEPA basic character set (a small table: the characters European invoices actually use).
fn fold_latin(c: char) -> String {
    let base = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "A",
        'ç' => "c",
        'Ç' => "C",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'È' | 'É' | 'Ê' | 'Ë' => "E",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' => "I",
        'ñ' => "n",
        'Ñ' => "N",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "O",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ü' => "U",
        'ý' | 'ÿ' => "y",
        'Ý' => "Y",
        'ß' => "ss",
        'æ' => "ae",
        'Æ' => "AE",
        'œ' => "oe",
        'Œ' => "OE",
        _ => return c.to_string(),
    };
    base.to_string()
}

pub(crate) async fn emit<C: ConnectionTrait>(
    conn: &C,
    org: &OrgId,
    event_type: EventType,
    bill: Option<&bill::Model>,
    run_id: Option<&str>,
    extra: serde_json::Value,
) -> Result<(), EngineError> {
    let mut data = match bill {
        Some(b) => crate::events::bill_data(b),
        None => serde_json::json!({}),
    };
    if let (Some(obj), Some(add)) = (data.as_object_mut(), extra.as_object()) {
        for (k, v) in add {
            obj.insert(k.clone(), v.clone());
        }
    }
    crate::events::emit(
        conn,
        org,
        NewEvent {
            event_type,
            source_id: bill.and_then(|b| b.source_id.parse().ok()),
            bill_id: bill.and_then(|b| b.id.parse().ok()),
            run_id: run_id.and_then(|r| r.parse().ok()),
            data,
        },
    )
    .await?;
    Ok(())
}

/// Move a bill between statuses, only from one of `from` (a stale worker cannot overwrite a
/// newer state). Returns the updated row, or `None` when the bill was not in `from`.
pub(crate) async fn move_bill<C: ConnectionTrait>(
    conn: &C,
    bill_id: &str,
    from: &[&str],
    to: &str,
    actor: &str,
    reason: Option<String>,
    add_hold: Option<HoldReason>,
) -> Result<Option<bill::Model>, EngineError> {
    let Some(m) = bill::Entity::find_by_id(bill_id.to_string())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if !from.contains(&m.status.as_str()) {
        return Ok(None);
    }
    let mut am: bill::ActiveModel = m.clone().into();
    am.status = Set(to.to_string());
    if let Some(h) = add_hold {
        let mut holds: Vec<HoldReason> = serde_json::from_str(&m.hold_reasons)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if !holds.contains(&h) {
            holds.push(h);
        }
        am.hold_reasons =
            Set(serde_json::to_string(&holds).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    }
    am.updated_at = Set(stamp());
    let updated = am.update(conn).await?;
    history(conn, &m.id, &m.org_id, Some(&m.status), to, actor, reason).await?;
    Ok(Some(updated))
}

/// Mark live transfers final with a reason and send their bills back (to `ready`, or held).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn end_transfers<C: ConnectionTrait>(
    conn: &C,
    org: &OrgId,
    transfers: &[transfer::Model],
    to: &str,
    reason: &str,
    bill_to: &str,
    hold: Option<HoldReason>,
    notify: bool,
) -> Result<usize, EngineError> {
    let mut n = 0;
    for t in transfers {
        let res = transfer::Entity::update_many()
            .col_expr(
                transfer::Column::Status,
                sea_orm::sea_query::Expr::value(to),
            )
            .col_expr(
                transfer::Column::FailureReason,
                sea_orm::sea_query::Expr::value(Some(reason.to_string())),
            )
            .col_expr(
                transfer::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(stamp()),
            )
            .filter(transfer::Column::Id.eq(t.id.clone()))
            .filter(transfer::Column::Status.is_in(transfer_status::LIVE.iter().copied()))
            .exec(conn)
            .await?;
        if res.rows_affected == 0 {
            continue;
        }
        n += 1;
        let bill = move_bill(
            conn,
            &t.bill_id,
            &[bill_status::IN_RUN, bill_status::SUBMITTED],
            bill_to,
            "engine",
            Some(reason.to_string()),
            hold,
        )
        .await?;
        if notify {
            if let Some(b) = &bill {
                emit(
                    conn,
                    org,
                    EventType::BillPaymentFailed,
                    Some(b),
                    Some(&t.run_id),
                    serde_json::json!({
                        "transfer_id": t.id,
                        "run_id": t.run_id,
                        "reason": reason,
                        "amount": t.amount,
                        "reference": t.reference,
                        "retryable": bill_to == bill_status::READY,
                    }),
                )
                .await?;
            }
        }
    }
    Ok(n)
}

/// Lock the run's row for this transaction, provided its status is still one of `from`.
///
/// Reading the status and then writing it is not enough on PostgreSQL (READ COMMITTED, no row
/// lock on a plain SELECT): two instances confirming the same run at the same moment both read
/// `awaiting_confirmation`, and both confirmed it (two `run.submit` jobs) — the two-instances
/// test caught it. The conditional UPDATE checks and locks in one statement: the second
/// transaction waits for the first, then finds the status changed and gets a conflict. (SQLite
/// serialises writers, so there the check above already held.)
async fn claim_run<C: ConnectionTrait>(
    conn: &C,
    run_id: &str,
    from: &[&str],
    rule: &str,
) -> Result<(), EngineError> {
    let res = payment_run::Entity::update_many()
        .col_expr(
            payment_run::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(stamp()),
        )
        .filter(payment_run::Column::Id.eq(run_id.to_string()))
        .filter(payment_run::Column::Status.is_in(from.iter().copied()))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(EngineError::Conflict(format!(
            "the run changed meanwhile (another request or instance acted on it); {rule}"
        )));
    }
    Ok(())
}

fn corrupt(e: impl std::fmt::Display) -> EngineError {
    EngineError::Store(StoreError::Corrupt(e.to_string()))
}

pub(crate) fn amount_of(t: &transfer::Model) -> Decimal {
    Decimal::new(t.amount_cents, 2)
}

impl Engine {
    /// Create a run from ready bills (explicit ids, or the filter). The bills move to `in_run`
    /// and one `planned` transfer is created for each, in one transaction with the
    /// `run.prepare` job.
    pub async fn create_run(
        &self,
        org: &OrgId,
        req: &NewRun,
        kind: &str,
        actor: &str,
    ) -> Result<RunView, EngineError> {
        if let Some(m) = &req.sca_method {
            super::parse_sca_method(m)?;
        }
        if req.max_total.is_some_and(|t| t <= Decimal::ZERO) {
            return Err(EngineError::Invalid("max_total must be positive".into()));
        }
        let store = self.store();
        let w = store.begin_write().await?;
        let mut q = bill::Entity::find().filter(bill::Column::OrgId.eq(org.to_string()));
        if req.bill_ids.is_empty() {
            q = q.filter(bill::Column::Status.eq(bill_status::READY));
            if let Some(d) = req.due_before {
                q = q.filter(bill::Column::DueDate.lte(d));
            }
            if let Some(s) = &req.supplier_id {
                q = q.filter(bill::Column::SupplierId.eq(s.clone()));
            }
        } else {
            let mut ids: Vec<String> = req.bill_ids.iter().map(|b| b.to_string()).collect();
            ids.sort();
            ids.dedup();
            q = q.filter(bill::Column::Id.is_in(ids));
        }
        let mut bills = q
            .order_by_asc(bill::Column::DueDate)
            .order_by_asc(bill::Column::CreatedAt)
            .order_by_asc(bill::Column::Id)
            .limit(self.settings().max_run_bills as u64 + 1)
            .all(&w.txn)
            .await?;
        if !req.bill_ids.is_empty() {
            let unknown: Vec<String> = req
                .bill_ids
                .iter()
                .filter(|id| !bills.iter().any(|b| b.id == id.as_str()))
                .map(|id| id.to_string())
                .collect();
            if !unknown.is_empty() {
                return Err(EngineError::Invalid(format!(
                    "unknown bills: {}",
                    unknown.join(", ")
                )));
            }
            let not_ready: Vec<String> = bills
                .iter()
                .filter(|b| b.status != bill_status::READY)
                .map(|b| format!("{} is {}", b.id, b.status))
                .collect();
            if !not_ready.is_empty() {
                return Err(EngineError::Conflict(format!(
                    "only ready bills can be paid: {}",
                    not_ready.join(", ")
                )));
            }
        }
        if bills.len() > self.settings().max_run_bills {
            if req.bill_ids.is_empty() {
                bills.truncate(self.settings().max_run_bills);
            } else {
                return Err(EngineError::Invalid(format!(
                    "a run holds at most {} bills",
                    self.settings().max_run_bills
                )));
            }
        }
        if let Some(max) = req.max_total {
            let mut total = Decimal::ZERO;
            bills.retain(|b| {
                let amount = Decimal::new(b.amount_cents.unwrap_or(0), 2);
                if total + amount <= max {
                    total += amount;
                    true
                } else {
                    false
                }
            });
        }
        if bills.is_empty() {
            return Err(EngineError::Invalid(
                "no ready bill matches this request".into(),
            ));
        }
        let run_id = RunId::new();
        let at = stamp();
        let today = Utc::now().date_naive();
        let total_cents: i64 = bills
            .iter()
            .map(|b| b.amount_cents.unwrap_or(0))
            .fold(0i64, i64::saturating_add);
        let model = payment_run::ActiveModel {
            id: Set(run_id.to_string()),
            org_id: Set(org.to_string()),
            kind: Set(kind.to_string()),
            status: Set(run_status::VERIFYING.into()),
            execution: Set(req.execution.as_str().into()),
            sca_method: Set(req.sca_method.clone()),
            summary: Set(String::new()),
            bill_count: Set(i32::try_from(bills.len()).unwrap_or(i32::MAX)),
            total_cents: Set(total_cents),
            created_by: Set(actor.to_string()),
            reason: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
            confirmed_at: Set(None),
            completed_at: Set(None),
        }
        .insert(&w.txn)
        .await?;
        for b in &bills {
            let (Some(cents), Some(iban)) = (b.amount_cents, b.iban.clone()) else {
                return Err(EngineError::Conflict(format!(
                    "bill {} has no amount or IBAN",
                    b.id
                )));
            };
            let scheduled = match req.execution {
                Execution::DueDate => b.due_date.filter(|d| *d > today),
                Execution::Now => None,
            };
            let res = transfer::ActiveModel {
                id: Set(TransferId::new().to_string()),
                org_id: Set(org.to_string()),
                run_id: Set(run_id.to_string()),
                chunk_id: Set(None),
                bill_id: Set(b.id.clone()),
                status: Set(transfer_status::PLANNED.into()),
                amount: Set(cents_to_string(cents)),
                amount_cents: Set(cents),
                reference: Set(reference_for(b)),
                iban: Set(iban),
                creditor_name: Set(b
                    .creditor_name
                    .clone()
                    .or_else(|| b.seller_name.clone())
                    .unwrap_or_default()),
                beneficiary_id: Set(None),
                trusted: Set(false),
                vop_result: Set(None),
                vop_matched_name: Set(None),
                vop_decision: Set(None),
                scheduled_date: Set(scheduled),
                attachment_id: Set(None),
                qonto_transfer_id: Set(None),
                failure_reason: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                submitted_at: Set(None),
                settled_at: Set(None),
                group_id: Set(None),
            }
            .insert(&w.txn)
            .await;
            if let Err(e) = res {
                let e = StoreError::Db(e);
                if e.is_unique_violation() {
                    return Err(EngineError::Conflict(format!(
                        "bill {} is already being paid",
                        b.id
                    )));
                }
                return Err(e.into());
            }
            let moved = move_bill(
                &w.txn,
                &b.id,
                &[bill_status::READY],
                bill_status::IN_RUN,
                actor,
                Some(format!("payment run {run_id}")),
                None,
            )
            .await?;
            if moved.is_none() {
                return Err(EngineError::Conflict(format!(
                    "bill {} changed while the run was created",
                    b.id
                )));
            }
        }
        enqueue(
            &w.txn,
            NewJob::now(
                kinds::RUN_PREPARE,
                Some(org.clone()),
                serde_json::json!({ "run_id": run_id.to_string() }),
            ),
        )
        .await?;
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(org.clone()),
                actor: actor.to_string(),
                action: "run.created".into(),
                run_id: Some(run_id.to_string()),
                details: serde_json::json!({
                    "kind": kind,
                    "bills": bills.len(),
                    "total": cents_to_string(total_cents),
                    "execution": req.execution.as_str(),
                }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        self.wake();
        tracing::info!(run_id = %run_id, org_id = %org, bills = bills.len(), "payment run created");
        Ok(run_view(&model)?)
    }

    /// `run.prepare`: reconcile, plan chunks, verify payees, preview.
    pub(crate) async fn prepare_run(&self, run_id: &str) -> Result<Next, EngineError> {
        let store = self.store();
        let Some(run) = payment_run::Entity::find_by_id(run_id.to_string())
            .one(store.connection())
            .await?
        else {
            return Ok(Next::Done);
        };
        if run.status != run_status::VERIFYING {
            return Ok(Next::Done);
        }
        let org = super::org_of(&run.org_id)?;
        let span = tracing::info_span!("prepare_run", run_id = %run.id, org_id = %org);
        self.prepare_inner(run, org).instrument(span).await
    }

    async fn prepare_inner(
        &self,
        run: payment_run::Model,
        org: OrgId,
    ) -> Result<Next, EngineError> {
        let store = self.store();
        let policy = store.payment_policy(&org).await?;
        let client = self.qonto().client(&org).await?;
        let mut transfers = transfer::Entity::find()
            .filter(transfer::Column::RunId.eq(run.id.clone()))
            .filter(transfer::Column::Status.eq(transfer_status::PLANNED))
            .order_by_asc(transfer::Column::Id)
            .all(store.connection())
            .await?;

        // Reconcile with Qonto beneficiaries (refresh the cache for these IBANs).
        let ibans: Vec<String> = {
            let mut v: Vec<String> = transfers.iter().map(|t| t.iban.clone()).collect();
            v.sort();
            v.dedup();
            v
        };
        let bens = self
            .refresh_beneficiaries(&org, client.as_ref(), &ibans)
            .await?;
        for t in transfers.iter_mut() {
            if let Some(b) = best_beneficiary(&bens, &t.iban) {
                t.beneficiary_id = Some(b.id.clone());
                t.trusted = b.trusted && b.status == "validated";
            } else {
                t.beneficiary_id = None;
                t.trusted = false;
            }
        }

        // Above 30,000 EUR a transfer needs the invoice as an attachment.
        let threshold = Decimal::from(ATTACHMENT_THRESHOLD_EUR);
        let mut removed: Vec<(transfer::Model, &'static str)> = Vec::new();
        let mut keep = Vec::with_capacity(transfers.len());
        for t in transfers {
            if amount_of(&t) > threshold && !self.has_pdf(&t.bill_id).await? {
                removed.push((t, "needs_attachment"));
            } else {
                keep.push(t);
            }
        }
        let mut transfers = keep;

        // Per-supplier grouping (organization option; never for autopay, which pays each
        // bill on its own due date).
        if policy.group_by_supplier && run.kind != "autopay" {
            super::group::group_by_supplier(&mut transfers, ATTACHMENT_THRESHOLD_EUR * 100);
        } else {
            for t in transfers.iter_mut() {
                t.group_id = None;
            }
        }

        // Chunks: single transfers when the plan forbids bulk or for autopay; else trusted
        // beneficiaries apart (no SCA), then the others, ≤ chunk_size Qonto transfers each
        // (a group of bills is one transfer and never spans two chunks).
        let request = policy.approval_requests && run.kind != "autopay";
        let single = !request && (policy.plan_forbids_bulk || run.kind == "autopay");
        transfers.sort_by(|a, b| {
            b.trusted
                .cmp(&a.trusted)
                .then_with(|| super::group::unit_id(a).cmp(super::group::unit_id(b)))
                .then(a.id.cmp(&b.id))
        });
        let mut groups: Vec<(bool, Vec<usize>)> = Vec::new();
        let mut units_in_last = 0usize;
        let mut i = 0;
        while i < transfers.len() {
            // The rows of one unit are adjacent (sorted by unit id above).
            let unit = super::group::unit_id(&transfers[i]).to_string();
            let end = (i..transfers.len())
                .find(|j| super::group::unit_id(&transfers[*j]) != unit)
                .unwrap_or(transfers.len());
            let t = &transfers[i];
            let trusted_unit = t.trusted && t.beneficiary_id.is_some();
            let fits = groups.last().is_some_and(|(trusted, _)| {
                !single
                    && (request || *trusted == trusted_unit)
                    && units_in_last < self.settings().chunk_size
            });
            if fits {
                if let Some((_, members)) = groups.last_mut() {
                    members.extend(i..end);
                }
                units_in_last += 1;
            } else {
                groups.push((trusted_unit, (i..end).collect()));
                units_in_last = 1;
            }
            i = end;
        }

        // Verification of Payee per chunk (the token covers exactly the chunk's IBANs).
        let mut chunk_tokens: Vec<Option<String>> = Vec::with_capacity(groups.len());
        for (_, members) in &groups {
            let token = self
                .verify_chunk(client.as_ref(), &mut transfers, members, single)
                .await?;
            chunk_tokens.push(token);
        }

        // Autopay pays only exact matches: the others are held for a person.
        if run.kind == "autopay" {
            let mut keep = Vec::new();
            let mut new_groups = Vec::new();
            let mut new_tokens = Vec::new();
            for ((trusted, members), token) in groups.into_iter().zip(chunk_tokens) {
                let ok = members
                    .iter()
                    .all(|i| transfers[*i].vop_result.as_deref() == Some(MATCH));
                if ok {
                    let start = keep.len();
                    for i in &members {
                        keep.push(transfers[*i].clone());
                    }
                    new_groups.push((trusted, (start..keep.len()).collect::<Vec<_>>()));
                    new_tokens.push(token);
                } else {
                    for i in members {
                        removed.push((transfers[i].clone(), "vop_mismatch"));
                    }
                }
            }
            transfers = keep;
            groups = new_groups;
            chunk_tokens = new_tokens;
        }

        // Decisions the policy takes for the person.
        for t in transfers.iter_mut() {
            let accepted = match t.vop_result.as_deref() {
                Some(MATCH) => false,
                Some(CLOSE) => policy.accept_close_match,
                _ => policy.accept_unverified,
            };
            if accepted {
                t.vop_decision = Some("accepted_by_policy".into());
            }
        }

        // Warnings: balance and plan quota.
        let total: Decimal = transfers.iter().map(amount_of).sum();
        let mut warnings = Vec::new();
        match client.get_organization().await {
            Ok(o) => match o.main_eur_account().and_then(|a| a.available()) {
                Some(avail) if avail < total => warnings.push(RunWarning {
                    code: "low_balance".into(),
                    message: format!(
                        "the run totals {total} EUR but the account's authorized balance is {avail} EUR"
                    ),
                }),
                Some(_) => {}
                None => warnings.push(RunWarning {
                    code: "no_eur_account".into(),
                    message: "Qonto shows no active main EUR account".into(),
                }),
            },
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => warnings.push(RunWarning {
                code: "balance_unknown".into(),
                message: format!("could not read the balance: {e}"),
            }),
        }
        let qonto_transfers = super::group::units(&transfers).len();
        if let Some(quota) = policy.included_transfers_per_month {
            let used = self.transfers_this_month(&org).await?;
            if used + qonto_transfers as u64 > u64::from(quota) {
                warnings.push(RunWarning {
                    code: "quota_exceeded".into(),
                    message: format!(
                        "{used} transfers this month plus {qonto_transfers} in this run exceed the {quota} included in the plan; Qonto charges the extra ones"
                    ),
                });
            }
        }
        // Payees without a Qonto beneficiary that the policy creates at submission.
        let beneficiaries_to_create =
            if policy.create_beneficiaries && !policy.beneficiary_create_needs_sca && !request {
                let mut ibans: Vec<&str> = transfers
                    .iter()
                    .filter(|t| t.beneficiary_id.is_none())
                    .map(|t| t.iban.as_str())
                    .collect();
                ibans.sort_unstable();
                ibans.dedup();
                ibans.len()
            } else {
                0
            };
        if policy.plan_forbids_bulk {
            warnings.push(RunWarning {
                code: "single_transfers".into(),
                message: "the Qonto plan does not allow bulk transfers: each transfer goes on its own (one per bill, or per supplier when grouped; each with its own SCA when the beneficiary is not trusted)".into(),
            });
        }

        // Write the plan, the summary and the event in one transaction.
        let w = store.begin_write().await?;
        let Some(current) = payment_run::Entity::find_by_id(run.id.clone())
            .one(&w.txn)
            .await?
        else {
            return Ok(Next::Done);
        };
        if current.status != run_status::VERIFYING {
            return Ok(Next::Done);
        }
        // Earlier tries of this job may have left chunks: start the plan over.
        run_chunk::Entity::delete_many()
            .filter(run_chunk::Column::RunId.eq(run.id.clone()))
            .filter(run_chunk::Column::Status.eq(chunk_status::PLANNED))
            .exec(&w.txn)
            .await?;
        let at = stamp();
        for (seq, ((trusted, members), token)) in groups.iter().zip(&chunk_tokens).enumerate() {
            let chunk_id = ChunkId::new().to_string();
            new_chunk(
                &chunk_id,
                &org,
                &run.id,
                i32::try_from(seq).unwrap_or(i32::MAX),
                if request {
                    chunk_mode::REQUEST
                } else if single {
                    chunk_mode::SINGLE
                } else {
                    chunk_mode::BULK
                },
                *trusted,
                token.clone(),
                at,
            )
            .insert(&w.txn)
            .await?;
            for i in members {
                let t = &transfers[*i];
                let mut am: transfer::ActiveModel = t.clone().into();
                am.chunk_id = Set(Some(chunk_id.clone()));
                am.beneficiary_id = Set(t.beneficiary_id.clone());
                am.trusted = Set(t.trusted);
                am.vop_result = Set(t.vop_result.clone());
                am.vop_matched_name = Set(t.vop_matched_name.clone());
                am.vop_decision = Set(t.vop_decision.clone());
                am.group_id = Set(t.group_id.clone());
                am.updated_at = Set(at);
                am.update(&w.txn).await?;
            }
        }
        let mut removed_view = Vec::new();
        for (t, reason) in &removed {
            let hold = match *reason {
                "needs_attachment" => HoldReason::NeedsAttachment,
                _ => HoldReason::VopMismatch,
            };
            end_transfers(
                &w.txn,
                &org,
                std::slice::from_ref(t),
                transfer_status::CANCELED,
                reason,
                bill_status::HELD,
                Some(hold),
                false,
            )
            .await?;
            if let Some(b) = bill::Entity::find_by_id(t.bill_id.clone())
                .one(&w.txn)
                .await?
            {
                emit(
                    &w.txn,
                    &org,
                    EventType::BillHeld,
                    Some(&b),
                    Some(&run.id),
                    serde_json::json!({ "reason": reason }),
                )
                .await?;
            }
            removed_view.push(RemovedBill {
                bill_id: t.bill_id.clone(),
                reason: reason.to_string(),
            });
        }
        let mut summary = summarize(&transfers, single, groups.len(), removed_view, warnings);
        summary.beneficiaries_to_create = beneficiaries_to_create;
        let needs_review = summary.needing_review;
        let total_cents: i64 = transfers.iter().map(|t| t.amount_cents).sum();
        let mut am: payment_run::ActiveModel = current.into();
        am.summary = Set(serde_json::to_string(&summary).map_err(corrupt)?);
        am.bill_count = Set(i32::try_from(transfers.len()).unwrap_or(i32::MAX));
        am.total_cents = Set(total_cents);
        am.updated_at = Set(at);
        if transfers.is_empty() {
            am.status = Set(run_status::CANCELED.into());
            am.reason = Set(Some("no bill left to pay".into()));
            am.completed_at = Set(Some(at));
        } else if run.kind == "autopay" && needs_review == 0 {
            am.status = Set(run_status::SUBMITTING.into());
            am.confirmed_at = Set(Some(at));
            enqueue(&w.txn, super::submit_job(&org, &run.id)).await?;
        } else {
            am.status = Set(run_status::AWAITING_CONFIRMATION.into());
        }
        let updated = am.update(&w.txn).await?;
        if updated.status == run_status::AWAITING_CONFIRMATION {
            emit(
                &w.txn,
                &org,
                EventType::PaymentRunAwaitingConfirmation,
                None,
                Some(&run.id),
                serde_json::json!({
                    "run_id": run.id,
                    "status": updated.status,
                    "bill_ids": transfers.iter().map(|t| t.bill_id.clone()).collect::<Vec<_>>(),
                    "total_amount": cents_to_string(total_cents),
                    "currency": "EUR",
                    "summary": summary,
                }),
            )
            .await?;
        }
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(org.clone()),
                actor: "engine".into(),
                action: "run.prepared".into(),
                run_id: Some(run.id.clone()),
                details: serde_json::to_value(&summary).map_err(corrupt)?,
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        self.wake();
        Ok(Next::Done)
    }

    async fn has_pdf(&self, bill_id: &str) -> Result<bool, EngineError> {
        use crate::store::entities::document;
        let Some(b) = bill::Entity::find_by_id(bill_id.to_string())
            .one(self.store().connection())
            .await?
        else {
            return Ok(false);
        };
        let Some(sha) = b.document_sha256 else {
            return Ok(false);
        };
        let doc = document::Entity::find_by_id(sha)
            .select_only()
            .column(document::Column::ContentType)
            .into_tuple::<String>()
            .one(self.store().connection())
            .await?;
        Ok(doc.is_some_and(|ct| ct.starts_with("application/pdf")))
    }

    async fn transfers_this_month(&self, org: &OrgId) -> Result<u64, EngineError> {
        let now = Utc::now();
        let start = now
            .date_naive()
            .with_day(1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
            .unwrap_or(now);
        // Bills paid together by one transfer count once.
        let rows: Vec<(String, Option<String>)> = transfer::Entity::find()
            .select_only()
            .column(transfer::Column::Id)
            .column(transfer::Column::GroupId)
            .filter(transfer::Column::OrgId.eq(org.to_string()))
            .filter(transfer::Column::SubmittedAt.gte(start))
            .into_tuple()
            .all(self.store().connection())
            .await?;
        let units: std::collections::HashSet<String> =
            rows.into_iter().map(|(id, g)| g.unwrap_or(id)).collect();
        Ok(units.len() as u64)
    }

    /// Refresh the beneficiary cache for these IBANs from Qonto and return the matches.
    pub(crate) async fn refresh_beneficiaries(
        &self,
        org: &OrgId,
        client: &dyn QontoApi,
        ibans: &[String],
    ) -> Result<Vec<beneficiary::Model>, EngineError> {
        if ibans.is_empty() {
            return Ok(Vec::new());
        }
        let found = client
            .list_beneficiaries(&BeneficiaryFilter {
                ibans: ibans.to_vec(),
                ..Default::default()
            })
            .await?;
        self.cache_beneficiaries(org, found).await
    }

    /// Keep these Qonto beneficiaries in the organization's cache; returns them as cached.
    pub(crate) async fn cache_beneficiaries(
        &self,
        org: &OrgId,
        found: Vec<crate::qonto::Beneficiary>,
    ) -> Result<Vec<beneficiary::Model>, EngineError> {
        let at = stamp();
        let w = self.store().begin_write().await?;
        let mut out = Vec::with_capacity(found.len());
        for b in found {
            let iban = crate::qonto::normalize_iban_shape(&b.iban).unwrap_or(b.iban.clone());
            let model = beneficiary::Model {
                org_id: org.to_string(),
                id: b.id.clone(),
                iban,
                name: b.name.clone(),
                trusted: b.trusted,
                status: b.status.clone(),
                refreshed_at: at,
            };
            let existing = beneficiary::Entity::find_by_id((org.to_string(), b.id.clone()))
                .one(&w.txn)
                .await?;
            let am: beneficiary::ActiveModel = model.clone().into();
            let mut am = am.reset_all();
            if existing.is_some() {
                am.org_id = sea_orm::ActiveValue::Unchanged(org.to_string());
                am.id = sea_orm::ActiveValue::Unchanged(b.id.clone());
                am.update(&w.txn).await?;
            } else {
                am.insert(&w.txn).await?;
            }
            out.push(model);
        }
        w.commit().await?;
        Ok(out)
    }

    /// Verify the payees of one chunk; returns the proof token (None when verification is
    /// not possible at all, which a person then has to accept).
    pub(crate) async fn verify_chunk(
        &self,
        client: &dyn QontoApi,
        transfers: &mut [transfer::Model],
        members: &[usize],
        single: bool,
    ) -> Result<Option<String>, EngineError> {
        // A single transfer needs a single proof token; a bulk's token must come from
        // `bulk_verify_payee` over exactly its IBANs, even for one item.
        // A single chunk is one transfer: one bill, or one supplier's grouped bills (one payee).
        let one_payee = members.first().is_some_and(|first| {
            let lead = &transfers[*first];
            members.iter().all(|i| {
                transfers[*i].iban == lead.iban && transfers[*i].creditor_name == lead.creditor_name
            })
        });
        if single && one_payee {
            let lead = &transfers[members[0]];
            let res = client
                .verify_payee(&VerifyPayeeRequest {
                    iban: lead.iban.clone(),
                    beneficiary_name: vop_name(&lead.creditor_name),
                })
                .await?;
            for i in members {
                let t = &mut transfers[*i];
                t.vop_result = Some(match_code(res.match_result).into());
                t.vop_matched_name = res.matched_name.clone();
            }
            return Ok(Some(res.proof_token.0));
        }
        // One entry per Qonto transfer: the bills of a group share their payee (and the chunk's
        // 400 are transfers, so the check never exceeds Qonto's 400 either).
        let mut requests: Vec<BulkVerifyPayeeItem> = Vec::new();
        for i in members {
            let t = &transfers[*i];
            let id = super::group::unit_id(t);
            if !requests.iter().any(|r| r.id == id) {
                requests.push(BulkVerifyPayeeItem {
                    id: id.to_string(),
                    beneficiary_name: vop_name(&t.creditor_name),
                    iban: t.iban.clone(),
                });
            }
        }
        let res = client
            .bulk_verify_payee(&BulkVerifyPayeeRequest { requests })
            .await?;
        let by_id: HashMap<&str, _> = res.requests.iter().map(|e| (e.id.as_str(), e)).collect();
        for i in members {
            let t = &mut transfers[*i];
            match by_id.get(super::group::unit_id(t)) {
                Some(e) => {
                    t.vop_result = Some(
                        e.match_result
                            .map(match_code)
                            .unwrap_or("MATCH_RESULT_NOT_POSSIBLE")
                            .into(),
                    );
                    t.vop_matched_name = e.matched_name.clone();
                }
                None => {
                    t.vop_result = Some("MATCH_RESULT_NOT_POSSIBLE".into());
                    t.vop_matched_name = None;
                }
            }
        }
        Ok(Some(res.proof_token.0))
    }

    /// A person confirms the previewed run (accepting or excluding payees that did not match).
    pub async fn confirm_run(
        &self,
        org: &OrgId,
        run_id: &RunId,
        c: &Confirmation,
        actor: &str,
    ) -> Result<RunView, EngineError> {
        let w = self.store().begin_write().await?;
        let run = payment_run::Entity::find_by_id(run_id.to_string())
            .filter(payment_run::Column::OrgId.eq(org.to_string()))
            .one(&w.txn)
            .await?
            .ok_or(StoreError::NotFound("payment run"))?;
        if run.status != run_status::AWAITING_CONFIRMATION {
            return Err(EngineError::Conflict(format!(
                "the run is {}; only a run awaiting confirmation can be confirmed",
                run.status
            )));
        }
        claim_run(
            &w.txn,
            &run.id,
            &[run_status::AWAITING_CONFIRMATION],
            "only a run awaiting confirmation can be confirmed",
        )
        .await?;
        let transfers = transfer::Entity::find()
            .filter(transfer::Column::RunId.eq(run.id.clone()))
            .filter(transfer::Column::Status.eq(transfer_status::PLANNED))
            .all(&w.txn)
            .await?;
        for id in c.accept_payees.iter().chain(&c.exclude) {
            if !transfers.iter().any(|t| t.id == id.as_str()) {
                return Err(EngineError::Invalid(format!(
                    "transfer {id} is not a planned transfer of this run"
                )));
            }
        }
        let excluded: Vec<transfer::Model> = transfers
            .iter()
            .filter(|t| c.exclude.iter().any(|x| x.as_str() == t.id))
            .cloned()
            .collect();
        end_transfers(
            &w.txn,
            org,
            &excluded,
            transfer_status::CANCELED,
            &format!("excluded by {actor}"),
            bill_status::READY,
            None,
            false,
        )
        .await?;
        let mut pending_review = Vec::new();
        let mut live_total: i64 = 0;
        let mut live_count = 0;
        for t in &transfers {
            if excluded.iter().any(|x| x.id == t.id) {
                continue;
            }
            live_total += t.amount_cents;
            live_count += 1;
            let needs_review = t.vop_result.as_deref() != Some(MATCH) && t.vop_decision.is_none();
            if needs_review {
                if c.accept_payees.iter().any(|a| a.as_str() == t.id) {
                    let mut am: transfer::ActiveModel = t.clone().into();
                    am.vop_decision = Set(Some(format!("accepted by {actor}")));
                    am.updated_at = Set(stamp());
                    am.update(&w.txn).await?;
                } else {
                    pending_review.push(format!(
                        "{} ({}, {})",
                        t.id,
                        t.creditor_name,
                        t.vop_result.as_deref().unwrap_or("not verified")
                    ));
                }
            }
        }
        if !pending_review.is_empty() {
            return Err(EngineError::Conflict(format!(
                "payees need a decision (accept_payees or exclude): {}",
                pending_review.join("; ")
            )));
        }
        // A chunk that lost members must verify its (new) IBAN set again.
        let mut touched: Vec<String> = excluded.iter().filter_map(|t| t.chunk_id.clone()).collect();
        touched.sort();
        touched.dedup();
        for chunk_id in touched {
            let left = transfer::Entity::find()
                .filter(transfer::Column::ChunkId.eq(chunk_id.clone()))
                .filter(transfer::Column::Status.eq(transfer_status::PLANNED))
                .count(&w.txn)
                .await?;
            let Some(ch) = run_chunk::Entity::find_by_id(chunk_id).one(&w.txn).await? else {
                continue;
            };
            let mut am: run_chunk::ActiveModel = ch.into();
            if left == 0 {
                am.status = Set(chunk_status::CANCELED.into());
            } else {
                am.vop_token = Set(None);
                am.vop_at = Set(None);
            }
            am.updated_at = Set(stamp());
            am.update(&w.txn).await?;
        }
        let at = stamp();
        let mut am: payment_run::ActiveModel = run.clone().into();
        am.updated_at = Set(at);
        am.bill_count = Set(live_count);
        am.total_cents = Set(live_total);
        if live_count == 0 {
            am.status = Set(run_status::CANCELED.into());
            am.reason = Set(Some("every bill was excluded".into()));
            am.completed_at = Set(Some(at));
        } else {
            am.status = Set(run_status::SUBMITTING.into());
            am.confirmed_at = Set(Some(at));
            enqueue(&w.txn, super::submit_job(org, &run.id)).await?;
        }
        let updated = am.update(&w.txn).await?;
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(org.clone()),
                actor: actor.to_string(),
                action: "run.confirmed".into(),
                run_id: Some(run.id.clone()),
                details: serde_json::json!({
                    "accepted_payees": c.accept_payees,
                    "excluded": c.exclude,
                    "bills": live_count,
                    "total": cents_to_string(live_total),
                }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        self.wake();
        tracing::info!(run_id = %run.id, org_id = %org, bills = live_count, "payment run confirmed");
        Ok(run_view(&updated)?)
    }

    /// Cancel a run that has not been sent to Qonto yet; its bills go back to `ready`.
    pub async fn cancel_run(
        &self,
        org: &OrgId,
        run_id: &RunId,
        actor: &str,
    ) -> Result<RunView, EngineError> {
        let w = self.store().begin_write().await?;
        let run = payment_run::Entity::find_by_id(run_id.to_string())
            .filter(payment_run::Column::OrgId.eq(org.to_string()))
            .one(&w.txn)
            .await?
            .ok_or(StoreError::NotFound("payment run"))?;
        if ![
            run_status::DRAFT,
            run_status::VERIFYING,
            run_status::AWAITING_CONFIRMATION,
        ]
        .contains(&run.status.as_str())
        {
            return Err(EngineError::Conflict(format!(
                "the run is {}; only a run not yet sent to Qonto can be canceled",
                run.status
            )));
        }
        claim_run(
            &w.txn,
            &run.id,
            &[
                run_status::DRAFT,
                run_status::VERIFYING,
                run_status::AWAITING_CONFIRMATION,
            ],
            "only a run not yet sent to Qonto can be canceled",
        )
        .await?;
        let transfers = transfer::Entity::find()
            .filter(transfer::Column::RunId.eq(run.id.clone()))
            .filter(transfer::Column::Status.eq(transfer_status::PLANNED))
            .all(&w.txn)
            .await?;
        end_transfers(
            &w.txn,
            org,
            &transfers,
            transfer_status::CANCELED,
            &format!("run canceled by {actor}"),
            bill_status::READY,
            None,
            false,
        )
        .await?;
        run_chunk::Entity::update_many()
            .col_expr(
                run_chunk::Column::Status,
                sea_orm::sea_query::Expr::value(chunk_status::CANCELED),
            )
            .filter(run_chunk::Column::RunId.eq(run.id.clone()))
            .exec(&w.txn)
            .await?;
        let at = stamp();
        let mut am: payment_run::ActiveModel = run.clone().into();
        am.status = Set(run_status::CANCELED.into());
        am.reason = Set(Some(format!("canceled by {actor}")));
        am.updated_at = Set(at);
        am.completed_at = Set(Some(at));
        let updated = am.update(&w.txn).await?;
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(org.clone()),
                actor: actor.to_string(),
                action: "run.canceled".into(),
                run_id: Some(run.id.clone()),
                details: serde_json::json!({ "bills": transfers.len() }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        Ok(run_view(&updated)?)
    }
}

/// A planned chunk (no request body, key or SCA state yet).
#[allow(clippy::too_many_arguments)]
pub(crate) fn new_chunk(
    id: &str,
    org: &OrgId,
    run_id: &str,
    seq: i32,
    mode: &str,
    trusted_only: bool,
    vop_token: Option<String>,
    at: chrono::DateTime<Utc>,
) -> run_chunk::ActiveModel {
    run_chunk::ActiveModel {
        id: Set(id.to_string()),
        org_id: Set(org.to_string()),
        run_id: Set(run_id.to_string()),
        seq: Set(seq),
        mode: Set(mode.to_string()),
        status: Set(chunk_status::PLANNED.into()),
        trusted_only: Set(trusted_only),
        vop_at: Set(vop_token.as_ref().map(|_| at)),
        vop_token: Set(vop_token),
        request_body: Set(None),
        idempotency_key: Set(None),
        key_generation: Set(0),
        sca_token: Set(None),
        sca_method: Set(None),
        sca_started_at: Set(None),
        qonto_bulk_id: Set(None),
        first_sent_at: Set(None),
        replayed_at: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
}

pub(crate) const MATCH: &str = "MATCH_RESULT_MATCH";
const CLOSE: &str = "MATCH_RESULT_CLOSE_MATCH";

pub(crate) fn match_code(m: MatchResult) -> &'static str {
    match m {
        MatchResult::Match => MATCH,
        MatchResult::CloseMatch => CLOSE,
        MatchResult::NoMatch => "MATCH_RESULT_NO_MATCH",
        MatchResult::NotPossible => "MATCH_RESULT_NOT_POSSIBLE",
        MatchResult::Unspecified | MatchResult::Unknown => "MATCH_RESULT_UNSPECIFIED",
    }
}

/// The name sent to VoP (Qonto: 1..=140 characters).
pub(crate) fn vop_name(name: &str) -> String {
    let n: String = name
        .trim()
        .chars()
        .take(crate::qonto::MAX_NAME_LEN)
        .collect();
    if n.is_empty() {
        "unknown".into()
    } else {
        n
    }
}

/// The validated, trusted beneficiary for an IBAN first; else any validated one; else any
/// pending one. Never a declined one (Qonto cannot pay it).
pub(crate) fn best_beneficiary<'a>(
    bens: &'a [beneficiary::Model],
    iban: &str,
) -> Option<&'a beneficiary::Model> {
    let same: Vec<&beneficiary::Model> = bens
        .iter()
        .filter(|b| b.iban == iban && b.status != "declined")
        .collect();
    same.iter()
        .find(|b| b.trusted && b.status == "validated")
        .or_else(|| same.iter().find(|b| b.status == "validated"))
        .or_else(|| same.first())
        .copied()
}

fn summarize(
    transfers: &[transfer::Model],
    single: bool,
    chunks: usize,
    removed: Vec<RemovedBill>,
    warnings: Vec<RunWarning>,
) -> RunSummary {
    let mut per: BTreeMap<(String, String), (usize, Decimal, bool)> = BTreeMap::new();
    let mut without_sca = 0;
    let mut needing_review = 0;
    for t in transfers {
        let e = per
            .entry((t.creditor_name.clone(), t.iban.clone()))
            .or_insert((0, Decimal::ZERO, t.trusted));
        e.0 += 1;
        e.1 += amount_of(t);
        // Trusted beneficiaries referenced by id go without SCA — in a bulk only when the whole
        // chunk is trusted, which the planner guarantees by keeping them apart.
        if t.trusted && t.beneficiary_id.is_some() {
            without_sca += 1;
        }
        if t.vop_result.as_deref() != Some(MATCH) && t.vop_decision.is_none() {
            needing_review += 1;
        }
    }
    let _ = single;
    RunSummary {
        bill_count: transfers.len(),
        total: transfers.iter().map(amount_of).sum::<Decimal>().to_string(),
        currency: "EUR".into(),
        suppliers: per
            .into_iter()
            .map(|((name, iban), (count, total, trusted))| SupplierTotal {
                name,
                iban_masked: mask_iban(&iban),
                count,
                total: total.to_string(),
                trusted,
            })
            .collect(),
        without_sca,
        needing_sca: transfers.len() - without_sca,
        needing_review,
        removed,
        warnings,
        chunks,
        qonto_transfers: super::group::units(transfers).len(),
        beneficiaries_to_create: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::BillId;

    fn bill_with(reference: Option<&str>, number: Option<&str>) -> bill::Model {
        bill::Model {
            id: BillId::new().to_string(),
            org_id: String::new(),
            source_id: String::new(),
            external_id: None,
            status: "ready".into(),
            hold_reasons: "[]".into(),
            warnings: "[]".into(),
            syntax: "ubl-invoice".into(),
            kind: "invoice".into(),
            type_code: None,
            number: number.map(str::to_string),
            issue_date: None,
            due_date: None,
            currency: None,
            amount_due: None,
            amount_cents: None,
            seller_name: None,
            seller_vat_id: None,
            seller_siren: None,
            supplier_id: None,
            creditor_name: None,
            iban: None,
            bic: None,
            payment_reference: reference.map(str::to_string),
            document_sha256: None,
            dedupe_key: None,
            bill: "{}".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn reference_prefers_bt83_keeps_rf_and_fits_sepa() {
        assert_eq!(
            reference_for(&bill_with(Some("RF18539007547034"), Some("INV-1"))),
            "RF18539007547034"
        );
        assert_eq!(reference_for(&bill_with(None, Some("INV-1"))), "INV-1");
        assert_eq!(
            reference_for(&bill_with(Some("  "), Some("Rechnung №42 – März"))),
            "Rechnung 42 Marz"
        );
        let long = "A".repeat(300);
        assert_eq!(reference_for(&bill_with(Some(&long), None)).len(), 99);
    }

    #[test]
    fn best_beneficiary_prefers_trusted_validated() {
        let mk = |id: &str, trusted: bool, status: &str| beneficiary::Model {
            org_id: "o".into(),
            id: id.into(),
            iban: "FR7630006000011234567890189".into(),
            name: "ACME".into(),
            trusted,
            status: status.into(),
            refreshed_at: Utc::now(),
        };
        let bens = vec![
            mk("a", false, "validated"),
            mk("b", true, "pending"),
            mk("c", true, "validated"),
        ];
        assert_eq!(
            best_beneficiary(&bens, "FR7630006000011234567890189").map(|b| b.id.as_str()),
            Some("c")
        );
        assert!(best_beneficiary(&bens, "DE89370400440532013000").is_none());
        // A declined beneficiary is never picked, even when it is the only one.
        let declined = vec![mk("d", true, "declined"), mk("e", false, "pending")];
        assert_eq!(
            best_beneficiary(&declined, "FR7630006000011234567890189").map(|b| b.id.as_str()),
            Some("e")
        );
        assert!(best_beneficiary(&declined[..1], "FR7630006000011234567890189").is_none());
    }
}
