//! Outcome webhooks over the API: events, deliveries (with their attempts), replay, and a
//! source's callback endpoint (enable after it was disabled, rotate its secret). An
//! organization's token, and only its own data.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::{org_of, State};
use crate::events::{delivery_status, EventType};
use crate::ids::{DeliveryId, SourceId};
use crate::store::deliveries::{
    DeliveryDetail, DeliveryFilter, DeliveryPage, DeliveryView, EventFilter, EventPage,
};
use crate::store::sources::Source;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::get().to(list_events))
        .route("/deliveries", web::get().to(list_deliveries))
        .route("/deliveries/{delivery_id}", web::get().to(get_delivery))
        .route(
            "/deliveries/{delivery_id}/replay",
            web::post().to(replay_delivery),
        )
        .route(
            "/sources/{source_id}/callback/enable",
            web::post().to(enable_callback),
        )
        .route(
            "/sources/{source_id}/callback/rotate-secret",
            web::post().to(rotate_callback_secret),
        );
}

/// The organization's outcome events, newest first (`type`: e.g. `bill.paid`).
#[utoipa::path(get, path = "/v1/events", tag = "webhooks", params(EventFilter),
    responses((status = 200, body = EventPage), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_events(
    req: HttpRequest,
    state: State,
    q: web::Query<EventFilter>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    if let Some(t) = &q.event_type {
        t.parse::<EventType>()
            .map_err(|e| ApiError::bad_request("invalid_type", e.to_string()))?;
    }
    Ok(HttpResponse::Ok().json(state.store.scoped(&org).list_events(&q).await?))
}

/// The organization's webhook deliveries, newest first.
#[utoipa::path(get, path = "/v1/deliveries", tag = "webhooks", params(DeliveryFilter),
    responses((status = 200, body = DeliveryPage), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_deliveries(
    req: HttpRequest,
    state: State,
    q: web::Query<DeliveryFilter>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    if let Some(s) = &q.status {
        if !delivery_status::ALL.contains(&s.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_status",
                "status must be pending, delivered, dead or canceled",
            ));
        }
    }
    Ok(HttpResponse::Ok().json(state.store.scoped(&org).list_deliveries(&q).await?))
}

/// One delivery, its event and every attempt (status code, duration, first 20 KB of the answer).
#[utoipa::path(get, path = "/v1/deliveries/{delivery_id}", tag = "webhooks", params(("delivery_id" = String, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_delivery(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: DeliveryId = path.into_inner().parse()?;
    Ok(HttpResponse::Ok().json(state.store.scoped(&org).get_delivery(&id).await?))
}

/// Send a delivery again now, with the same `webhook-id` (the receiver deduplicates on it). If
/// that attempt fails the retry schedule starts over. 409 while the endpoint is disabled.
#[utoipa::path(post, path = "/v1/deliveries/{delivery_id}/replay", tag = "webhooks", params(("delivery_id" = String, Path)),
    responses((status = 202, body = DeliveryView), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay_delivery(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: DeliveryId = path.into_inner().parse()?;
    let view = state.store.scoped(&org).replay_delivery(&id, "api").await?;
    Ok(HttpResponse::Accepted().json(view))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct EnableCallback {
    /// `true` (default): the deliveries kept while the endpoint was disabled go out in order,
    /// dead ones included (with a fresh retry schedule). `false`: they are canceled.
    pub redeliver: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnabledCallback {
    pub source: Source,
    /// Dead deliveries queued again (`redeliver`), or deliveries canceled (without).
    pub deliveries_affected: u64,
}

/// Enable a source's callback again after billbridge disabled it (410 Gone, or failures
/// through the whole retry schedule).
#[utoipa::path(post, path = "/v1/sources/{source_id}/callback/enable", tag = "webhooks", params(("source_id" = String, Path)),
    request_body = EnableCallback,
    responses((status = 200, body = EnabledCallback), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn enable_callback(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    body: Option<web::Json<EnableCallback>>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: SourceId = path.into_inner().parse()?;
    let redeliver = body.and_then(|b| b.into_inner().redeliver).unwrap_or(true);
    let scoped = state.store.scoped(&org);
    let affected = scoped.enable_callback(&id, redeliver, "api").await?;
    Ok(HttpResponse::Ok().json(EnabledCallback {
        source: scoped.get_source(&id).await?,
        deliveries_affected: affected,
    }))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct RotateCallback {
    /// How long the current secret keeps signing beside the new one (default 86400 s, at most
    /// 30 days; 0 = drop it now).
    pub grace_seconds: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RotatedCallback {
    /// `whsec_…`: the new secret. Shown once.
    pub callback_secret: String,
    /// Until when messages also carry a signature made with the previous secret.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// Rotate the callback secret: during the grace period every webhook carries two signatures
/// (`v1,…` with the new secret and `v1,…` with the previous one), so the ERP verifies with either.
#[utoipa::path(post, path = "/v1/sources/{source_id}/callback/rotate-secret", tag = "webhooks", params(("source_id" = String, Path)),
    request_body = RotateCallback,
    responses((status = 200, body = RotatedCallback), (status = 400, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate_callback_secret(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    body: Option<web::Json<RotateCallback>>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: SourceId = path.into_inner().parse()?;
    let grace = body
        .and_then(|b| b.into_inner().grace_seconds)
        .unwrap_or(86_400);
    if !(0..=30 * 86_400).contains(&grace) {
        return Err(ApiError::bad_request(
            "invalid_grace",
            "grace_seconds must be between 0 and 2592000",
        ));
    }
    let scoped = state.store.scoped(&org);
    let secret = scoped
        .rotate_callback_secret(&id, chrono::Duration::seconds(grace), &state.keys)
        .await?;
    let source = scoped.get_source(&id).await?;
    Ok(HttpResponse::Ok().json(RotatedCallback {
        callback_secret: secret.expose_whsec().expose_secret().to_string(),
        previous_secret_expires_at: source.callback_previous_secret_expires_at,
    }))
}
