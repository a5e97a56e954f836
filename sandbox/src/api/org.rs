//! `GET /v2/organization`, `/v2/bank_accounts`, `/v2/bank_accounts/{id}`.

use crate::error::ApiError;
use crate::http::{paginate, Call, Reply};
use crate::state::State;
use serde_json::json;

pub(crate) fn organization(st: &mut State, _call: &Call) -> Result<Reply, ApiError> {
    let cfg = &st.cfg;
    Ok(Reply::Json(
        200,
        json!({"organization": {
            "id": st.org_id, "name": cfg.organization_name, "slug": cfg.organization_slug,
            "legal_name": cfg.organization_name, "legal_number": "12345678900011",
            "legal_sector": "6201Z", "legal_registration_date": "2022-11-27",
            "legal_address": "1 rue du Sandbox, 75001 Paris", "legal_form": "SAS",
            "legal_country": "FR", "legal_share_capital": 1000, "locale": "fr",
            "contract_signed_at": "2022-12-01 08:57:00.123047",
            "plan": cfg.plan,
            "bank_accounts": [st.account_json()],
        }}),
    ))
}

pub(crate) fn list_accounts(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let all = vec![st.account_json()];
    let (page, meta) = paginate(call, &all, 100, st.cfg.quirks.omit_next_page_on_last)?;
    Ok(Reply::Json(
        200,
        json!({"bank_accounts": page, "meta": meta}),
    ))
}

pub(crate) fn get_account(st: &mut State, _call: &Call, id: &str) -> Result<Reply, ApiError> {
    if id != st.account.id && id != st.account.slug {
        return Err(ApiError::not_found("Bank account", "id"));
    }
    Ok(Reply::Json(200, json!({"bank_account": st.account_json()})))
}
