//! The HTTP API (actix-web), built zero2prod style: [`Application::build`] binds the port
//! (0 in tests) and [`Application::run`] serves until shutdown.

mod admin;
pub mod error;
mod health;
mod intake;
pub mod metrics;
mod openapi;
pub mod qonto;
mod runs;
mod webhooks;

use std::net::TcpListener;

use actix_web::{web, App, HttpRequest, HttpServer};
use secrecy::ExposeSecret;

use std::sync::Arc;

use crate::config::Settings;
use crate::engine::{qonto_provider, DbAuditSink, Engine, OAuthConnections, QontoProvider};
use crate::qonto::QontoConfig;
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
    /// The payment engine; `None` when no Qonto connection is available.
    pub engine: Option<Engine>,
    /// OAuth connections per organization (`[qonto.oauth]` without an API key).
    pub qonto_oauth: Option<OAuthConnections>,
}

impl AppState {
    pub(crate) fn engine(&self) -> Result<&Engine, ApiError> {
        self.engine.as_ref().ok_or_else(|| {
            ApiError::unavailable(
                "payments_unavailable",
                "this instance has no Qonto connection: configure [qonto] or leave it out to use the built-in sandbox",
            )
        })
    }
}

/// A bound, not yet running server, with its background workers (payment engine, webhook
/// dispatcher) and, in sandbox mode, the built-in Qonto sandbox.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    engine: Option<Engine>,
    dispatcher: Option<crate::webhooks::Dispatcher>,
    sandbox: Option<sandbox::RunningSandbox>,
    shutdown_timeout: std::time::Duration,
}

/// Start the built-in Qonto sandbox and a Qonto configuration pointing at it.
pub async fn start_builtin_sandbox(
    s: &crate::config::SandboxSettings,
) -> anyhow::Result<(sandbox::RunningSandbox, QontoConfig)> {
    let mut config = sandbox::SandboxConfig {
        clock_mode: sandbox::ClockMode::Realtime,
        processing_delay: s.processing_delay,
        settlement_delay: s.settlement_delay,
        ..Default::default()
    };
    config.sca_auto = match s.sca_auto.as_str() {
        "allow" => sandbox::ScaAuto::Allow,
        "deny" => sandbox::ScaAuto::Deny,
        _ => sandbox::ScaAuto::Off,
    };
    let sb =
        sandbox::Sandbox::start_on(config, std::net::SocketAddr::from(([127, 0, 0, 1], s.port)))
            .await?;
    let q = sandbox_qonto_config(&sb);
    Ok((sb, q))
}

/// The Qonto configuration that talks to a running sandbox with its default credentials.
pub fn sandbox_qonto_config(sb: &sandbox::RunningSandbox) -> QontoConfig {
    let mut q = QontoConfig::new(crate::qonto::Environment::Custom {
        api_base: sb.base_url(),
        oauth_base: sb.base_url(),
    });
    let header = sb.api_key_header();
    let (login, secret) = header.split_once(':').unwrap_or((header.as_str(), ""));
    q.api_key = Some(crate::qonto::ApiKeyConfig {
        login: login.to_string(),
        secret_key: secrecy::SecretString::from(secret.to_string()),
    });
    q.staging_token = Some(secrecy::SecretString::from(sb.staging_token()));
    q.sca_method = crate::qonto::ScaMethod::Mock;
    q
}

impl Application {
    /// Connect to the database (applying migrations when configured), load the encryption key,
    /// connect to Qonto (or start the built-in sandbox when `[qonto]` is absent) and bind
    /// `settings.bind`.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = Store::connect(&settings.database_url, settings.max_connections).await?;
        if settings.migrate_on_start {
            store.migrate().await?;
        }
        let keys = SecretBox::load(&settings.key_file)?;
        let listener = TcpListener::bind(settings.bind)?;
        let (qonto, sandbox) = match &settings.qonto {
            Some(q) => (q.clone(), None),
            None => {
                let (sb, q) = start_builtin_sandbox(&settings.sandbox).await?;
                tracing::warn!(
                    sandbox = %sb.base_url(),
                    "SANDBOX MODE: no Qonto credentials are configured; payments go to the \
                     built-in Qonto sandbox and no real money moves. Set [qonto] in \
                     billbridge.toml to connect to Qonto."
                );
                (q, Some(sb))
            }
        };
        let provider = qonto_provider(
            qonto,
            sandbox.is_some(),
            store.clone(),
            keys.clone(),
            DbAuditSink::spawn(store.clone()),
        )?;
        let mut app = Self::with_parts(settings, store, keys, listener, Some(provider))?;
        app.sandbox = sandbox;
        Ok(app)
    }

    /// Serve on an existing listener with an existing store; the engine runs when `[qonto]`
    /// is configured (tests that need payments use [`Application::with_parts`]).
    pub fn with_listener(
        settings: Settings,
        store: Store,
        keys: SecretBox,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        let provider = settings
            .qonto
            .clone()
            .map(|q| {
                qonto_provider(
                    q,
                    false,
                    store.clone(),
                    keys.clone(),
                    Arc::new(crate::qonto::TracingAuditSink),
                )
            })
            .transpose()?;
        Self::with_parts(settings, store, keys, listener, provider)
    }

    /// Everything explicit: the store, the key, the listener and the Qonto provider.
    pub fn with_parts(
        settings: Settings,
        store: Store,
        keys: SecretBox,
        listener: TcpListener,
        qonto: Option<Arc<dyn QontoProvider>>,
    ) -> anyhow::Result<Application> {
        let port = listener.local_addr()?.port();
        let shutdown = settings.shutdown_timeout.as_secs();
        let shutdown_timeout = settings.shutdown_timeout;
        let qonto_oauth = qonto.as_ref().and_then(|q| q.oauth_connections());
        let engine = qonto.map(|q| Engine::new(store.clone(), q, settings.engine.clone()));
        let dispatcher = settings.webhooks.enabled.then(|| {
            crate::webhooks::Dispatcher::new(store.clone(), keys.clone(), settings.webhooks.clone())
        });
        let state = web::Data::new(AppState {
            store,
            keys,
            settings,
            metrics: metrics::Metrics::new(),
            engine: engine.clone(),
            qonto_oauth,
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
                            .configure(admin::routes)
                            .configure(runs::routes)
                            .configure(qonto::routes)
                            .configure(webhooks::routes),
                    )
                    .default_service(web::to(|| async {
                        Err::<actix_web::HttpResponse, _>(ApiError::not_found("route"))
                    }))
            })
            .shutdown_timeout(shutdown)
            .listen(listener)?
            .run();
        Ok(Application {
            port,
            server,
            engine,
            dispatcher,
            sandbox: None,
            shutdown_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL of the built-in sandbox, in sandbox mode.
    pub fn sandbox_url(&self) -> Option<String> {
        self.sandbox.as_ref().map(|s| s.base_url())
    }

    /// The payment engine, when Qonto is reachable.
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// Serve until SIGINT/SIGTERM: in-flight requests finish, then the workers stop taking
    /// jobs, finish the one in hand and give back anything still leased (another instance, or
    /// the next start, takes it at once).
    pub async fn run(self) -> std::io::Result<()> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut workers = tokio::task::JoinSet::new();
        if let Some(engine) = self.engine.clone() {
            if engine.settings().workers {
                workers.spawn(engine.run(rx.clone()));
            }
        }
        if let Some(d) = self.dispatcher {
            workers.spawn(d.run(rx.clone()));
        }
        let result = self.server.await;
        let _ = tx.send(true);
        let drain = async { while workers.join_next().await.is_some() {} };
        if tokio::time::timeout(self.shutdown_timeout, drain)
            .await
            .is_err()
        {
            tracing::warn!(
                "workers did not stop in time; their leases will expire and others retake the jobs"
            );
        }
        if let Some(sb) = self.sandbox {
            sb.stop().await;
        }
        result
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
