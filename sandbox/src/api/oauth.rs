//! OAuth 2.0 authorization code flow (API.md §2.4), Ory-Hydra-like.

use crate::error::ApiError;
use crate::http::{header, json_response, render_error, staging_guard, Ctx};
use crate::state::{
    AccessToken, AuthCode, RefreshToken, State, ACCESS_TTL_SECS, AUTH_CODE_TTL_SECS,
    REFRESH_GRACE_SECS, REFRESH_TTL_SECS,
};
use crate::util::query_pairs;
use actix_web::http::header::LOCATION;
use actix_web::HttpResponse;
use base64::Engine;
use chrono::Duration;
use serde_json::json;
use std::collections::HashMap;

fn pairs_map(s: &str) -> HashMap<String, String> {
    query_pairs(s).unwrap_or_default().into_iter().collect()
}

fn error_response(c: &Ctx, e: ApiError) -> HttpResponse {
    let (status, v) = render_error(&e, c.trace_id);
    json_response(status, v.to_string().into_bytes())
}

fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    let q = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{q}")
}

pub(crate) fn issue_code(
    st: &mut State,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[&str],
) -> String {
    let code = format!("ory_ac_{}", st.rng.token::<32>());
    let expires_at = st.now() + Duration::seconds(AUTH_CODE_TTL_SECS);
    st.codes.insert(
        code.clone(),
        AuthCode {
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_at,
            used: false,
        },
    );
    code
}

/// `GET /oauth2/auth`: the sandbox user consents at once; redirect with `code` and `state`.
pub(crate) fn authorize(c: &Ctx) -> HttpResponse {
    let q = pairs_map(c.req.query_string());
    let mut st = c.sh.lock();
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let client_id = get("client_id");
    let redirect_uri = get("redirect_uri");
    let Some(client) = st
        .cfg
        .oauth_clients
        .iter()
        .find(|cl| cl.client_id == client_id)
        .cloned()
    else {
        return error_response(c, ApiError::oauth("invalid_client", "Unknown client_id"));
    };
    if redirect_uri.is_empty()
        || !(client.redirect_uris.is_empty()
            || client.redirect_uris.iter().any(|u| u == redirect_uri))
    {
        return error_response(
            c,
            ApiError::oauth(
                "invalid_request",
                "redirect_uri is missing or not registered for this client",
            ),
        );
    }
    let state = get("state");
    let redirect_error = |err: &str, desc: &str| {
        HttpResponse::Found()
            .insert_header((
                LOCATION,
                with_params(
                    redirect_uri,
                    &[
                        ("error", err),
                        ("error_description", desc),
                        ("state", state),
                    ],
                ),
            ))
            .finish()
    };
    if get("response_type") != "code" {
        return redirect_error("unsupported_response_type", "response_type must be code");
    }
    if state.len() < 8 {
        return redirect_error("invalid_state", "state is required (at least 8 characters)");
    }
    let scopes: Vec<&str> = get("scope").split_whitespace().collect();
    let code = issue_code(&mut st, client_id, redirect_uri, &scopes);
    let scope = scopes.join(" ");
    HttpResponse::Found()
        .insert_header((
            LOCATION,
            with_params(
                redirect_uri,
                &[("code", &code), ("scope", &scope), ("state", state)],
            ),
        ))
        .finish()
}

fn fake_id_token(st: &mut State, client_id: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = st.now().timestamp();
    let header = b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = b64.encode(
        json!({"aud": [client_id], "iss": "https://oauth-sandbox.invalid/", "sub": st.membership_id,
               "iat": now, "exp": now + ACCESS_TTL_SECS})
        .to_string(),
    );
    format!("{header}.{payload}.{}", st.rng.token::<32>())
}

fn issue_tokens(st: &mut State, client_id: &str, scopes: &[String]) -> serde_json::Value {
    let now = st.now();
    let access = format!("ory_at_{}", st.rng.token::<32>());
    st.access.insert(
        access.clone(),
        AccessToken {
            scopes: scopes.to_vec(),
            expires_at: now + Duration::seconds(ACCESS_TTL_SECS),
            revoked: false,
        },
    );
    let mut v = json!({"access_token": access, "expires_in": ACCESS_TTL_SECS,
                       "scope": scopes.join(" "), "token_type": "bearer"});
    if scopes.iter().any(|s| s == "offline_access") {
        let refresh = format!("ory_rt_{}", st.rng.token::<32>());
        st.refresh.insert(
            refresh.clone(),
            RefreshToken {
                client_id: client_id.into(),
                scopes: scopes.to_vec(),
                expires_at: now + Duration::seconds(REFRESH_TTL_SECS),
                first_used_at: None,
                revoked: false,
            },
        );
        v["refresh_token"] = json!(refresh);
    }
    if scopes.iter().any(|s| s == "openid") {
        v["id_token"] = json!(fake_id_token(st, client_id));
    }
    v
}

/// Client credentials from the form or HTTP Basic.
fn client_credentials(c: &Ctx, form: &HashMap<String, String>) -> (String, String) {
    if let Some(basic) =
        header(c.req, "authorization").and_then(|h| h.strip_prefix("Basic ").map(str::to_string))
    {
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) {
            if let Some((id, secret)) = String::from_utf8_lossy(&raw).split_once(':') {
                return (id.to_string(), secret.to_string());
            }
        }
    }
    (
        form.get("client_id").cloned().unwrap_or_default(),
        form.get("client_secret").cloned().unwrap_or_default(),
    )
}

/// `POST /oauth2/token` (form-encoded).
pub(crate) fn token(c: &Ctx) -> HttpResponse {
    let mut st = c.sh.lock();
    if let Some(html) = staging_guard(&st, c.req) {
        return html;
    }
    st.tick();
    let form = pairs_map(&String::from_utf8_lossy(c.body));
    let (client_id, client_secret) = client_credentials(c, &form);
    let known = st
        .cfg
        .oauth_clients
        .iter()
        .any(|cl| cl.client_id == client_id && cl.client_secret == client_secret);
    if !known {
        return error_response(
            c,
            ApiError::oauth("invalid_client", "Client authentication failed"),
        );
    }
    let now = st.now();
    let result = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let redirect = form.get("redirect_uri").cloned().unwrap_or_default();
            match st.codes.get_mut(&code) {
                Some(ac) if !ac.used && ac.expires_at > now && ac.client_id == client_id => {
                    if ac.redirect_uri != redirect {
                        Err(ApiError::oauth(
                            "invalid_grant",
                            "redirect_uri does not match the authorization request",
                        ))
                    } else {
                        ac.used = true;
                        let scopes = ac.scopes.clone();
                        Ok(issue_tokens(&mut st, &client_id, &scopes))
                    }
                }
                Some(ac) if ac.used => Err(ApiError::oauth(
                    "invalid_grant",
                    "The authorization code was already used",
                )),
                Some(ac) if ac.expires_at <= now => Err(ApiError::oauth(
                    "invalid_grant",
                    "The authorization code expired",
                )),
                _ => Err(ApiError::oauth(
                    "invalid_grant",
                    "The authorization code is invalid",
                )),
            }
        }
        Some("refresh_token") => {
            let rt_value = form.get("refresh_token").cloned().unwrap_or_default();
            match st.refresh.get_mut(&rt_value) {
                Some(rt) if rt.revoked || rt.expires_at <= now || rt.client_id != client_id => {
                    Err(ApiError::oauth(
                        "invalid_grant",
                        "The refresh token is invalid, expired or revoked",
                    ))
                }
                Some(rt) => {
                    let grace = Duration::seconds(REFRESH_GRACE_SECS);
                    match rt.first_used_at {
                        Some(t) if now - t > grace => Err(ApiError::oauth(
                            "invalid_grant",
                            "The refresh token was already used and its grace period is over",
                        )),
                        _ => {
                            rt.first_used_at.get_or_insert(now);
                            let scopes = rt.scopes.clone();
                            Ok(issue_tokens(&mut st, &client_id, &scopes))
                        }
                    }
                }
                None => Err(ApiError::oauth(
                    "invalid_grant",
                    "The refresh token is invalid",
                )),
            }
        }
        _ => Err(ApiError::oauth(
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        )),
    };
    match result {
        Ok(v) => json_response(200, v.to_string().into_bytes()),
        Err(e) => error_response(c, e),
    }
}

/// `POST /oauth2/revoke` (form `token`).
pub(crate) fn revoke(c: &Ctx) -> HttpResponse {
    let mut st = c.sh.lock();
    let form = pairs_map(&String::from_utf8_lossy(c.body));
    let token = form.get("token").cloned().unwrap_or_default();
    if let Some(a) = st.access.get_mut(&token) {
        a.revoked = true;
    }
    if let Some(r) = st.refresh.get_mut(&token) {
        r.revoked = true;
    }
    HttpResponse::Ok().finish()
}
