//! SEPA bulk transfers (API.md §10).

use super::transfers::{
    business_checks, mark_validated, materialize_beneficiary, parse_spec, resolve_payee,
};
use crate::config::{BulkErrorShape, Plan};
use crate::error::{ApiError, ErrObj};
use crate::http::{paginate, Call, Reply};
use crate::state::{BenRef, Bulk, BulkItem, Origin, State};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};

pub(crate) const PLAN_FORBIDS_BULK: &str =
    "The organization’s price plan does not allow to do bulk transfer.";

pub(crate) fn create(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    if st.plan() == Plan::SoloBasic {
        return Err(ApiError::forbidden(PLAN_FORBIDS_BULK));
    }
    let raw = call.json_value()?;
    let raw = super::object(&raw)?;
    // Lenient: accept the `{"bulk_transfer":{…}}` wrapper and `transfers` as the item key.
    let body = raw
        .get("bulk_transfer")
        .filter(|b| b.is_object())
        .unwrap_or(raw);
    let (key, items) = match (body.get("bulk_transfers"), body.get("transfers")) {
        (Some(Value::Array(a)), _) => ("bulk_transfers", a),
        (_, Some(Value::Array(a))) => ("transfers", a),
        (Some(_), _) => {
            return Err(ApiError::unprocessable(
                "not_an_array",
                "bulk_transfers must be an array",
                "/bulk_transfers",
            ))
        }
        _ => return Err(ApiError::missing("/bulk_transfers")),
    };
    let account = super::req_str(body, "bank_account_id", "")?;
    if account != st.account.id {
        return Err(ApiError::unprocessable(
            "not_found",
            "Bank account not found",
            "/bank_account_id",
        ));
    }
    if items.is_empty() || items.len() > 400 {
        return Err(ApiError::unprocessable(
            "invalid_size",
            "bulk_transfers must contain between 1 and 400 items",
            &format!("/{key}"),
        ));
    }
    let today = call.now.date_naive();
    let mut parsed = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("/{key}/{i}");
        let spec = parse_spec(item, &p, today)?;
        let ctid = super::req_str(item, "client_transfer_id", &p)?;
        if !seen.insert(ctid.clone()) {
            return Err(ApiError::unprocessable(
                "taken",
                "client_transfer_id must be unique within the bulk transfer",
                &format!("{p}/client_transfer_id"),
            ));
        }
        parsed.push((ctid, spec));
    }
    // VoP: the token must cover exactly the IBANs paid.
    let mut ibans = BTreeSet::new();
    let mut all_trusted_by_id = true;
    for (_, spec) in &parsed {
        match &spec.beneficiary {
            BenRef::Id(id) => match st.beneficiary(id) {
                Some(b) => {
                    ibans.insert(b.iban.clone());
                    all_trusted_by_id &= b.trusted;
                }
                None => all_trusted_by_id = false,
            },
            BenRef::Inline { iban, .. } => {
                ibans.insert(crate::util::normalize_iban(iban));
                all_trusted_by_id = false;
            }
        }
    }
    super::vop::require_token(st, body, &ibans, true)?;
    if !all_trusted_by_id && !call.sca_verified {
        return Err(ApiError::ScaRequired {
            action_type: "transfer.bulk.create",
        });
    }
    let id = st.rng.uuid();
    let delay = chrono::Duration::from_std(st.cfg.bulk_processing_delay)
        .unwrap_or(chrono::Duration::zero());
    let bulk = Bulk {
        id: id.clone(),
        initiator_id: st.membership_id.clone(),
        bank_account_id: st.account.id.clone(),
        created_at: call.now,
        updated_at: call.now,
        process_at: call.now + delay,
        idempotency_key: call.idem_key.clone(),
        items: parsed
            .into_iter()
            .map(|(ctid, spec)| BulkItem {
                client_transfer_id: ctid,
                spec,
                status: "pending",
                transfer_id: None,
                errors: None,
            })
            .collect(),
    };
    tracing::info!(bulk_transfer_id = %id, items = bulk.items.len(), "bulk transfer created");
    let json = bulk_json(st, &bulk);
    st.bulks.push(bulk);
    let status = st.cfg.quirks.bulk_create_status;
    if st.cfg.quirks.bulk_create_wrapped {
        Ok(Reply::Json(status, json!({ "bulk_transfer": json })))
    } else {
        Ok(Reply::Json(status, json))
    }
}

/// Run the per-item creation job of bulk `i` (called from the clock tick).
pub(crate) fn process_bulk(st: &mut State, i: usize) {
    let Some(bulk) = st.bulks.get(i).cloned() else {
        return;
    };
    let mut items = bulk.items.clone();
    for (n, item) in items.iter_mut().enumerate() {
        if item.status != "pending" {
            continue;
        }
        let p = format!("/bulk_transfers/{n}");
        let checked = resolve_payee(st, &item.spec, &p)
            .and_then(|payee| business_checks(st, &item.spec, &p, 0).map(|_| payee));
        match checked {
            Err(e) => {
                item.status = "failed";
                item.errors = Some(vec![e]);
            }
            Ok((_, iban, _)) => {
                let ben_id = materialize_beneficiary(st, &item.spec, &iban);
                let tid = st.create_transfer(
                    &item.spec,
                    &ben_id,
                    Origin {
                        kind: "bulk",
                        idempotency_key: bulk.idempotency_key.clone(),
                        client_transfer_id: Some(item.client_transfer_id.clone()),
                        bulk_transfer_id: Some(bulk.id.clone()),
                    },
                    bulk.process_at,
                );
                mark_validated(st, &ben_id);
                item.status = "completed";
                item.transfer_id = Some(tid);
            }
        }
    }
    if let Some(b) = st.bulks.get_mut(i) {
        b.items = items;
        b.updated_at = bulk.process_at;
    }
}

fn errors_json(errors: &Option<Vec<ErrObj>>, shape: BulkErrorShape) -> Value {
    match errors {
        None => Value::Null,
        Some(errs) => {
            let flat: Vec<Value> = errs.iter().map(ErrObj::to_json).collect();
            match shape {
                BulkErrorShape::Flat => json!(flat),
                BulkErrorShape::Nested => json!([{ "errors": flat }]),
            }
        }
    }
}

pub(crate) fn bulk_json(st: &State, b: &Bulk) -> Value {
    let count = |s: &str| b.items.iter().filter(|i| i.status == s).count();
    let q = &st.cfg.quirks;
    let mut v = json!({
        "id": b.id, "initiator_id": b.initiator_id, "bank_account_id": b.bank_account_id,
        "created_at": crate::util::ts(b.created_at), "updated_at": crate::util::ts(b.updated_at),
        "total_count": b.items.len(), "completed_count": count("completed"),
        "failed_count": count("failed"), "pending_count": count("pending"),
        "results": b.items.iter().map(|i| json!({
            "client_transfer_id": i.client_transfer_id, "status": i.status,
            "transfer_id": i.transfer_id, "errors": errors_json(&i.errors, q.bulk_error_shape),
        })).collect::<Vec<_>>(),
    });
    if q.bulk_completed_count_typo {
        v["completed_ount"] = json!(count("completed"));
    }
    v
}

pub(crate) fn get(st: &mut State, _call: &Call, id: &str) -> Result<Reply, ApiError> {
    let b = st
        .bulks
        .iter()
        .find(|b| b.id == id)
        .ok_or_else(|| ApiError::not_found("Bulk transfer", "id"))?;
    Ok(Reply::Json(
        200,
        json!({ "bulk_transfer": bulk_json(st, b) }),
    ))
}

pub(crate) fn list(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let all: Vec<Value> = st.bulks.iter().rev().map(|b| bulk_json(st, b)).collect();
    let (page, meta) = paginate(call, &all, 100, st.cfg.quirks.omit_next_page_on_last)?;
    Ok(Reply::Json(
        200,
        json!({"bulk_transfers": page, "meta": meta}),
    ))
}
