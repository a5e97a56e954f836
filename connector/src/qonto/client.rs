//! The `QontoApi` trait and its reqwest implementation, with retries, audit and tracing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use super::audit::{AuditSink, CallOutcome, QontoCallRecord, TracingAuditSink};
use super::auth::{OAuthClient, OAuthSession, TokenStore};
use super::config::{QontoConfig, RetryConfig, ScaMethod};
use super::error::{ApiErrorItem, QontoError, Result, ScaSessionToken};
use super::models::{
    error_items_from, Attachment, AttachmentUpload, BankAccount, Beneficiary, BeneficiaryFilter,
    BulkTransfer, BulkVerifyPayeeRequest, BulkVerifyPayeeResult, CreateBeneficiary,
    CreateBulkTransfer, CreateMultiTransferRequest, CreateTransfer, MaybeWrappedBulk, Meta,
    MockScaDecision, MultiTransferRequest, NewWebhookSubscription, Organization, Prepared,
    ProofToken, ScaSession, SepaTransfer, Validate, VerifyPayeeRequest, VerifyPayeeResult,
    WebhookSubscription,
};
use super::validate::{mask_iban, IdempotencyKey, MAX_IDS_PER_LIST};

/// IBANs per `GET /v2/sepa/beneficiaries` request when filtering (keeps URLs short).
const IBANS_PER_QUERY: usize = 50;
/// Safety bound on pagination loops.
const MAX_PAGES: u32 = 10_000;

/// SCA-related headers of a write: the `X-Qonto-2fa-Preference` (the configured default when
/// `None`) and, on the replay after approval, the `X-Qonto-Sca-Session-Token`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScaOptions {
    /// `X-Qonto-2fa-Preference`; the client's configured `sca_method` when `None`.
    pub two_fa_preference: Option<ScaMethod>,
    /// `X-Qonto-Sca-Session-Token` (replay only).
    pub session_token: Option<ScaSessionToken>,
}

impl ScaOptions {
    /// First attempt with the configured method.
    pub fn first_attempt() -> Self {
        Self::default()
    }

    /// Replay after the session `token` was allowed, with the same preference as the first call.
    pub fn replay(two_fa_preference: Option<ScaMethod>, token: ScaSessionToken) -> Self {
        ScaOptions {
            two_fa_preference,
            session_token: Some(token),
        }
    }
}

/// The Qonto Business API as billbridge uses it. Object-safe: hold it as `Arc<dyn QontoApi>`.
///
/// Writes take their idempotency key and SCA options explicitly, and money-moving bodies come
/// [`Prepared`] (validated and serialised once), so the engine can persist them and replay the
/// exact same request after SCA (DESIGN §3 invariant 2).
#[async_trait]
pub trait QontoApi: Send + Sync {
    /// `GET /v2/organization` (with its bank accounts).
    async fn get_organization(&self) -> Result<Organization>;
    /// `GET /v2/bank_accounts`, every page.
    async fn list_bank_accounts(&self) -> Result<Vec<BankAccount>>;
    /// `GET /v2/bank_accounts/{id}` (fresh balance before a run).
    async fn get_bank_account(&self, id: &str) -> Result<BankAccount>;
    /// `GET /v2/sepa/beneficiaries`, every page, `per_page=100`, `iban[]`/`trusted`/`status[]`.
    async fn list_beneficiaries(&self, filter: &BeneficiaryFilter) -> Result<Vec<Beneficiary>>;
    /// `GET /v2/sepa/beneficiaries/{id}`.
    async fn get_beneficiary(&self, id: &str) -> Result<Beneficiary>;
    /// `POST /v2/sepa/beneficiaries` (untrusted; may need SCA).
    async fn create_beneficiary(
        &self,
        body: &Prepared<CreateBeneficiary>,
        idempotency_key: &IdempotencyKey,
        sca: &ScaOptions,
    ) -> Result<Beneficiary>;
    /// `POST /v2/sepa/verify_payee`. A 400 "responding bank" error that still carries a proof
    /// token is returned as a `NotPossible` result with `bank_error` set. Not retried (no key).
    async fn verify_payee(&self, request: &VerifyPayeeRequest) -> Result<VerifyPayeeResult>;
    /// `POST /v2/sepa/bulk_verify_payee` (1..=400). Not retried (no key).
    async fn bulk_verify_payee(
        &self,
        request: &BulkVerifyPayeeRequest,
    ) -> Result<BulkVerifyPayeeResult>;
    /// `POST /v2/sepa/transfers`.
    async fn create_transfer(
        &self,
        body: &Prepared<CreateTransfer>,
        idempotency_key: &IdempotencyKey,
        sca: &ScaOptions,
    ) -> Result<SepaTransfer>;
    /// `GET /v2/sepa/transfers/{id}`.
    async fn get_transfer(&self, id: &str) -> Result<SepaTransfer>;
    /// `GET /v2/sepa/transfers?ids[]=…` (at most 100 ids), every page.
    async fn list_transfers_by_ids(&self, ids: &[String]) -> Result<Vec<SepaTransfer>>;
    /// `POST /v2/sepa/transfers/{id}/cancel` (may need SCA). Retried only with a key.
    async fn cancel_transfer(
        &self,
        id: &str,
        idempotency_key: Option<&IdempotencyKey>,
        sca: &ScaOptions,
    ) -> Result<()>;
    /// `POST /v2/sepa/bulk_transfers` (response with or without its wrapper).
    async fn create_bulk_transfer(
        &self,
        body: &Prepared<CreateBulkTransfer>,
        idempotency_key: &IdempotencyKey,
        sca: &ScaOptions,
    ) -> Result<BulkTransfer>;
    /// `GET /v2/sepa/bulk_transfers/{id}`.
    async fn get_bulk_transfer(&self, id: &str) -> Result<BulkTransfer>;
    /// `GET /v2/sepa/bulk_transfers` (every page): to find a bulk whose creation answer was
    /// lost after its idempotency key expired (DESIGN §3 invariant 3).
    async fn list_bulk_transfers(&self) -> Result<Vec<BulkTransfer>>;
    /// `GET /v2/sepa/transfers?updated_at_from=…` (every page): to find a single transfer
    /// whose creation answer was lost after its idempotency key expired.
    async fn list_transfers_updated_since(&self, from: DateTime<Utc>) -> Result<Vec<SepaTransfer>>;
    /// `GET /v2/sca_sessions/{token}` (poll at most once a second).
    async fn get_sca_session(&self, token: &ScaSessionToken) -> Result<ScaSession>;
    /// Sandbox: `POST /v2/mocked_sca_sessions/{token}/allow|deny`. Refused in production.
    async fn decide_mocked_sca_session(
        &self,
        token: &ScaSessionToken,
        decision: MockScaDecision,
    ) -> Result<()>;
    /// `POST /v2/attachments` (multipart, part `file`).
    async fn upload_attachment(
        &self,
        file: &AttachmentUpload,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Attachment>;
    /// `POST /v2/requests/multi_transfers` (approval request when a policy requires it).
    async fn create_multi_transfer_request(
        &self,
        body: &Prepared<CreateMultiTransferRequest>,
        idempotency_key: &IdempotencyKey,
        sca: &ScaOptions,
    ) -> Result<MultiTransferRequest>;
    /// `GET /v2/requests?request_type=multi_transfer` (every page): to follow approval requests.
    async fn list_multi_transfer_requests(&self) -> Result<Vec<MultiTransferRequest>>;
    /// `POST /v2/webhook_subscriptions`. Retried only with a key.
    async fn create_webhook_subscription(
        &self,
        request: &NewWebhookSubscription,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<WebhookSubscription>;
    /// `GET /v2/webhook_subscriptions`.
    async fn list_webhook_subscriptions(&self) -> Result<Vec<WebhookSubscription>>;
    /// `DELETE /v2/webhook_subscriptions/{id}`. Not retried.
    async fn delete_webhook_subscription(&self, id: &str) -> Result<()>;
}

enum Auth {
    /// `login:secret`, ready to send.
    ApiKey(SecretString),
    OAuth(OAuthSession),
}

enum Body {
    Empty,
    Json(Bytes),
    Multipart(AttachmentUpload),
}

/// One logical call (possibly several attempts).
struct Call {
    method: Method,
    path: String,
    audit_path: String,
    query: Vec<(&'static str, String)>,
    body: Body,
    idempotency_key: Option<IdempotencyKey>,
    sca: Option<ScaOptions>,
    /// VoP: a 400 carrying a proof token in `errors[].meta` is a result, not an error.
    vop_bank_errors_are_results: bool,
}

impl Call {
    fn new(method: Method, path: impl Into<String>) -> Self {
        let path = path.into();
        Call {
            method,
            audit_path: path.clone(),
            path,
            query: Vec::new(),
            body: Body::Empty,
            idempotency_key: None,
            sca: None,
            vop_bank_errors_are_results: false,
        }
    }

    fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    fn json(mut self, bytes: Bytes) -> Self {
        self.body = Body::Json(bytes);
        self
    }

    fn key(mut self, key: Option<&IdempotencyKey>) -> Self {
        self.idempotency_key = key.cloned();
        self
    }

    fn sca(mut self, sca: &ScaOptions) -> Self {
        self.sca = Some(sca.clone());
        self
    }

    /// Reads, and writes carrying an idempotency key, may be retried; nothing else.
    fn retry_safe(&self) -> bool {
        self.method == Method::GET || self.idempotency_key.is_some()
    }

    fn audit_path_with_query(&self) -> String {
        if self.query.is_empty() {
            return self.audit_path.clone();
        }
        let q: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| {
                let v = if k.starts_with("iban") {
                    mask_iban(v)
                } else {
                    v.clone()
                };
                format!("{k}={v}")
            })
            .collect();
        format!("{}?{}", self.audit_path, q.join("&"))
    }
}

/// A 2xx (or accepted) response.
struct Response {
    status: u16,
    body: Bytes,
    trace_id: Option<String>,
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Query string with literal `key[]` names, as Qonto documents them.
fn query_string(query: &[(&'static str, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn build_http(config: &QontoConfig) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout())
        .timeout(config.request_timeout())
        .user_agent(concat!("billbridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| QontoError::Config(format!("HTTP client: {e}")))
}

fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = at.with_timezone(&Utc) - Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

fn trace_id_from_headers(headers: &HeaderMap) -> Option<String> {
    ["x-tyk-trace-id", "x-qonto-trace-id", "x-trace-id"]
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Turns a non-2xx answer into a typed error (API.md §3.3, §7.3).
fn classify(
    status: u16,
    body: &[u8],
    header_trace_id: Option<String>,
    retry_after: Option<Duration>,
) -> QontoError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let trace_id = header_trace_id.or_else(|| str_field(&json, "trace_id"));
    let mut errors: Vec<ApiErrorItem> =
        json.get("errors").map(error_items_from).unwrap_or_default();
    let flat_code = str_field(&json, "code");
    let flat_message = str_field(&json, "message").or_else(|| str_field(&json, "detail"));
    if flat_code.is_some() {
        errors.insert(
            0,
            ApiErrorItem {
                code: flat_code.clone(),
                detail: flat_message.clone(),
                pointer: None,
                parameter: None,
            },
        );
    }
    if errors.is_empty() && !body.is_empty() && json.is_null() {
        // Non-JSON (gateway text/plain, HTML login page without staging token): keep a snippet.
        let text = String::from_utf8_lossy(body);
        let snippet: String = text.chars().take(200).collect();
        errors.push(ApiErrorItem {
            code: None,
            detail: Some(snippet),
            pointer: None,
            parameter: None,
        });
    }
    let has_code = |c: &str| errors.iter().any(|e| e.code.as_deref() == Some(c));
    let first_detail = || {
        flat_message
            .clone()
            .or_else(|| errors.iter().find_map(|e| e.detail.clone()))
    };

    match status {
        // Flat body (observed); a JSON:API variant may carry it in `errors[].meta`.
        428 => match str_field(&json, "sca_session_token").or_else(|| {
            json.get("errors").and_then(Value::as_array).and_then(|a| {
                a.iter().find_map(|e| {
                    e.get("meta")
                        .and_then(|m| str_field(m, "sca_session_token"))
                })
            })
        }) {
            Some(token) => QontoError::ScaRequired {
                sca_session_token: ScaSessionToken::new(token),
                action_type: str_field(&json, "action_type"),
                trace_id,
            },
            None => QontoError::ScaNotEnrolled {
                message: first_detail().unwrap_or_else(|| "SCA required, no session".into()),
                trace_id,
            },
        },
        412 => QontoError::ScaSessionInvalid {
            message: first_detail().unwrap_or_else(|| "precondition failed".into()),
            trace_id,
        },
        429 => QontoError::RateLimited {
            retry_after,
            trace_id,
        },
        408 | 500..=599 => QontoError::Server {
            status,
            errors,
            retry_after,
            trace_id,
        },
        _ => {
            if let Some(code) = errors
                .iter()
                .filter_map(|e| e.code.as_deref())
                .find(|c| c.starts_with("vop_proof_token"))
            {
                return QontoError::VopToken {
                    status,
                    code: code.to_owned(),
                    trace_id,
                };
            }
            if has_code("insufficient_funds") {
                return QontoError::InsufficientFunds {
                    status,
                    detail: first_detail(),
                    trace_id,
                };
            }
            if let Some(code) = errors
                .iter()
                .filter_map(|e| e.code.as_deref())
                .find(|c| c.starts_with("payment_policy_"))
            {
                return QontoError::ApprovalRequired {
                    code: code.to_owned(),
                    trace_id,
                };
            }
            match status {
                401 => QontoError::Unauthorized {
                    detail: first_detail(),
                    trace_id,
                },
                403 => {
                    let detail = first_detail().unwrap_or_default();
                    let lower = detail.to_lowercase();
                    if lower.contains("plan") && lower.contains("bulk") {
                        QontoError::PlanForbidsBulk { detail, trace_id }
                    } else {
                        QontoError::Forbidden { detail, trace_id }
                    }
                }
                404 => QontoError::NotFound { errors, trace_id },
                _ => QontoError::Api {
                    status,
                    errors,
                    trace_id,
                },
            }
        }
    }
}

/// Whether a VoP 400 body carries a usable proof token (`errors[].meta.proof_token`).
fn vop_error_token(body: &[u8]) -> Option<(String, String)> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let errors = json.get("errors")?.as_array()?;
    errors.iter().find_map(|e| {
        let token = e.get("meta")?.get("proof_token")?;
        let token = match token {
            Value::String(s) => s.clone(),
            other => other.get("token")?.as_str()?.to_owned(),
        };
        let code = str_field(e, "code").unwrap_or_else(|| "responding_bank_error".into());
        Some((code, token))
    })
}

/// Backoff before attempt `attempt + 1`: `base · 2^(attempt-1)`, capped, with equal jitter.
fn backoff(retry: &RetryConfig, attempt: u32) -> Duration {
    let exp = retry
        .base_delay_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
    let cap = exp.min(retry.max_delay_ms);
    let half = cap / 2;
    Duration::from_millis(half + fastrand::u64(0..=cap - half))
}

/// Builder of a [`QontoClient`].
pub struct QontoClientBuilder {
    config: QontoConfig,
    organization_id: String,
    audit: Arc<dyn AuditSink>,
    oauth: Option<(Arc<OAuthClient>, String, Arc<dyn TokenStore>)>,
}

impl QontoClientBuilder {
    /// Sends audit records to `sink` (default: [`TracingAuditSink`]).
    pub fn audit_sink(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = sink;
        self
    }

    /// Authenticates with OAuth: tokens of `credential_id` in `store`, refreshed through `oauth`.
    /// Without this, the client uses `config.api_key`.
    pub fn oauth(
        mut self,
        oauth: Arc<OAuthClient>,
        credential_id: impl Into<String>,
        store: Arc<dyn TokenStore>,
    ) -> Self {
        self.oauth = Some((oauth, credential_id.into(), store));
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<QontoClient> {
        let config = self.config;
        config.validate()?;
        let auth = match self.oauth {
            Some((oauth, credential_id, store)) => {
                Auth::OAuth(OAuthSession::new(oauth, credential_id, store))
            }
            None => {
                let key = config.api_key.as_ref().ok_or_else(|| {
                    QontoError::Config("neither an API key nor OAuth is configured".into())
                })?;
                if key.login.is_empty() || key.login.contains(':') {
                    return Err(QontoError::Config(
                        "api_key.login is empty or has ':'".into(),
                    ));
                }
                Auth::ApiKey(SecretString::from(format!(
                    "{}:{}",
                    key.login,
                    key.secret_key.expose_secret()
                )))
            }
        };
        Ok(QontoClient {
            inner: Arc::new(Inner {
                http: build_http(&config)?,
                api_base: config.environment.api_base().to_owned(),
                production: config.environment.is_production(),
                staging_token: config.staging_token.clone(),
                auth,
                audit: self.audit,
                organization_id: self.organization_id,
                retry: config.retry.clone(),
                sca_method: config.sca_method,
            }),
        })
    }
}

struct Inner {
    http: reqwest::Client,
    api_base: String,
    production: bool,
    staging_token: Option<SecretString>,
    auth: Auth,
    audit: Arc<dyn AuditSink>,
    organization_id: String,
    retry: RetryConfig,
    sca_method: ScaMethod,
}

/// The reqwest implementation of [`QontoApi`] for one organization. Cheap to clone.
#[derive(Clone)]
pub struct QontoClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for QontoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QontoClient")
            .field("api_base", &self.inner.api_base)
            .field("organization_id", &self.inner.organization_id)
            .finish_non_exhaustive()
    }
}

impl QontoClient {
    /// Starts building a client for `organization_id` (the billbridge organization, recorded in
    /// audit records and spans).
    pub fn builder(config: QontoConfig, organization_id: impl Into<String>) -> QontoClientBuilder {
        QontoClientBuilder {
            config,
            organization_id: organization_id.into(),
            audit: Arc::new(TracingAuditSink),
            oauth: None,
        }
    }

    async fn auth_header(&self) -> Result<SecretString> {
        match &self.inner.auth {
            Auth::ApiKey(v) => Ok(v.clone()),
            Auth::OAuth(s) => {
                let token = s.access_token().await?;
                Ok(SecretString::from(format!(
                    "Bearer {}",
                    token.expose_secret()
                )))
            }
        }
    }

    async fn execute(&self, call: &Call) -> Result<Response> {
        let span = tracing::info_span!(
            "qonto.call",
            org_id = %self.inner.organization_id,
            method = %call.method,
            path = %call.audit_path,
        );
        self.execute_inner(call).instrument(span).await
    }

    async fn execute_inner(&self, call: &Call) -> Result<Response> {
        let retry = &self.inner.retry;
        let mut attempt: u32 = 0;
        let mut refreshed_after_401 = false;
        loop {
            attempt += 1;
            let auth = self.auth_header().await?;
            let started_at = Utc::now();
            let started = Instant::now();
            let result = self.send_once(call, &auth).await;
            let (status, trace_id, outcome) = match &result {
                Ok(r) => (Some(r.status), r.trace_id.clone(), CallOutcome::Success),
                Err(e) => (
                    e.status(),
                    e.trace_id().map(str::to_owned),
                    CallOutcome::Failed(e.class()),
                ),
            };
            self.inner.audit.record(QontoCallRecord {
                organization_id: self.inner.organization_id.clone(),
                method: call.method.to_string(),
                path: call.audit_path_with_query(),
                attempt,
                status,
                started_at,
                duration: started.elapsed(),
                idempotency_key: call.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
                trace_id,
                outcome,
            });
            let err = match result {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            // An expired or revoked access token: refresh once and try again (nothing was done).
            if let (QontoError::Unauthorized { .. }, Auth::OAuth(session)) =
                (&err, &self.inner.auth)
            {
                if !refreshed_after_401 {
                    refreshed_after_401 = true;
                    let used = match auth.expose_secret().strip_prefix("Bearer ") {
                        Some(t) => SecretString::from(t.to_owned()),
                        None => return Err(err),
                    };
                    session.refresh_after_unauthorized(&used).await?;
                    attempt -= 1;
                    continue;
                }
            }
            if !(err.is_transient() && call.retry_safe() && attempt < retry.max_attempts) {
                return Err(err);
            }
            let delay = match err.retry_after() {
                Some(d) if d > Duration::from_millis(retry.max_retry_after_ms) => return Err(err),
                Some(d) => d,
                None => backoff(retry, attempt),
            };
            tracing::warn!(
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %err,
                "transient Qonto error; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn send_once(&self, call: &Call, auth: &SecretString) -> Result<Response> {
        let mut url = format!("{}{}", self.inner.api_base, call.path);
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&query_string(&call.query));
        }
        let mut auth_value = HeaderValue::from_str(auth.expose_secret())
            .map_err(|_| QontoError::Config("credentials are not a valid header value".into()))?;
        auth_value.set_sensitive(true);
        let mut req = self
            .inner
            .http
            .request(call.method.clone(), url)
            .header(AUTHORIZATION, auth_value)
            .header(ACCEPT, "application/json");
        if let Some(st) = &self.inner.staging_token {
            let mut v = HeaderValue::from_str(st.expose_secret())
                .map_err(|_| QontoError::Config("staging token is not a valid header".into()))?;
            v.set_sensitive(true);
            req = req.header("X-Qonto-Staging-Token", v);
        }
        if let Some(key) = &call.idempotency_key {
            req = req.header("X-Qonto-Idempotency-Key", key.as_str());
        }
        if let Some(sca) = &call.sca {
            let method = sca.two_fa_preference.unwrap_or(self.inner.sca_method);
            req = req.header("X-Qonto-2fa-Preference", method.as_header_value());
            if let Some(token) = &sca.session_token {
                let mut v = HeaderValue::from_str(token.expose()).map_err(|_| {
                    QontoError::InvalidRequest("SCA session token is not a valid header".into())
                })?;
                v.set_sensitive(true);
                req = req.header("X-Qonto-Sca-Session-Token", v);
            }
        }
        req = match &call.body {
            Body::Empty => req,
            Body::Json(bytes) => req
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Body::Multipart(file) => {
                let part = reqwest::multipart::Part::stream(file.bytes.clone())
                    .file_name(file.file_name.clone())
                    .mime_str(&file.content_type)
                    .map_err(|e| QontoError::InvalidRequest(format!("content type: {e}")))?;
                req.multipart(reqwest::multipart::Form::new().part("file", part))
            }
        };
        let resp = req.send().await.map_err(QontoError::from_reqwest)?;
        let status = resp.status().as_u16();
        let header_trace = trace_id_from_headers(resp.headers());
        let retry_after = parse_retry_after(resp.headers());
        let body = resp.bytes().await.map_err(QontoError::from_reqwest)?;
        if (200..300).contains(&status)
            || (status == 400
                && call.vop_bank_errors_are_results
                && vop_error_token(&body).is_some())
        {
            let trace_id = header_trace.or_else(|| {
                serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| str_field(&v, "trace_id"))
            });
            return Ok(Response {
                status,
                body,
                trace_id,
            });
        }
        Err(classify(status, &body, header_trace, retry_after))
    }

    fn decode<T: DeserializeOwned>(resp: &Response) -> Result<T> {
        serde_json::from_slice(&resp.body).map_err(|e| QontoError::Decode {
            status: resp.status,
            message: e.to_string(),
            trace_id: resp.trace_id.clone(),
        })
    }

    /// Decodes `{"<key>": T}`.
    fn decode_field<T: DeserializeOwned>(resp: &Response, key: &str) -> Result<T> {
        let mut v: Value = Self::decode(resp)?;
        Self::take_field(resp, &mut v, key)
    }

    /// Takes `key` out of an answer already parsed as `v`.
    fn take_field<T: DeserializeOwned>(resp: &Response, v: &mut Value, key: &str) -> Result<T> {
        let inner = v
            .get_mut(key)
            .map(Value::take)
            .ok_or_else(|| QontoError::Decode {
                status: resp.status,
                message: format!("no `{key}` in the answer"),
                trace_id: resp.trace_id.clone(),
            })?;
        serde_json::from_value(inner).map_err(|e| QontoError::Decode {
            status: resp.status,
            message: format!("`{key}`: {e}"),
            trace_id: resp.trace_id.clone(),
        })
    }

    /// Decodes `{"<key>": T}` or a bare `T`.
    fn decode_maybe_wrapped<T: DeserializeOwned>(resp: &Response, key: &str) -> Result<T> {
        let v: Value = Self::decode(resp)?;
        let target = match v.get(key) {
            Some(inner) if inner.is_object() => inner.clone(),
            _ => v,
        };
        serde_json::from_value(target).map_err(|e| QontoError::Decode {
            status: resp.status,
            message: e.to_string(),
            trace_id: resp.trace_id.clone(),
        })
    }

    /// Follows `meta.next_page` and collects `key` from every page.
    async fn all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&'static str, String)],
        key: &str,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut page: u32 = 1;
        loop {
            let mut call = Call::get(path);
            call.query = query.to_vec();
            call.query.push(("page", page.to_string()));
            call.query.push(("per_page", "100".into()));
            let resp = self.execute(&call).await?;
            let mut v: Value = Self::decode(&resp)?;
            let items: Vec<T> = Self::take_field(&resp, &mut v, key)?;
            let n = items.len();
            out.extend(items);
            let meta: Meta = v
                .get("meta")
                .cloned()
                .and_then(|m| serde_json::from_value(m).ok())
                .unwrap_or_default();
            let next = match (meta.next_page, meta.total_pages) {
                (Some(next), _) if next > page => next,
                (None, Some(total)) if page < total => page + 1,
                _ => break,
            };
            if n == 0 || next > MAX_PAGES {
                break;
            }
            page = next;
        }
        Ok(out)
    }

    fn check_id(what: &str, id: &str) -> Result<String> {
        if id.is_empty() || id.len() > 255 {
            return Err(QontoError::InvalidRequest(format!(
                "{what} is empty or too long"
            )));
        }
        Ok(encode(id))
    }
}

#[async_trait]
impl QontoApi for QontoClient {
    async fn get_organization(&self) -> Result<Organization> {
        let resp = self.execute(&Call::get("/v2/organization")).await?;
        Self::decode_field(&resp, "organization")
    }

    async fn list_bank_accounts(&self) -> Result<Vec<BankAccount>> {
        self.all_pages("/v2/bank_accounts", &[], "bank_accounts")
            .await
    }

    async fn get_bank_account(&self, id: &str) -> Result<BankAccount> {
        let id = Self::check_id("bank account id", id)?;
        let resp = self
            .execute(&Call::get(format!("/v2/bank_accounts/{id}")))
            .await?;
        Self::decode_field(&resp, "bank_account")
    }

    async fn list_beneficiaries(&self, filter: &BeneficiaryFilter) -> Result<Vec<Beneficiary>> {
        let mut base: Vec<(&'static str, String)> = Vec::new();
        if let Some(t) = filter.trusted {
            base.push(("trusted", t.to_string()));
        }
        for s in &filter.statuses {
            base.push(("status[]", s.clone()));
        }
        let chunks: Vec<&[String]> = if filter.ibans.is_empty() {
            vec![&[]]
        } else {
            filter.ibans.chunks(IBANS_PER_QUERY).collect()
        };
        let mut out: Vec<Beneficiary> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for chunk in chunks {
            let mut q = base.clone();
            q.extend(chunk.iter().map(|i| ("iban[]", i.clone())));
            let page: Vec<Beneficiary> = self
                .all_pages("/v2/sepa/beneficiaries", &q, "beneficiaries")
                .await?;
            out.extend(page.into_iter().filter(|b| seen.insert(b.id.clone())));
        }
        Ok(out)
    }

    async fn get_beneficiary(&self, id: &str) -> Result<Beneficiary> {
        let id = Self::check_id("beneficiary id", id)?;
        let resp = self
            .execute(&Call::get(format!("/v2/sepa/beneficiaries/{id}")))
            .await?;
        Self::decode_field(&resp, "beneficiary")
    }

    async fn create_beneficiary(
        &self,
        body: &Prepared<CreateBeneficiary>,
        idempotency_key: &IdempotencyKey,
        sca: &ScaOptions,
    ) -> Result<Beneficiary> {
        let call = Call::post("/v2/sepa/beneficiaries")
            .json(body.bytes())
            .key(Some(idempotency_key))
            .sca(sca);
        let resp = self.execute(&call).await?;
        Self::decode_field(&resp, "beneficiary")
    }

    async fn verify_payee(&self, request: &VerifyPayeeRequest) -> Result<VerifyPayeeResult> {
        let body = Prepared::new(request)?;
        let mut call = Call::post("/v2/sepa/verify_payee").json(body.bytes());
        call.vop_bank_errors_are_results = true;
        let resp = self.execute(&call).await?;
        if resp.status == 400 {
            if let Some((code, token)) = vop_error_token(&resp.body) {
                return Ok(VerifyPayeeResult {
                    match_result: super::models::MatchResult::NotPossible,
                    matched_name: None,
                    proof_token: ProofToken(token),
                    bank_error: Some(code),
                });
            }
        }
        Self::decode(&resp)
    }

    async fn bulk_verify_payee(
        &self,
        request: &BulkVerifyPayeeRequest,
    ) -> Result<BulkVerifyPayeeResult> {
        let body = Prepared::new(request)?;
        let call = Call::post("/v2/sepa/bulk_verify_payee").json(body.bytes());
        let resp = self.execute(&call).await?;
        Self::decode(&resp)
    }

    async fn create_transfer(
        &self,
        body: &Prepared<CreateTransfer>,
        idempotency_key: &IdempotencyKey,
        sca: &ScaOptions,
    ) -> Result<SepaTransfer> {
        let call = Call::post("/v2/sepa/transfers")
            .json(body.bytes())
            .key(Some(idempotency_key))
            .sca(sca);
        let resp = self.execute(&call).await?;
        Self::decode_maybe_wrapped(&resp, "transfer")
    }

    async fn get_transfer(&self, id: &str) -> Result<SepaTransfer> {
        let id = Self::check_id("transfer id", id)?;
        let resp = self
            .execute(&Call::get(format!("/v2/sepa/transfers/{id}")))
            .await?;
        Self::decode_field(&resp, "transfer")
    }

    async fn list_transfers_by_ids(&self, ids: &[String]) -> Result<Vec<SepaTransfer>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_IDS_PER_LIST {
            return Err(QontoError::InvalidRequest(format!(
                "at most {MAX_IDS_PER_LIST} ids per call, got {}",
                ids.len()
            )));
        }
        let q: Vec<(&'static str, String)> = ids.iter().map(|i| ("ids[]", i.clone())).collect();
        self.all_pages("/v2/sepa/transfers", &q, "transfers").await
    }

    async fn cancel_transfer(
        &self,
        id: &str,
        idempotency_key: Option<&IdempotencyKey>,
        sca: &ScaOptions,
    ) -> Result<()> {
        let id = Self::check_id("transfer id", id)?;
        let call = Call::post(format!("/v2/sepa/transfers/{id}/cancel"))
            .key(idempotency_key)
            .sca(sca);
        self.execute(&call).await.map(|_| ())
    }

    async fn create_bulk_transfer(
        &self,
        body: &Prepared<CreateBulkTransfer>,
        idempotency_key: &IdempotencyKey,
        sca: &ScaOptions,
    ) -> Result<BulkTransfer> {
        let call = Call::post("/v2/sepa/bulk_transfers")
            .json(body.bytes())
            .key(Some(idempotency_key))
            .sca(sca);
        let resp = self.execute(&call).await?;
        Self::decode::<MaybeWrappedBulk>(&resp).map(BulkTransfer::from)
    }

    async fn get_bulk_transfer(&self, id: &str) -> Result<BulkTransfer> {
        let id = Self::check_id("bulk transfer id", id)?;
        let resp = self
            .execute(&Call::get(format!("/v2/sepa/bulk_transfers/{id}")))
            .await?;
        Self::decode::<MaybeWrappedBulk>(&resp).map(BulkTransfer::from)
    }

    async fn list_bulk_transfers(&self) -> Result<Vec<BulkTransfer>> {
        self.all_pages("/v2/sepa/bulk_transfers", &[], "bulk_transfers")
            .await
    }

    async fn list_transfers_updated_since(&self, from: DateTime<Utc>) -> Result<Vec<SepaTransfer>> {
        let q = vec![(
            "updated_at_from",
            from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )];
        self.all_pages("/v2/sepa/transfers", &q, "transfers").await
    }

    async fn get_sca_session(&self, token: &ScaSessionToken) -> Result<ScaSession> {
        let t = Self::check_id("SCA session token", token.expose())?;
        let mut call = Call::get(format!("/v2/sca_sessions/{t}"));
        call.audit_path = "/v2/sca_sessions/***".into();
        let resp = self.execute(&call).await?;
        Self::decode_maybe_wrapped(&resp, "sca_session")
    }

    async fn decide_mocked_sca_session(
        &self,
        token: &ScaSessionToken,
        decision: MockScaDecision,
    ) -> Result<()> {
        if self.inner.production {
            return Err(QontoError::Config(
                "mocked SCA sessions exist only in the sandbox".into(),
            ));
        }
        let t = Self::check_id("SCA session token", token.expose())?;
        let verb = match decision {
            MockScaDecision::Allow => "allow",
            MockScaDecision::Deny => "deny",
        };
        let mut call = Call::post(format!("/v2/mocked_sca_sessions/{t}/{verb}"));
        call.audit_path = format!("/v2/mocked_sca_sessions/***/{verb}");
        self.execute(&call).await.map(|_| ())
    }

    async fn upload_attachment(
        &self,
        file: &AttachmentUpload,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Attachment> {
        file.validate()?;
        let mut call = Call::post("/v2/attachments").key(Some(idempotency_key));
        call.body = Body::Multipart(file.clone());
        let resp = self.execute(&call).await?;
        Self::decode_maybe_wrapped(&resp, "attachment")
    }

    async fn create_multi_transfer_request(
        &self,
        body: &Prepared<CreateMultiTransferRequest>,
        idempotency_key: &IdempotencyKey,
        sca: &ScaOptions,
    ) -> Result<MultiTransferRequest> {
        let call = Call::post("/v2/requests/multi_transfers")
            .json(body.bytes())
            .key(Some(idempotency_key))
            .sca(sca);
        let resp = self.execute(&call).await?;
        Self::decode_maybe_wrapped(&resp, "request_multi_transfer")
    }

    async fn list_multi_transfer_requests(&self) -> Result<Vec<MultiTransferRequest>> {
        let q = vec![("request_type", "multi_transfer".to_string())];
        self.all_pages("/v2/requests", &q, "requests").await
    }

    async fn create_webhook_subscription(
        &self,
        request: &NewWebhookSubscription,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<WebhookSubscription> {
        let body = Prepared::new(request)?;
        let call = Call::post("/v2/webhook_subscriptions")
            .json(body.bytes())
            .key(idempotency_key);
        let resp = self.execute(&call).await?;
        Self::decode_maybe_wrapped(&resp, "webhook_subscription")
    }

    async fn list_webhook_subscriptions(&self) -> Result<Vec<WebhookSubscription>> {
        let resp = self
            .execute(&Call::get("/v2/webhook_subscriptions"))
            .await?;
        let v: Value = Self::decode(&resp)?;
        let list = match v {
            Value::Array(_) => v,
            Value::Object(mut m) => m
                .remove("webhook_subscriptions")
                .or_else(|| m.remove("data"))
                .unwrap_or(Value::Array(Vec::new())),
            _ => Value::Array(Vec::new()),
        };
        serde_json::from_value(list).map_err(|e| QontoError::Decode {
            status: resp.status,
            message: e.to_string(),
            trace_id: resp.trace_id.clone(),
        })
    }

    async fn delete_webhook_subscription(&self, id: &str) -> Result<()> {
        let id = Self::check_id("webhook subscription id", id)?;
        let call = Call::new(Method::DELETE, format!("/v2/webhook_subscriptions/{id}"));
        self.execute(&call).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_brackets_and_encodes_values() {
        let q = vec![("iban[]", "FR76 1".to_owned()), ("ids[]", "a&b".to_owned())];
        assert_eq!(query_string(&q), "iban[]=FR76%201&ids[]=a%26b");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let r = RetryConfig {
            max_attempts: 5,
            base_delay_ms: 100,
            max_delay_ms: 1_000,
            max_retry_after_ms: 10_000,
        };
        for attempt in 1..10 {
            let d = backoff(&r, attempt);
            assert!(d <= Duration::from_millis(1_000));
        }
        assert!(backoff(&r, 1) >= Duration::from_millis(50));
        assert!(backoff(&r, 1) <= Duration::from_millis(100));
    }

    #[test]
    fn classification_of_documented_bodies() {
        let e = classify(
            428,
            br#"{"action_type":"transfer.single.create","code":"sca_required","message":"SCA required","sca_session_token":"tok","trace_id":"t1"}"#,
            None,
            None,
        );
        assert_eq!(
            e.sca_session_token().map(ScaSessionToken::expose),
            Some("tok")
        );
        assert_eq!(e.trace_id(), Some("t1"));
        let e = classify(
            428,
            br#"{"errors":[{"code":"sca_required","detail":"You must enable SCA to perform this action"}]}"#,
            Some("hdr".into()),
            None,
        );
        assert!(matches!(e, QontoError::ScaNotEnrolled { .. }));
        assert_eq!(e.trace_id(), Some("hdr"));
        let e = classify(
            428,
            br#"{"errors":[{"code":"sca_required","meta":{"sca_session_token":"tk"}}]}"#,
            None,
            None,
        );
        assert_eq!(
            e.sca_session_token().map(ScaSessionToken::expose),
            Some("tk")
        );
        let e = classify(
            422,
            br#"{"errors":{"message":"Not found"},"trace_id":"x"}"#,
            None,
            None,
        );
        assert!(matches!(e, QontoError::Api { status: 422, .. }));
        assert!(e.to_string().contains("Not found"));
        let e = classify(404, b"Not Found", Some("tyk".into()), None);
        assert!(matches!(e, QontoError::NotFound { .. }));
        let e = classify(
            401,
            br#"{"errors":[{"code":"vop_proof_token_missing","detail":"x"}]}"#,
            None,
            None,
        );
        assert!(matches!(e, QontoError::VopToken { .. }));
        let e = classify(
            400,
            br#"{"errors":[{"code":"payment_policy_approver_missing"}]}"#,
            None,
            None,
        );
        assert!(matches!(e, QontoError::ApprovalRequired { .. }));
    }
}
