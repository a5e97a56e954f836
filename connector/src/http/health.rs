//! `/healthz` (the process answers) and `/readyz` (database reachable, migrations applied).

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(super::metrics::render));
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        detail: None,
    })
}

/// Ready to serve: the database answers and no migration is pending.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(state: State) -> HttpResponse {
    let unready = |detail: String| {
        HttpResponse::ServiceUnavailable().json(Health {
            status: "unavailable",
            detail: Some(detail),
        })
    };
    if let Err(e) = state.store.ping().await {
        return unready(format!("database unreachable: {e}"));
    }
    match state.store.pending_migrations().await {
        Ok(p) if p.is_empty() => HttpResponse::Ok().json(Health {
            status: "ready",
            detail: None,
        }),
        Ok(p) => unready(format!("pending migrations: {}", p.join(", "))),
        Err(e) => unready(format!("cannot read migrations: {e}")),
    }
}
