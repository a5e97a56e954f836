//! `/v2/webhook_subscriptions` (API.md §12.1).

use super::{object, opt_str, opt_str_array, req_str};
use crate::error::ApiError;
use crate::http::{Call, Reply};
use crate::state::{State, WebhookSub};
use crate::util::ts;
use serde_json::{json, Value};

fn to_json(st: &State, s: &WebhookSub, with_secret: bool) -> Value {
    let mut v = json!({
        "id": s.id, "organization_id": st.org_id, "membership_id": st.membership_id,
        "callback_url": s.callback_url, "types": s.types, "description": s.description,
        "created_at": ts(s.created_at), "updated_at": ts(s.created_at),
    });
    if with_secret {
        v["secret"] = json!(s.secret);
    }
    v
}

pub(crate) fn create(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let body = call.json_value()?;
    let raw = object(&body)?;
    let b = raw
        .get("webhook_subscription")
        .filter(|v| v.is_object())
        .unwrap_or(raw);
    let url = req_str(b, "callback_url", "")?;
    let https = url.starts_with("https://");
    let http = url.starts_with("http://") && st.cfg.quirks.webhook_allow_http;
    if !(https || http) || url.len() > 512 {
        return Err(ApiError::unprocessable(
            "invalid",
            "callback_url must be an https URI of at most 512 characters",
            "/callback_url",
        ));
    }
    let types = opt_str_array(b, "types", "")?;
    if types.is_empty() {
        return Err(ApiError::unprocessable(
            "blank",
            "types must contain at least one type",
            "/types",
        ));
    }
    let description = opt_str(b, "description", "")?;
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 256)
    {
        return Err(ApiError::unprocessable(
            "above_max_size",
            "description size cannot be greater than 256",
            "/description",
        ));
    }
    let secret = match opt_str(b, "secret", "")? {
        Some(s) if (32..=128).contains(&s.len()) => s,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid",
                "secret must be between 32 and 128 characters",
                "/secret",
            ))
        }
        None => format!("whsec_{}", st.rng.hex::<24>()),
    };
    let sub = WebhookSub {
        id: st.rng.uuid(),
        callback_url: url,
        types,
        description,
        secret,
        created_at: call.now,
    };
    let json = to_json(st, &sub, true);
    st.webhooks.push(sub);
    Ok(Reply::Json(201, json))
}

pub(crate) fn list(st: &mut State, _call: &Call) -> Result<Reply, ApiError> {
    let subs: Vec<Value> = st.webhooks.iter().map(|s| to_json(st, s, false)).collect();
    Ok(Reply::Json(200, json!({ "webhook_subscriptions": subs })))
}

pub(crate) fn get(st: &mut State, _call: &Call, id: &str) -> Result<Reply, ApiError> {
    let s = st
        .webhooks
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::not_found("Webhook subscription", "id"))?;
    Ok(Reply::Json(200, to_json(st, s, false)))
}

pub(crate) fn delete(st: &mut State, _call: &Call, id: &str) -> Result<Reply, ApiError> {
    let Some(i) = st.webhooks.iter().position(|s| s.id == id) else {
        return Err(ApiError::not_found("Webhook subscription", "id"));
    };
    st.webhooks.remove(i);
    Ok(Reply::Empty(204))
}
