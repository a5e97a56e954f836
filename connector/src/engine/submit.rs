//! Sending chunks to Qonto: persist the exact request and its key first (invariant 2), send,
//! follow the SCA session, replay byte for byte, and look an unknown outcome up before any
//! resend (invariant 3).

use std::collections::HashMap;

use adapters::HoldReason;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use sha2::Digest;
use tracing::Instrument;

use super::group::{unit_id, units};
use super::plan::{amount_of, emit, end_transfers, move_bill, vop_name, MATCH};
use super::{kinds, sca_method_str, Engine, EngineError, Next};
use crate::events::EventType;
use crate::ids::{ChunkId, OrgId, TransferId};
use crate::qonto::{
    Amount, AttachmentUpload, BulkResultStatus, BulkTransfer, BulkTransferItem, CreateBeneficiary,
    CreateBulkTransfer, CreateMultiTransferRequest, CreateTransfer, IdempotencyKey,
    MultiTransferRequest, MultiTransferRequestData, NewBeneficiary, NewTransfer, Payee, Prepared,
    QontoApi, QontoError, RequestTransferItem, ScaOptions, ScaResult, ScaSessionToken,
    SepaTransfer, TransferStatus, ATTACHMENT_THRESHOLD_EUR,
};
use crate::store::audit::{append, AuditEntry};
use crate::store::bills::status as bill_status;
use crate::store::entities::{bill, document};
use crate::store::jobs::{enqueue, NewJob};
use crate::store::payments::entities::{payment_run, run_chunk, transfer};
use crate::store::payments::{
    chunk_mode, chunk_status, run_status, stamp, transfer_status, RunWarning,
};
use crate::store::StoreError;

/// A proof token older than this is verified again before sending (Qonto keeps them 23 h).
const VOP_MAX_AGE: chrono::Duration = chrono::Duration::hours(22);

/// A deterministic idempotency key from our own ids (a UUID built from a SHA-256 of the seed),
/// so a retry after a crash sends the very same key.
pub(crate) fn derived_key(seed: &str) -> IdempotencyKey {
    let digest = sha2::Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let u = uuid::Builder::from_random_bytes(bytes).into_uuid();
    IdempotencyKey::from(u)
}

fn corrupt(e: impl std::fmt::Display) -> EngineError {
    EngineError::Store(StoreError::Corrupt(e.to_string()))
}

/// The `client_transfer_id` of the Qonto transfer a row belongs to (its group's, when the
/// bill is paid together with others).
fn client_id(t: &transfer::Model) -> String {
    let id = unit_id(t);
    id.parse::<TransferId>()
        .map(|id| id.uuid())
        .unwrap_or_else(|_| id.to_string())
}

/// The note of the Qonto transfer a row belongs to: how an unanswered single transfer is
/// found again.
fn note_for(t: &transfer::Model) -> String {
    format!("billbridge {}", unit_id(t))
}

pub(crate) async fn chunk_transfers<C: ConnectionTrait>(
    conn: &C,
    chunk_id: &str,
    statuses: &[&str],
) -> Result<Vec<transfer::Model>, EngineError> {
    use sea_orm::QueryOrder;
    Ok(transfer::Entity::find()
        .filter(transfer::Column::ChunkId.eq(chunk_id.to_string()))
        .filter(transfer::Column::Status.is_in(statuses.iter().copied()))
        .order_by_asc(transfer::Column::Id)
        .all(conn)
        .await?)
}

impl Engine {
    /// `run.submit`: prepare every planned chunk (fresh VoP if needed, attachments, body, key)
    /// and queue its `chunk.submit`.
    pub(crate) async fn submit_run(&self, run_id: &str) -> Result<Next, EngineError> {
        use sea_orm::QueryOrder;
        let store = self.store();
        let Some(run) = payment_run::Entity::find_by_id(run_id.to_string())
            .one(store.connection())
            .await?
        else {
            return Ok(Next::Done);
        };
        if run.status != run_status::SUBMITTING && run.status != run_status::AWAITING_SCA {
            return Ok(Next::Done);
        }
        let org = super::org_of(&run.org_id)?;
        let span = tracing::info_span!("submit_run", run_id = %run.id, org_id = %org);
        async {
            let chunks = run_chunk::Entity::find()
                .filter(run_chunk::Column::RunId.eq(run.id.clone()))
                .filter(run_chunk::Column::Status.eq(chunk_status::PLANNED))
                .order_by_asc(run_chunk::Column::Seq)
                .all(store.connection())
                .await?;
            if chunks.is_empty() {
                return Ok(Next::Done);
            }
            let client = self.qonto().client(&org).await?;
            let account = client
                .get_organization()
                .await?
                .main_eur_account()
                .map(|a| a.id.clone())
                .ok_or_else(|| {
                    EngineError::Config("Qonto shows no active main EUR account".into())
                })?;
            let policy = store.payment_policy(&org).await?;
            let method = self.sca_method(run.sca_method.as_deref(), policy.sca_method.as_deref());
            for chunk in chunks {
                self.prepare_chunk(&org, &run, chunk, client.as_ref(), &account, method)
                    .await?;
            }
            self.wake();
            Ok(Next::Done)
        }
        .instrument(span)
        .await
    }

    async fn prepare_chunk(
        &self,
        org: &OrgId,
        run: &payment_run::Model,
        chunk: run_chunk::Model,
        client: &dyn QontoApi,
        account: &str,
        method: crate::qonto::ScaMethod,
    ) -> Result<(), EngineError> {
        let store = self.store();
        let mut transfers =
            chunk_transfers(store.connection(), &chunk.id, &[transfer_status::PLANNED]).await?;
        if transfers.is_empty() {
            let mut am: run_chunk::ActiveModel = chunk.into();
            am.status = Set(chunk_status::CANCELED.into());
            am.updated_at = Set(stamp());
            am.update(store.connection()).await?;
            return Ok(());
        }
        // VoP: the token must cover exactly this set of IBANs and be fresh.
        let fresh = chunk.vop_at.is_some_and(|at| Utc::now() - at < VOP_MAX_AGE)
            && chunk.vop_token.is_some();
        let token = if fresh {
            chunk.vop_token.clone().unwrap_or_default()
        } else {
            self.reverify(client, &chunk, &mut transfers).await?
        };
        // A payee that no longer matches and that nobody accepted leaves the chunk.
        let (ok, dropped): (Vec<_>, Vec<_>) = transfers
            .into_iter()
            .partition(|t| t.vop_result.as_deref() == Some(MATCH) || t.vop_decision.is_some());
        if !dropped.is_empty() {
            let w = store.begin_write().await?;
            // Take the chunk first, and only while it is still planned: a concurrent
            // `run.submit` that already claimed it (its body holding these rows) wins, and
            // these rows stay in its transfer. Once this update holds the chunk's row, that
            // claim waits, then sees the smaller set and gives way (below).
            use sea_orm::sea_query::Expr;
            let taken = run_chunk::Entity::update_many()
                .col_expr(
                    run_chunk::Column::VopToken,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    run_chunk::Column::VopAt,
                    Expr::value(Option::<chrono::DateTime<Utc>>::None),
                )
                .col_expr(run_chunk::Column::UpdatedAt, Expr::value(stamp()))
                .filter(run_chunk::Column::Id.eq(chunk.id.clone()))
                .filter(run_chunk::Column::Status.eq(chunk_status::PLANNED))
                .exec(&w.txn)
                .await?;
            if taken.rows_affected == 0 {
                return Ok(());
            }
            end_transfers(
                &w.txn,
                org,
                &dropped,
                transfer_status::CANCELED,
                "vop_mismatch",
                bill_status::HELD,
                Some(HoldReason::VopMismatch),
                true,
            )
            .await?;
            w.commit().await?;
            // The IBAN set changed: verify again on the next pass.
            return Box::pin(
                self.prepare_chunk(
                    org,
                    run,
                    run_chunk::Entity::find_by_id(chunk.id.clone())
                        .one(store.connection())
                        .await?
                        .ok_or(StoreError::NotFound("chunk"))?,
                    client,
                    account,
                    method,
                ),
            )
            .await;
        }
        let mut transfers = ok;
        // Attachments above 30,000 EUR.
        for t in transfers.iter_mut() {
            if amount_of(t) > rust_decimal::Decimal::from(ATTACHMENT_THRESHOLD_EUR)
                && t.attachment_id.is_none()
            {
                let id = self.upload_invoice(client, t).await?;
                let mut am: transfer::ActiveModel = t.clone().into();
                am.attachment_id = Set(Some(id.clone()));
                am.updated_at = Set(stamp());
                am.update(store.connection()).await?;
                t.attachment_id = Some(id);
            }
        }
        let bills: HashMap<String, bill::Model> = bill::Entity::find()
            .filter(bill::Column::Id.is_in(transfers.iter().map(|t| t.bill_id.clone())))
            .all(store.connection())
            .await?
            .into_iter()
            .map(|b| (b.id.clone(), b))
            .collect();
        // Approval requests carry IBAN and name only; the other modes can pay by id.
        let policy = store.payment_policy(org).await?;
        if chunk.mode != chunk_mode::REQUEST
            && policy.create_beneficiaries
            && !policy.beneficiary_create_needs_sca
        {
            self.create_missing_beneficiaries(org, &run.id, client, &mut transfers, &bills, method)
                .await?;
        }
        let payee = |t: &transfer::Model| match &t.beneficiary_id {
            Some(id) => Payee::BeneficiaryId(id.clone()),
            None => Payee::Inline(NewBeneficiary {
                name: vop_name(&t.creditor_name),
                iban: t.iban.clone(),
                bic: bills.get(&t.bill_id).and_then(|b| b.bic.clone()),
                email: None,
                activity_tag: None,
            }),
        };
        // One Qonto transfer per unit: a bill, or the bills of one supplier grouped together.
        let units = units(&transfers);
        let body: String = if chunk.mode == chunk_mode::REQUEST {
            let items = units
                .iter()
                .map(|u| {
                    let t = u.lead();
                    let mut item = RequestTransferItem::eur(
                        Amount::new(u.amount())?,
                        t.iban.clone(),
                        vop_name(&t.creditor_name),
                        u.reference(),
                    );
                    item.attachment_ids = u.attachment_ids();
                    Ok(item)
                })
                .collect::<Result<Vec<_>, QontoError>>()?;
            let req = CreateMultiTransferRequest {
                request_multi_transfer: MultiTransferRequestData {
                    note: request_note(&chunk.id),
                    transfers: items,
                    scheduled_date: None,
                    debit_iban: None,
                },
            };
            String::from_utf8(Prepared::new(&req)?.as_bytes().to_vec()).map_err(corrupt)?
        } else if chunk.mode == chunk_mode::SINGLE {
            // A single chunk holds one unit (the planner and the Solo Basic fallback make it so).
            let Some(u) = units.first() else {
                return Err(corrupt(format!(
                    "single chunk {} without a transfer",
                    chunk.id
                )));
            };
            let t = u.lead();
            let req = CreateTransfer {
                vop_proof_token: token.clone(),
                transfer: NewTransfer {
                    payee: payee(t),
                    bank_account_id: account.to_string(),
                    reference: u.reference(),
                    amount: Amount::new(u.amount())?,
                    note: Some(note_for(t)),
                    attachment_ids: u.attachment_ids(),
                    scheduled_date: t.scheduled_date,
                },
            };
            String::from_utf8(Prepared::new(&req)?.as_bytes().to_vec()).map_err(corrupt)?
        } else {
            let items = units
                .iter()
                .map(|u| {
                    let t = u.lead();
                    Ok(BulkTransferItem {
                        client_transfer_id: client_id(t),
                        payee: payee(t),
                        reference: u.reference(),
                        amount: Amount::new(u.amount())?,
                        scheduled_date: t.scheduled_date,
                        note: Some(note_for(t)),
                        attachment_ids: u.attachment_ids(),
                    })
                })
                .collect::<Result<Vec<_>, QontoError>>()?;
            let req = CreateBulkTransfer {
                vop_proof_token: token.clone(),
                bank_account_id: account.to_string(),
                bulk_transfers: items,
            };
            String::from_utf8(Prepared::new(&req)?.as_bytes().to_vec()).map_err(corrupt)?
        };
        let generation = chunk.key_generation;
        let key = derived_key(&format!("{}:{}", chunk.id, generation));
        let w = store.begin_write().await?;
        // Claim the chunk with a conditional update: of two `run.submit` jobs racing on
        // PostgreSQL, only one moves it out of `planned` and queues its submit job.
        use sea_orm::sea_query::Expr;
        let claimed = run_chunk::Entity::update_many()
            .col_expr(run_chunk::Column::Status, Expr::value(chunk_status::READY))
            .col_expr(run_chunk::Column::RequestBody, Expr::value(Some(body)))
            .col_expr(
                run_chunk::Column::IdempotencyKey,
                Expr::value(Some(key.as_str().to_string())),
            )
            .col_expr(run_chunk::Column::VopToken, Expr::value(Some(token)))
            .col_expr(
                run_chunk::Column::ScaMethod,
                Expr::value(Some(sca_method_str(method).to_string())),
            )
            .col_expr(
                run_chunk::Column::FirstSentAt,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .col_expr(run_chunk::Column::UpdatedAt, Expr::value(stamp()))
            .filter(run_chunk::Column::Id.eq(chunk.id.clone()))
            .filter(run_chunk::Column::Status.eq(chunk_status::PLANNED))
            .exec(&w.txn)
            .await?;
        if claimed.rows_affected == 0 {
            return Ok(());
        }
        // The body must hold exactly the chunk's planned rows. A concurrent preparation of the
        // same chunk may have taken a payee out in between (see the drop above): then this body
        // is stale — give way, and prepare the chunk again from what it holds now.
        let now: Vec<String> = chunk_transfers(&w.txn, &chunk.id, &[transfer_status::PLANNED])
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let sent: Vec<&str> = transfers.iter().map(|t| t.id.as_str()).collect();
        if now.len() != sent.len() || now.iter().any(|id| !sent.contains(&id.as_str())) {
            drop(w);
            tracing::info!(chunk_id = %chunk.id, "the chunk changed while it was prepared; preparing it again");
            let w = store.begin_write().await?;
            enqueue(&w.txn, super::submit_job(org, &run.id)).await?;
            w.commit().await?;
            return Ok(());
        }
        enqueue(
            &w.txn,
            NewJob::now(
                kinds::CHUNK_SUBMIT,
                Some(org.clone()),
                serde_json::json!({ "chunk_id": chunk.id, "run_id": run.id }),
            ),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The organization's policy `create_beneficiaries`: give each payee of the chunk that has
    /// no Qonto beneficiary one (`POST /v2/sepa/beneficiaries`, untrusted), so the transfer
    /// goes by `beneficiary_id` and the supplier shows in Qonto, where an admin can trust it for
    /// the next runs. The key is derived from the organization and the IBAN, so a retry after a
    /// crash gets the same beneficiary; the cache is refreshed first, so a beneficiary created
    /// by an earlier try whose key has expired is found rather than made twice. Each creation
    /// is committed with its audit entry at once (a later failure cannot lose it). When Qonto
    /// refuses, the payee goes as inline data as without the policy, and the audit log says
    /// why; when it asks for SCA, that is remembered for the organization
    /// (`beneficiary_create_needs_sca`) so that no further prompt reaches the user's phone for a
    /// request billbridge would not replay — the payment's own SCA covers the payee anyway.
    async fn create_missing_beneficiaries(
        &self,
        org: &OrgId,
        run_id: &str,
        client: &dyn QontoApi,
        transfers: &mut [transfer::Model],
        bills: &HashMap<String, bill::Model>,
        method: crate::qonto::ScaMethod,
    ) -> Result<(), EngineError> {
        let mut missing: Vec<(String, String, Option<String>)> = Vec::new();
        for t in transfers.iter().filter(|t| t.beneficiary_id.is_none()) {
            if !missing.iter().any(|(iban, _, _)| *iban == t.iban) {
                let bic = bills.get(&t.bill_id).and_then(|b| b.bic.clone());
                missing.push((t.iban.clone(), vop_name(&t.creditor_name), bic));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let ibans: Vec<String> = missing.iter().map(|(i, _, _)| i.clone()).collect();
        let known = self.refresh_beneficiaries(org, client, &ibans).await?;
        for (iban, name, bic) in missing {
            let (id, created) = match super::plan::best_beneficiary(&known, &iban) {
                Some(b) => (b.id.clone(), false),
                None => {
                    let body = Prepared::new(&CreateBeneficiary {
                        beneficiary: NewBeneficiary {
                            name,
                            iban: iban.clone(),
                            bic,
                            email: None,
                            activity_tag: None,
                        },
                    })?;
                    let key = derived_key(&format!("beneficiary:{org}:{iban}"));
                    let sca = ScaOptions {
                        two_fa_preference: Some(method),
                        session_token: None,
                    };
                    match client.create_beneficiary(&body, &key, &sca).await {
                        Ok(b) => {
                            let id = b.id.clone();
                            self.cache_beneficiaries(org, vec![b]).await?;
                            (id, true)
                        }
                        Err(e) if e.is_transient() => return Err(e.into()),
                        Err(e) => {
                            let needs_sca = matches!(
                                e,
                                QontoError::ScaRequired { .. } | QontoError::ScaNotEnrolled { .. }
                            );
                            tracing::warn!(error = %e, iban = %crate::qonto::mask_iban(&iban), "could not create the Qonto beneficiary; paying with inline beneficiary data");
                            append(
                                self.store().connection(),
                                AuditEntry {
                                    org_id: Some(org.clone()),
                                    actor: "engine".into(),
                                    action: "beneficiary.create_failed".into(),
                                    run_id: Some(run_id.to_string()),
                                    details: serde_json::json!({
                                        "iban": crate::qonto::mask_iban(&iban),
                                        "error": failure_code(&e),
                                        "detail": e.to_string(),
                                    }),
                                    ..Default::default()
                                },
                            )
                            .await?;
                            if needs_sca {
                                self.store()
                                    .update_payment_policy(org, "engine", |p| {
                                        p.beneficiary_create_needs_sca = true
                                    })
                                    .await?;
                                return Ok(());
                            }
                            continue;
                        }
                    }
                }
            };
            let w = self.store().begin_write().await?;
            let at = stamp();
            for t in transfers.iter_mut().filter(|t| t.iban == iban) {
                let mut am: transfer::ActiveModel = t.clone().into();
                am.beneficiary_id = Set(Some(id.clone()));
                am.updated_at = Set(at);
                am.update(&w.txn).await?;
                t.beneficiary_id = Some(id.clone());
            }
            if created {
                append(
                    &w.txn,
                    AuditEntry {
                        org_id: Some(org.clone()),
                        actor: "engine".into(),
                        action: "beneficiary.created".into(),
                        run_id: Some(run_id.to_string()),
                        details: serde_json::json!({
                            "beneficiary_id": id,
                            "iban": crate::qonto::mask_iban(&iban),
                        }),
                        ..Default::default()
                    },
                )
                .await?;
            }
            w.commit().await?;
        }
        Ok(())
    }

    async fn reverify(
        &self,
        client: &dyn QontoApi,
        chunk: &run_chunk::Model,
        transfers: &mut [transfer::Model],
    ) -> Result<String, EngineError> {
        // The same payee check as the preview's, over the chunk's current IBAN set.
        let members: Vec<usize> = (0..transfers.len()).collect();
        let token = self
            .verify_chunk(
                client,
                transfers,
                &members,
                chunk.mode == chunk_mode::SINGLE,
            )
            .await?
            .unwrap_or_default();
        let w = self.store().begin_write().await?;
        for t in transfers.iter() {
            let mut am: transfer::ActiveModel = t.clone().into();
            am.vop_result = Set(t.vop_result.clone());
            am.vop_matched_name = Set(t.vop_matched_name.clone());
            am.updated_at = Set(stamp());
            am.update(&w.txn).await?;
        }
        let mut am: run_chunk::ActiveModel = chunk.clone().into();
        am.vop_token = Set(Some(token.clone()));
        am.vop_at = Set(Some(stamp()));
        am.update(&w.txn).await?;
        w.commit().await?;
        Ok(token)
    }

    async fn upload_invoice(
        &self,
        client: &dyn QontoApi,
        t: &transfer::Model,
    ) -> Result<String, EngineError> {
        let store = self.store();
        let b = bill::Entity::find_by_id(t.bill_id.clone())
            .one(store.connection())
            .await?
            .ok_or(StoreError::NotFound("bill"))?;
        let doc = match &b.document_sha256 {
            Some(sha) => {
                document::Entity::find_by_id(sha.clone())
                    .one(store.connection())
                    .await?
            }
            None => None,
        }
        .ok_or_else(|| EngineError::Conflict("the invoice document is missing".into()))?;
        let name = b
            .number
            .as_deref()
            .unwrap_or("invoice")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>();
        let upload = AttachmentUpload {
            file_name: format!("{name}.pdf"),
            content_type: doc.content_type.clone(),
            bytes: doc.content.into(),
        };
        let key = derived_key(&format!("{}:attachment", t.id));
        let att = client.upload_attachment(&upload, &key).await?;
        Ok(att.id)
    }

    /// The chunk, when it is (still) in `status`: a job that finds it elsewhere has nothing
    /// to do (jobs run at least once).
    async fn chunk_in(
        &self,
        id: &str,
        status: &str,
    ) -> Result<Option<run_chunk::Model>, EngineError> {
        Ok(run_chunk::Entity::find_by_id(id.to_string())
            .one(self.store().connection())
            .await?
            .filter(|c| c.status == status))
    }

    /// `chunk.submit`: send the persisted request; on an earlier unknown outcome, look first.
    pub(crate) async fn submit_chunk(&self, chunk_id: &str) -> Result<Next, EngineError> {
        let store = self.store();
        let Some(chunk) = self.chunk_in(chunk_id, chunk_status::READY).await? else {
            return Ok(Next::Done);
        };
        let org = super::org_of(&chunk.org_id)?;
        let span = tracing::info_span!("submit_chunk", chunk_id = %chunk.id, run_id = %chunk.run_id, org_id = %org);
        async {
            let client = self.qonto().client(&org).await?;
            if chunk.first_sent_at.is_some() {
                // We sent this before and never recorded an answer: the bulk may exist.
                if self.adopt_if_created(&org, &chunk, client.as_ref()).await? {
                    return Ok(Next::Done);
                }
            } else {
                let mut am: run_chunk::ActiveModel = chunk.clone().into();
                am.first_sent_at = Set(Some(stamp()));
                let w = store.begin_write().await?;
                am.update(&w.txn).await?;
                w.commit().await?;
            }
            let method = chunk
                .sca_method
                .as_deref()
                .and_then(|m| super::parse_sca_method(m).ok());
            let sca = ScaOptions {
                two_fa_preference: method,
                session_token: None,
            };
            let outcome = self.send(&chunk, client.as_ref(), &sca).await;
            self.handle_send_outcome(&org, &chunk, outcome).await
        }
        .instrument(span)
        .await
    }

    async fn send(
        &self,
        chunk: &run_chunk::Model,
        client: &dyn QontoApi,
        sca: &ScaOptions,
    ) -> Result<Sent, QontoError> {
        let body = chunk
            .request_body
            .clone()
            .ok_or_else(|| QontoError::InvalidRequest("the chunk has no persisted body".into()))?;
        let key = IdempotencyKey::new(chunk.idempotency_key.clone().unwrap_or_default())?;
        if chunk.mode == chunk_mode::REQUEST {
            let prepared =
                Prepared::<CreateMultiTransferRequest>::from_persisted(body.into_bytes())?;
            client
                .create_multi_transfer_request(&prepared, &key, sca)
                .await
                .map(Sent::Request)
        } else if chunk.mode == chunk_mode::SINGLE {
            let prepared = Prepared::<CreateTransfer>::from_persisted(body.into_bytes())?;
            client
                .create_transfer(&prepared, &key, sca)
                .await
                .map(Sent::Single)
        } else {
            let prepared = Prepared::<CreateBulkTransfer>::from_persisted(body.into_bytes())?;
            client
                .create_bulk_transfer(&prepared, &key, sca)
                .await
                .map(Sent::Bulk)
        }
    }

    async fn handle_send_outcome(
        &self,
        org: &OrgId,
        chunk: &run_chunk::Model,
        outcome: Result<Sent, QontoError>,
    ) -> Result<Next, EngineError> {
        match outcome {
            Ok(sent) => {
                self.accept(org, chunk, sent).await?;
                Ok(Next::Done)
            }
            Err(QontoError::ScaRequired {
                sca_session_token, ..
            }) => {
                self.await_sca(org, chunk, sca_session_token).await?;
                Ok(Next::Done)
            }
            Err(QontoError::PlanForbidsBulk { .. }) if chunk.mode == chunk_mode::BULK => {
                self.fallback_to_single(org, chunk).await?;
                Ok(Next::Done)
            }
            Err(QontoError::ApprovalRequired { code, .. }) if chunk.mode != chunk_mode::REQUEST => {
                // A payment policy (four eyes) or the initiator's role: ask for approval.
                self.replan_chunk_as(
                    org,
                    chunk,
                    chunk_mode::REQUEST,
                    &format!("{code}: sent as an approval request"),
                )
                .await?;
                Ok(Next::Done)
            }
            Err(QontoError::VopToken { code, .. }) if chunk.key_generation < 3 => {
                // A definite refusal (nothing was created): verify again, new body, new key.
                self.replan_chunk(org, chunk, &format!("VoP token refused ({code})"))
                    .await?;
                Ok(Next::Done)
            }
            Err(e) if e.is_transient() => Err(e.into()),
            Err(QontoError::InvalidRequest(msg)) => Err(EngineError::Invalid(msg)),
            Err(e) => {
                let reason = failure_code(&e);
                tracing::warn!(error = %e, reason, "Qonto refused the chunk");
                self.fail_chunk(org, chunk, chunk_status::FAILED, &reason, &e.to_string())
                    .await?;
                Ok(Next::Done)
            }
        }
    }

    /// Before a resend: find what an earlier, unanswered request may have created.
    async fn adopt_if_created(
        &self,
        org: &OrgId,
        chunk: &run_chunk::Model,
        client: &dyn QontoApi,
    ) -> Result<bool, EngineError> {
        let transfers = chunk_transfers(
            self.store().connection(),
            &chunk.id,
            &[transfer_status::PLANNED],
        )
        .await?;
        if chunk.mode == chunk_mode::REQUEST {
            let note = request_note(&chunk.id);
            let found = client
                .list_multi_transfer_requests()
                .await?
                .into_iter()
                .find(|r| r.note.as_deref() == Some(note.as_str()));
            if let Some(found) = found {
                tracing::info!(request_id = %found.id, "found the approval request an unanswered call created");
                self.accept(org, chunk, Sent::Request(found)).await?;
                return Ok(true);
            }
            return Ok(false);
        }
        if chunk.mode == chunk_mode::SINGLE {
            let Some(t) = transfers.first() else {
                return Ok(false);
            };
            let since = chunk.first_sent_at.unwrap_or_else(stamp) - chrono::Duration::minutes(5);
            let note = note_for(t);
            let found = client
                .list_transfers_updated_since(since)
                .await?
                .into_iter()
                .find(|q| q.note.as_deref() == Some(note.as_str()));
            if let Some(found) = found {
                tracing::info!(qonto_transfer_id = %found.id, "found the transfer an unanswered request created");
                self.accept(org, chunk, Sent::Single(found)).await?;
                return Ok(true);
            }
            return Ok(false);
        }
        let ours: std::collections::HashSet<String> = transfers.iter().map(client_id).collect();
        if ours.is_empty() {
            return Ok(false);
        }
        let found = client.list_bulk_transfers().await?.into_iter().find(|b| {
            b.results
                .iter()
                .any(|r| ours.contains(&r.client_transfer_id))
        });
        if let Some(bulk) = found {
            tracing::info!(qonto_bulk_id = %bulk.id, "found the bulk transfer an unanswered request created");
            self.accept(org, chunk, Sent::Bulk(bulk)).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Qonto accepted the chunk: record the bulk (or transfer) id and the created transfers.
    async fn accept(
        &self,
        org: &OrgId,
        chunk: &run_chunk::Model,
        sent: Sent,
    ) -> Result<(), EngineError> {
        let w = self.store().begin_write().await?;
        let mut am: run_chunk::ActiveModel = chunk.clone().into();
        am.status = Set(chunk_status::SUBMITTED.into());
        am.sca_token = Set(None);
        am.last_error = Set(None);
        am.updated_at = Set(stamp());
        match &sent {
            Sent::Bulk(b) => am.qonto_bulk_id = Set(Some(b.id.clone())),
            Sent::Single(t) => am.qonto_bulk_id = Set(Some(format!("transfer:{}", t.id))),
            Sent::Request(r) => am.qonto_bulk_id = Set(Some(format!("request:{}", r.id))),
        }
        am.update(&w.txn).await?;
        match sent {
            Sent::Bulk(b) => apply_bulk_results(&w.txn, org, &chunk.id, &b).await?,
            Sent::Single(t) => {
                // Every row of the chunk's one unit (several bills when grouped).
                let transfers =
                    chunk_transfers(&w.txn, &chunk.id, &[transfer_status::PLANNED]).await?;
                for ours in &transfers {
                    mark_created(&w.txn, org, ours, &t.id).await?;
                }
                if !transfers.is_empty() {
                    super::follow::apply_transfer_status(&w.txn, org, &t).await?;
                }
            }
            // The follow-up watches the request and links the transfers once approved.
            Sent::Request(_) => {}
        }
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(org.clone()),
                actor: "engine".into(),
                action: "chunk.submitted".into(),
                run_id: Some(chunk.run_id.clone()),
                details: serde_json::json!({ "chunk_id": chunk.id, "mode": chunk.mode }),
                ..Default::default()
            },
        )
        .await?;
        refresh_run(&w.txn, &chunk.run_id).await?;
        w.commit().await?;
        self.nudge_follow_up();
        Ok(())
    }

    async fn await_sca(
        &self,
        org: &OrgId,
        chunk: &run_chunk::Model,
        token: ScaSessionToken,
    ) -> Result<(), EngineError> {
        let w = self.store().begin_write().await?;
        let at = stamp();
        let mut am: run_chunk::ActiveModel = chunk.clone().into();
        am.status = Set(chunk_status::AWAITING_SCA.into());
        am.sca_token = Set(Some(token.expose().to_string()));
        am.sca_started_at = Set(Some(at));
        am.updated_at = Set(at);
        am.update(&w.txn).await?;
        let transfers = chunk_transfers(&w.txn, &chunk.id, &[transfer_status::PLANNED]).await?;
        let total: rust_decimal::Decimal = transfers.iter().map(amount_of).sum();
        let method = chunk.sca_method.clone().unwrap_or_default();
        let expires = at
            + chrono::Duration::from_std(self.settings().sca_timeout)
                .unwrap_or(chrono::Duration::minutes(15));
        let message = match method.as_str() {
            "passkey" => "Qonto sent a text message with a passkey link: open it and approve the payment.",
            "mock" => "Sandbox: approve or deny the mocked SCA session (POST /v1/payment-runs/{id}/sca/allow).",
            _ => "Open the Qonto app on your paired phone and approve the payment.",
        };
        emit(
            &w.txn,
            org,
            EventType::PaymentRunAwaitingSca,
            None,
            Some(&chunk.run_id),
            serde_json::json!({
                "run_id": chunk.run_id,
                "status": "awaiting_sca",
                "bill_ids": transfers.iter().map(|t| t.bill_id.clone()).collect::<Vec<_>>(),
                "total_amount": total.to_string(),
                "chunk_id": chunk.id,
                "transfers": units(&transfers).len(),
                "currency": "EUR",
                "sca_method": method,
                "expires_at": expires,
                "message": message,
            }),
        )
        .await?;
        let mut job = NewJob::now(
            kinds::CHUNK_SCA,
            Some(org.clone()),
            serde_json::json!({ "chunk_id": chunk.id, "run_id": chunk.run_id }),
        );
        // First look at once (a session approved in the meantime, or auto-approved in the
        // sandbox, goes through without waiting); then no faster than once a second.
        job.run_at = at;
        job.max_attempts = 30;
        enqueue(&w.txn, job).await?;
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(org.clone()),
                actor: "engine".into(),
                action: "chunk.awaiting_sca".into(),
                run_id: Some(chunk.run_id.clone()),
                details: serde_json::json!({ "chunk_id": chunk.id, "sca_method": method, "transfers": transfers.len() }),
                ..Default::default()
            },
        )
        .await?;
        refresh_run(&w.txn, &chunk.run_id).await?;
        w.commit().await?;
        tracing::info!(chunk_id = %chunk.id, "waiting for the user's strong customer authentication");
        Ok(())
    }

    /// `chunk.sca`: poll the SCA session (≥ 1 s apart); replay on allow.
    pub(crate) async fn poll_sca(&self, chunk_id: &str) -> Result<Next, EngineError> {
        let store = self.store();
        let Some(chunk) = self.chunk_in(chunk_id, chunk_status::AWAITING_SCA).await? else {
            return Ok(Next::Done);
        };
        let org = super::org_of(&chunk.org_id)?;
        let span = tracing::info_span!("poll_sca", chunk_id = %chunk.id, run_id = %chunk.run_id, org_id = %org);
        async {
            let client = self.qonto().client(&org).await?;
            let token = ScaSessionToken::new(chunk.sca_token.clone().unwrap_or_default());
            let started = chunk.sca_started_at.unwrap_or_else(stamp);
            let timeout = chrono::Duration::from_std(self.settings().sca_timeout)
                .unwrap_or(chrono::Duration::minutes(15));
            if chunk.replayed_at.is_some()
                && self.adopt_if_created(&org, &chunk, client.as_ref()).await?
            {
                return Ok(Next::Done);
            }
            let result = match client.get_sca_session(&token).await {
                Ok(s) => s.result,
                Err(QontoError::ScaSessionInvalid { .. }) => ScaResult::Deny,
                Err(e) => return Err(e.into()),
            };
            match result {
                ScaResult::Allow => {
                    let mut am: run_chunk::ActiveModel = chunk.clone().into();
                    am.replayed_at = Set(Some(stamp()));
                    let w = store.begin_write().await?;
                    am.update(&w.txn).await?;
                    w.commit().await?;
                    let method = chunk
                        .sca_method
                        .as_deref()
                        .and_then(|m| super::parse_sca_method(m).ok());
                    let outcome = self
                        .send(&chunk, client.as_ref(), &ScaOptions::replay(method, token))
                        .await;
                    match outcome {
                        Err(QontoError::ScaSessionInvalid { .. }) => {
                            self.fail_chunk(
                                &org,
                                &chunk,
                                chunk_status::EXPIRED,
                                "sca_expired",
                                "the SCA session was no longer valid at replay",
                            )
                            .await?;
                            Ok(Next::Done)
                        }
                        other => self.handle_send_outcome(&org, &chunk, other).await,
                    }
                }
                ScaResult::Deny => {
                    let expired = Utc::now() - started >= timeout;
                    let (status, reason) = if expired {
                        (chunk_status::EXPIRED, "sca_expired")
                    } else {
                        (chunk_status::DENIED, "sca_denied")
                    };
                    self.fail_chunk(&org, &chunk, status, reason, "the payment was not approved")
                        .await?;
                    Ok(Next::Done)
                }
                ScaResult::Waiting | ScaResult::Unknown => {
                    if Utc::now() - started >= timeout {
                        self.fail_chunk(
                            &org,
                            &chunk,
                            chunk_status::EXPIRED,
                            "sca_expired",
                            "nobody approved the payment within 15 minutes",
                        )
                        .await?;
                        return Ok(Next::Done);
                    }
                    let poll = chrono::Duration::from_std(
                        self.settings()
                            .sca_poll
                            .max(std::time::Duration::from_secs(1)),
                    )
                    .unwrap_or(chrono::Duration::seconds(1));
                    Ok(Next::At(Utc::now() + poll))
                }
            }
        }
        .instrument(span)
        .await
    }

    /// A chunk failed as a whole: its transfers end, their bills go back to `ready` (a person
    /// can pay them again), the run's status follows.
    pub(crate) async fn fail_chunk(
        &self,
        org: &OrgId,
        chunk: &run_chunk::Model,
        status: &str,
        reason: &str,
        detail: &str,
    ) -> Result<(), EngineError> {
        let w = self.store().begin_write().await?;
        let Some(current) = run_chunk::Entity::find_by_id(chunk.id.clone())
            .one(&w.txn)
            .await?
        else {
            return Ok(());
        };
        // A submitted approval request is still open until approved or declined.
        let open_request =
            current.mode == chunk_mode::REQUEST && current.status == chunk_status::SUBMITTED;
        if chunk_status::FINAL.contains(&current.status.as_str()) && !open_request {
            return Ok(());
        }
        let mut am: run_chunk::ActiveModel = current.into();
        am.status = Set(status.into());
        am.last_error = Set(Some(format!("{reason}: {detail}")));
        am.sca_token = Set(None);
        am.updated_at = Set(stamp());
        am.update(&w.txn).await?;
        let transfers = chunk_transfers(&w.txn, &chunk.id, &[transfer_status::PLANNED]).await?;
        end_transfers(
            &w.txn,
            org,
            &transfers,
            transfer_status::FAILED,
            reason,
            bill_status::READY,
            None,
            true,
        )
        .await?;
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(org.clone()),
                actor: "engine".into(),
                action: "chunk.failed".into(),
                run_id: Some(chunk.run_id.clone()),
                details: serde_json::json!({ "chunk_id": chunk.id, "status": status, "reason": reason, "detail": detail }),
                ..Default::default()
            },
        )
        .await?;
        refresh_run(&w.txn, &chunk.run_id).await?;
        w.commit().await?;
        Ok(())
    }

    /// The VoP token was refused: plan the chunk again with a new generation (new key, since
    /// the body changes) and let `run.submit` verify and persist it.
    async fn replan_chunk(
        &self,
        org: &OrgId,
        chunk: &run_chunk::Model,
        why: &str,
    ) -> Result<(), EngineError> {
        self.replan_chunk_as(org, chunk, &chunk.mode, why).await
    }

    async fn replan_chunk_as(
        &self,
        org: &OrgId,
        chunk: &run_chunk::Model,
        mode: &str,
        why: &str,
    ) -> Result<(), EngineError> {
        let w = self.store().begin_write().await?;
        let mut am: run_chunk::ActiveModel = chunk.clone().into();
        am.mode = Set(mode.to_string());
        am.status = Set(chunk_status::PLANNED.into());
        am.vop_token = Set(None);
        am.vop_at = Set(None);
        am.request_body = Set(None);
        am.idempotency_key = Set(None);
        am.first_sent_at = Set(None);
        am.key_generation = Set(chunk.key_generation + 1);
        am.last_error = Set(Some(why.to_string()));
        am.updated_at = Set(stamp());
        am.update(&w.txn).await?;
        enqueue(&w.txn, super::submit_job(org, &chunk.run_id)).await?;
        w.commit().await?;
        Ok(())
    }

    /// Qonto's 403 on bulk: remember the plan, and re-plan this chunk as single transfers.
    async fn fallback_to_single(
        &self,
        org: &OrgId,
        chunk: &run_chunk::Model,
    ) -> Result<(), EngineError> {
        tracing::warn!(chunk_id = %chunk.id, "the Qonto plan refuses bulk transfers: sending each transfer on its own");
        self.store()
            .update_payment_policy(org, "engine", |p| p.plan_forbids_bulk = true)
            .await?;
        let w = self.store().begin_write().await?;
        let transfers = chunk_transfers(&w.txn, &chunk.id, &[transfer_status::PLANNED]).await?;
        let mut am: run_chunk::ActiveModel = chunk.clone().into();
        am.status = Set(chunk_status::CANCELED.into());
        am.last_error = Set(Some(
            "plan_forbids_bulk: re-planned as single transfers".into(),
        ));
        am.updated_at = Set(stamp());
        am.update(&w.txn).await?;
        let at = stamp();
        // One chunk per unit: a bill, or the bills of a supplier paid together.
        for (i, u) in units(&transfers).iter().enumerate() {
            let id = ChunkId::new().to_string();
            let t = u.lead();
            super::plan::new_chunk(
                &id,
                org,
                &chunk.run_id,
                chunk.seq * 1000 + i32::try_from(i).unwrap_or(0) + 1,
                chunk_mode::SINGLE,
                t.trusted && t.beneficiary_id.is_some(),
                None,
                at,
            )
            .insert(&w.txn)
            .await?;
            for t in &u.members {
                let mut tm: transfer::ActiveModel = (*t).clone().into();
                tm.chunk_id = Set(Some(id.clone()));
                tm.updated_at = Set(at);
                tm.update(&w.txn).await?;
            }
        }
        if let Some(run) = payment_run::Entity::find_by_id(chunk.run_id.clone())
            .one(&w.txn)
            .await?
        {
            let mut summary: crate::store::payments::RunSummary =
                serde_json::from_str(&run.summary).unwrap_or_default();
            summary.warnings.push(RunWarning {
                code: "single_transfers".into(),
                message: "Qonto refused the bulk transfer: the organization's plan (Solo Basic) does not allow it, so each transfer goes on its own (one per bill, or per supplier when grouped)".into(),
            });
            let mut am: payment_run::ActiveModel = run.into();
            am.summary = Set(serde_json::to_string(&summary).map_err(corrupt)?);
            am.status = Set(run_status::SUBMITTING.into());
            am.updated_at = Set(at);
            am.update(&w.txn).await?;
        }
        append(
            &w.txn,
            AuditEntry {
                org_id: Some(org.clone()),
                actor: "engine".into(),
                action: "run.single_transfers".into(),
                run_id: Some(chunk.run_id.clone()),
                details: serde_json::json!({ "chunk_id": chunk.id, "transfers": transfers.len(), "reason": "plan_forbids_bulk" }),
                ..Default::default()
            },
        )
        .await?;
        enqueue(&w.txn, super::submit_job(org, &chunk.run_id)).await?;
        w.commit().await?;
        Ok(())
    }
}

/// What Qonto created.
pub(crate) enum Sent {
    Bulk(BulkTransfer),
    Single(SepaTransfer),
    /// An approval request: the transfers exist once an owner or admin approves it.
    Request(MultiTransferRequest),
}

/// The note an approval request carries: how billbridge finds it, and the transfers Qonto
/// creates from it, again.
pub(crate) fn request_note(chunk_id: &str) -> String {
    format!("billbridge {chunk_id}: supplier bills to approve")
}

fn failure_code(e: &QontoError) -> String {
    match e {
        QontoError::InsufficientFunds { .. } => "insufficient_funds".into(),
        QontoError::ScaNotEnrolled { .. } => "sca_not_enrolled".into(),
        QontoError::ScaSessionInvalid { .. } => "sca_expired".into(),
        QontoError::ApprovalRequired { .. } => "approval_required".into(),
        QontoError::VopToken { .. } => "vop_token_refused".into(),
        QontoError::Unauthorized { .. } => "qonto_unauthorized".into(),
        QontoError::Forbidden { .. } | QontoError::PlanForbidsBulk { .. } => {
            "qonto_forbidden".into()
        }
        _ => crate::store::bills::code(&e.class()),
    }
}

/// A planned transfer now exists at Qonto: record its id, move the bill to `submitted`, tell
/// the ERP.
pub(crate) async fn mark_created<C: ConnectionTrait>(
    conn: &C,
    org: &OrgId,
    t: &transfer::Model,
    qonto_id: &str,
) -> Result<(), EngineError> {
    let at = stamp();
    let res = transfer::Entity::update_many()
        .col_expr(
            transfer::Column::Status,
            sea_orm::sea_query::Expr::value(transfer_status::CREATED),
        )
        .col_expr(
            transfer::Column::QontoTransferId,
            sea_orm::sea_query::Expr::value(Some(qonto_id.to_string())),
        )
        .col_expr(
            transfer::Column::SubmittedAt,
            sea_orm::sea_query::Expr::value(Some(at)),
        )
        .col_expr(
            transfer::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(at),
        )
        .filter(transfer::Column::Id.eq(t.id.clone()))
        .filter(transfer::Column::Status.eq(transfer_status::PLANNED))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Ok(());
    }
    let reference = super::group::sent_reference(conn, t).await?;
    if let Some(b) = move_bill(
        conn,
        &t.bill_id,
        &[bill_status::IN_RUN],
        bill_status::SUBMITTED,
        "engine",
        Some(format!("Qonto transfer {qonto_id}")),
        None,
    )
    .await?
    {
        emit(
            conn,
            org,
            EventType::BillPaymentSubmitted,
            Some(&b),
            Some(&t.run_id),
            serde_json::json!({
                "transfer_id": t.id,
                "qonto_transfer_id": qonto_id,
                "run_id": t.run_id,
                "reference": reference,
                "group_id": t.group_id,
                "amount": t.amount,
                "scheduled_date": t.scheduled_date,
                "submitted_at": at,
            }),
        )
        .await?;
    }
    Ok(())
}

/// Apply a bulk's per-item results: completed → created; failed → the bill goes back.
pub(crate) async fn apply_bulk_results<C: ConnectionTrait>(
    conn: &C,
    org: &OrgId,
    chunk_id: &str,
    bulk: &BulkTransfer,
) -> Result<(), EngineError> {
    let transfers = chunk_transfers(conn, chunk_id, &[transfer_status::PLANNED]).await?;
    // A result is one Qonto transfer: one bill, or the bills of one group.
    let mut by_client: HashMap<String, Vec<transfer::Model>> = HashMap::new();
    for t in &transfers {
        by_client.entry(client_id(t)).or_default().push(t.clone());
    }
    for r in &bulk.results {
        let Some(members) = by_client.get(&r.client_transfer_id) else {
            continue;
        };
        match (r.status, &r.transfer_id) {
            (BulkResultStatus::Completed, Some(qid)) => {
                for t in members {
                    mark_created(conn, org, t, qid).await?;
                }
            }
            (BulkResultStatus::Failed, _) => {
                let reason = r
                    .errors
                    .iter()
                    .map(|e| {
                        e.code
                            .clone()
                            .or_else(|| e.detail.clone())
                            .unwrap_or_else(|| "failed".into())
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let reason = if reason.is_empty() {
                    "bulk_item_failed".to_string()
                } else {
                    reason
                };
                end_transfers(
                    conn,
                    org,
                    members,
                    transfer_status::FAILED,
                    &reason,
                    bill_status::READY,
                    None,
                    true,
                )
                .await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Bring the run's status in line with its chunks and transfers.
pub(crate) async fn refresh_run<C: ConnectionTrait>(
    conn: &C,
    run_id: &str,
) -> Result<(), EngineError> {
    // Lock the run row first (PostgreSQL; SQLite serialises writers anyway): two chunks
    // accepted in concurrent transactions would otherwise each see the other still pending
    // and both leave the run `submitting` (write skew).
    let Some(run) = payment_run::Entity::find_by_id(run_id.to_string())
        .lock_exclusive()
        .one(conn)
        .await?
    else {
        return Ok(());
    };
    if run_status::FINAL.contains(&run.status.as_str())
        || [
            run_status::DRAFT,
            run_status::VERIFYING,
            run_status::AWAITING_CONFIRMATION,
        ]
        .contains(&run.status.as_str())
    {
        return Ok(());
    }
    let chunks = run_chunk::Entity::find()
        .filter(run_chunk::Column::RunId.eq(run.id.clone()))
        .all(conn)
        .await?;
    let transfers = transfer::Entity::find()
        .filter(transfer::Column::RunId.eq(run.id.clone()))
        .all(conn)
        .await?;
    let any_chunk = |s: &str| chunks.iter().any(|c| c.status == s);
    let next = if any_chunk(chunk_status::AWAITING_SCA) {
        run_status::AWAITING_SCA
    } else if any_chunk(chunk_status::PLANNED) || any_chunk(chunk_status::READY) {
        run_status::SUBMITTING
    } else if transfers
        .iter()
        .any(|t| transfer_status::LIVE.contains(&t.status.as_str()))
    {
        run_status::SUBMITTED
    } else {
        let sent: Vec<&transfer::Model> = transfers
            .iter()
            .filter(|t| {
                !(t.status == transfer_status::CANCELED
                    && t.failure_reason.as_deref().is_some_and(|r| {
                        r.starts_with("excluded")
                            || r.starts_with("run canceled")
                            || r == "needs_attachment"
                            || r == "vop_mismatch"
                    }))
            })
            .collect();
        let settled = sent
            .iter()
            .filter(|t| t.status == transfer_status::SETTLED)
            .count();
        if settled == sent.len() && settled > 0 {
            run_status::COMPLETED
        } else if settled > 0 {
            run_status::PARTIALLY_FAILED
        } else if !chunks.is_empty()
            && chunks
                .iter()
                .all(|c| c.status == chunk_status::DENIED || c.status == chunk_status::CANCELED)
            && any_chunk(chunk_status::DENIED)
        {
            run_status::DENIED
        } else if any_chunk(chunk_status::EXPIRED) && !any_chunk(chunk_status::SUBMITTED) {
            run_status::EXPIRED
        } else {
            run_status::FAILED
        }
    };
    if next != run.status {
        let at = stamp();
        let reason = chunks
            .iter()
            .filter_map(|c| c.last_error.clone())
            .next_back();
        let mut am: payment_run::ActiveModel = run.into();
        am.status = Set(next.to_string());
        am.updated_at = Set(at);
        if run_status::FINAL.contains(&next) {
            am.completed_at = Set(Some(at));
            if next != run_status::COMPLETED {
                am.reason = Set(reason);
            }
        }
        am.update(conn).await?;
    }
    Ok(())
}

/// Convert Qonto's transfer status to ours.
pub(crate) fn our_status(s: TransferStatus) -> Option<&'static str> {
    match s {
        TransferStatus::Pending => Some(transfer_status::CREATED),
        TransferStatus::Processing => Some(transfer_status::PROCESSING),
        TransferStatus::Settled => Some(transfer_status::SETTLED),
        TransferStatus::Declined => Some(transfer_status::DECLINED),
        TransferStatus::Canceled => Some(transfer_status::CANCELED),
        TransferStatus::Unknown => None,
    }
}
