//! Logs: human-readable or JSON lines, filtered by `log.level` (or `RUST_LOG`).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Install the global subscriber once; later calls are ignored (tests call it repeatedly).
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Human => builder.try_init(),
    };
}
