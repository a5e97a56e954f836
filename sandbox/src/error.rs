//! Errors: the public [`SandboxError`] of the Rust API, and the internal [`ApiError`] that every
//! simulated endpoint renders the way Qonto does (JSON:API `errors[]` unless documented otherwise).

use serde_json::{json, Value};

/// Errors of the sandbox's Rust API.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot bind the sandbox listener: {0}")]
    Bind(#[source] std::io::Error),
    #[error("sandbox server error: {0}")]
    Server(#[source] std::io::Error),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
}

/// One JSON:API error object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrObj {
    pub code: String,
    pub detail: String,
    pub source: Option<Value>,
    pub meta: Option<Value>,
}

impl ErrObj {
    pub fn new(code: &str, detail: impl Into<String>) -> Self {
        ErrObj {
            code: code.into(),
            detail: detail.into(),
            source: None,
            meta: None,
        }
    }
    pub fn pointer(mut self, p: impl Into<String>) -> Self {
        self.source = Some(json!({ "pointer": p.into() }));
        self
    }
    pub fn parameter(mut self, p: impl Into<String>) -> Self {
        self.source = Some(json!({ "parameter": p.into() }));
        self
    }
    pub fn meta(mut self, m: Value) -> Self {
        self.meta = Some(m);
        self
    }
    pub fn to_json(&self) -> Value {
        let mut v = json!({ "code": self.code, "detail": self.detail });
        if let Some(s) = &self.source {
            v["source"] = s.clone();
        }
        if let Some(m) = &self.meta {
            v["meta"] = m.clone();
        }
        v
    }
}

/// An error answer of a simulated endpoint.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// JSON:API error body.
    #[error("{status}: {}", .errors.first().map(|e| e.detail.as_str()).unwrap_or(""))]
    Api { status: u16, errors: Vec<ErrObj> },
    /// The action needs SCA: the pipeline opens a session and answers 428.
    #[error("SCA required for {action_type}")]
    ScaRequired { action_type: &'static str },
    /// SCA replay token unknown / bound to another request / already used (sandbox: 422
    /// `{"errors":{"message":"Not found"}}`).
    #[error("SCA session not found")]
    ScaNotFound,
    /// SCA session not usable (waiting, denied, expired): 412.
    #[error("SCA session not usable: {message}")]
    ScaPrecondition { code: &'static str, message: String },
    /// OAuth token endpoint error (`{"error","error_description"}`).
    #[error("oauth error {error}")]
    OAuth {
        status: u16,
        error: &'static str,
        description: String,
    },
}

impl ApiError {
    pub fn one(status: u16, e: ErrObj) -> Self {
        ApiError::Api {
            status,
            errors: vec![e],
        }
    }
    pub fn many(status: u16, errors: Vec<ErrObj>) -> Self {
        ApiError::Api { status, errors }
    }
    pub fn bad_json(detail: impl std::fmt::Display) -> Self {
        Self::one(
            400,
            ErrObj::new(
                "invalid_json",
                format!("The request body is not valid JSON: {detail}"),
            ),
        )
    }
    pub fn unprocessable(code: &str, detail: impl Into<String>, pointer: &str) -> Self {
        Self::one(422, ErrObj::new(code, detail).pointer(pointer))
    }
    pub fn missing(pointer: &str) -> Self {
        let field = pointer.rsplit('/').next().unwrap_or(pointer);
        Self::unprocessable("missing_key", format!("{field} is missing"), pointer)
    }
    pub fn bad_param(param: &str, detail: impl Into<String>) -> Self {
        Self::one(422, ErrObj::new("invalid", detail).parameter(param))
    }
    pub fn not_found(what: &str, param: &str) -> Self {
        Self::one(
            404,
            ErrObj::new("not_found", format!("{what} not found")).parameter(param),
        )
    }
    pub fn unauthorized(detail: &str) -> Self {
        Self::one(401, ErrObj::new("unauthorized", detail))
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::one(403, ErrObj::new("forbidden", detail))
    }
    pub fn oauth(error: &'static str, description: impl Into<String>) -> Self {
        ApiError::OAuth {
            status: if error == "invalid_client" { 401 } else { 400 },
            error,
            description: description.into(),
        }
    }
}
