//! Fault injection: make given calls fail with 5xx, 429, extra latency, or "commit then drop
//! the connection".

use serde::{Deserialize, Serialize};

/// What happens to a matching call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer this status (500, 502, 503, 504…) with Qonto's unknown-error body; nothing is
    /// applied.
    ServerError {
        #[serde(default = "default_status")]
        status: u16,
    },
    /// Answer 429 with `Retry-After: <secs>` (omitted when `None`); nothing is applied.
    RateLimited {
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Wait `ms` milliseconds before handling the call (the call then proceeds; other faults
    /// may still apply).
    Latency { ms: u64 },
    /// Handle the call normally (the write is applied and cached under its idempotency key),
    /// then close the TCP connection without sending the answer.
    CommitThenDrop,
}

fn default_status() -> u16 {
    500
}

/// A fault rule. `path` is matched against the request path: exact, `*` matches one segment
/// (`/v2/sepa/transfers/*`), a trailing `**` matches any rest (`/v2/sepa/**`). `method` `None`
/// matches every method. `count` `None` = forever, `Some(n)` = the next `n` matching calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub method: Option<String>,
    pub path: String,
    #[serde(flatten)]
    pub kind: FaultKind,
    #[serde(default)]
    pub count: Option<u32>,
}

impl Fault {
    pub fn new(method: Option<&str>, path: &str, kind: FaultKind) -> Self {
        Fault {
            method: method.map(str::to_ascii_uppercase),
            path: path.into(),
            kind,
            count: None,
        }
    }
    /// `status` on the next calls to `method path`.
    pub fn server_error(method: &str, path: &str, status: u16) -> Self {
        Self::new(Some(method), path, FaultKind::ServerError { status })
    }
    pub fn rate_limited(method: &str, path: &str, retry_after: Option<u64>) -> Self {
        Self::new(Some(method), path, FaultKind::RateLimited { retry_after })
    }
    pub fn latency(method: &str, path: &str, ms: u64) -> Self {
        Self::new(Some(method), path, FaultKind::Latency { ms })
    }
    pub fn commit_then_drop(method: &str, path: &str) -> Self {
        Self::new(Some(method), path, FaultKind::CommitThenDrop)
    }
    /// Limit to the next `n` matching calls.
    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        if let Some(m) = &self.method {
            if !m.eq_ignore_ascii_case(method) {
                return false;
            }
        }
        path_matches(&self.path, path)
    }
}

pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    for (i, p) in pat.iter().enumerate() {
        if *p == "**" {
            return true;
        }
        match segs.get(i) {
            Some(s) if *p == "*" || p == s => {}
            _ => return false,
        }
    }
    pat.len() == segs.len()
}

/// Take the faults that apply to one call: total latency, then the first terminal fault.
pub(crate) fn take(faults: &mut Vec<Fault>, method: &str, path: &str) -> (u64, Option<FaultKind>) {
    let mut latency = 0u64;
    let mut terminal = None;
    for f in faults.iter_mut() {
        if f.count == Some(0) || !f.matches(method, path) {
            continue;
        }
        match &f.kind {
            FaultKind::Latency { ms } => latency = latency.saturating_add(*ms),
            other => {
                if terminal.is_some() {
                    continue;
                }
                terminal = Some(other.clone());
            }
        }
        if let Some(n) = f.count.as_mut() {
            *n -= 1;
        }
    }
    faults.retain(|f| f.count != Some(0));
    (latency, terminal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        assert!(path_matches("/v2/sepa/transfers", "/v2/sepa/transfers"));
        assert!(path_matches(
            "/v2/sepa/transfers/*",
            "/v2/sepa/transfers/abc"
        ));
        assert!(!path_matches("/v2/sepa/transfers/*", "/v2/sepa/transfers"));
        assert!(path_matches("/v2/**", "/v2/sepa/transfers/abc"));
        assert!(!path_matches(
            "/v2/sepa/transfers",
            "/v2/sepa/bulk_transfers"
        ));
    }

    #[test]
    fn counting() {
        let mut f = vec![Fault::server_error("POST", "/x", 503).times(2)];
        assert!(take(&mut f, "POST", "/x").1.is_some());
        assert!(take(&mut f, "GET", "/x").1.is_none());
        assert!(take(&mut f, "POST", "/x").1.is_some());
        assert!(take(&mut f, "POST", "/x").1.is_none());
        assert!(f.is_empty());
    }
}
