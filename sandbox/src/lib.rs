//! # sandbox — an offline simulator of the Qonto Business API
//!
//! An in-memory, deterministic simulator of the Qonto Business API (current `/v2/sepa/*`
//! generation), written from `qonto/API.md`: "the other side of the wire" for billbridge's demo
//! and tests, and for integrators' own tests. It does not depend on any billbridge type.
//!
//! ## Start it from Rust (tests)
//!
//! ```no_run
//! # async fn demo() -> Result<(), sandbox::SandboxError> {
//! use sandbox::{Sandbox, SandboxConfig};
//! let sb = Sandbox::start(SandboxConfig::default()).await?; // binds 127.0.0.1:0
//! let base = sb.base_url(); // "http://127.0.0.1:PORT"
//! let auth = sb.api_key_header(); // "acme-sandbox-4242:sk_sandbox_…"
//! // … call `{base}/v2/organization` with `Authorization: {auth}` …
//! sb.advance_clock(std::time::Duration::from_secs(2 * 3600)); // settle transfers
//! let log = sb.transfer_log(); // every transfer ever created
//! sb.stop().await;
//! # Ok(()) }
//! ```
//!
//! ## Run it from the CLI
//!
//! [`serve`]`(config, port)` binds `127.0.0.1:port` and runs until Ctrl-C; the billbridge binary
//! wires it as `billbridge sandbox --port N`.
//!
//! ## Defaults ([`SandboxConfig::default`])
//!
//! * API key: `Authorization: acme-sandbox-4242:sk_sandbox_62885d39f3a0ddedd3d3ee0432a43ccr`
//!   ([`DEFAULT_LOGIN`], [`DEFAULT_SECRET`]).
//! * OAuth client `billbridge-sandbox-client` / `billbridge-sandbox-client-secret`, any
//!   redirect URI; `GET /oauth2/auth` consents at once and redirects with `code` and `state`.
//! * Staging token `staging_sandbox_token`, not required unless `require_staging_token`.
//! * Plan `business`; one main EUR account `FR7616798000010000005663951`, balance 1,000,000.00.
//! * Beneficiaries (see [`config::default_beneficiaries`]): trusted — ACME SAS
//!   `FR7630006000011234567890189`, Müller Elektro GmbH `DE89370400440532013000`, Van Dijk
//!   Logistics BV `NL20INGB0001234567`; untrusted — Alice In Wonderland
//!   `DE91100000000123456789`, Malt `DE31100101238050671253`, Rossi Forniture SRL
//!   `IT60X0542811101000000123456`, Brasserie Lambic SPRL `BE68539007547034` (status pending).
//! * Manual clock (only moves when advanced); transfers go `pending` → `processing` after 60 s
//!   and → `settled` one hour later; a beneficiary whose name contains `DECLINE` is declined.
//! * SCA: only `X-Qonto-2fa-Preference: mock` is enrolled; sessions wait for
//!   `POST /v2/mocked_sca_sessions/{token}/allow|deny` unless [`ScaAuto`] says otherwise.
//!
//! ## Control API (`/_sandbox/…`, no Qonto auth; optional `control_token` bearer)
//!
//! See `sandbox/README.md` for the full list: state, reset, plan, balance, clock, SCA,
//! faults, decline rules, quirks, transfer log, webhook deliveries, requests.

mod api;
pub mod config;
mod control;
mod error;
pub mod faults;
mod http;
mod state;
mod util;
pub mod webhook;

pub use config::{
    ClockMode, DeclineMatch, DeclineRule, OAuthClient, Plan, Quirks, RateLimit, SandboxConfig,
    ScaAuto, SeedBeneficiary, DEFAULT_ACCOUNT_IBAN, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_LOGIN, DEFAULT_SECRET, DEFAULT_STAGING_TOKEN,
};
pub use error::SandboxError;
pub use faults::{Fault, FaultKind};
pub use state::{ScaResult, ScaSessionInfo, TransferLogEntry, TransferStatus};
pub use webhook::WebhookDelivery;

use actix_web::{web, App, HttpServer};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Entry point: `Sandbox::start(config)`.
pub struct Sandbox;

/// A sandbox serving HTTP. Dropping it does not stop the server; call [`RunningSandbox::stop`].
pub struct RunningSandbox {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    shared: web::Data<http::Shared>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Balances of the main account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountBalance {
    pub balance: Decimal,
    pub authorized_balance: Decimal,
}

/// A beneficiary as the control API sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeneficiaryInfo {
    pub id: String,
    pub name: String,
    pub iban: String,
    pub trusted: bool,
    pub status: String,
}

impl Sandbox {
    /// Start on `127.0.0.1:0` (a free port). Must run inside a Tokio runtime.
    pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Start on the given address (port 0 = any free port).
    pub async fn start_on(
        config: SandboxConfig,
        addr: SocketAddr,
    ) -> Result<RunningSandbox, SandboxError> {
        let listener = TcpListener::bind(addr).map_err(SandboxError::Bind)?;
        Self::start_with_listener(config, listener).await
    }

    /// Start on an already bound listener.
    pub async fn start_with_listener(
        config: SandboxConfig,
        listener: TcpListener,
    ) -> Result<RunningSandbox, SandboxError> {
        let addr = listener.local_addr().map_err(SandboxError::Bind)?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(webhook::dispatcher(rx, deliveries.clone()));
        let shared = web::Data::new(http::Shared {
            state: Mutex::new(state::State::new(config)),
            faults: Mutex::new(Vec::new()),
            hits: Mutex::new(std::collections::VecDeque::new()),
            deliveries,
            webhook_tx: tx,
            trace_seq: AtomicU64::new(1),
        });
        if shared.lock().cfg.clock_mode == ClockMode::Realtime {
            tokio::spawn(realtime_ticker(Arc::downgrade(
                &shared.clone().into_inner(),
            )));
        }
        let data = shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(32 * 1024 * 1024))
                .default_service(web::to(http::dispatch))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(1)
        .on_connect(http::on_connect)
        .listen(listener)
        .map_err(SandboxError::Bind)?
        .run();
        let handle = server.handle();
        let server = tokio::spawn(server);
        tracing::info!(%addr, "Qonto sandbox listening");
        Ok(RunningSandbox {
            addr,
            handle,
            shared,
            server,
        })
    }
}

/// In realtime mode, run due work (settlements, webhooks) every second even without requests.
async fn realtime_ticker(shared: std::sync::Weak<http::Shared>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(sh) = shared.upgrade() else { break };
        let mut st = sh.lock();
        st.tick();
        sh.flush(&mut st);
    }
}

/// Run a sandbox on `127.0.0.1:port` until Ctrl-C (for `billbridge sandbox --port N`).
/// Port 0 picks a free port. The base URL and the credentials are printed on stdout.
pub async fn serve(config: SandboxConfig, port: u16) -> Result<(), SandboxError> {
    serve_on(config, SocketAddr::from(([127, 0, 0, 1], port))).await
}

/// Like [`serve`] on any address (e.g. `0.0.0.0:8089` inside a container).
pub async fn serve_on(config: SandboxConfig, addr: SocketAddr) -> Result<(), SandboxError> {
    let sb = Sandbox::start_on(config, addr).await?;
    println!("Qonto sandbox listening on {}", sb.base_url());
    println!("  Authorization: {}", sb.api_key_header());
    println!("  X-Qonto-Staging-Token: {}", sb.staging_token());
    println!("  bank_account_id: {}", sb.bank_account_id());
    println!("  control API: {}/_sandbox/state", sb.base_url());
    tokio::signal::ctrl_c()
        .await
        .map_err(SandboxError::Server)?;
    sb.stop().await;
    Ok(())
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT` (no trailing slash). Use it as the Qonto API base URL *and* the
    /// OAuth base URL (`/oauth2/auth`, `/oauth2/token`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop the server (in-flight requests get one second).
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.server.await;
    }

    fn with<R>(&self, f: impl FnOnce(&mut state::State) -> R) -> R {
        let mut g = self.shared.lock();
        // run what is due first, so what a test reads matches what the API would answer
        g.tick();
        let r = f(&mut g);
        self.shared.flush(&mut g);
        r
    }

    /// `Authorization` header value of the configured API key (`login:secret`).
    pub fn api_key_header(&self) -> String {
        self.with(|s| s.cfg.api_key_header())
    }

    pub fn staging_token(&self) -> String {
        self.with(|s| s.cfg.staging_token.clone())
    }

    /// Id of the main bank account (`bank_account_id`).
    pub fn bank_account_id(&self) -> String {
        self.with(|s| s.account.id.clone())
    }

    pub fn organization_id(&self) -> String {
        self.with(|s| s.org_id.clone())
    }

    /// Current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.with(|s| s.now())
    }

    /// Move the simulated clock forward and run everything that became due (transfer
    /// processing/settlement, bulk items, expiries, webhooks).
    pub fn advance_clock(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        self.with(|s| s.advance(by));
    }

    pub fn set_plan(&self, plan: Plan) {
        self.with(|s| s.cfg.plan = plan);
    }

    /// Set both balance and authorized balance of the main account.
    pub fn set_balance(&self, balance: Decimal) -> Result<(), SandboxError> {
        control::set_balance_text(&balance.to_string(), &mut self.shared.lock())
            .map_err(SandboxError::Invalid)
    }

    pub fn balance(&self) -> AccountBalance {
        self.with(|s| AccountBalance {
            balance: util::cents_to_decimal(s.account.balance_cents),
            authorized_balance: util::cents_to_decimal(s.account.authorized_balance_cents),
        })
    }

    pub fn set_sca_auto(&self, mode: ScaAuto) {
        self.with(|s| s.cfg.sca_auto = mode);
    }

    /// Approve an SCA session (like `POST /v2/mocked_sca_sessions/{token}/allow`).
    pub fn approve_sca(&self, token: &str) -> Result<(), SandboxError> {
        self.with(|s| control::decide_sca(s, token, true))
    }

    pub fn deny_sca(&self, token: &str) -> Result<(), SandboxError> {
        self.with(|s| control::decide_sca(s, token, false))
    }

    /// All SCA sessions, oldest first.
    pub fn sca_sessions(&self) -> Vec<ScaSessionInfo> {
        self.with(control::sca_list)
    }

    pub fn add_fault(&self, fault: Fault) {
        self.shared.lock_faults().push(fault);
    }

    pub fn clear_faults(&self) {
        self.shared.lock_faults().clear();
    }

    /// Faults still armed.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.lock_faults().clone()
    }

    /// Set (or remove) the 4-eyes payment policy threshold.
    pub fn set_payment_policy_threshold(&self, threshold: Option<Decimal>) {
        self.with(|s| s.cfg.payment_policy_threshold = threshold);
    }

    /// Replace the rate limits (empty = none).
    pub fn set_rate_limits(&self, limits: Vec<RateLimit>) {
        self.with(|s| s.cfg.rate_limits = limits);
    }

    pub fn set_decline_rules(&self, rules: Vec<DeclineRule>) {
        self.with(|s| s.cfg.decline_rules = rules);
    }

    pub fn quirks(&self) -> Quirks {
        self.with(|s| s.cfg.quirks.clone())
    }

    pub fn set_quirks(&self, quirks: Quirks) {
        self.with(|s| s.cfg.quirks = quirks);
    }

    pub fn set_require_staging_token(&self, required: bool) {
        self.with(|s| s.cfg.require_staging_token = required);
    }

    /// Every transfer ever created (single, bulk items, approved requests), in creation order.
    pub fn transfer_log(&self) -> Vec<TransferLogEntry> {
        self.with(|s| s.transfers.iter().map(|t| t.log_entry()).collect())
    }

    /// Add a beneficiary (trusted or not) as if created in the Qonto web app.
    pub fn add_beneficiary(&self, b: SeedBeneficiary) -> BeneficiaryInfo {
        self.with(|s| control::info(&s.seed_beneficiary(&b)))
    }

    pub fn beneficiaries(&self) -> Vec<BeneficiaryInfo> {
        self.with(|s| s.beneficiaries.iter().map(control::info).collect())
    }

    /// Webhook deliveries so far (delivery is asynchronous).
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared
            .deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Back to the seeded state (same config, optional new seed). Faults are cleared.
    pub fn reset(&self, seed: Option<u64>) {
        self.with(|s| control::reset(s, seed));
        self.clear_faults();
    }

    /// Approve (`true`) or decline a pending `multi_transfer` request; approval creates its
    /// transfers.
    pub fn decide_request(&self, id: &str, approve: bool) -> Result<(), SandboxError> {
        self.with(|s| api::requests::decide(s, id, approve, None))
    }

    /// Issue an OAuth authorization code directly (what `GET /oauth2/auth` does after consent).
    pub fn authorization_code(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scopes: &[&str],
    ) -> String {
        self.with(|s| api::oauth::issue_code(s, client_id, redirect_uri, scopes))
    }
}
