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
