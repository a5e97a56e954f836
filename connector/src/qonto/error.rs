//! Typed Qonto errors that classify themselves (transient or not, `Retry-After`, trace id).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An SCA session token (64-char base64url). Its `Debug` output is redacted so that it never
/// lands in a log by accident; use [`ScaSessionToken::expose`] to send it.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct ScaSessionToken(String);

impl ScaSessionToken {
    /// Wraps a token (e.g. read back from the database for a replay).
    pub fn new(token: impl Into<String>) -> Self {
        ScaSessionToken(token.into())
    }

    /// The token itself, to send it or persist it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ScaSessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScaSessionToken(***)")
    }
}

/// One JSON:API error item (`{"code","detail","source":{"pointer"|"parameter"}}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApiErrorItem {
    /// Machine code (`not_found`, `insufficient_funds`, …).
    pub code: Option<String>,
    /// Human text.
    pub detail: Option<String>,
    /// JSON pointer into the request body (`/transfer/amount`), when given.
    pub pointer: Option<String>,
    /// Query parameter at fault, when given.
    pub parameter: Option<String>,
}

/// The class of an outcome, as recorded in the audit log and used for retry decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Worth retrying later (5xx, timeout, connection reset, 429).
    Transient,
    /// Will fail again the same way.
    Permanent,
    /// 428 with an SCA session token: poll, then replay.
    ScaRequired,
    /// 428 without a challenge: the user has no SCA method enrolled (configuration error).
    ScaNotEnrolled,
    /// 412: the SCA session is expired, refused or already used.
    ScaSessionInvalid,
    /// 403: the price plan does not allow bulk transfers.
    PlanForbidsBulk,
    /// Insufficient funds on the debit account.
    InsufficientFunds,
    /// VoP proof token missing or invalid.
    VopToken,
    /// A payment policy requires an approval request.
    ApprovalRequired,
    /// 401: credentials refused or expired.
    Unauthorized,
    /// 403 other than the plan (missing scope, permissions).
    Forbidden,
    /// 404.
    NotFound,
    /// Refused locally before anything was sent.
    InvalidRequest,
}

/// Everything that can go wrong talking to Qonto.
#[derive(Debug, thiserror::Error)]
pub enum QontoError {
    /// 5xx (or 408) from Qonto: worth retrying.
    #[error("Qonto server error (HTTP {status}){}", fmt_trace(trace_id))]
    Server {
        /// HTTP status.
        status: u16,
        /// Error items, if the body had any.
        errors: Vec<ApiErrorItem>,
        /// Delay asked for by `Retry-After` (e.g. on 503), if any.
        retry_after: Option<Duration>,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// 429 Too Many Requests.
    #[error("Qonto rate limit reached{}", fmt_trace(trace_id))]
    RateLimited {
        /// Delay asked for by `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// No HTTP response: connect failure, timeout, connection reset or a response cut short.
    /// For a write, the outcome is unknown: look it up before replaying without a key.
    #[error("network error talking to Qonto ({kind:?}): {message}")]
    Network {
        /// What kind of failure.
        kind: NetworkErrorKind,
        /// Description (the URL is left out: it may hold IBANs or an SCA token).
        message: String,
    },
    /// 428 with an `sca_session_token`: poll `GET /v2/sca_sessions/{token}` then replay.
    #[error("strong customer authentication required{}", fmt_trace(trace_id))]
    ScaRequired {
        /// The session to poll and to replay with.
        sca_session_token: ScaSessionToken,
        /// `action_type` from the body (`transfer.single.create`, …), if given.
        action_type: Option<String>,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// 428 without a challenge (`sca_not_enrolled`, or a legacy `sca_required` without token).
    #[error("SCA is not enrolled for this user: {message}{}", fmt_trace(trace_id))]
    ScaNotEnrolled {
        /// Qonto's message.
        message: String,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// 412: the SCA session is expired, refused or already used.
    #[error("SCA session not usable: {message}{}", fmt_trace(trace_id))]
    ScaSessionInvalid {
        /// Qonto's message.
        message: String,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// 403: the organization's price plan does not allow bulk transfers.
    #[error(
        "the organization's Qonto plan does not allow bulk transfers{}",
        fmt_trace(trace_id)
    )]
    PlanForbidsBulk {
        /// Qonto's detail.
        detail: String,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// Insufficient funds on the debit account.
    #[error("insufficient funds{}", fmt_trace(trace_id))]
    InsufficientFunds {
        /// HTTP status (400 or 422).
        status: u16,
        /// Qonto's detail.
        detail: Option<String>,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// The VoP proof token is missing, invalid or does not cover the payees.
    #[error("VoP proof token refused ({code}){}", fmt_trace(trace_id))]
    VopToken {
        /// HTTP status.
        status: u16,
        /// `vop_proof_token_missing`, `vop_proof_token_invalid`, …
        code: String,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// A payment policy requires a transfer request (`payment_policy_approval_required` or
    /// `payment_policy_approver_missing`).
    #[error("payment policy requires approval ({code}){}", fmt_trace(trace_id))]
    ApprovalRequired {
        /// The code returned.
        code: String,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// 401: credentials refused or expired (after one refresh, for OAuth).
    #[error("Qonto refused the credentials{}", fmt_trace(trace_id))]
    Unauthorized {
        /// Qonto's detail, if any.
        detail: Option<String>,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// 403 other than the plan restriction (missing OAuth scope, user permissions).
    #[error("Qonto forbade the action: {detail}{}", fmt_trace(trace_id))]
    Forbidden {
        /// Qonto's detail.
        detail: String,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// 404 (unknown resource, or an unknown route at the gateway).
    #[error("not found at Qonto{}", fmt_trace(trace_id))]
    NotFound {
        /// Error items, if the body had any.
        errors: Vec<ApiErrorItem>,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// Any other non-success answer (400/422 validation, …): permanent.
    #[error(
        "Qonto answered HTTP {status}: {}{}",
        summary(errors),
        fmt_trace(trace_id)
    )]
    Api {
        /// HTTP status.
        status: u16,
        /// Error items (may be empty for non-JSON bodies).
        errors: Vec<ApiErrorItem>,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// A 2xx answer whose body could not be read.
    #[error(
        "could not read Qonto's answer (HTTP {status}): {message}{}",
        fmt_trace(trace_id)
    )]
    Decode {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        message: String,
        /// Qonto trace id.
        trace_id: Option<String>,
    },
    /// The OAuth token endpoint refused (e.g. `invalid_grant`: the user must connect again).
    #[error("OAuth token request refused (HTTP {status}, {error})")]
    OAuth {
        /// HTTP status.
        status: u16,
        /// OAuth `error` code.
        error: String,
        /// OAuth `error_description`, if any.
        description: Option<String>,
    },
    /// The request was refused locally, before sending (validation of amounts, references, …).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Bad or incomplete configuration.
    #[error("Qonto client configuration: {0}")]
    Config(String),
    /// The token store failed.
    #[error("token store: {0}")]
    TokenStore(String),
}

/// Kinds of transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkErrorKind {
    /// Could not connect (nothing was sent).
    Connect,
    /// Timed out (the request may have been processed).
    Timeout,
    /// Connection reset or closed before a full response (the request may have been processed).
    Reset,
}

fn fmt_trace(trace_id: &Option<String>) -> String {
    match trace_id {
        Some(t) => format!(" [trace_id {t}]"),
        None => String::new(),
    }
}

fn summary(errors: &[ApiErrorItem]) -> String {
    if errors.is_empty() {
        return "no details".into();
    }
    errors
        .iter()
        .map(|e| {
            let code = e.code.as_deref().unwrap_or("error");
            match &e.detail {
                Some(d) => format!("{code}: {d}"),
                None => code.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl QontoError {
    /// Whether trying again later may succeed (5xx, 429, timeout, connection reset or refused,
    /// OAuth token endpoint 5xx/429). Whether it is *safe* to retry depends on the request:
    /// reads and idempotency-keyed writes only.
    pub fn is_transient(&self) -> bool {
        match self {
            QontoError::Server { .. } | QontoError::RateLimited { .. } => true,
            QontoError::Network { .. } => true,
            QontoError::OAuth { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The delay asked for by Qonto's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            QontoError::RateLimited { retry_after, .. }
            | QontoError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Qonto's trace id (`X-Tyk-Trace-Id` header or `trace_id` in the body), to quote to support.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            QontoError::Server { trace_id, .. }
            | QontoError::RateLimited { trace_id, .. }
            | QontoError::ScaRequired { trace_id, .. }
            | QontoError::ScaNotEnrolled { trace_id, .. }
            | QontoError::ScaSessionInvalid { trace_id, .. }
            | QontoError::PlanForbidsBulk { trace_id, .. }
            | QontoError::InsufficientFunds { trace_id, .. }
            | QontoError::VopToken { trace_id, .. }
            | QontoError::ApprovalRequired { trace_id, .. }
            | QontoError::Unauthorized { trace_id, .. }
            | QontoError::Forbidden { trace_id, .. }
            | QontoError::NotFound { trace_id, .. }
            | QontoError::Api { trace_id, .. }
            | QontoError::Decode { trace_id, .. } => trace_id.as_deref(),
            _ => None,
        }
    }

    /// The SCA session token of a 428 challenge.
    pub fn sca_session_token(&self) -> Option<&ScaSessionToken> {
        match self {
            QontoError::ScaRequired {
                sca_session_token, ..
            } => Some(sca_session_token),
            _ => None,
        }
    }

    /// The HTTP status, when Qonto answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            QontoError::Server { status, .. }
            | QontoError::InsufficientFunds { status, .. }
            | QontoError::VopToken { status, .. }
            | QontoError::Api { status, .. }
            | QontoError::Decode { status, .. }
            | QontoError::OAuth { status, .. } => Some(*status),
            QontoError::RateLimited { .. } => Some(429),
            QontoError::ScaRequired { .. } | QontoError::ScaNotEnrolled { .. } => Some(428),
            QontoError::ScaSessionInvalid { .. } => Some(412),
            QontoError::PlanForbidsBulk { .. } | QontoError::Forbidden { .. } => Some(403),
            QontoError::ApprovalRequired { .. } => Some(400),
            QontoError::Unauthorized { .. } => Some(401),
            QontoError::NotFound { .. } => Some(404),
            QontoError::Network { .. }
            | QontoError::InvalidRequest(_)
            | QontoError::Config(_)
            | QontoError::TokenStore(_) => None,
        }
    }

    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        if self.is_transient() {
            return ErrorClass::Transient;
        }
        match self {
            QontoError::ScaRequired { .. } => ErrorClass::ScaRequired,
            QontoError::ScaNotEnrolled { .. } => ErrorClass::ScaNotEnrolled,
            QontoError::ScaSessionInvalid { .. } => ErrorClass::ScaSessionInvalid,
            QontoError::PlanForbidsBulk { .. } => ErrorClass::PlanForbidsBulk,
            QontoError::InsufficientFunds { .. } => ErrorClass::InsufficientFunds,
            QontoError::VopToken { .. } => ErrorClass::VopToken,
            QontoError::ApprovalRequired { .. } => ErrorClass::ApprovalRequired,
            QontoError::Unauthorized { .. } | QontoError::OAuth { .. } => ErrorClass::Unauthorized,
            QontoError::Forbidden { .. } => ErrorClass::Forbidden,
            QontoError::NotFound { .. } => ErrorClass::NotFound,
            QontoError::InvalidRequest(_) => ErrorClass::InvalidRequest,
            _ => ErrorClass::Permanent,
        }
    }

    /// Whether the outcome of a write that failed this way is unknown (the request may have been
    /// processed): timeouts and connections cut after sending. DESIGN §3 invariant 3: look it up.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            QontoError::Network {
                kind: NetworkErrorKind::Timeout | NetworkErrorKind::Reset,
                ..
            } | QontoError::Server { .. }
        )
    }

    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            NetworkErrorKind::Timeout
        } else if err.is_connect() {
            NetworkErrorKind::Connect
        } else {
            NetworkErrorKind::Reset
        };
        // Without the URL: its query may hold IBANs, its path an SCA session token.
        let err = err.without_url();
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        QontoError::Network { kind, message }
    }
}

/// Result alias for the Qonto client.
pub type Result<T, E = QontoError> = std::result::Result<T, E>;
