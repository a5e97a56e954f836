//! Configuration of the Qonto client: environment, credentials, SCA method, timeouts, retries.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::error::QontoError;

/// Production Business API base URL.
pub const PRODUCTION_API_BASE: &str = "https://thirdparty.qonto.com";
/// Production OAuth base URL (`/oauth2/auth`, `/oauth2/token` live under it).
pub const PRODUCTION_OAUTH_BASE: &str = "https://oauth.qonto.com";
/// Sandbox Business API base URL.
pub const SANDBOX_API_BASE: &str = "https://thirdparty-sandbox.staging.qonto.co";
/// Sandbox OAuth base URL.
pub const SANDBOX_OAUTH_BASE: &str = "https://oauth-sandbox.staging.qonto.co";

/// Which Qonto deployment to talk to.
///
/// In TOML: `environment = "production"`, `environment = "sandbox"` or
/// `environment = { custom = { api_base = "http://127.0.0.1:8080", oauth_base = "http://127.0.0.1:8080" } }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// `https://thirdparty.qonto.com` and `https://oauth.qonto.com`.
    Production,
    /// Qonto's sandbox; requires a staging token.
    Sandbox,
    /// Any other deployment (the offline simulator, a proxy, tests).
    Custom {
        /// Business API base URL, without trailing slash (e.g. `http://127.0.0.1:8080`).
        api_base: String,
        /// OAuth base URL; `/oauth2/auth` and `/oauth2/token` are appended.
        oauth_base: String,
    },
}

impl Environment {
    /// Business API base URL, without trailing slash.
    pub fn api_base(&self) -> &str {
        match self {
            Environment::Production => PRODUCTION_API_BASE,
            Environment::Sandbox => SANDBOX_API_BASE,
            Environment::Custom { api_base, .. } => api_base.trim_end_matches('/'),
        }
    }

    /// OAuth base URL, without trailing slash.
    pub fn oauth_base(&self) -> &str {
        match self {
            Environment::Production => PRODUCTION_OAUTH_BASE,
            Environment::Sandbox => SANDBOX_OAUTH_BASE,
            Environment::Custom { oauth_base, .. } => oauth_base.trim_end_matches('/'),
        }
    }

    /// OAuth authorization endpoint (`…/oauth2/auth`).
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth2/auth", self.oauth_base())
    }

    /// OAuth token endpoint (`…/oauth2/token`; API.md §2.1 — not the `/v2/oauth2/token` variant).
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.oauth_base())
    }

    /// Whether this is Qonto's production deployment (where `mock` SCA and mocked sessions are refused).
    pub fn is_production(&self) -> bool {
        matches!(self, Environment::Production)
    }
}

/// The SCA method asked for with `X-Qonto-2fa-Preference` (API.md §7.2; hyphenated spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScaMethod {
    /// Push notification on the user's paired phone (Qonto's default).
    #[default]
    PairedDevice,
    /// Passkey link sent by text message.
    Passkey,
    /// Sandbox only: approve or deny through `mocked_sca_sessions`.
    Mock,
}

impl ScaMethod {
    /// The header value.
    pub fn as_header_value(self) -> &'static str {
        match self {
            ScaMethod::PairedDevice => "paired-device",
            ScaMethod::Passkey => "passkey",
            ScaMethod::Mock => "mock",
        }
    }
}

/// API key credentials (`Authorization: {login}:{secret_key}`, API.md §2.3).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiKeyConfig {
    /// The "login" shown next to the key in the Qonto web app (organization slug).
    pub login: String,
    /// The secret key.
    pub secret_key: SecretString,
}

/// The OAuth 2.0 application (client) registered with Qonto.
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthAppConfig {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: SecretString,
    /// Redirect URI registered for the client.
    pub redirect_uri: String,
    /// Scopes asked for by default in the authorize URL (space-joined).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Refresh the access token this many seconds before it expires.
    #[serde(default = "default_refresh_margin_secs")]
    pub refresh_margin_secs: u64,
}

fn default_scopes() -> Vec<String> {
    [
        "offline_access",
        "organization.read",
        "payment.write",
        "attachment.write",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn default_refresh_margin_secs() -> u64 {
    120
}

/// Retry policy for reads and idempotency-keyed writes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct RetryConfig {
    /// Total attempts, first one included (1 = no retry).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First backoff delay, in milliseconds; doubled on each attempt, with full jitter.
    #[serde(default = "default_base_delay_ms")]
    pub base_delay_ms: u64,
    /// Upper bound of one backoff delay, in milliseconds.
    #[serde(default = "default_max_delay_ms")]
    pub max_delay_ms: u64,
    /// A `Retry-After` longer than this (milliseconds) is not waited for: the error is returned.
    #[serde(default = "default_max_retry_after_ms")]
    pub max_retry_after_ms: u64,
}

fn default_max_attempts() -> u32 {
    4
}
fn default_base_delay_ms() -> u64 {
    250
}
fn default_max_delay_ms() -> u64 {
    8_000
}
fn default_max_retry_after_ms() -> u64 {
    60_000
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: default_max_attempts(),
            base_delay_ms: default_base_delay_ms(),
            max_delay_ms: default_max_delay_ms(),
            max_retry_after_ms: default_max_retry_after_ms(),
        }
    }
}

/// Everything the Qonto client needs from configuration. Secrets are [`SecretString`]s.
#[derive(Debug, Clone, Deserialize)]
pub struct QontoConfig {
    /// Production, sandbox or a custom base URL.
    pub environment: Environment,
    /// `X-Qonto-Staging-Token` (required for the sandbox; sent on API and OAuth token calls when set).
    #[serde(default)]
    pub staging_token: Option<SecretString>,
    /// API key credentials, when the organization connects with a key.
    #[serde(default)]
    pub api_key: Option<ApiKeyConfig>,
    /// OAuth application, when organizations connect with OAuth 2.0.
    #[serde(default)]
    pub oauth: Option<OAuthAppConfig>,
    /// Default `X-Qonto-2fa-Preference` for SCA-capable writes.
    #[serde(default)]
    pub sca_method: ScaMethod,
    /// TCP connect timeout, milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Whole-request timeout, milliseconds.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Retry policy.
    #[serde(default)]
    pub retry: RetryConfig,
}

fn default_connect_timeout_ms() -> u64 {
    5_000
}
fn default_request_timeout_ms() -> u64 {
    30_000
}

impl QontoConfig {
    /// A configuration with defaults for everything but the environment.
    pub fn new(environment: Environment) -> Self {
        QontoConfig {
            environment,
            staging_token: None,
            api_key: None,
            oauth: None,
            sca_method: ScaMethod::default(),
            connect_timeout_ms: default_connect_timeout_ms(),
            request_timeout_ms: default_request_timeout_ms(),
            retry: RetryConfig::default(),
        }
    }

    /// Connect timeout as a [`Duration`].
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// Request timeout as a [`Duration`].
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Checks the combination of settings (sandbox needs a staging token, `mock` is sandbox-only…).
    pub fn validate(&self) -> Result<(), QontoError> {
        if matches!(self.environment, Environment::Sandbox) && self.staging_token.is_none() {
            return Err(QontoError::Config(
                "the Qonto sandbox needs a staging token (X-Qonto-Staging-Token)".into(),
            ));
        }
        if self.environment.is_production() && self.sca_method == ScaMethod::Mock {
            return Err(QontoError::Config(
                "sca_method = \"mock\" only works in the sandbox".into(),
            ));
        }
        if let Environment::Custom {
            api_base,
            oauth_base,
        } = &self.environment
        {
            for (name, url) in [("api_base", api_base), ("oauth_base", oauth_base)] {
                if reqwest::Url::parse(url).is_err() {
                    return Err(QontoError::Config(format!("{name} is not a valid URL")));
                }
            }
        }
        if self.retry.max_attempts == 0 {
            return Err(QontoError::Config("retry.max_attempts must be ≥ 1".into()));
        }
        Ok(())
    }
}
