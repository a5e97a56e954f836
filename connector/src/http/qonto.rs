//! Connecting an organization to Qonto with OAuth 2.0 (authorization code, API.md §2.4):
//! `POST /v1/qonto/connect` gives the authorize URL (with a random `state` bound to the
//! organization), Qonto sends the user back to `GET /v1/qonto/oauth/callback` (the
//! `redirect_uri` of `[qonto.oauth]`), which exchanges the code and stores the tokens sealed;
//! `GET`/`DELETE /v1/qonto/connection` show and remove the connection.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::{org_of, State};
use crate::engine::OAuthConnections;
use crate::qonto::{OAuthClient, QontoError};
use crate::store::qonto_connections::{QontoConnectionView, TakenAuthorization};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/qonto/connect", web::post().to(connect))
        .route("/qonto/oauth/callback", web::get().to(oauth_callback))
        .route("/qonto/connection", web::get().to(get_connection))
        .route("/qonto/connection", web::delete().to(delete_connection));
}

fn oauth(state: &State) -> Result<&OAuthConnections, ApiError> {
    state.qonto_oauth.as_ref().ok_or_else(|| {
        ApiError::conflict(
            "oauth_not_configured",
            "this instance does not connect organizations with OAuth: configure [qonto.oauth] \
             (without [qonto.api_key])",
        )
    })
}

/// What `POST /v1/qonto/connect` may take (the body is optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// Qonto organization id (UUID) to pre-select on Qonto's consent page.
    pub qonto_organization_id: Option<String>,
}

/// Where to send the person who authorizes billbridge in Qonto.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectResponse {
    /// Qonto's authorize URL; open it in a browser logged in to Qonto.
    pub authorize_url: String,
    /// The random `state` in the URL (single use, bound to this organization).
    pub state: String,
    /// The authorization must be completed before this time.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Where Qonto sends the browser back (`[qonto.oauth] redirect_uri`).
    pub redirect_uri: String,
}

/// Start connecting this organization to Qonto with OAuth 2.0: returns the authorize URL.
/// After consent, Qonto redirects to `GET /v1/qonto/oauth/callback`, which stores the tokens.
#[utoipa::path(post, path = "/v1/qonto/connect", tag = "qonto", request_body(content = Option<ConnectRequest>),
    responses((status = 201, body = ConnectResponse), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn connect(
    req: HttpRequest,
    state: State,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let conns = oauth(&state)?;
    let request: ConnectRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ConnectRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json_body", e.to_string()))?
    };
    if let Some(id) = &request.qonto_organization_id {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(ApiError::bad_request(
                "invalid_qonto_organization_id",
                "qonto_organization_id must be a UUID",
            ));
        }
    }
    let started = start_authorization(
        &state.store,
        &conns.oauth,
        &org,
        &format!("api:{org}"),
        request.qonto_organization_id.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Created().json(started))
}

/// Makes an authorize URL for `org` and records its `state` (the HTTP API and the CLI).
pub async fn start_authorization(
    store: &crate::store::Store,
    oauth: &OAuthClient,
    org: &crate::ids::OrgId,
    created_by: &str,
    qonto_organization_id: Option<&str>,
) -> Result<ConnectResponse, ApiError> {
    let request = oauth.authorize_url(qonto_organization_id).map_err(|e| {
        ApiError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "oauth_misconfigured",
            e.to_string(),
        )
    })?;
    let expires_at = store
        .save_qonto_authorization(org, &request.state, created_by)
        .await?;
    let redirect_uri = reqwest::Url::parse(&request.url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    Ok(ConnectResponse {
        authorize_url: request.url,
        state: request.state,
        expires_at,
        redirect_uri,
    })
}

/// The query Qonto sends the browser back with.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    /// Authorization code (valid 10 minutes).
    pub code: Option<String>,
    /// The `state` of `POST /v1/qonto/connect`.
    pub state: Option<String>,
    /// Set when the authorization was refused.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// The answer of a completed connection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectedResponse {
    pub connected: bool,
    #[schema(value_type = String)]
    pub organization_id: crate::ids::OrgId,
    pub access_expires_at: chrono::DateTime<chrono::Utc>,
    pub scope: Option<String>,
}

/// Short, printable excerpt of a value from the query string (never a token: errors only).
fn excerpt(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Qonto redirects here after consent (the `redirect_uri` of `[qonto.oauth]`): checks the
/// `state`, exchanges the code and stores the tokens. Answers HTML to a browser, JSON otherwise.
#[utoipa::path(get, path = "/v1/qonto/oauth/callback", tag = "qonto", params(CallbackQuery),
    responses((status = 200, body = ConnectedResponse), (status = 400, body = super::error::ErrorBody),
        (status = 502, body = super::error::ErrorBody)))]
pub async fn oauth_callback(
    req: HttpRequest,
    state: State,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let conns = oauth(&state)?;
    let returned = q.state.as_deref().unwrap_or("").trim();
    if returned.is_empty() || returned.len() > 512 {
        return Err(ApiError::bad_request(
            "invalid_state",
            "state is missing or malformed: start again with POST /v1/qonto/connect",
        ));
    }
    let (org, created_by) = match state.store.take_qonto_authorization(returned).await? {
        TakenAuthorization::Valid { org, created_by } => (org, created_by),
        TakenAuthorization::Expired => {
            return Err(ApiError::bad_request(
                "expired_state",
                "this authorization expired: start again with POST /v1/qonto/connect",
            ))
        }
        TakenAuthorization::Unknown => {
            return Err(ApiError::bad_request(
                "invalid_state",
                "unknown or already used state: start again with POST /v1/qonto/connect",
            ))
        }
    };
    if let Some(error) = &q.error {
        let description = q.error_description.as_deref().map(excerpt);
        tracing::warn!(org_id = %org, error = %excerpt(error), "Qonto authorization refused");
        return Err(ApiError::bad_request(
            "authorization_refused",
            match description {
                Some(d) => format!(
                    "Qonto did not authorize billbridge: {}: {d}",
                    excerpt(error)
                ),
                None => format!("Qonto did not authorize billbridge: {}", excerpt(error)),
            },
        ));
    }
    let Some(code) = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 2048)
    else {
        return Err(ApiError::bad_request(
            "missing_code",
            "the callback has no authorization code",
        ));
    };
    let tokens = conns.oauth.exchange_code(code).await.map_err(|e| match e {
        QontoError::OAuth {
            status,
            ref error,
            ref description,
        } if status < 500 => {
            tracing::warn!(org_id = %org, %error, "Qonto refused the authorization code");
            ApiError::bad_request(
                "code_exchange_refused",
                format!(
                    "Qonto refused the authorization code: {error}{}",
                    description
                        .as_deref()
                        .map(|d| format!(" ({})", excerpt(d)))
                        .unwrap_or_default()
                ),
            )
        }
        other => {
            tracing::warn!(org_id = %org, error = %other, "could not exchange the authorization code");
            ApiError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "qonto_unavailable",
                format!("could not exchange the authorization code with Qonto: {other}"),
            )
        }
    })?;
    state
        .store
        .save_qonto_connection(&state.keys, &conns.target, &org, &tokens, &created_by)
        .await?;
    tracing::info!(org_id = %org, "organization connected to Qonto");
    let answer = ConnectedResponse {
        connected: true,
        organization_id: org,
        access_expires_at: tokens.expires_at,
        scope: tokens.scope,
    };
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>billbridge: connected \
                 to Qonto</title></head><body><h1>Connected to Qonto</h1><p>Organization \
                 <code>{}</code> is connected; billbridge can now pay its bills. You can close \
                 this page.</p></body></html>",
                answer.organization_id
            )));
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// How this organization reaches Qonto: kind, environment, when it connected, when the access
/// token expires. Never a token.
#[utoipa::path(get, path = "/v1/qonto/connection", tag = "qonto",
    responses((status = 200, body = QontoConnectionView)), security(("bearer" = [])))]
pub async fn get_connection(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let view = state
        .store
        .qonto_connection_view(
            &org,
            state.qonto_oauth.as_ref().map(|c| &c.target),
            state.settings.qonto.as_ref(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Forget this organization's Qonto tokens (payments stop until it connects again). Revoke
/// billbridge's access in Qonto's app too.
#[utoipa::path(delete, path = "/v1/qonto/connection", tag = "qonto",
    responses((status = 204), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn delete_connection(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    if state
        .store
        .delete_qonto_connection(&org, &format!("api:{org}"))
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("Qonto connection"))
    }
}
