//! Configuration, ripgrep style: a raw, permissive [`RawSettings`] read from `billbridge.toml`
//! (optional) and `BILLBRIDGE__SECTION__KEY` environment variables, then validated into
//! [`Settings`], with errors that name the offending key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// A configuration error, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Read(String),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

/// Everything as read, before validation. Every field has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSettings {
    pub database: RawDatabase,
    pub server: RawServer,
    pub log: RawLog,
    pub security: RawSecurity,
    pub intake: RawIntake,
    pub webhooks: RawWebhooks,
    pub engine: RawEngine,
    pub sandbox: RawSandbox,
    /// Qonto connection; absent = the built-in sandbox.
    #[serde(skip_serializing)]
    pub qonto: Option<crate::qonto::QontoConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDatabase {
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawServer {
    pub bind: String,
    pub max_body_bytes: usize,
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLog {
    /// `human` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `billbridge=debug,sqlx=warn`.
    pub level: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSecurity {
    /// Bootstrap admin token (manages organizations). Prefer `billbridge orgs create`.
    pub admin_token: Option<String>,
    /// Where the encryption key lives when `BILLBRIDGE_SECRET_KEY` is not set.
    pub key_file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawIntake {
    /// Accepted clock skew of signed requests, in seconds.
    pub signature_tolerance_secs: u64,
}

/// `[webhooks]`: outcome webhooks to the ERPs' callbacks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawWebhooks {
    /// Whether this instance sends webhooks (several instances may all do it safely).
    pub enabled: bool,
    /// Time allowed for one attempt (connect, send, answer), in seconds.
    pub timeout_secs: u64,
    /// Waits before each retry after a failed attempt, in seconds; after the last one fails the
    /// delivery is dead and the endpoint disabled.
    pub retry_schedule_secs: Vec<u64>,
    /// Each wait is moved by up to this share of it, either way (0–50).
    pub jitter_percent: u8,
    /// The longest `Retry-After` honoured, in seconds.
    pub max_retry_after_secs: u64,
    /// Deliveries sent at the same time by this instance.
    pub concurrency: usize,
    /// How often to look for due deliveries when nothing wakes the dispatcher, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for RawWebhooks {
    fn default() -> Self {
        RawWebhooks {
            enabled: true,
            timeout_secs: 15,
            retry_schedule_secs: vec![5, 300, 1800, 7200, 18000, 36000, 36000],
            jitter_percent: 10,
            max_retry_after_secs: 86_400,
            concurrency: 8,
            poll_interval_ms: 1000,
        }
    }
}

/// Validated `[webhooks]` settings (see [`RawWebhooks`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    pub enabled: bool,
    pub timeout: std::time::Duration,
    pub retry_schedule: Vec<std::time::Duration>,
    /// 0.0–0.5.
    pub jitter: f64,
    pub max_retry_after: std::time::Duration,
    pub concurrency: usize,
    pub poll_interval: std::time::Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        // The defaults are valid by construction.
        RawWebhooks::default()
            .validate()
            .unwrap_or_else(|_| unreachable!("default webhook settings are valid"))
    }
}

impl RawWebhooks {
    pub fn validate(&self) -> Result<WebhookSettings, ConfigError> {
        use std::time::Duration;
        if !(1..=300).contains(&self.timeout_secs) {
            return Err(invalid(
                "webhooks.timeout_secs",
                "must be between 1 and 300",
            ));
        }
        if self.retry_schedule_secs.len() > 50 {
            return Err(invalid(
                "webhooks.retry_schedule_secs",
                "at most 50 retries",
            ));
        }
        if self.retry_schedule_secs.iter().any(|s| *s > 7 * 86_400) {
            return Err(invalid(
                "webhooks.retry_schedule_secs",
                "each wait must be at most 604800 seconds (7 days)",
            ));
        }
        if self.jitter_percent > 50 {
            return Err(invalid("webhooks.jitter_percent", "must be 0 to 50"));
        }
        if !(1..=7 * 86_400).contains(&self.max_retry_after_secs) {
            return Err(invalid(
                "webhooks.max_retry_after_secs",
                "must be between 1 and 604800",
            ));
        }
        if !(1..=256).contains(&self.concurrency) {
            return Err(invalid("webhooks.concurrency", "must be between 1 and 256"));
        }
        if !(10..=60_000).contains(&self.poll_interval_ms) {
            return Err(invalid(
                "webhooks.poll_interval_ms",
                "must be between 10 and 60000",
            ));
        }
        Ok(WebhookSettings {
            enabled: self.enabled,
            timeout: Duration::from_secs(self.timeout_secs),
            retry_schedule: self
                .retry_schedule_secs
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            jitter: f64::from(self.jitter_percent) / 100.0,
            max_retry_after: Duration::from_secs(self.max_retry_after_secs),
            concurrency: self.concurrency,
            poll_interval: Duration::from_millis(self.poll_interval_ms),
        })
    }
}

/// `[engine]`: the payment workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawEngine {
    /// Run the payment workers in this process (`false` for an API-only instance).
    pub workers: bool,
    /// Jobs handled at the same time by this process.
    pub concurrency: usize,
    /// Seconds a claimed job stays this worker's without a heartbeat.
    pub job_lease_secs: u64,
    /// How often transfers are polled at Qonto until final, in seconds (a Qonto webhook
    /// triggers an earlier poll).
    pub follow_interval_secs: u64,
    /// SCA session polling interval in milliseconds (at least 1000: Qonto's rule).
    pub sca_poll_ms: u64,
    /// How long a run waits for SCA before its chunk expires, in seconds (Qonto: 900).
    pub sca_timeout_secs: u64,
    /// How often autopay looks for due bills, in seconds.
    pub autopay_interval_secs: u64,
    /// Transfers per Qonto bulk transfer (1–400).
    pub chunk_size: usize,
    /// Most bills in one payment run.
    pub max_run_bills: usize,
}

impl Default for RawEngine {
    fn default() -> Self {
        RawEngine {
            workers: true,
            concurrency: 4,
            job_lease_secs: 60,
            follow_interval_secs: 30,
            sca_poll_ms: 1000,
            sca_timeout_secs: 900,
            autopay_interval_secs: 900,
            chunk_size: 400,
            max_run_bills: 10_000,
        }
    }
}

impl RawEngine {
    pub fn validate(&self) -> Result<crate::engine::EngineSettings, ConfigError> {
        use std::time::Duration;
        if !(1..=64).contains(&self.concurrency) {
            return Err(invalid("engine.concurrency", "must be between 1 and 64"));
        }
        if !(5..=3600).contains(&self.job_lease_secs) {
            return Err(invalid(
                "engine.job_lease_secs",
                "must be between 5 and 3600",
            ));
        }
        if !(1..=86_400).contains(&self.follow_interval_secs) {
            return Err(invalid(
                "engine.follow_interval_secs",
                "must be between 1 and 86400",
            ));
        }
        if !(1000..=60_000).contains(&self.sca_poll_ms) {
            return Err(invalid(
                "engine.sca_poll_ms",
                "must be between 1000 (Qonto allows one poll a second) and 60000",
            ));
        }
        if !(10..=900).contains(&self.sca_timeout_secs) {
            return Err(invalid(
                "engine.sca_timeout_secs",
                "must be between 10 and 900 (an SCA session lives 15 minutes)",
            ));
        }
        if !(1..=86_400).contains(&self.autopay_interval_secs) {
            return Err(invalid(
                "engine.autopay_interval_secs",
                "must be between 1 and 86400",
            ));
        }
        if !(1..=crate::qonto::MAX_BULK_ITEMS).contains(&self.chunk_size) {
            return Err(invalid("engine.chunk_size", "must be between 1 and 400"));
        }
        if !(1..=100_000).contains(&self.max_run_bills) {
            return Err(invalid(
                "engine.max_run_bills",
                "must be between 1 and 100000",
            ));
        }
        Ok(crate::engine::EngineSettings {
            workers: self.workers,
            concurrency: self.concurrency,
            job_lease: Duration::from_secs(self.job_lease_secs),
            idle_poll: Duration::from_millis(250),
            follow_interval: Duration::from_secs(self.follow_interval_secs),
            sca_poll: Duration::from_millis(self.sca_poll_ms),
            sca_timeout: Duration::from_secs(self.sca_timeout_secs),
            autopay_interval: Duration::from_secs(self.autopay_interval_secs),
            chunk_size: self.chunk_size,
            max_run_bills: self.max_run_bills,
        })
    }
}

/// `[sandbox]`: the built-in Qonto sandbox used when `[qonto]` is absent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSandbox {
    /// Port of the built-in sandbox on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Simulated seconds from created to processing.
    pub processing_delay_secs: u64,
    /// Simulated seconds from processing to settled.
    pub settlement_delay_secs: u64,
    /// Approve (`allow`) or deny (`deny`) every SCA session at once, or wait (`off`, default)
    /// for `POST /v1/payment-runs/{id}/sca/allow`.
    pub sca_auto: String,
}

impl Default for RawSandbox {
    fn default() -> Self {
        RawSandbox {
            port: 0,
            processing_delay_secs: 5,
            settlement_delay_secs: 10,
            sca_auto: "off".into(),
        }
    }
}

/// Validated `[sandbox]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    pub port: u16,
    pub processing_delay: std::time::Duration,
    pub settlement_delay: std::time::Duration,
    /// `off`, `allow` or `deny`.
    pub sca_auto: String,
}

impl Default for RawDatabase {
    fn default() -> Self {
        RawDatabase {
            url: "sqlite://billbridge.db?mode=rwc".into(),
            max_connections: 10,
            migrate_on_start: true,
        }
    }
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            bind: "127.0.0.1:8080".into(),
            max_body_bytes: adapters::DEFAULT_MAX_BYTES,
            shutdown_timeout_secs: 30,
        }
    }
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            format: "human".into(),
            level: "info".into(),
        }
    }
}

impl Default for RawIntake {
    fn default() -> Self {
        RawIntake {
            signature_tolerance_secs: 300,
        }
    }
}

impl Default for RawSettings {
    fn default() -> Self {
        RawSettings {
            database: RawDatabase::default(),
            server: RawServer::default(),
            log: RawLog::default(),
            security: RawSecurity {
                admin_token: None,
                key_file: "billbridge.key".into(),
            },
            intake: RawIntake::default(),
            webhooks: RawWebhooks::default(),
            engine: RawEngine::default(),
            sandbox: RawSandbox::default(),
            qonto: None,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
    pub bind: SocketAddr,
    pub max_body_bytes: usize,
    pub shutdown_timeout: std::time::Duration,
    pub log_format: LogFormat,
    pub log_level: String,
    pub admin_token: Option<secrecy::SecretString>,
    pub key_file: PathBuf,
    pub signature_tolerance: std::time::Duration,
    pub qonto: Option<crate::qonto::QontoConfig>,
    pub webhooks: WebhookSettings,
    pub engine: crate::engine::EngineSettings,
    pub sandbox: SandboxSettings,
}

impl RawSettings {
    /// Read `path` (when it exists, or fail when it was named explicitly and is missing), then
    /// `BILLBRIDGE__SECTION__KEY` variables, then `BILLBRIDGE_DATABASE_URL`.
    pub fn load(path: Option<&Path>) -> Result<RawSettings, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(RawSettings::default()));
        match path {
            Some(p) if !p.exists() => {
                return Err(ConfigError::Read(format!(
                    "configuration file {} does not exist",
                    p.display()
                )))
            }
            Some(p) => fig = fig.merge(Toml::file_exact(p)),
            None if Path::new("billbridge.toml").exists() => {
                fig = fig.merge(Toml::file_exact("billbridge.toml"))
            }
            None => {}
        }
        fig = fig.merge(Env::prefixed("BILLBRIDGE__").split("__"));
        if let Ok(url) = std::env::var("BILLBRIDGE_DATABASE_URL") {
            fig = fig.merge(Serialized::default("database.url", url));
        }
        fig.extract().map_err(|e| {
            ConfigError::Read(
                e.into_iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }

    pub fn validate(self) -> Result<Settings, ConfigError> {
        let url = self.database.url.trim().to_string();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url",
                format!("{url:?} is neither sqlite:… nor postgres://…"),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        let bind = self
            .server
            .bind
            .parse()
            .map_err(|e| invalid("server.bind", format!("{:?}: {e}", self.server.bind)))?;
        if self.server.max_body_bytes < 1024 {
            return Err(invalid("server.max_body_bytes", "must be at least 1024"));
        }
        let log_format = match self.log.format.as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "log.format",
                    format!("{other:?} is not human or json"),
                ))
            }
        };
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(invalid("log.level", e.to_string()));
        }
        if let Some(t) = &self.security.admin_token {
            if t.len() < 24 {
                return Err(invalid(
                    "security.admin_token",
                    "must be at least 24 characters",
                ));
            }
        }
        if !(1..=3600).contains(&self.intake.signature_tolerance_secs) {
            return Err(invalid(
                "intake.signature_tolerance_secs",
                "must be between 1 and 3600",
            ));
        }
        if let Some(q) = &self.qonto {
            q.validate().map_err(|e| invalid("qonto", e.to_string()))?;
        }
        let webhooks = self.webhooks.validate()?;
        let engine = self.engine.validate()?;
        if !["off", "allow", "deny"].contains(&self.sandbox.sca_auto.as_str()) {
            return Err(invalid("sandbox.sca_auto", "must be off, allow or deny"));
        }
        if self.sandbox.processing_delay_secs > 86_400
            || self.sandbox.settlement_delay_secs > 86_400
        {
            return Err(invalid(
                "sandbox.settlement_delay_secs",
                "delays must be at most 86400 seconds",
            ));
        }
        let sandbox = SandboxSettings {
            port: self.sandbox.port,
            processing_delay: std::time::Duration::from_secs(self.sandbox.processing_delay_secs),
            settlement_delay: std::time::Duration::from_secs(self.sandbox.settlement_delay_secs),
            sca_auto: self.sandbox.sca_auto.clone(),
        };
        Ok(Settings {
            database_url: url,
            max_connections: self.database.max_connections,
            migrate_on_start: self.database.migrate_on_start,
            bind,
            max_body_bytes: self.server.max_body_bytes,
            shutdown_timeout: std::time::Duration::from_secs(self.server.shutdown_timeout_secs),
            log_format,
            log_level: self.log.level,
            admin_token: self.security.admin_token.map(secrecy::SecretString::from),
            key_file: PathBuf::from(self.security.key_file),
            signature_tolerance: std::time::Duration::from_secs(
                self.intake.signature_tolerance_secs,
            ),
            qonto: self.qonto,
            webhooks,
            engine,
            sandbox,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let s = RawSettings::default().validate().unwrap();
        assert_eq!(s.database_url, "sqlite://billbridge.db?mode=rwc");
        assert_eq!(s.bind.port(), 8080);
    }

    #[test]
    fn errors_name_the_key() {
        let mut raw = RawSettings::default();
        raw.server.bind = "nowhere".into();
        let e = raw.validate().unwrap_err().to_string();
        assert!(e.contains("server.bind"), "{e}");
        let mut raw = RawSettings::default();
        raw.log.format = "xml".into();
        assert!(raw
            .validate()
            .unwrap_err()
            .to_string()
            .contains("log.format"));
        let mut raw = RawSettings::default();
        raw.database.url = "mysql://x".into();
        assert!(raw
            .validate()
            .unwrap_err()
            .to_string()
            .contains("database.url"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure type is figment's, not ours
    fn toml_and_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "b.toml",
                "[server]\nbind = \"0.0.0.0:9000\"\n[log]\nformat = \"json\"\n",
            )?;
            jail.set_env("BILLBRIDGE__LOG__LEVEL", "debug");
            jail.set_env("BILLBRIDGE_DATABASE_URL", "postgres://u@h/db");
            let s = RawSettings::load(Some(Path::new("b.toml")))
                .map_err(|e| e.to_string())?
                .validate()
                .map_err(|e| e.to_string())?;
            assert_eq!(s.bind.port(), 9000);
            assert_eq!(s.log_format, LogFormat::Json);
            assert_eq!(s.log_level, "debug");
            assert_eq!(s.database_url, "postgres://u@h/db");
            // The Qonto section is validated too: the sandbox needs a staging token.
            jail.create_file(
                "q.toml",
                "[qonto]\nenvironment = \"sandbox\"\n[qonto.api_key]\nlogin = \"acme-1\"\nsecret_key = \"s\"\n",
            )?;
            let e = RawSettings::load(Some(Path::new("q.toml")))
                .map_err(|e| e.to_string())?
                .validate()
                .unwrap_err()
                .to_string();
            assert!(e.contains("qonto") && e.contains("staging token"), "{e}");
            // No file named and no ./billbridge.toml: defaults and environment only.
            let s = RawSettings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.log.level, "debug");
            jail.create_file("bad.toml", "[server]\nbnd = 1\n")?;
            let e = RawSettings::load(Some(Path::new("bad.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("bnd"), "{e}");
            Ok(())
        });
    }
}
