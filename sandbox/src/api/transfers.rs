//! SEPA transfers (API.md §6).

use super::{object, opt_str, opt_str_array};
use crate::error::{ApiError, ErrObj};
use crate::http::{paginate, Call, Reply};
use crate::state::{BenRef, Origin, State, Transfer, TransferSpec, TransferStatus};
use crate::util::{cents_to_decimal, parse_amount};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Structural validation of a transfer object (single `transfer` or bulk item).
pub(crate) fn parse_spec(v: &Value, p: &str, today: NaiveDate) -> Result<TransferSpec, ApiError> {
    if !v.is_object() {
        return Err(ApiError::unprocessable("invalid", "must be an object", p));
    }
    let ben_id = opt_str(v, "beneficiary_id", p)?;
    let inline = v.get("beneficiary").filter(|b| !b.is_null());
    let beneficiary = match (ben_id, inline) {
        (Some(_), Some(_)) => {
            return Err(ApiError::unprocessable(
                "invalid",
                "Provide either beneficiary_id or beneficiary, not both",
                &format!("{p}/beneficiary"),
            ))
        }
        (None, None) => return Err(ApiError::missing(&format!("{p}/beneficiary_id"))),
        (Some(id), None) => BenRef::Id(id),
        (None, Some(b)) => {
            let bp = format!("{p}/beneficiary");
            if !b.is_object() {
                return Err(ApiError::unprocessable(
                    "invalid",
                    "beneficiary must be an object",
                    &bp,
                ));
            }
            let name = super::req_str(b, "name", &bp)?;
            super::beneficiaries::check_name(&name, &format!("{bp}/name"))?;
            BenRef::Inline {
                name,
                iban: super::req_str(b, "iban", &bp)?,
                bic: opt_str(b, "bic", &bp)?,
                email: opt_str(b, "email", &bp)?,
                activity_tag: opt_str(b, "activity_tag", &bp)?,
            }
        }
    };
    let amount_cents = match v.get("amount") {
        None | Some(Value::Null) => return Err(ApiError::missing(&format!("{p}/amount"))),
        Some(Value::String(s)) => parse_amount(s.trim()).filter(|c| *c > 0).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid",
                "amount must be a positive decimal with at most 2 decimals",
                &format!("{p}/amount"),
            )
        })?,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "not_a_string",
                "amount must be a string",
                &format!("{p}/amount"),
            ))
        }
    };
    let reference = super::req_str(v, "reference", p)?;
    if reference.chars().count() > 140 {
        return Err(ApiError::unprocessable(
            "above_max_size",
            "reference size cannot be greater than 140",
            &format!("{p}/reference"),
        ));
    }
    let note = opt_str(v, "note", p)?;
    if note.as_ref().is_some_and(|n| n.chars().count() > 140) {
        return Err(ApiError::unprocessable(
            "above_max_size",
            "note size cannot be greater than 140",
            &format!("{p}/note"),
        ));
    }
    let scheduled_date = match opt_str(v, "scheduled_date", p)? {
        None => None,
        Some(s) => {
            let d = NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| {
                ApiError::unprocessable(
                    "invalid",
                    "scheduled_date must be a date (YYYY-MM-DD)",
                    &format!("{p}/scheduled_date"),
                )
            })?;
            if d < today {
                return Err(ApiError::unprocessable(
                    "invalid",
                    "scheduled_date cannot be in the past",
                    &format!("{p}/scheduled_date"),
                ));
            }
            Some(d)
        }
    };
    let attachment_ids = opt_str_array(v, "attachment_ids", p)?;
    if attachment_ids.len() > 5 {
        return Err(ApiError::unprocessable(
            "above_max_size",
            "attachment_ids cannot be greater than 5",
            &format!("{p}/attachment_ids"),
        ));
    }
    Ok(TransferSpec {
        beneficiary,
        amount_cents,
        reference,
        note,
        scheduled_date,
        attachment_ids,
    })
}

/// Resolved payee of a spec: (existing beneficiary id or None for inline, IBAN, trusted).
pub(crate) fn resolve_payee(
    st: &State,
    spec: &TransferSpec,
    p: &str,
) -> Result<(Option<String>, String, bool), ErrObj> {
    match &spec.beneficiary {
        BenRef::Id(id) => match st.beneficiary(id) {
            Some(b) if b.status == "declined" => {
                Err(ErrObj::new("invalid", "The beneficiary is declined")
                    .pointer(format!("{p}/beneficiary_id")))
            }
            Some(b) => Ok((Some(b.id.clone()), b.iban.clone(), b.trusted)),
            None => Err(ErrObj::new("not_found", "Beneficiary not found")
                .pointer(format!("{p}/beneficiary_id"))),
        },
        BenRef::Inline { iban, .. } => {
            match super::beneficiaries::check_iban(st, iban, &format!("{p}/beneficiary/iban")) {
                Ok(iban) => Ok((None, iban, false)),
                Err(ApiError::Api { mut errors, .. }) if !errors.is_empty() => {
                    Err(errors.remove(0))
                }
                Err(_) => Err(ErrObj::new("invalid", "Invalid IBAN")),
            }
        }
    }
}

/// Business rules checked at creation: attachments exist, > 30k needs one, enough funds.
pub(crate) fn business_checks(
    st: &State,
    spec: &TransferSpec,
    p: &str,
    reserved_cents: i64,
) -> Result<(), ErrObj> {
    for (i, a) in spec.attachment_ids.iter().enumerate() {
        if !st.attachments.contains_key(a) {
            return Err(
                ErrObj::new("not_found", format!("Attachment not found id={a}"))
                    .pointer(format!("{p}/attachment_ids/{i}")),
            );
        }
    }
    if cents_to_decimal(spec.amount_cents) > st.cfg.attachment_threshold
        && spec.attachment_ids.is_empty()
    {
        return Err(ErrObj::new(
            "attachment_required",
            format!(
                "An attachment is required for transfers above {} EUR",
                st.cfg.attachment_threshold
            ),
        )
        .pointer(format!("{p}/attachment_ids")));
    }
    if st
        .cfg
        .payment_policy_threshold
        .is_some_and(|limit| cents_to_decimal(spec.amount_cents) > limit)
    {
        return Err(ErrObj::new(
            "payment_policy_approval_required",
            "This transfer requires an approval under the organization's payment policy: create a transfer request",
        )
        .pointer(format!("{p}/amount")));
    }
    if st.account.authorized_balance_cents - reserved_cents < spec.amount_cents {
        return Err(
            ErrObj::new("insufficient_funds", "The account has insufficient funds")
                .pointer(format!("{p}/bank_account_id")),
        );
    }
    Ok(())
}

/// Create (or update) the inline beneficiary of a spec; returns the beneficiary id.
pub(crate) fn materialize_beneficiary(st: &mut State, spec: &TransferSpec, iban: &str) -> String {
    match &spec.beneficiary {
        BenRef::Id(id) => id.clone(),
        BenRef::Inline {
            name,
            bic,
            email,
            activity_tag,
            ..
        } => st.upsert_inline_beneficiary(
            name,
            iban,
            bic.clone(),
            email.clone(),
            activity_tag.clone(),
        ),
    }
}

/// A transfer was made to this beneficiary: `pending` → `validated`.
pub(crate) fn mark_validated(st: &mut State, beneficiary_id: &str) {
    if let Some(b) = st.beneficiaries.iter_mut().find(|b| b.id == beneficiary_id) {
        if b.status == "pending" {
            b.status = "validated".into();
        }
    }
}

pub(crate) fn create(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let body = call.json_value()?;
    let body = object(&body)?;
    let t = body
        .get("transfer")
        .filter(|t| t.is_object())
        .ok_or_else(|| ApiError::missing("/transfer"))?;
    let today = call.now.date_naive();
    let spec = parse_spec(t, "/transfer", today)?;
    let account = super::req_str(t, "bank_account_id", "/transfer")?;
    if account != st.account.id {
        return Err(ApiError::unprocessable(
            "not_found",
            "Bank account not found",
            "/transfer/bank_account_id",
        ));
    }
    let (_, iban, trusted) =
        resolve_payee(st, &spec, "/transfer").map_err(|e| ApiError::one(422, e))?;
    business_checks(st, &spec, "/transfer", 0).map_err(|e| {
        let status = if e.code == "payment_policy_approval_required" {
            400
        } else {
            422
        };
        ApiError::one(status, e)
    })?;
    super::vop::require_token(st, body, &BTreeSet::from([iban.clone()]), false)?;
    let needs_sca = !(trusted && matches!(spec.beneficiary, BenRef::Id(_)));
    if needs_sca && !call.sca_verified {
        return Err(ApiError::ScaRequired {
            action_type: "transfer.single.create",
        });
    }
    let ben_id = materialize_beneficiary(st, &spec, &iban);
    let id = st.create_transfer(
        &spec,
        &ben_id,
        Origin {
            kind: "single",
            idempotency_key: call.idem_key.clone(),
            ..Origin::default()
        },
        call.now,
    );
    mark_validated(st, &ben_id);
    tracing::info!(transfer_id = %id, amount_cents = spec.amount_cents, "transfer created");
    let json = transfer_json(st, &id)?;
    Ok(Reply::Json(
        st.cfg.quirks.transfer_create_status,
        json!({ "transfer": json }),
    ))
}

fn transfer_json(st: &State, id: &str) -> Result<Value, ApiError> {
    st.transfers
        .iter()
        .find(|t| t.id == id)
        .map(Transfer::to_json)
        .ok_or_else(|| ApiError::not_found("Transfer", "id"))
}

pub(crate) fn get(st: &mut State, _call: &Call, id: &str) -> Result<Reply, ApiError> {
    Ok(Reply::Json(
        200,
        json!({ "transfer": transfer_json(st, id)? }),
    ))
}

fn parse_time(call: &Call, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match call.q(key) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| Some(d.with_timezone(&Utc)))
            .or_else(|_| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(|d| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
            })
            .map_err(|_| ApiError::bad_param(key, format!("{key} is not a valid date"))),
    }
}

fn parse_date(call: &Call, key: &str) -> Result<Option<NaiveDate>, ApiError> {
    match call.q(key) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ApiError::bad_param(key, format!("{key} is not a valid date"))),
    }
}

pub(crate) fn list(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let ids = call.q_all("ids");
    if ids.len() > 100 {
        return Err(ApiError::bad_param(
            "ids",
            "ids cannot contain more than 100 items",
        ));
    }
    let statuses = call.q_all("status");
    const ALL: [&str; 5] = ["pending", "processing", "canceled", "declined", "settled"];
    if statuses.iter().any(|s| !ALL.contains(s)) {
        return Err(ApiError::one(
            422,
            ErrObj::new(
                "not_in_list",
                "status must be one of: pending, processing, canceled, declined, settled",
            )
            .parameter("status"),
        ));
    }
    let bens = call.q_all("beneficiary_ids");
    let recurring = call.q_all("recurring_transfer_ids");
    let up_from = parse_time(call, "updated_at_from")?;
    let up_to = parse_time(call, "updated_at_to")?;
    let sd_from = parse_date(call, "scheduled_date_from")?;
    let sd_to = parse_date(call, "scheduled_date_to")?;
    let mut out: Vec<&Transfer> = st
        .transfers
        .iter()
        .filter(|t| ids.is_empty() || ids.contains(&t.id.as_str()))
        .filter(|t| statuses.is_empty() || statuses.contains(&t.status.as_str()))
        .filter(|t| bens.is_empty() || bens.contains(&t.beneficiary_id.as_str()))
        .filter(|_| recurring.is_empty())
        .filter(|t| up_from.is_none_or(|f| t.updated_at >= f))
        .filter(|t| up_to.is_none_or(|x| t.updated_at <= x))
        .filter(|t| sd_from.is_none_or(|f| t.scheduled_date >= f))
        .filter(|t| sd_to.is_none_or(|x| t.scheduled_date <= x))
        .collect();
    match call.q("sort_by").unwrap_or("updated_at:desc") {
        "updated_at:desc" | "updated_at" => {
            out.reverse();
            out.sort_by_key(|t| std::cmp::Reverse(t.updated_at));
        }
        "updated_at:asc" => out.sort_by_key(|t| t.updated_at),
        "scheduled_date:desc" | "scheduled_date" => {
            out.reverse();
            out.sort_by_key(|t| std::cmp::Reverse(t.scheduled_date));
        }
        "scheduled_date:asc" => out.sort_by_key(|t| t.scheduled_date),
        "created_at:asc" => {}
        "created_at:desc" | "created_at" => out.reverse(),
        _ => {
            return Err(ApiError::one(
                422,
                ErrObj::new("not_in_list", "sort_by must be one of: updated_at:asc, updated_at:desc, scheduled_date:asc, scheduled_date:desc")
                    .parameter("sort_by"),
            ))
        }
    }
    let all: Vec<Value> = out.into_iter().map(Transfer::to_json).collect();
    let (page, meta) = paginate(call, &all, 100, st.cfg.quirks.omit_next_page_on_last)?;
    Ok(Reply::Json(200, json!({"transfers": page, "meta": meta})))
}

/// Transfer proof (API.md §6.4: `POST …/download_proof` and `GET …/proof` both served).
pub(crate) fn proof(st: &mut State, _call: &Call, id: &str) -> Result<Reply, ApiError> {
    let t = st
        .transfers
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found("Transfer", "id"))?;
    let text = format!(
        "%PDF-1.4\n% Qonto sandbox transfer proof\n% transfer {} amount {} EUR to {} ({}) status {}\n%%EOF\n",
        t.id,
        crate::util::cents_str(t.amount_cents),
        t.beneficiary_name,
        t.beneficiary_iban,
        t.status.as_str()
    );
    Ok(Reply::Bytes("application/pdf", text.into_bytes()))
}

pub(crate) fn cancel(st: &mut State, call: &Call, id: &str) -> Result<Reply, ApiError> {
    let now = call.now;
    let Some(t) = st.transfers.iter_mut().find(|t| t.id == id) else {
        return Err(ApiError::not_found("Transfer", "id"));
    };
    if t.status != TransferStatus::Pending {
        return Err(ApiError::unprocessable(
            "invalid_status",
            format!("A {} transfer cannot be canceled", t.status.as_str()),
            "/status",
        ));
    }
    t.status = TransferStatus::Canceled;
    t.updated_at = now;
    let amount = t.amount_cents;
    st.account.authorized_balance_cents += amount;
    st.account.updated_at = now;
    Ok(Reply::Empty(204))
}
