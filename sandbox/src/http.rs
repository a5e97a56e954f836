//! The HTTP front: one dispatcher for every path (faults, trace ids, routing), and the common
//! request pipeline (staging token, auth, scopes, idempotency, SCA).

use crate::config::{IdempotencyConflict, StagingTokenFailure, SunsetResponse};
use crate::error::{ApiError, ErrObj};
use crate::faults::{self, Fault, FaultKind};
use crate::state::{OutgoingWebhook, ScaResult, State};
use crate::util::{query_pairs, sha256_hex};
use crate::webhook::WebhookDelivery;
use crate::{api, control};
use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc::UnboundedSender;

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub faults: Mutex<Vec<Fault>>,
    /// Wall-clock times of recent Qonto-route requests, for the rate limits.
    pub hits: Mutex<std::collections::VecDeque<std::time::Instant>>,
    pub deliveries: Arc<Mutex<Vec<WebhookDelivery>>>,
    pub webhook_tx: UnboundedSender<OutgoingWebhook>,
    pub trace_seq: AtomicU64,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn lock_faults(&self) -> MutexGuard<'_, Vec<Fault>> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Send queued webhooks to the dispatcher.
    pub fn flush(&self, st: &mut State) {
        for w in st.outbox.drain(..) {
            if self.webhook_tx.send(w).is_err() {
                tracing::warn!("webhook dispatcher is gone; delivery dropped");
            }
        }
    }
    /// Count one request against the rate limits; `Some(retry_after_secs)` when over.
    fn rate_limited(&self) -> Option<u64> {
        let limits = self.lock().cfg.rate_limits.clone();
        if limits.is_empty() {
            return None;
        }
        let now = std::time::Instant::now();
        let longest = limits.iter().map(|l| l.window_secs).max().unwrap_or(0);
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        while hits
            .front()
            .is_some_and(|t| now.duration_since(*t).as_secs() >= longest)
        {
            hits.pop_front();
        }
        for l in &limits {
            let window = std::time::Duration::from_secs(l.window_secs);
            let inside: Vec<&std::time::Instant> = hits
                .iter()
                .filter(|t| now.duration_since(**t) < window)
                .collect();
            if inside.len() >= l.max_requests as usize {
                let oldest = inside
                    .first()
                    .map(|t| now.duration_since(**t))
                    .unwrap_or_default();
                return Some(window.saturating_sub(oldest).as_secs().max(1));
            }
        }
        hits.push_back(now);
        None
    }

    fn trace_id(&self) -> String {
        let n = self.trace_seq.fetch_add(1, Ordering::Relaxed);
        format!("sbx{n:013x}")
    }
}

/// Duplicate of the connection's socket, kept in the connection data so a handler can close
/// the connection without answering ("commit then drop").
#[cfg(unix)]
pub(crate) struct ConnSocket(pub std::os::fd::OwnedFd);

pub(crate) fn on_connect(conn: &dyn std::any::Any, ext: &mut actix_web::dev::Extensions) {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            if let Ok(fd) = tcp.as_fd().try_clone_to_owned() {
                ext.insert(ConnSocket(fd));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (conn, ext);
}

/// Shut the underlying TCP socket down in both directions: the peer sees the connection close
/// with no answer, and actix fails writing the response.
fn drop_connection(req: &HttpRequest) -> bool {
    #[cfg(unix)]
    {
        if let Some(sock) = req.conn_data::<ConnSocket>() {
            if let Ok(fd) = sock.0.try_clone() {
                let stream = std::net::TcpStream::from(fd);
                return stream.shutdown(std::net::Shutdown::Both).is_ok();
            }
        }
        false
    }
    #[cfg(not(unix))]
    {
        let _ = req;
        false
    }
}

/// Entry point for every request.
pub(crate) async fn dispatch(
    req: HttpRequest,
    body: web::Bytes,
    sh: web::Data<Shared>,
) -> HttpResponse {
    let trace_id = sh.trace_id();
    let method = req.method().as_str().to_string();
    let path = req.path().to_string();
    let mut drop_after = false;
    if !path.starts_with("/_sandbox") {
        if let Some(retry_after) = sh.rate_limited() {
            return with_trace(
                HttpResponse::TooManyRequests()
                    .insert_header(("Retry-After", retry_after.to_string()))
                    .json(json!({
                        "errors": [{"code": "too_many_requests", "detail": "Too Many Requests"}],
                        "trace_id": trace_id,
                    })),
                &trace_id,
            );
        }
        let (latency, terminal) = {
            let mut f = sh.lock_faults();
            faults::take(&mut f, &method, &path)
        };
        if latency > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
        }
        match terminal {
            Some(FaultKind::ServerError { status }) => {
                tracing::info!(%method, %path, status, "fault: server error");
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return with_trace(
                    HttpResponse::build(status).json(json!({
                        "errors": [{"code": "unknown", "detail": "Unknown error"}],
                        "trace_id": trace_id,
                    })),
                    &trace_id,
                );
            }
            Some(FaultKind::RateLimited { retry_after }) => {
                tracing::info!(%method, %path, "fault: rate limited");
                let mut b = HttpResponse::TooManyRequests();
                if let Some(s) = retry_after {
                    b.insert_header(("Retry-After", s.to_string()));
                }
                return with_trace(
                    b.json(json!({
                        "errors": [{"code": "too_many_requests", "detail": "Too Many Requests"}],
                        "trace_id": trace_id,
                    })),
                    &trace_id,
                );
            }
            Some(FaultKind::CommitThenDrop) => drop_after = true,
            Some(FaultKind::Latency { .. }) | None => {}
        }
    }
    let ctx = Ctx {
        req: &req,
        body: &body,
        sh: &sh,
        trace_id: &trace_id,
    };
    let resp = route(&ctx, &method, &path);
    if drop_after {
        let dropped = drop_connection(&req);
        tracing::info!(%method, %path, dropped, "fault: commit then drop");
    }
    with_trace(resp, &trace_id)
}

fn with_trace(mut resp: HttpResponse, trace_id: &str) -> HttpResponse {
    if let Ok(v) = HeaderValue::from_str(trace_id) {
        resp.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-tyk-trace-id"),
            v,
        );
    }
    resp
}

pub(crate) struct Ctx<'a> {
    pub req: &'a HttpRequest,
    pub body: &'a [u8],
    pub sh: &'a Shared,
    pub trace_id: &'a str,
}

/// Gateway 404 for unknown routes: plain text, like Tyk.
pub(crate) fn gateway_not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("Not Found")
}

fn route(c: &Ctx, method: &str, path: &str) -> HttpResponse {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    use api::*;
    let put_ok = {
        let st = c.sh.lock();
        st.cfg.quirks.beneficiary_update_accepts_put
    };
    match (method, segs.as_slice()) {
        (_, ["_sandbox", rest @ ..]) => control::route(c, method, rest),
        // OAuth
        ("GET", ["oauth2", "auth"]) => oauth::authorize(c),
        ("POST", ["oauth2", "token"]) => oauth::token(c),
        ("POST", ["v2", "oauth2", "token"]) => {
            let alias = c.sh.lock().cfg.quirks.oauth_token_v2_alias;
            if alias {
                oauth::token(c)
            } else {
                gateway_not_found()
            }
        }
        ("POST", ["oauth2", "revoke"]) => oauth::revoke(c),
        // organization
        ("GET", ["v2", "organization"]) => api(c, Opts::read(), org::organization),
        ("GET", ["v2", "bank_accounts"]) => api(c, Opts::read(), org::list_accounts),
        ("GET", ["v2", "bank_accounts", id]) => {
            api(c, Opts::read(), |st, call| org::get_account(st, call, id))
        }
        // beneficiaries
        ("GET", ["v2", "sepa", "beneficiaries"]) => api(c, Opts::read(), beneficiaries::list),
        ("POST", ["v2", "sepa", "beneficiaries"]) => {
            api(c, Opts::write(Idem::Required), beneficiaries::create)
        }
        ("PATCH", ["v2", "sepa", "beneficiaries", "trust"]) => api(
            c,
            Opts::write(Idem::Optional).scope("beneficiary.trust"),
            |st, call| beneficiaries::set_trust(st, call, true),
        ),
        ("PATCH", ["v2", "sepa", "beneficiaries", "untrust"]) => {
            api(c, Opts::write(Idem::Optional), |st, call| {
                beneficiaries::set_trust(st, call, false)
            })
        }
        ("GET", ["v2", "sepa", "beneficiaries", id]) => {
            api(c, Opts::read(), |st, call| beneficiaries::get(st, call, id))
        }
        ("PATCH", ["v2", "sepa", "beneficiaries", id]) => {
            api(c, Opts::write(Idem::Optional), |st, call| {
                beneficiaries::update(st, call, id)
            })
        }
        ("PUT", ["v2", "sepa", "beneficiaries", id]) if put_ok => {
            api(c, Opts::write(Idem::Optional), |st, call| {
                beneficiaries::update(st, call, id)
            })
        }
        ("DELETE", ["v2", "sepa", "beneficiaries", id]) => {
            api(c, Opts::write(Idem::Optional), |st, call| {
                beneficiaries::delete(st, call, id)
            })
        }
        ("GET", ["v2", "beneficiaries"]) if c.sh.lock().cfg.quirks.legacy_beneficiaries_enabled => {
            api(c, Opts::read(), beneficiaries::list_legacy)
        }
        ("GET", ["v2", "beneficiaries", id])
            if c.sh.lock().cfg.quirks.legacy_beneficiaries_enabled =>
        {
            api(c, Opts::read(), |st, call| {
                beneficiaries::get_legacy(st, call, id)
            })
        }
        // VoP
        ("POST", ["v2", "sepa", "verify_payee"]) => {
            api(c, Opts::write(Idem::Optional), vop::verify)
        }
        ("POST", ["v2", "sepa", "bulk_verify_payee"]) => {
            api(c, Opts::write(Idem::Optional), vop::bulk_verify)
        }
        ("POST", ["v2", "sepa", "skip_verify_payee"]) => {
            api(c, Opts::write(Idem::Optional), vop::skip_verify)
        }
        // transfers
        ("POST", ["v2", "sepa", "transfers"]) => {
            api(c, Opts::money(Idem::Required), transfers::create)
        }
        ("GET", ["v2", "sepa", "transfers"]) => api(c, Opts::read(), transfers::list),
        ("GET", ["v2", "sepa", "transfers", id]) => {
            api(c, Opts::read(), |st, call| transfers::get(st, call, id))
        }
        ("POST", ["v2", "sepa", "transfers", id, "cancel"]) => {
            api(c, Opts::money(Idem::Optional), |st, call| {
                transfers::cancel(st, call, id)
            })
        }
        ("POST", ["v2", "sepa", "transfers", id, "download_proof"])
        | ("GET", ["v2", "sepa", "transfers", id, "proof"]) => {
            api(c, Opts::read(), |st, call| transfers::proof(st, call, id))
        }
        // bulk transfers
        ("POST", ["v2", "sepa", "bulk_transfers"]) => {
            api(c, Opts::money(Idem::Required), bulk::create)
        }
        ("GET", ["v2", "sepa", "bulk_transfers"]) => api(c, Opts::read(), bulk::list),
        ("GET", ["v2", "sepa", "bulk_transfers", id]) => {
            api(c, Opts::read(), |st, call| bulk::get(st, call, id))
        }
        // SCA
        ("GET", ["v2", "sca_sessions", token]) => api(c, Opts::read().no_scope(), |st, call| {
            sca::poll(st, call, token)
        }),
        ("GET", ["v2", "mocked_sca_sessions", token]) => {
            api(c, Opts::read().no_scope(), |st, call| {
                sca::poll(st, call, token)
            })
        }
        ("POST", ["v2", "mocked_sca_sessions", token, decision @ ("allow" | "deny")]) => {
            api(c, Opts::read().no_scope(), |st, call| {
                sca::mock_decide(st, call, token, *decision == "allow")
            })
        }
        // attachments
        ("POST", ["v2", "attachments"]) => {
            let required = c.sh.lock().cfg.quirks.attachment_idempotency_required;
            let idem = if required {
                Idem::Required
            } else {
                Idem::Optional
            };
            api(
                c,
                Opts::write(idem).scope("attachment.write"),
                attachments::upload,
            )
        }
        ("GET", ["v2", "attachments", id]) => {
            api(c, Opts::read(), |st, call| attachments::get(st, call, id))
        }
        // approval requests
        ("POST", ["v2", "requests", "multi_transfers"]) => api(
            c,
            Opts::write(Idem::Required).scope("request_transfers.write"),
            requests::create_multi,
        ),
        ("GET", ["v2", "requests"]) => api(c, Opts::read(), requests::list),
        // webhooks
        ("POST", ["v2", "webhook_subscriptions"]) => api(
            c,
            Opts::write(Idem::Optional).scope("webhook"),
            webhooks::create,
        ),
        ("GET", ["v2", "webhook_subscriptions"]) => {
            api(c, Opts::read().scope("webhook"), webhooks::list)
        }
        ("GET", ["v2", "webhook_subscriptions", id]) => {
            api(c, Opts::read().scope("webhook"), |st, call| {
                webhooks::get(st, call, id)
            })
        }
        ("DELETE", ["v2", "webhook_subscriptions", id]) => api(
            c,
            Opts::write(Idem::Optional).scope("webhook"),
            |st, call| webhooks::delete(st, call, id),
        ),
        // sunset legacy endpoints
        (_, ["v2", "external_transfers", ..]) => {
            let mode = c.sh.lock().cfg.quirks.sunset_response;
            match mode {
                SunsetResponse::NotFound => gateway_not_found(),
                SunsetResponse::Gone => HttpResponse::Gone().json(json!({
                    "errors": [{"code": "gone",
                                "detail": "This endpoint was sunset on March 31, 2026. Use /v2/sepa/transfers."}],
                    "trace_id": c.trace_id,
                })),
            }
        }
        _ => gateway_not_found(),
    }
}

// ------------------------------------------------------------------------------------------
// pipeline

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idem {
    None,
    Optional,
    Required,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Opts {
    pub scope: Option<&'static str>,
    pub money: bool,
    pub idem: Idem,
}

impl Opts {
    pub fn read() -> Self {
        Opts {
            scope: Some("organization.read"),
            money: false,
            idem: Idem::None,
        }
    }
    pub fn write(idem: Idem) -> Self {
        Opts {
            scope: Some("payment.write"),
            money: false,
            idem,
        }
    }
    pub fn money(idem: Idem) -> Self {
        Opts {
            scope: Some("payment.write"),
            money: true,
            idem,
        }
    }
    pub fn scope(mut self, s: &'static str) -> Self {
        self.scope = Some(s);
        self
    }
    pub fn no_scope(mut self) -> Self {
        self.scope = None;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    ApiKey,
    OAuth { scopes: Vec<String> },
}

/// One authenticated call, as seen by an endpoint.
pub(crate) struct Call<'a> {
    pub req: &'a HttpRequest,
    pub body: &'a [u8],
    pub query: Vec<(String, String)>,
    #[allow(dead_code)]
    pub principal: Principal,
    /// The request is an approved SCA replay: the endpoint must not ask for SCA again.
    pub sca_verified: bool,
    pub idem_key: Option<String>,
    pub now: DateTime<Utc>,
}

impl Call<'_> {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_json("empty body"));
        }
        serde_json::from_slice(self.body).map_err(ApiError::bad_json)
    }
    pub fn json_value(&self) -> Result<Value, ApiError> {
        self.json::<Value>()
    }
    /// First value of a query parameter.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// All values of an array parameter (`key[]=` or repeated `key=`).
    pub fn q_all(&self, key: &str) -> Vec<&str> {
        let arr = format!("{key}[]");
        self.query
            .iter()
            .filter(|(k, _)| *k == arr || k == key)
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .collect()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        header(self.req, name)
    }
}

pub(crate) fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// What an endpoint answers on success.
pub(crate) enum Reply {
    Json(u16, Value),
    Empty(u16),
    /// Raw bytes with a content type (e.g. a PDF proof).
    Bytes(&'static str, Vec<u8>),
}

/// Staging-token guard (`None` = passes).
pub(crate) fn staging_guard(st: &State, req: &HttpRequest) -> Option<HttpResponse> {
    if !st.cfg.require_staging_token {
        return None;
    }
    if header(req, "x-qonto-staging-token").as_deref() == Some(st.cfg.staging_token.as_str()) {
        return None;
    }
    let status = match st.cfg.quirks.staging_token_failure {
        StagingTokenFailure::HtmlOk => StatusCode::OK,
        StagingTokenFailure::HtmlUnauthorized => StatusCode::UNAUTHORIZED,
    };
    Some(
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(
                "<!DOCTYPE html><html><head><title>OneLogin</title></head><body>\
                 <h1>Sign in to Qonto staging</h1><p>Please log in with your OneLogin account \
                 to access this environment.</p></body></html>",
            ),
    )
}

fn authenticate(
    st: &mut State,
    req: &HttpRequest,
    now: DateTime<Utc>,
) -> Result<Principal, ApiError> {
    let Some(auth) = header(req, "authorization") else {
        return Err(ApiError::unauthorized("Missing Authorization header"));
    };
    if let Some(token) = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
    {
        return match st.access.get(token.trim()) {
            Some(t) if !t.revoked && t.expires_at > now => Ok(Principal::OAuth {
                scopes: t.scopes.clone(),
            }),
            Some(_) => Err(ApiError::unauthorized(
                "The access token expired or was revoked",
            )),
            None => Err(ApiError::unauthorized("Invalid access token")),
        };
    }
    match auth.split_once(':') {
        Some((login, secret)) if login == st.cfg.api_login && secret == st.cfg.api_secret => {
            Ok(Principal::ApiKey)
        }
        _ => Err(ApiError::unauthorized("Invalid API key")),
    }
}

/// Render an error the way Qonto does.
pub(crate) fn render_error(e: &ApiError, trace_id: &str) -> (u16, Value) {
    match e {
        ApiError::Api { status, errors } => (
            *status,
            json!({ "errors": errors.iter().map(ErrObj::to_json).collect::<Vec<_>>(), "trace_id": trace_id }),
        ),
        ApiError::ScaNotFound => (
            422,
            json!({ "errors": { "message": "Not found" }, "trace_id": trace_id }),
        ),
        ApiError::ScaPrecondition { code, message } => (
            412,
            json!({ "errors": [{ "code": code, "detail": message }], "code": code,
                    "message": message, "trace_id": trace_id }),
        ),
        ApiError::OAuth {
            status,
            error,
            description,
        } => (
            *status,
            json!({ "error": error, "error_description": description }),
        ),
        ApiError::ScaRequired { .. } => (
            428,
            json!({ "code": "sca_required", "message": "SCA required", "trace_id": trace_id }),
        ),
    }
}

pub(crate) fn json_response(status: u16, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
        .insert_header((CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(body)
}

fn reply_response(reply: Reply) -> HttpResponse {
    match reply {
        Reply::Json(status, v) => json_response(status, v.to_string().into_bytes()),
        Reply::Empty(status) => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::NO_CONTENT))
                .finish()
        }
        Reply::Bytes(ctype, bytes) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, ctype))
            .body(bytes),
    }
}

/// The common pipeline of a Qonto endpoint.
pub(crate) fn api<F>(c: &Ctx, opts: Opts, f: F) -> HttpResponse
where
    F: FnOnce(&mut State, &Call) -> Result<Reply, ApiError>,
{
    let mut guard = c.sh.lock();
    let st: &mut State = &mut guard;
    let resp = run(st, c, opts, f);
    c.sh.flush(st);
    resp
}

fn run<F>(st: &mut State, c: &Ctx, opts: Opts, f: F) -> HttpResponse
where
    F: FnOnce(&mut State, &Call) -> Result<Reply, ApiError>,
{
    let err = |e: ApiError| {
        let (status, v) = render_error(&e, c.trace_id);
        json_response(status, v.to_string().into_bytes())
    };
    if let Some(html) = staging_guard(st, c.req) {
        return html;
    }
    st.tick();
    let now = st.now();
    let principal = match authenticate(st, c.req, now) {
        Ok(p) => p,
        Err(e) => return err(e),
    };
    if let (Some(scope), Principal::OAuth { scopes }) = (opts.scope, &principal) {
        if !scopes.iter().any(|s| s == scope) {
            return err(ApiError::forbidden(format!(
                "missing required oauth scope: {scope}"
            )));
        }
    }
    if opts.money && principal == Principal::ApiKey && !st.cfg.quirks.api_key_can_move_money {
        return err(ApiError::forbidden(
            "This action requires OAuth 2.0 authentication",
        ));
    }
    let query = match query_pairs(c.req.query_string()) {
        Ok(q) => q,
        Err(e) => {
            return err(ApiError::bad_param(
                "query",
                format!("invalid query string: {e}"),
            ))
        }
    };
    let method = c.req.method().as_str().to_string();
    let path = c.req.path().to_string();
    let body_hash = sha256_hex(c.body);
    let idem_key = header(c.req, "x-qonto-idempotency-key").filter(|k| !k.is_empty());
    if opts.idem == Idem::Required && idem_key.is_none() {
        return err(ApiError::one(
            422,
            ErrObj::new(
                "missing_header",
                "X-Qonto-Idempotency-Key header is required",
            )
            .parameter("X-Qonto-Idempotency-Key"),
        ));
    }
    let idem_slot = match (&idem_key, opts.idem) {
        (Some(k), Idem::Optional | Idem::Required) => {
            Some((method.clone(), path.clone(), k.clone()))
        }
        _ => None,
    };
    if let Some(slot) = &idem_slot {
        if let Some(entry) = st.idem.get(slot) {
            if entry.body_hash == body_hash
                || st.cfg.quirks.idempotency_conflict == IdempotencyConflict::ReturnCached
            {
                tracing::debug!(%path, "idempotent replay");
                return json_response(entry.status, entry.body.clone());
            }
            return err(ApiError::one(
                422,
                ErrObj::new(
                    "idempotency_key_reused",
                    "This idempotency key was already used with a different request body",
                )
                .parameter("X-Qonto-Idempotency-Key"),
            ));
        }
    }
    let preference = header(c.req, "x-qonto-2fa-preference");
    let sca_token = header(c.req, "x-qonto-sca-session-token").filter(|t| !t.is_empty());
    let mut sca_verified = false;
    if let Some(tok) = &sca_token {
        let Some(s) = st.sca.get(tok) else {
            return err(ApiError::ScaNotFound);
        };
        if s.used
            || s.method != method
            || s.path != path
            || s.body_hash != body_hash
            || s.idempotency_key != idem_key
            || s.preference != preference
        {
            return err(ApiError::ScaNotFound);
        }
        if s.expired(now) {
            return err(ApiError::ScaPrecondition {
                code: "sca_session_expired",
                message: "The SCA session expired".into(),
            });
        }
        match s.result {
            ScaResult::Allow => sca_verified = true,
            ScaResult::Deny => {
                return err(ApiError::ScaPrecondition {
                    code: "sca_session_denied",
                    message: "The SCA session was denied".into(),
                })
            }
            ScaResult::Waiting => {
                return err(ApiError::ScaPrecondition {
                    code: "sca_session_not_completed",
                    message: "The SCA session is still waiting for the user".into(),
                })
            }
        }
    }
    let principal_is_api_key = principal == Principal::ApiKey;
    let call = Call {
        req: c.req,
        body: c.body,
        query,
        principal,
        sca_verified,
        idem_key: idem_key.clone(),
        now,
    };
    match f(st, &call) {
        Ok(reply) => {
            if let (true, Some(tok)) = (sca_verified, &sca_token) {
                if let Some(s) = st.sca.get_mut(tok) {
                    s.used = true;
                }
            }
            match reply {
                Reply::Json(status, v) => {
                    let bytes = v.to_string().into_bytes();
                    if let Some(slot) = idem_slot.filter(|_| (200..300).contains(&status)) {
                        st.idem.insert(
                            slot,
                            crate::state::IdemEntry {
                                body_hash,
                                status,
                                body: bytes.clone(),
                                created_at: now,
                            },
                        );
                    }
                    json_response(status, bytes)
                }
                other => reply_response(other),
            }
        }
        Err(ApiError::ScaRequired { action_type }) => {
            if principal_is_api_key && st.cfg.quirks.sca_requires_oauth {
                return err(ApiError::forbidden(
                    "Strong Customer Authentication requires OAuth 2.0: this action is not available with an API key",
                ));
            }
            if preference.as_deref() != Some("mock") {
                return json_response(
                    428,
                    json!({"code": "sca_not_enrolled",
                           "message": "You must enable SCA to perform this action",
                           "trace_id": c.trace_id})
                    .to_string()
                    .into_bytes(),
                );
            }
            let token =
                st.new_sca_session(action_type, &method, &path, body_hash, idem_key, preference);
            tracing::info!(action_type, "SCA session opened");
            let body = if st.cfg.quirks.sca_flat_body {
                json!({"action_type": action_type, "code": "sca_required", "message": "SCA required",
                       "sca_recovery_token": "necessary to prevent errors in legacy Android apps",
                       "sca_session_token": token, "trace_id": c.trace_id})
            } else {
                json!({"errors": [{"code": "sca_required", "detail": "SCA required",
                                   "meta": {"sca_session_token": token, "action_type": action_type}}],
                       "sca_session_token": token, "trace_id": c.trace_id})
            };
            json_response(428, body.to_string().into_bytes())
        }
        Err(e) => err(e),
    }
}

/// Pagination over a slice: validates `page`/`per_page` and builds the documented `meta`.
pub(crate) fn paginate<T: Clone>(
    call: &Call,
    items: &[T],
    default_per_page: u32,
    omit_next_on_last: bool,
) -> Result<(Vec<T>, Value), ApiError> {
    let page: u64 = match call.q("page") {
        None => 1,
        Some(p) => p.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
            ApiError::bad_param("page", "page must be an integer greater than or equal to 1")
        })?,
    };
    let per_page: u64 = match call.q("per_page") {
        None => u64::from(default_per_page),
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| (1..=100).contains(p))
            .ok_or_else(|| {
                ApiError::bad_param("per_page", "per_page must be an integer between 1 and 100")
            })?,
    };
    let total = items.len() as u64;
    let total_pages = total.div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page);
    let slice: Vec<T> = items
        .iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(per_page).unwrap_or(100))
        .cloned()
        .collect();
    let mut meta = json!({
        "current_page": page,
        "next_page": if page < total_pages { json!(page + 1) } else { Value::Null },
        "prev_page": if page > 1 { json!(page - 1) } else { Value::Null },
        "total_pages": total_pages,
        "total_count": total,
        "per_page": per_page,
    });
    if omit_next_on_last && page >= total_pages {
        if let Some(m) = meta.as_object_mut() {
            m.remove("next_page");
        }
    }
    Ok((slice, meta))
}
