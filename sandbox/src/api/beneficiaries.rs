//! SEPA beneficiaries (API.md §4).

use super::{object, opt_str, opt_str_array, req_str};
use crate::config::BeneficiaryShape;
use crate::error::{ApiError, ErrObj};
use crate::http::{paginate, Call, Reply};
use crate::state::{Beneficiary, State};
use crate::util::{iban_is_sepa, iban_valid, normalize_iban};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

fn parse_time(call: &Call, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match call.q(key) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| ApiError::bad_param(key, format!("{key} is not a valid date"))),
    }
}

fn filtered(st: &State, call: &Call) -> Result<Vec<Beneficiary>, ApiError> {
    let ibans: Vec<String> = call.q_all("iban").into_iter().map(normalize_iban).collect();
    let statuses = call.q_all("status");
    for s in &statuses {
        if !["pending", "validated", "declined"].contains(s) {
            return Err(ApiError::one(
                422,
                ErrObj::new(
                    "not_in_list",
                    "status must be one of: pending, validated, declined",
                )
                .parameter("status"),
            ));
        }
    }
    let trusted = match call.q("trusted") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::bad_param(
                "trusted",
                "trusted must be true or false",
            ))
        }
    };
    let from = parse_time(call, "updated_at_from")?;
    let to = parse_time(call, "updated_at_to")?;
    let asc = match call.q("sort_by") {
        None | Some("updated_at:desc") | Some("updated_at") => false,
        Some("updated_at:asc") => true,
        Some(_) => {
            return Err(ApiError::one(
                422,
                ErrObj::new(
                    "not_in_list",
                    "sort_by must be one of: updated_at:asc, updated_at:desc",
                )
                .parameter("sort_by"),
            ))
        }
    };
    let mut out: Vec<Beneficiary> = st
        .beneficiaries
        .iter()
        .filter(|b| ibans.is_empty() || ibans.contains(&b.iban))
        .filter(|b| statuses.is_empty() || statuses.contains(&b.status.as_str()))
        .filter(|b| trusted.is_none_or(|t| b.trusted == t))
        .filter(|b| from.is_none_or(|f| b.updated_at >= f))
        .filter(|b| to.is_none_or(|t| b.updated_at <= t))
        .cloned()
        .collect();
    // stable: creation order breaks ties
    if asc {
        out.sort_by_key(|b| b.updated_at);
    } else {
        out.reverse();
        out.sort_by_key(|b| std::cmp::Reverse(b.updated_at));
    }
    Ok(out)
}

pub(crate) fn list(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let all = filtered(st, call)?;
    let q = &st.cfg.quirks;
    let (page, meta) = paginate(
        call,
        &all,
        q.beneficiaries_default_per_page,
        q.omit_next_page_on_last,
    )?;
    let shape = q.beneficiary_shape;
    Ok(Reply::Json(
        200,
        json!({"beneficiaries": page.iter().map(|b| b.to_json(shape)).collect::<Vec<_>>(), "meta": meta}),
    ))
}

pub(crate) fn list_legacy(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let all = filtered(st, call)?;
    let (page, meta) = paginate(call, &all, 100, st.cfg.quirks.omit_next_page_on_last)?;
    Ok(Reply::Json(
        200,
        json!({"beneficiaries": page.iter().map(|b| b.to_json(BeneficiaryShape::Nested)).collect::<Vec<_>>(), "meta": meta}),
    ))
}

fn find<'a>(st: &'a State, id: &str) -> Result<&'a Beneficiary, ApiError> {
    st.beneficiary(id)
        .ok_or_else(|| ApiError::not_found("Beneficiary", "id"))
}

pub(crate) fn get(st: &mut State, _call: &Call, id: &str) -> Result<Reply, ApiError> {
    let b = find(st, id)?;
    Ok(Reply::Json(
        200,
        json!({"beneficiary": b.to_json(st.cfg.quirks.beneficiary_shape)}),
    ))
}

pub(crate) fn get_legacy(st: &mut State, _call: &Call, id: &str) -> Result<Reply, ApiError> {
    let b = find(st, id)?;
    Ok(Reply::Json(
        200,
        json!({"beneficiary": b.to_json(BeneficiaryShape::Nested)}),
    ))
}

/// Validate an IBAN field: normalized, mod-97, SEPA. Mocked VoP IBANs (e.g. the docs' example)
/// are accepted as they are.
pub(crate) fn check_iban(st: &State, raw: &str, pointer: &str) -> Result<String, ApiError> {
    let iban = normalize_iban(raw);
    if st.vop_registry.contains_key(&iban) {
        return Ok(iban);
    }
    if !iban_valid(&iban) {
        return Err(ApiError::unprocessable("invalid", "Invalid IBAN", pointer));
    }
    if !iban_is_sepa(&iban) {
        return Err(ApiError::unprocessable(
            "iban_not_sepa",
            "The IBAN is not in the SEPA zone",
            pointer,
        ));
    }
    Ok(iban)
}

pub(crate) fn check_name(name: &str, pointer: &str) -> Result<(), ApiError> {
    if name.chars().count() > 140 {
        return Err(ApiError::unprocessable(
            "above_max_size",
            "name size cannot be greater than 140",
            pointer,
        ));
    }
    Ok(())
}

pub(crate) fn create(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let body = call.json_value()?;
    let b = object(&body)?
        .get("beneficiary")
        .filter(|b| b.is_object())
        .ok_or_else(|| ApiError::missing("/beneficiary"))?;
    let name = req_str(b, "name", "/beneficiary")?;
    check_name(&name, "/beneficiary/name")?;
    let iban = check_iban(
        st,
        &req_str(b, "iban", "/beneficiary")?,
        "/beneficiary/iban",
    )?;
    let bic = opt_str(b, "bic", "/beneficiary")?;
    let email = opt_str(b, "email", "/beneficiary")?;
    let activity_tag = opt_str(b, "activity_tag", "/beneficiary")?;
    if st.beneficiary_by_iban(&iban).is_some() {
        return Err(ApiError::unprocessable(
            "taken",
            "A beneficiary with this IBAN already exists",
            "/beneficiary/iban",
        ));
    }
    if st.cfg.quirks.beneficiary_create_requires_sca && !call.sca_verified {
        return Err(ApiError::ScaRequired {
            action_type: "beneficiary.create",
        });
    }
    let id = st.upsert_inline_beneficiary(&name, &iban, bic, email, activity_tag);
    let b = find(st, &id)?;
    Ok(Reply::Json(
        201,
        json!({"beneficiary": b.to_json(st.cfg.quirks.beneficiary_shape)}),
    ))
}

pub(crate) fn update(st: &mut State, call: &Call, id: &str) -> Result<Reply, ApiError> {
    let body = call.json_value()?;
    let b = object(&body)?
        .get("beneficiary")
        .filter(|b| b.is_object())
        .ok_or_else(|| ApiError::missing("/beneficiary"))?;
    let name = opt_str(b, "name", "/beneficiary")?;
    if let Some(n) = &name {
        if n.trim().is_empty() {
            return Err(ApiError::unprocessable(
                "blank",
                "name must be filled",
                "/beneficiary/name",
            ));
        }
        check_name(n, "/beneficiary/name")?;
    }
    let email = opt_str(b, "email", "/beneficiary")?;
    let tag = opt_str(b, "activity_tag", "/beneficiary")?;
    let now = call.now;
    let shape = st.cfg.quirks.beneficiary_shape;
    let pending_hidden = st.cfg.quirks.update_pending_beneficiary_not_found;
    if pending_hidden && st.beneficiary(id).is_some_and(|b| b.status == "pending") {
        return Err(ApiError::not_found("Beneficiary", "id"));
    }
    let ben = st
        .beneficiaries
        .iter_mut()
        .find(|b| b.id == id)
        .ok_or_else(|| ApiError::not_found("Beneficiary", "id"))?;
    if let Some(n) = name {
        ben.name = n;
    }
    if email.is_some() {
        ben.email = email;
    }
    if tag.is_some() {
        ben.activity_tag = tag;
    }
    ben.updated_at = now;
    Ok(Reply::Json(200, json!({"beneficiary": ben.to_json(shape)})))
}

pub(crate) fn delete(st: &mut State, _call: &Call, id: &str) -> Result<Reply, ApiError> {
    let Some(i) = st.beneficiaries.iter().position(|b| b.id == id) else {
        return Err(ApiError::not_found("Beneficiary", "id"));
    };
    st.beneficiaries.remove(i);
    Ok(Reply::Empty(204))
}

pub(crate) fn set_trust(st: &mut State, call: &Call, trust: bool) -> Result<Reply, ApiError> {
    let body = call.json_value()?;
    let ids = opt_str_array(object(&body)?, "ids", "")?;
    if ids.is_empty() {
        return Err(ApiError::unprocessable(
            "missing_ids",
            "ids must be filled",
            "/ids",
        ));
    }
    if ids.len() > 400 {
        return Err(ApiError::unprocessable(
            "ids_limit_reached",
            "Size of ids cannot exceed 400",
            "/ids",
        ));
    }
    let missing: Vec<ErrObj> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| st.beneficiary(id).is_none())
        .map(|(i, _)| {
            ErrObj::new("not_found", "Beneficiary not found")
                .pointer(format!("/beneficiaries/{i}/id"))
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::many(422, missing));
    }
    if trust && st.cfg.quirks.trust_requires_sca && !call.sca_verified {
        return Err(ApiError::ScaRequired {
            action_type: "beneficiary.trust",
        });
    }
    let now = call.now;
    let shape = st.cfg.quirks.beneficiary_shape;
    let mut out: Vec<Value> = vec![];
    for id in &ids {
        if let Some(b) = st.beneficiaries.iter_mut().find(|b| &b.id == id) {
            b.trusted = trust;
            b.updated_at = now;
            out.push(b.to_json(shape));
        }
    }
    Ok(Reply::Json(200, json!({"beneficiaries": out})))
}
