//! `billbridge parse FILE…` (DESIGN.md §7).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use adapters::{JsonMapping, ParseError, ParseOptions, ParseReport};

pub struct Options {
    pub max_bytes: usize,
    pub accept_any_specification: bool,
    pub mapping: Option<PathBuf>,
}

/// Parse each file and print one JSON line per file. Exit 1 if any file could not be read.
pub fn run(files: &[PathBuf], opts: Options) -> ExitCode {
    let mapping = match opts.mapping.as_deref().map(load_mapping).transpose() {
        Ok(m) => m,
        Err(msg) => {
            eprintln!("billbridge parse: {msg}");
            return ExitCode::from(2);
        }
    };
    let parse_opts = ParseOptions {
        max_bytes: opts.max_bytes,
        accept_any_specification: opts.accept_any_specification,
        ..ParseOptions::default()
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = false;
    for path in files {
        let name = path.display().to_string();
        let result = read_limited(path, parse_opts.max_bytes).and_then(|bytes| {
            match (&mapping, adapters::sniff(&bytes)) {
                (Some(m), Some(adapters::Format::Json)) => {
                    adapters::parse_json(&bytes, Some(m), &parse_opts)
                }
                _ => adapters::parse(&bytes, &parse_opts),
            }
        });
        failed |= result.is_err();
        let report = ParseReport::from_result(&name, &result);
        let line = match serde_json::to_string(&report) {
            Ok(line) => line,
            Err(e) => format!(
                r#"{{"file":{},"error":{{"code":"internal","message":{}}}}}"#,
                serde_json::Value::from(name.as_str()),
                serde_json::Value::from(e.to_string())
            ),
        };
        if writeln!(out, "{line}").is_err() {
            return ExitCode::from(1); // stdout closed (e.g. piped into head)
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Read a file without ever holding more than `max_bytes + 1` bytes of it.
fn read_limited(path: &Path, max_bytes: usize) -> Result<Vec<u8>, ParseError> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut bytes = Vec::new();
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, e))?;
    // Over the limit: parse() reports `too_large` from the length alone.
    Ok(bytes)
}

fn io_error(path: &Path, e: std::io::Error) -> ParseError {
    ParseError::new(
        adapters::ErrorCode::Unreadable,
        format!("cannot read {}: {e}", path.display()),
    )
}

fn load_mapping(path: &Path) -> Result<JsonMapping, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mapping: JsonMapping = serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not a valid mapping: {e}", path.display()))?;
    mapping
        .validate()
        .map_err(|e| format!("{}: {}", path.display(), e.message))?;
    Ok(mapping)
}
