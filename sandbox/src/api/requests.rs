//! Approval requests: `POST /v2/requests/multi_transfers`, `GET /v2/requests` (\[HS\] legacy
//! spec; API.md §6.1 "Create transfer request"). Approval is done by a person: in the sandbox
//! through the control API (`/_sandbox/requests/{id}/approve|decline`).

use super::{object, opt_str, opt_str_array, req_str};
use crate::config::Plan;
use crate::error::{ApiError, ErrObj};
use crate::http::{paginate, Call, Reply};
use crate::state::{
    BenRef, MultiTransferRequest, Origin, RequestTransferLine, State, TransferSpec,
};
use crate::util::parse_amount;
use crate::SandboxError;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

pub(crate) fn create_multi(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    if st.plan() == Plan::SoloBasic {
        return Err(ApiError::forbidden(
            "The organization’s price plan does not allow transfer requests.",
        ));
    }
    let body = call.json_value()?;
    let r = object(&body)?
        .get("request_multi_transfer")
        .filter(|v| v.is_object())
        .ok_or_else(|| ApiError::missing("/request_multi_transfer"))?;
    let p = "/request_multi_transfer";
    let note = match opt_str(r, "note", p)? {
        Some(n) if !n.trim().is_empty() => n,
        _ => {
            return Err(ApiError::unprocessable(
                "blank",
                "note must be filled",
                &format!("{p}/note"),
            ))
        }
    };
    let items = match r.get("transfers") {
        Some(Value::Array(a)) if !a.is_empty() && a.len() <= 400 => a,
        Some(Value::Array(_)) => {
            return Err(ApiError::unprocessable(
                "invalid_size",
                "transfers must contain between 1 and 400 items",
                &format!("{p}/transfers"),
            ))
        }
        _ => return Err(ApiError::missing(&format!("{p}/transfers"))),
    };
    let scheduled_date = match opt_str(r, "scheduled_date", p)? {
        None => None,
        Some(s) => Some(NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| {
            ApiError::unprocessable(
                "invalid",
                "scheduled_date must be YYYY-MM-DD",
                &format!("{p}/scheduled_date"),
            )
        })?),
    };
    let mut lines = vec![];
    for (i, t) in items.iter().enumerate() {
        let tp = format!("{p}/transfers/{i}");
        if !t.is_object() {
            return Err(ApiError::unprocessable("invalid", "must be an object", &tp));
        }
        let amount = match t.get("amount") {
            Some(Value::String(s)) => {
                parse_amount(s.trim()).filter(|c| *c > 0).ok_or_else(|| {
                    ApiError::unprocessable(
                        "invalid",
                        "amount must be a positive decimal",
                        &format!("{tp}/amount"),
                    )
                })?
            }
            Some(_) => {
                return Err(ApiError::unprocessable(
                    "not_a_string",
                    "amount must be a string",
                    &format!("{tp}/amount"),
                ))
            }
            None => return Err(ApiError::missing(&format!("{tp}/amount"))),
        };
        for key in ["currency", "credit_account_currency"] {
            let c = req_str(t, key, &tp)?;
            if c != "EUR" {
                return Err(ApiError::unprocessable(
                    "not_in_list",
                    format!("{key} must be one of: EUR"),
                    &format!("{tp}/{key}"),
                ));
            }
        }
        let iban = req_str(t, "credit_iban", &tp)?;
        let iban = super::beneficiaries::check_iban(st, &iban, &format!("{tp}/credit_iban")).map_err(|_| {
            ApiError::one(
                422,
                ErrObj::new("invalid_transfers", "It looks like the IBAN you entered isn’t valid. Could you verify and try again?")
                    .pointer(format!("{tp}/credit_iban")),
            )
        })?;
        let name = req_str(t, "credit_account_name", &tp)?;
        let reference = req_str(t, "reference", &tp)?;
        for (key, val) in [("credit_account_name", &name), ("reference", &reference)] {
            if val.chars().count() > 140 {
                return Err(ApiError::unprocessable(
                    "above_max_size",
                    format!("{key} size cannot be greater than 140"),
                    &format!("{tp}/{key}"),
                ));
            }
        }
        lines.push(RequestTransferLine {
            id: st.rng.uuid(),
            credit_iban: iban,
            credit_account_name: name,
            amount_cents: amount,
            reference,
            attachment_ids: opt_str_array(t, "attachment_ids", &tp)?,
        });
    }
    let req = MultiTransferRequest {
        id: st.rng.uuid(),
        initiator_id: st.membership_id.clone(),
        note,
        status: "pending".into(),
        approver_id: None,
        declined_note: None,
        scheduled_date,
        created_at: call.now,
        processed_at: None,
        idempotency_key: call.idem_key.clone(),
        transfers: lines,
    };
    let json = req.to_json(true);
    st.requests.push(req);
    Ok(Reply::Json(200, json!({ "request_multi_transfer": json })))
}

fn time_param(call: &Call, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match call.q(key) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| {
                ApiError::one(
                    422,
                    ErrObj::new("invalid", format!("{key} is not a valid date"))
                        .pointer(format!("/{key}")),
                )
            }),
    }
}

pub(crate) fn list(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    // [HS]: "only accessible by organizations in a Business or Enterprise plan"
    if !matches!(st.plan(), Plan::Business | Plan::Enterprise) {
        return Err(ApiError::forbidden(
            "This endpoint is only accessible by organizations in a Business or Enterprise plan.",
        ));
    }
    let statuses = call.q_all("status");
    let types = call.q_all("request_type");
    let created_from = time_param(call, "created_at_from")?;
    let processed_from = time_param(call, "processed_at_from")?;
    let mut out: Vec<&MultiTransferRequest> = st
        .requests
        .iter()
        .filter(|r| statuses.is_empty() || statuses.contains(&r.status.as_str()))
        .filter(|_| types.is_empty() || types.contains(&"multi_transfer"))
        .filter(|r| created_from.is_none_or(|f| r.created_at >= f))
        .filter(|r| processed_from.is_none_or(|f| r.processed_at.is_some_and(|p| p >= f)))
        .collect();
    match call.q("sort_by").unwrap_or("created_at:desc") {
        "created_at:asc" => {}
        "processed_at:asc" => out.sort_by_key(|r| r.processed_at),
        "processed_at:desc" => out.sort_by_key(|r| std::cmp::Reverse(r.processed_at)),
        _ => out.reverse(),
    }
    let all: Vec<Value> = out.into_iter().map(|r| r.to_json(false)).collect();
    let (page, meta) = paginate(call, &all, 25, st.cfg.quirks.omit_next_page_on_last)?;
    Ok(Reply::Json(200, json!({"requests": page, "meta": meta})))
}

/// Approve (creating the transfers) or decline a pending request.
pub(crate) fn decide(
    st: &mut State,
    id: &str,
    approve: bool,
    note: Option<String>,
) -> Result<(), SandboxError> {
    let Some(i) = st.requests.iter().position(|r| r.id == id) else {
        return Err(SandboxError::NotFound(format!("request {id}")));
    };
    if st.requests[i].status != "pending" {
        return Err(SandboxError::Invalid(format!(
            "request {id} is {}",
            st.requests[i].status
        )));
    }
    let now = st.now();
    let req = st.requests[i].clone();
    if approve {
        for line in &req.transfers {
            let spec = TransferSpec {
                beneficiary: BenRef::Inline {
                    name: line.credit_account_name.clone(),
                    iban: line.credit_iban.clone(),
                    bic: None,
                    email: None,
                    activity_tag: None,
                },
                amount_cents: line.amount_cents,
                reference: line.reference.clone(),
                note: Some(req.note.clone()),
                scheduled_date: req.scheduled_date.filter(|d| *d >= now.date_naive()),
                attachment_ids: line.attachment_ids.clone(),
            };
            let ben = st.upsert_inline_beneficiary(
                &line.credit_account_name,
                &line.credit_iban,
                None,
                None,
                None,
            );
            let tid = st.create_transfer(
                &spec,
                &ben,
                Origin {
                    kind: "request",
                    idempotency_key: req.idempotency_key.clone(),
                    ..Origin::default()
                },
                now,
            );
            if let Some(t) = st.transfers.iter_mut().find(|t| t.id == tid) {
                t.request_id = Some(req.id.clone());
            }
        }
    }
    let membership = st.membership_id.clone();
    let r = &mut st.requests[i];
    r.status = if approve { "approved" } else { "declined" }.into();
    r.approver_id = Some(membership);
    r.declined_note = if approve { None } else { note };
    r.processed_at = Some(now);
    Ok(())
}
