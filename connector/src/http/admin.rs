//! The admin API: organizations (admin token), sources, bills and the audit log (an
//! organization's token, and only its own data: every query goes through `Store::scoped`).

use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::{authenticate, org_of, State};
use crate::ids::{BillId, SourceId};
use crate::store::audit::{AuditFilter, AuditRecord};
use crate::store::bills::{BillAction, BillFilter, BillPage, BillView, HistoryEntry};
use crate::store::orgs::{Organization, Principal};
use crate::store::sources::Source;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs", web::post().to(create_org))
        .route("/orgs", web::get().to(list_orgs))
        .route("/sources", web::post().to(create_source))
        .route("/sources", web::get().to(list_sources))
        .route("/sources/{source_id}", web::get().to(get_source))
        .route(
            "/sources/{source_id}/rotate-secret",
            web::post().to(rotate_secret),
        )
        .route("/sources/{source_id}/callback", web::put().to(set_callback))
        .route("/sources/{source_id}/mapping", web::put().to(set_mapping))
        .route("/sources/{source_id}/mapping", web::get().to(get_mapping))
        .route("/bills", web::get().to(list_bills))
        .route("/bills/{bill_id}", web::get().to(get_bill))
        .route("/bills/{bill_id}/hold", web::post().to(hold_bill))
        .route("/bills/{bill_id}/release", web::post().to(release_bill))
        .route("/bills/{bill_id}/cancel", web::post().to(cancel_bill))
        .route("/audit", web::get().to(audit));
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateOrg {
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedOrg {
    pub organization: Organization,
    /// The organization's first API token; shown once.
    pub token: String,
}

fn name_ok(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("{field} must be 1 to 200 characters"),
        ));
    }
    Ok(name.to_string())
}

/// Create an organization and its first token (admin token).
#[utoipa::path(post, path = "/v1/orgs", tag = "admin", request_body = CreateOrg,
    responses((status = 201, body = CreatedOrg), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_org(
    req: HttpRequest,
    state: State,
    body: web::Json<CreateOrg>,
) -> Result<HttpResponse, ApiError> {
    if authenticate(&req, &state).await? != Principal::Admin {
        return Err(ApiError::forbidden(
            "only the admin token creates organizations",
        ));
    }
    let name = name_ok("name", &body.name)?;
    let org = state.store.create_org(&name).await?;
    let (_, token) = state.store.create_token(Some(&org.id), "initial").await?;
    Ok(HttpResponse::Created().json(CreatedOrg {
        organization: org,
        token,
    }))
}

/// List organizations (admin token).
#[utoipa::path(get, path = "/v1/orgs", tag = "admin", responses((status = 200, body = Vec<Organization>)), security(("bearer" = [])))]
pub async fn list_orgs(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    if authenticate(&req, &state).await? != Principal::Admin {
        return Err(ApiError::forbidden(
            "only the admin token lists organizations",
        ));
    }
    Ok(HttpResponse::Ok().json(state.store.list_orgs().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateSource {
    pub name: String,
    /// Free text: `erp`, `upload`, `email`… (default `erp`).
    pub kind: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SourceWithSecret {
    pub source: Source,
    /// `whsec_…`: sign intake requests with it (Standard Webhooks). Shown once.
    pub signing_secret: String,
}

/// Create a source; its signing secret is returned once.
#[utoipa::path(post, path = "/v1/sources", tag = "sources", request_body = CreateSource,
    responses((status = 201, body = SourceWithSecret), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn create_source(
    req: HttpRequest,
    state: State,
    body: web::Json<CreateSource>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let name = name_ok("name", &body.name)?;
    let kind = name_ok("kind", body.kind.as_deref().unwrap_or("erp"))?;
    let (source, secret) = state
        .store
        .scoped(&org)
        .create_source(&name, &kind, &state.keys)
        .await?;
    Ok(HttpResponse::Created().json(SourceWithSecret {
        source,
        signing_secret: secret.expose_whsec().expose_secret().to_string(),
    }))
}

/// List the organization's sources.
#[utoipa::path(get, path = "/v1/sources", tag = "sources", responses((status = 200, body = Vec<Source>)), security(("bearer" = [])))]
pub async fn list_sources(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    Ok(HttpResponse::Ok().json(state.store.scoped(&org).list_sources().await?))
}

/// One source.
#[utoipa::path(get, path = "/v1/sources/{source_id}", tag = "sources", params(("source_id" = String, Path)),
    responses((status = 200, body = Source), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_source(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: SourceId = path.into_inner().parse()?;
    Ok(HttpResponse::Ok().json(state.store.scoped(&org).get_source(&id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Rotate {
    /// How long the current secret stays valid beside the new one (default 86400 s, at most 30 days).
    pub grace_seconds: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewSecret {
    pub signing_secret: String,
}

/// Rotate the source's signing secret: both are accepted during the grace period.
#[utoipa::path(post, path = "/v1/sources/{source_id}/rotate-secret", tag = "sources", params(("source_id" = String, Path)),
    request_body = Rotate, responses((status = 200, body = NewSecret)), security(("bearer" = [])))]
pub async fn rotate_secret(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    body: web::Json<Rotate>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: SourceId = path.into_inner().parse()?;
    let grace = body.grace_seconds.unwrap_or(86_400);
    if !(0..=30 * 86_400).contains(&grace) {
        return Err(ApiError::bad_request(
            "invalid_grace",
            "grace_seconds must be between 0 and 2592000",
        ));
    }
    let secret = state
        .store
        .scoped(&org)
        .rotate_source_secret(&id, chrono::Duration::seconds(grace), &state.keys)
        .await?;
    Ok(HttpResponse::Ok().json(NewSecret {
        signing_secret: secret.expose_whsec().expose_secret().to_string(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Callback {
    /// Where billbridge sends the source's outcome events (https:// or http://).
    pub url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CallbackSecret {
    /// `whsec_…`: verify billbridge's events with it. Shown once.
    pub callback_secret: String,
}

/// Set the callback endpoint; a new secret signs the events sent there.
#[utoipa::path(put, path = "/v1/sources/{source_id}/callback", tag = "sources", params(("source_id" = String, Path)),
    request_body = Callback, responses((status = 200, body = CallbackSecret), (status = 400, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn set_callback(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    body: web::Json<Callback>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: SourceId = path.into_inner().parse()?;
    let url = reqwest::Url::parse(body.url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_url", "url must be an absolute http(s) URL")
        })?;
    let secret = state
        .store
        .scoped(&org)
        .set_source_callback(&id, url.as_str(), &state.keys)
        .await?;
    Ok(HttpResponse::Ok().json(CallbackSecret {
        callback_secret: secret.expose_whsec().expose_secret().to_string(),
    }))
}

/// Set the JSON mapping (see the README: field → JSON pointer). Validated before it is stored.
#[utoipa::path(put, path = "/v1/sources/{source_id}/mapping", tag = "sources", params(("source_id" = String, Path)),
    request_body(content = Object, description = "{\"fields\": {\"number\": \"/doc/no\", …}}"),
    responses((status = 204), (status = 400, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn set_mapping(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: SourceId = path.into_inner().parse()?;
    let mapping: adapters::JsonMapping = serde_json::from_value(body.into_inner())
        .map_err(|e| ApiError::bad_request("invalid_mapping", e.to_string()))?;
    mapping
        .validate()
        .map_err(|e| ApiError::bad_request("invalid_mapping", e.message))?;
    state
        .store
        .scoped(&org)
        .set_source_mapping(&id, Some(&mapping))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The source's JSON mapping (404 when none is set).
#[utoipa::path(get, path = "/v1/sources/{source_id}/mapping", tag = "sources", params(("source_id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_mapping(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: SourceId = path.into_inner().parse()?;
    match state.store.scoped(&org).source_mapping(&id).await? {
        Some(m) => Ok(HttpResponse::Ok().json(m)),
        None => Err(ApiError::not_found("mapping")),
    }
}

/// List bills, newest first, with filters and cursor pagination.
#[utoipa::path(get, path = "/v1/bills", tag = "bills", params(BillFilter), responses((status = 200, body = BillPage)), security(("bearer" = [])))]
pub async fn list_bills(
    req: HttpRequest,
    state: State,
    q: web::Query<BillFilter>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    Ok(HttpResponse::Ok().json(state.store.scoped(&org).list_bills(&q).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BillWithHistory {
    pub bill: BillView,
    pub history: Vec<HistoryEntry>,
}

/// One bill with its history.
#[utoipa::path(get, path = "/v1/bills/{bill_id}", tag = "bills", params(("bill_id" = String, Path)),
    responses((status = 200, body = BillWithHistory), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_bill(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: BillId = path.into_inner().parse()?;
    let (bill, history) = state.store.scoped(&org).get_bill(&id).await?;
    Ok(HttpResponse::Ok().json(BillWithHistory { bill, history }))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct Note {
    /// Why (kept in the bill's history and the audit log).
    pub note: Option<String>,
}

async fn act(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    note: Option<web::Json<Note>>,
    action: BillAction,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: BillId = path.into_inner().parse()?;
    let note = note
        .and_then(|n| n.into_inner().note)
        .map(|n| n.chars().take(1000).collect());
    let view = state
        .store
        .scoped(&org)
        .act_on_bill(&id, action, "api", note)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(m) => ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "invalid_transition",
                m,
            ),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(view))
}

/// Hold a bill (adds the `manual` hold reason).
#[utoipa::path(post, path = "/v1/bills/{bill_id}/hold", tag = "bills", params(("bill_id" = String, Path)), request_body = Note,
    responses((status = 200, body = BillView), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn hold_bill(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    note: Option<web::Json<Note>>,
) -> Result<HttpResponse, ApiError> {
    act(req, state, path, note, BillAction::Hold).await
}

/// Release a held bill (approves a changed IBAN; hard holds cannot be released).
#[utoipa::path(post, path = "/v1/bills/{bill_id}/release", tag = "bills", params(("bill_id" = String, Path)), request_body = Note,
    responses((status = 200, body = BillView), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn release_bill(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    note: Option<web::Json<Note>>,
) -> Result<HttpResponse, ApiError> {
    act(req, state, path, note, BillAction::Release).await
}

/// Cancel a bill that is not being paid.
#[utoipa::path(post, path = "/v1/bills/{bill_id}/cancel", tag = "bills", params(("bill_id" = String, Path)), request_body = Note,
    responses((status = 200, body = BillView), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn cancel_bill(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    note: Option<web::Json<Note>>,
) -> Result<HttpResponse, ApiError> {
    act(req, state, path, note, BillAction::Cancel).await
}

/// The organization's audit log, newest first.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditFilter), responses((status = 200, body = Vec<AuditRecord>)), security(("bearer" = [])))]
pub async fn audit(
    req: HttpRequest,
    state: State,
    q: web::Query<AuditFilter>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    Ok(HttpResponse::Ok().json(state.store.scoped(&org).audit(&q).await?))
}
