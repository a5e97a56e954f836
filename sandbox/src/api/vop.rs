//! Verification of Payee (API.md §5).

use super::{object, req_str};
use crate::config::ProofTokenShape;
use crate::error::{ApiError, ErrObj};
use crate::http::{Call, Reply};
use crate::state::{State, VopToken, VOP_TTL_SECS};
use crate::util::{compare_names, normalize_iban, NameMatch};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Outcome of one verification.
enum Outcome {
    Result {
        match_result: &'static str,
        matched_name: Option<String>,
    },
    BankUnavailable,
}

fn verify_one(st: &State, iban: &str, name: &str) -> Outcome {
    if st
        .cfg
        .vop_unavailable_ibans
        .iter()
        .any(|i| normalize_iban(i) == iban)
    {
        return Outcome::BankUnavailable;
    }
    match st.vop_registry.get(iban) {
        Some(held) if held.is_empty() => Outcome::Result {
            match_result: "MATCH_RESULT_NOT_POSSIBLE",
            matched_name: None,
        },
        Some(held) => match compare_names(name, held) {
            NameMatch::Match => Outcome::Result {
                match_result: "MATCH_RESULT_MATCH",
                matched_name: None,
            },
            NameMatch::Close => Outcome::Result {
                match_result: "MATCH_RESULT_CLOSE_MATCH",
                matched_name: Some(held.clone()),
            },
            NameMatch::NoMatch => Outcome::Result {
                match_result: "MATCH_RESULT_NO_MATCH",
                matched_name: None,
            },
        },
        None if st.cfg.quirks.vop_unknown_iban_matches => Outcome::Result {
            match_result: "MATCH_RESULT_MATCH",
            matched_name: None,
        },
        None => Outcome::Result {
            match_result: "MATCH_RESULT_NOT_POSSIBLE",
            matched_name: None,
        },
    }
}

fn issue_token(st: &mut State, ibans: BTreeSet<String>) -> String {
    let token = format!("proof_{}", st.rng.hex::<16>());
    let expires_at = st.now() + chrono::Duration::seconds(VOP_TTL_SECS);
    st.vop.insert(token.clone(), VopToken { ibans, expires_at });
    token
}

fn check_name_len(name: &str, pointer: &str) -> Result<(), ApiError> {
    if name.chars().count() > 140 {
        return Err(ApiError::unprocessable(
            "above_max_size",
            "beneficiary_name size cannot be greater than 140",
            pointer,
        ));
    }
    Ok(())
}

pub(crate) fn verify(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let body = call.json_value()?;
    let body = object(&body)?;
    let raw_iban = req_str(body, "iban", "")?;
    let name = req_str(body, "beneficiary_name", "")?;
    check_name_len(&name, "/beneficiary_name")?;
    let iban = super::beneficiaries::check_iban(st, &raw_iban, "/iban")?;
    let outcome = verify_one(st, &iban, &name);
    let token = issue_token(st, BTreeSet::from([iban]));
    match outcome {
        Outcome::BankUnavailable => Err(ApiError::one(
            400,
            ErrObj::new(
                "BAD_REQUEST_ERROR_RESPONDING_BANK_NOT_AVAILABLE",
                "The responding bank is not available",
            )
            .meta(json!({"proof_token": {"token": token}})),
        )),
        Outcome::Result {
            match_result,
            matched_name,
        } => Ok(Reply::Json(
            200,
            json!({"match_result": match_result, "matched_name": matched_name,
                   "proof_token": {"token": token}}),
        )),
    }
}

/// Parse `{"requests":[{id, beneficiary_name, iban}]}` (1..400).
fn parse_requests(call: &Call) -> Result<Vec<(String, String, String)>, ApiError> {
    let body = call.json_value()?;
    let reqs = match object(&body)?.get("requests") {
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "not_an_array",
                "requests must be an array",
                "/requests",
            ))
        }
        None => return Err(ApiError::missing("/requests")),
    };
    if reqs.is_empty() || reqs.len() > 400 {
        return Err(ApiError::unprocessable(
            "invalid_size",
            "requests must contain between 1 and 400 items",
            "/requests",
        ));
    }
    let mut out = vec![];
    for (i, r) in reqs.iter().enumerate() {
        let p = format!("/requests/{i}");
        if !r.is_object() {
            return Err(ApiError::unprocessable(
                "invalid",
                "request must be an object",
                &p,
            ));
        }
        let id = match r.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(ApiError::missing(&format!("{p}/id"))),
        };
        let name = req_str(r, "beneficiary_name", &p)?;
        check_name_len(&name, &format!("{p}/beneficiary_name"))?;
        let iban = req_str(r, "iban", &p)?;
        out.push((id, name, iban));
    }
    Ok(out)
}

pub(crate) fn bulk_verify(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let reqs = parse_requests(call)?;
    let string_shape = st.cfg.quirks.bulk_proof_token_shape == ProofTokenShape::String;
    let mut ibans = BTreeSet::new();
    let mut entries = vec![];
    for (i, (id, name, raw_iban)) in reqs.iter().enumerate() {
        let iban = normalize_iban(raw_iban);
        ibans.insert(iban.clone());
        let checked = super::beneficiaries::check_iban(st, &iban, &format!("/requests/{i}/iban"));
        let entry = match checked.map(|iban| verify_one(st, &iban, name)) {
            Ok(Outcome::Result {
                match_result,
                matched_name,
            }) => {
                let mut response = json!({"match_result": match_result});
                if let Some(m) = matched_name {
                    response["matched_name"] = json!(m);
                }
                json!({"id": id, "response": response})
            }
            Ok(Outcome::BankUnavailable) => error_entry(
                id,
                "BAD_REQUEST_ERROR_RESPONDING_BANK_NOT_AVAILABLE",
                "The responding bank is not available",
                string_shape,
            ),
            Err(_) => error_entry(
                id,
                "BAD_REQUEST_ERROR_INVALID_IBAN",
                "Invalid IBAN",
                string_shape,
            ),
        };
        entries.push(entry);
    }
    let token = issue_token(st, ibans);
    let proof = if string_shape {
        json!(token)
    } else {
        json!({"token": token})
    };
    Ok(Reply::Json(
        200,
        json!({"proof_token": proof, "requests": entries}),
    ))
}

fn error_entry(id: &str, code: &str, detail: &str, string_shape: bool) -> Value {
    if string_shape {
        json!({"id": id, "error_code": format!("SINGLE_REQUEST_ERROR_CODE_{code}")})
    } else {
        json!({"id": id, "error": {"code": code, "detail": detail}})
    }
}

pub(crate) fn skip_verify(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let reqs = parse_requests(call)?;
    let ibans = reqs
        .iter()
        .map(|(_, _, iban)| normalize_iban(iban))
        .collect();
    let token = issue_token(st, ibans);
    Ok(Reply::Json(200, json!({"proof_token": token})))
}

/// Check the `vop_proof_token` of a transfer creation against the IBANs it pays.
pub(crate) fn require_token(
    st: &State,
    body: &Value,
    ibans: &BTreeSet<String>,
    bulk: bool,
) -> Result<(), ApiError> {
    if !st.cfg.quirks.require_vop {
        return Ok(());
    }
    let Some(token) = body
        .get("vop_proof_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return Err(ApiError::one(
            401,
            ErrObj::new("vop_proof_token_missing", "vop_proof_token is required")
                .pointer("/vop_proof_token"),
        ));
    };
    let invalid = |detail: &str| {
        ApiError::one(
            401,
            ErrObj::new("vop_proof_token_invalid", detail).pointer("/vop_proof_token"),
        )
    };
    let Some(t) = st.vop.get(token) else {
        return Err(invalid("vop_proof_token is unknown or expired"));
    };
    if t.expires_at <= st.now() {
        return Err(invalid("vop_proof_token expired"));
    }
    let ok = if bulk {
        t.ibans == *ibans
    } else {
        ibans.iter().all(|i| t.ibans.contains(i)) && (t.ibans.len() == 1 || t.ibans == *ibans)
    };
    if !ok {
        return Err(invalid(
            "vop_proof_token was issued for another set of payees",
        ));
    }
    Ok(())
}
