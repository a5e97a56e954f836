//! The HTTP API (actix-web), built zero2prod style: [`Application::build`] binds the port
//! (0 in tests) and [`Application::run`] serves until shutdown.

mod admin;
pub mod error;
mod health;
mod intake;
pub mod metrics;
mod openapi;

use std::net::TcpListener;

use actix_web::{web, App, HttpRequest, HttpServer};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::secrets::SecretBox;
use crate::store::orgs::Principal;
use crate::store::Store;
use error::ApiError;

/// What every handler can reach.
pub struct AppState {
    pub store: Store,
    pub keys: SecretBox,
    pub settings: Settings,
    pub metrics: metrics::Metrics,
}

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
}

impl Application {
    /// Connect to the database (applying migrations when configured), load the encryption key
    /// and bind `settings.bind`.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = Store::connect(&settings.database_url, settings.max_connections).await?;
        if settings.migrate_on_start {
            store.migrate().await?;
        }
        let keys = SecretBox::load(&settings.key_file)?;
        let listener = TcpListener::bind(settings.bind)?;
        Self::with_listener(settings, store, keys, listener)
    }

    /// Serve on an existing listener with an existing store (tests, the demo).
    pub fn with_listener(
        settings: Settings,
        store: Store,
        keys: SecretBox,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        let port = listener.local_addr()?.port();
        if settings.qonto.is_none() {
            tracing::warn!(
                "SANDBOX MODE: no Qonto credentials are configured; payments go to the built-in \
                 Qonto sandbox and no real money moves. Set [qonto] in billbridge.toml to connect."
            );
        }
        let shutdown = settings.shutdown_timeout.as_secs();
        let state = web::Data::new(AppState {
            store,
            keys,
            settings,
            metrics: metrics::Metrics::new(),
        });
        let server =
            HttpServer::new(move || {
                App::new()
                    .app_data(state.clone())
                    .app_data(web::JsonConfig::default().limit(1024 * 1024).error_handler(
                        |err, _| ApiError::bad_request("invalid_json_body", err.to_string()).into(),
                    ))
                    .app_data(web::QueryConfig::default().error_handler(|err, _| {
                        ApiError::bad_request("invalid_query", err.to_string()).into()
                    }))
                    .app_data(
                        web::PathConfig::default()
                            .error_handler(|err, _| ApiError::not_found(&err.to_string()).into()),
                    )
                    .wrap(metrics::RequestMetrics)
                    .configure(health::routes)
                    .configure(openapi::routes)
                    .service(
                        web::scope("/v1")
                            .configure(intake::routes)
                            .configure(admin::routes),
                    )
                    .default_service(web::to(|| async {
                        Err::<actix_web::HttpResponse, _>(ApiError::not_found("route"))
                    }))
            })
            .shutdown_timeout(shutdown)
            .listen(listener)?
            .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serve until SIGINT/SIGTERM; in-flight requests are finished first.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Who is calling: the bootstrap admin token from configuration, or a stored token.
pub(crate) async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Principal, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>")
        })?;
    let token = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>")
        })?;
    if let Some(admin) = &state.settings.admin_token {
        use subtle::ConstantTimeEq;
        if bool::from(admin.expose_secret().as_bytes().ct_eq(token.as_bytes())) {
            return Ok(Principal::Admin);
        }
    }
    state
        .store
        .authenticate(token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "the token is unknown or revoked"))
}

/// The organization a token speaks for; admin tokens manage organizations only.
pub(crate) async fn org_of(
    req: &HttpRequest,
    state: &AppState,
) -> Result<crate::ids::OrgId, ApiError> {
    match authenticate(req, state).await? {
        Principal::Org(org) => Ok(org),
        Principal::Admin => Err(ApiError::forbidden(
            "the admin token manages organizations; use an organization's token here",
        )),
    }
}

/// Shared state type alias for handlers.
pub(crate) type State = web::Data<AppState>;
