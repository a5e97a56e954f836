//! Following every transfer until it is final; autopay; sandbox SCA decisions.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::group::units;
use super::plan::{emit, move_bill};
use super::submit::{
    apply_bulk_results, chunk_transfers, mark_created, our_status, refresh_run, request_note,
};
use super::{Engine, EngineError, NewRun};
use crate::events::EventType;
use crate::ids::{OrgId, RunId};
use crate::qonto::{MockScaDecision, ScaSessionToken, SepaTransfer, MAX_IDS_PER_LIST};
use crate::store::bills::status as bill_status;
use crate::store::entities::bill;
use crate::store::payments::entities::{payment_run, run_chunk, transfer};
use crate::store::payments::{chunk_mode, chunk_status, stamp, transfer_status};
use crate::store::StoreError;

/// Apply a Qonto transfer's status to our row (never out of a terminal state: invariant 5).
/// Returns the run id when something changed; the caller brings the run's status up to date
/// (once per run, not once per transfer).
pub(crate) async fn apply_transfer_status<C: ConnectionTrait>(
    conn: &C,
    org: &OrgId,
    q: &SepaTransfer,
) -> Result<Option<String>, EngineError> {
    let Some(next) = our_status(q.status) else {
        return Ok(None);
    };
    // One row per bill: several when the supplier's bills were paid by one transfer.
    let rows = transfer::Entity::find()
        .filter(transfer::Column::OrgId.eq(org.to_string()))
        .filter(transfer::Column::QontoTransferId.eq(q.id.clone()))
        .all(conn)
        .await?;
    let mut changed = None;
    for t in rows {
        if let Some(run) = apply_to_row(conn, org, q, t, next).await? {
            changed = Some(run);
        }
    }
    Ok(changed)
}

async fn apply_to_row<C: ConnectionTrait>(
    conn: &C,
    org: &OrgId,
    q: &SepaTransfer,
    t: transfer::Model,
    next: &'static str,
) -> Result<Option<String>, EngineError> {
    if t.status == next || transfer_status::FINAL.contains(&t.status.as_str()) {
        return Ok(None);
    }
    let at = stamp();
    let mut update = transfer::Entity::update_many()
        .col_expr(
            transfer::Column::Status,
            sea_orm::sea_query::Expr::value(next),
        )
        .col_expr(
            transfer::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(at),
        );
    if next == transfer_status::SETTLED {
        let settled_at = q.completed_at.or(q.processed_at).unwrap_or(at);
        update = update.col_expr(
            transfer::Column::SettledAt,
            sea_orm::sea_query::Expr::value(Some(settled_at)),
        );
    }
    if let Some(reason) = &q.declined_reason {
        update = update.col_expr(
            transfer::Column::FailureReason,
            sea_orm::sea_query::Expr::value(Some(reason.clone())),
        );
    }
    let res = update
        .filter(transfer::Column::Id.eq(t.id.clone()))
        .filter(transfer::Column::Status.is_in(transfer_status::LIVE.iter().copied()))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    let reference = super::group::sent_reference(conn, &t).await?;
    match next {
        transfer_status::SETTLED => {
            let paid_at = q.completed_at.or(q.processed_at).unwrap_or(at);
            if let Some(b) = move_bill(
                conn,
                &t.bill_id,
                &[bill_status::SUBMITTED, bill_status::IN_RUN],
                bill_status::PAID,
                "engine",
                Some(format!("Qonto transfer {} settled", q.id)),
                None,
            )
            .await?
            {
                emit(
                    conn,
                    org,
                    EventType::BillPaid,
                    Some(&b),
                    Some(&t.run_id),
                    serde_json::json!({
                        "transfer_id": t.id,
                        "qonto_transfer_id": q.id,
                        "run_id": t.run_id,
                        "reference": reference,
                        "group_id": t.group_id,
                        "amount": t.amount,
                        "currency": "EUR",
                        "paid_at": paid_at,
                    }),
                )
                .await?;
            }
        }
        transfer_status::DECLINED | transfer_status::CANCELED => {
            let reason = q
                .declined_reason
                .clone()
                .unwrap_or_else(|| format!("transfer {next} at Qonto"));
            // The transfer row is already final; send the bill back and tell the ERP.
            let bill_to = bill_status::FAILED;
            if let Some(b) = move_bill(
                conn,
                &t.bill_id,
                &[bill_status::SUBMITTED, bill_status::IN_RUN],
                bill_to,
                "engine",
                Some(reason.clone()),
                None,
            )
            .await?
            {
                emit(
                    conn,
                    org,
                    EventType::BillPaymentFailed,
                    Some(&b),
                    Some(&t.run_id),
                    serde_json::json!({
                        "transfer_id": t.id,
                        "qonto_transfer_id": q.id,
                        "run_id": t.run_id,
                        "reason": reason,
                        "qonto_status": next,
                        "amount": t.amount,
                        "reference": reference,
                        "group_id": t.group_id,
                        "retryable": true,
                    }),
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(Some(t.run_id))
}

impl Engine {
    /// One follow-up pass for one organization: bulk results, then transfer statuses.
    pub(crate) async fn follow_up(&self, org: &OrgId) -> Result<(), EngineError> {
        let store = self.store();
        let client = self.qonto().client(org).await?;

        // Approval requests: once an owner or admin approved one, link the transfers Qonto
        // created from it (they carry the request's note) to ours by reference and amount.
        let request_chunks = run_chunk::Entity::find()
            .filter(run_chunk::Column::OrgId.eq(org.to_string()))
            .filter(run_chunk::Column::Status.eq(chunk_status::SUBMITTED))
            .filter(run_chunk::Column::Mode.eq(chunk_mode::REQUEST))
            .all(store.connection())
            .await?;
        let mut requests = None;
        for c in request_chunks {
            let planned =
                chunk_transfers(store.connection(), &c.id, &[transfer_status::PLANNED]).await?;
            if planned.is_empty() {
                continue;
            }
            if requests.is_none() {
                requests = Some(client.list_multi_transfer_requests().await?);
            }
            let rid = c
                .qonto_bulk_id
                .as_deref()
                .and_then(|b| b.strip_prefix("request:"))
                .unwrap_or_default();
            let Some(r) = requests.iter().flatten().find(|r| r.id == rid) else {
                continue;
            };
            match r.status.as_str() {
                "approved" => {
                    let since =
                        c.first_sent_at.unwrap_or(c.created_at) - chrono::Duration::minutes(5);
                    let note = request_note(&c.id);
                    let mut made: Vec<SepaTransfer> = client
                        .list_transfers_updated_since(since)
                        .await?
                        .into_iter()
                        .filter(|q| q.note.as_deref() == Some(note.as_str()))
                        .collect();
                    let w = store.begin_write().await?;
                    // One Qonto transfer per unit (a bill, or a supplier's grouped bills).
                    for u in units(&planned) {
                        let reference = u.reference();
                        let cents = u.amount_cents();
                        let pos = made.iter().position(|q| {
                            q.reference.as_deref() == Some(reference.as_str())
                                && q.amount_cents.or_else(|| {
                                    q.amount_eur().map(|a| {
                                        (a * rust_decimal::Decimal::from(100))
                                            .trunc()
                                            .try_into()
                                            .unwrap_or(i64::MIN)
                                    })
                                }) == Some(cents)
                        });
                        if let Some(pos) = pos {
                            let q = made.swap_remove(pos);
                            for t in &u.members {
                                mark_created(&w.txn, org, t, &q.id).await?;
                            }
                            apply_transfer_status(&w.txn, org, &q).await?;
                        }
                    }
                    refresh_run(&w.txn, &c.run_id).await?;
                    w.commit().await?;
                }
                "declined" | "canceled" | "cancelled" => {
                    self.fail_chunk(
                        org,
                        &c,
                        chunk_status::FAILED,
                        "approval_declined",
                        "the approval request was declined in Qonto",
                    )
                    .await?;
                }
                _ => {}
            }
        }

        // Bulk items still without a transfer id.
        let pending: Vec<transfer::Model> = transfer::Entity::find()
            .filter(transfer::Column::OrgId.eq(org.to_string()))
            .filter(transfer::Column::Status.eq(transfer_status::PLANNED))
            .all(store.connection())
            .await?;
        let mut chunk_ids: Vec<String> =
            pending.iter().filter_map(|t| t.chunk_id.clone()).collect();
        chunk_ids.sort();
        chunk_ids.dedup();
        if !chunk_ids.is_empty() {
            let chunks = run_chunk::Entity::find()
                .filter(run_chunk::Column::Id.is_in(chunk_ids))
                .filter(run_chunk::Column::Status.eq(chunk_status::SUBMITTED))
                .filter(run_chunk::Column::Mode.eq(chunk_mode::BULK))
                .all(store.connection())
                .await?;
            for c in chunks {
                let Some(bulk_id) = c.qonto_bulk_id.clone() else {
                    continue;
                };
                let bulk = client.get_bulk_transfer(&bulk_id).await?;
                let w = store.begin_write().await?;
                apply_bulk_results(&w.txn, org, &c.id, &bulk).await?;
                refresh_run(&w.txn, &c.run_id).await?;
                w.commit().await?;
            }
        }

        // Transfers created at Qonto and not final: 100 ids per call.
        let live: Vec<transfer::Model> = transfer::Entity::find()
            .filter(transfer::Column::OrgId.eq(org.to_string()))
            .filter(
                transfer::Column::Status
                    .is_in([transfer_status::CREATED, transfer_status::PROCESSING]),
            )
            .filter(transfer::Column::QontoTransferId.is_not_null())
            .all(store.connection())
            .await?;
        let mut ids: Vec<String> = live
            .iter()
            .filter_map(|t| t.qonto_transfer_id.clone())
            .collect();
        // Grouped bills share their Qonto transfer: ask for it once.
        ids.sort();
        ids.dedup();
        let mut runs: Vec<String> = Vec::new();
        for group in ids.chunks(MAX_IDS_PER_LIST) {
            let found = client.list_transfers_by_ids(group).await?;
            let by_id: HashMap<&str, &SepaTransfer> =
                found.iter().map(|q| (q.id.as_str(), q)).collect();
            let w = store.begin_write().await?;
            let mut changed = 0;
            for id in group {
                if let Some(q) = by_id.get(id.as_str()) {
                    if let Some(run) = apply_transfer_status(&w.txn, org, q).await? {
                        changed += 1;
                        if !runs.contains(&run) {
                            runs.push(run);
                        }
                    }
                }
            }
            w.commit().await?;
            if changed > 0 {
                tracing::info!(org_id = %org, changed, "transfer statuses updated");
            }
        }
        if !runs.is_empty() {
            let w = store.begin_write().await?;
            for run in &runs {
                refresh_run(&w.txn, run).await?;
            }
            w.commit().await?;
        }
        Ok(())
    }

    /// Autopay: for every organization with it on, pay the due bills of trusted, verified
    /// beneficiaries under the limit, by single transfer, without a person.
    pub async fn autopay_all(&self) -> Result<(), EngineError> {
        use crate::store::entities::organization;
        let orgs = organization::Entity::find()
            .all(self.store().connection())
            .await?;
        for o in orgs {
            let Ok(org) = o.id.parse::<OrgId>() else {
                continue;
            };
            let policy = self.store().payment_policy(&org).await?;
            if !policy.autopay {
                continue;
            }
            if let Err(e) = self.autopay(&org, policy.autopay_limit).await {
                tracing::warn!(org_id = %org, error = %e, "autopay failed for this organization");
            }
        }
        Ok(())
    }

    async fn autopay(
        &self,
        org: &OrgId,
        limit: rust_decimal::Decimal,
    ) -> Result<Option<RunId>, EngineError> {
        let today = Utc::now().date_naive();
        let limit_cents = (limit * rust_decimal::Decimal::from(100))
            .trunc()
            .try_into()
            .unwrap_or(i64::MAX);
        let candidates = bill::Entity::find()
            .filter(bill::Column::OrgId.eq(org.to_string()))
            .filter(bill::Column::Status.eq(bill_status::READY))
            .filter(bill::Column::DueDate.lte(today))
            .filter(bill::Column::AmountCents.lte(limit_cents))
            .all(self.store().connection())
            .await?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let client = self.qonto().client(org).await?;
        let mut ibans: Vec<String> = candidates.iter().filter_map(|b| b.iban.clone()).collect();
        ibans.sort();
        ibans.dedup();
        let bens = self
            .refresh_beneficiaries(org, client.as_ref(), &ibans)
            .await?;
        let chosen: Vec<_> = candidates
            .iter()
            .filter(|b| {
                b.iban.as_deref().is_some_and(|iban| {
                    super::plan::best_beneficiary(&bens, iban)
                        .is_some_and(|x| x.trusted && x.status == "validated")
                })
            })
            .filter_map(|b| b.id.parse().ok())
            .collect();
        if chosen.is_empty() {
            return Ok(None);
        }
        let run = self
            .create_run(
                org,
                &NewRun {
                    bill_ids: chosen,
                    ..Default::default()
                },
                "autopay",
                "autopay",
            )
            .await;
        match run {
            Ok(r) => {
                tracing::info!(org_id = %org, run_id = %r.id, bills = r.bill_count, "autopay run started");
                Ok(Some(r.id))
            }
            // A bill changed meanwhile (a person paid it): the next scan sees the new state.
            Err(EngineError::Conflict(msg)) => {
                tracing::info!(org_id = %org, reason = %msg, "autopay skipped this round");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Sandbox only: approve or deny the SCA sessions a run waits on, as the user would on
    /// their phone. Production refuses (the user decides in the Qonto app).
    pub async fn decide_sca(
        &self,
        org: &OrgId,
        run_id: &RunId,
        allow: bool,
    ) -> Result<usize, EngineError> {
        if !self.qonto().is_sandbox() {
            return Err(EngineError::Conflict(
                "SCA is approved by the user in the Qonto app; this shortcut exists only in the sandbox".into(),
            ));
        }
        let run = payment_run::Entity::find_by_id(run_id.to_string())
            .filter(payment_run::Column::OrgId.eq(org.to_string()))
            .one(self.store().connection())
            .await?
            .ok_or(StoreError::NotFound("payment run"))?;
        let chunks = run_chunk::Entity::find()
            .filter(run_chunk::Column::RunId.eq(run.id.clone()))
            .filter(run_chunk::Column::Status.eq(chunk_status::AWAITING_SCA))
            .all(self.store().connection())
            .await?;
        if chunks.is_empty() {
            return Err(EngineError::Conflict(format!(
                "the run is {} and waits for no SCA session",
                run.status
            )));
        }
        let client = self.qonto().client(org).await?;
        let decision = if allow {
            MockScaDecision::Allow
        } else {
            MockScaDecision::Deny
        };
        for c in &chunks {
            let token = ScaSessionToken::new(c.sca_token.clone().unwrap_or_default());
            client.decide_mocked_sca_session(&token, decision).await?;
        }
        self.wake();
        Ok(chunks.len())
    }

    /// Send a stuck or failed bill back to `ready` (after a decline the ERP or a person wants
    /// to try again).
    pub async fn retry_bill(
        &self,
        org: &OrgId,
        bill_id: &crate::ids::BillId,
        actor: &str,
    ) -> Result<(), EngineError> {
        let w = self.store().begin_write().await?;
        let b = bill::Entity::find_by_id(bill_id.to_string())
            .filter(bill::Column::OrgId.eq(org.to_string()))
            .one(&w.txn)
            .await?
            .ok_or(StoreError::NotFound("bill"))?;
        if b.status != bill_status::FAILED {
            return Err(EngineError::Conflict(format!(
                "only a failed bill can be retried; this one is {}",
                b.status
            )));
        }
        move_bill(
            &w.txn,
            &b.id,
            &[bill_status::FAILED],
            bill_status::READY,
            actor,
            Some("retry".into()),
            None,
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}
