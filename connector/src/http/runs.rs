//! Payment runs, the payment policy, and Qonto's webhooks.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::{org_of, State};
use crate::engine::{Confirmation, NewRun};
use crate::ids::{BillId, OrgId, RunId};
use crate::store::payments::{PaymentPolicy, RunFilter, RunView, TransferView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/payment-runs", web::post().to(create_run))
        .route("/payment-runs", web::get().to(list_runs))
        .route("/payment-runs/{run_id}", web::get().to(get_run))
        .route(
            "/payment-runs/{run_id}/confirm",
            web::post().to(confirm_run),
        )
        .route("/payment-runs/{run_id}/cancel", web::post().to(cancel_run))
        .route(
            "/payment-runs/{run_id}/sca/{decision}",
            web::post().to(decide_sca),
        )
        .route("/bills/{bill_id}/transfers", web::get().to(bill_transfers))
        .route("/bills/{bill_id}/retry", web::post().to(retry_bill))
        .route("/settings/payments", web::get().to(get_policy))
        .route("/settings/payments", web::put().to(put_policy))
        .route("/qonto/webhooks/{org_id}", web::post().to(qonto_webhook));
}

fn actor(org: &OrgId) -> String {
    format!("api:{org}")
}

/// Create a payment run from ready bills (ids or a filter). The run first verifies payees and
/// builds its preview (`verifying` → `awaiting_confirmation`); confirm it to pay.
#[utoipa::path(post, path = "/v1/payment-runs", tag = "payments", request_body = NewRun,
    responses((status = 201, body = RunView), (status = 409, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_run(
    req: HttpRequest,
    state: State,
    body: web::Json<NewRun>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let engine = state.engine()?;
    let run = engine
        .create_run(&org, &body, "manual", &actor(&org))
        .await?;
    Ok(HttpResponse::Created().json(run))
}

/// The organization's runs, newest first.
#[utoipa::path(get, path = "/v1/payment-runs", tag = "payments", params(RunFilter),
    responses((status = 200, body = Vec<RunView>)), security(("bearer" = [])))]
pub async fn list_runs(
    req: HttpRequest,
    state: State,
    q: web::Query<RunFilter>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    Ok(HttpResponse::Ok().json(state.store.scoped(&org).list_runs(&q).await?))
}

/// One run with its preview, chunks and transfers.
#[utoipa::path(get, path = "/v1/payment-runs/{run_id}", tag = "payments", params(("run_id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_run(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: RunId = path.into_inner().parse()?;
    Ok(HttpResponse::Ok().json(state.store.scoped(&org).get_run(&id).await?))
}

/// Confirm a previewed run: payees that did not match must be accepted or excluded.
#[utoipa::path(post, path = "/v1/payment-runs/{run_id}/confirm", tag = "payments", params(("run_id" = String, Path)),
    request_body = Confirmation,
    responses((status = 200, body = RunView), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn confirm_run(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    body: Option<web::Json<Confirmation>>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: RunId = path.into_inner().parse()?;
    let c = body.map(|b| b.into_inner()).unwrap_or_default();
    let run = state
        .engine()?
        .confirm_run(&org, &id, &c, &actor(&org))
        .await?;
    Ok(HttpResponse::Ok().json(run))
}

/// Cancel a run not yet sent to Qonto; its bills go back to `ready`.
#[utoipa::path(post, path = "/v1/payment-runs/{run_id}/cancel", tag = "payments", params(("run_id" = String, Path)),
    responses((status = 200, body = RunView), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn cancel_run(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: RunId = path.into_inner().parse()?;
    let run = state.engine()?.cancel_run(&org, &id, &actor(&org)).await?;
    Ok(HttpResponse::Ok().json(run))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ScaDecided {
    /// SCA sessions decided.
    pub sessions: usize,
    pub decision: String,
}

/// Sandbox only: approve (`allow`) or refuse (`deny`) the SCA sessions a run waits on, as
/// the user would in the Qonto app. Refused with 409 when connected to production.
#[utoipa::path(post, path = "/v1/payment-runs/{run_id}/sca/{decision}", tag = "payments",
    params(("run_id" = String, Path), ("decision" = String, Path, description = "allow or deny")),
    responses((status = 200, body = ScaDecided), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn decide_sca(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let (run, decision) = path.into_inner();
    let id: RunId = run.parse()?;
    let allow = match decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return Err(ApiError::not_found("route")),
    };
    let n = state.engine()?.decide_sca(&org, &id, allow).await?;
    Ok(HttpResponse::Ok().json(ScaDecided {
        sessions: n,
        decision,
    }))
}

/// Every payment attempt of a bill.
#[utoipa::path(get, path = "/v1/bills/{bill_id}/transfers", tag = "payments", params(("bill_id" = String, Path)),
    responses((status = 200, body = Vec<TransferView>)), security(("bearer" = [])))]
pub async fn bill_transfers(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: BillId = path.into_inner().parse()?;
    Ok(HttpResponse::Ok().json(state.store.scoped(&org).bill_transfers(id.as_str()).await?))
}

/// Send a failed bill (declined or canceled at Qonto) back to `ready`.
#[utoipa::path(post, path = "/v1/bills/{bill_id}/retry", tag = "payments", params(("bill_id" = String, Path)),
    responses((status = 204), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn retry_bill(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let id: BillId = path.into_inner().parse()?;
    state.engine()?.retry_bill(&org, &id, &actor(&org)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The organization's payment policy.
#[utoipa::path(get, path = "/v1/settings/payments", tag = "payments",
    responses((status = 200, body = PaymentPolicy)), security(("bearer" = [])))]
pub async fn get_policy(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let mut p = state.store.payment_policy(&org).await?;
    p.qonto_webhook_secret_sealed = None;
    Ok(HttpResponse::Ok().json(p))
}

/// Changes to the payment policy; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpdate {
    pub autopay: Option<bool>,
    #[schema(value_type = Option<String>)]
    pub autopay_limit: Option<rust_decimal::Decimal>,
    pub accept_close_match: Option<bool>,
    pub accept_unverified: Option<bool>,
    /// `paired-device`, `passkey` or `mock`; empty string to unset.
    pub sca_method: Option<String>,
    /// Clear the learned "plan refuses bulk" flag (after an upgrade of the Qonto plan).
    pub plan_forbids_bulk: Option<bool>,
    /// Send runs as approval requests an owner or admin approves in Qonto.
    pub approval_requests: Option<bool>,
    pub included_transfers_per_month: Option<u32>,
    /// Pay the bills of one supplier in a run by one transfer (never bills with an `RF`
    /// creditor reference).
    pub group_by_supplier: Option<bool>,
    /// Create missing Qonto beneficiaries by API when a run is submitted.
    pub create_beneficiaries: Option<bool>,
    /// Clear the learned "Qonto asks for SCA to create a beneficiary" flag.
    pub beneficiary_create_needs_sca: Option<bool>,
    /// The secret of the Qonto webhook subscription (`X-Qonto-Signature`); stored encrypted.
    pub qonto_webhook_secret: Option<String>,
}

/// Change the payment policy.
#[utoipa::path(put, path = "/v1/settings/payments", tag = "payments", request_body = PolicyUpdate,
    responses((status = 200, body = PaymentPolicy), (status = 422, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn put_policy(
    req: HttpRequest,
    state: State,
    body: web::Json<PolicyUpdate>,
) -> Result<HttpResponse, ApiError> {
    let org = org_of(&req, &state).await?;
    let u = body.into_inner();
    if let Some(l) = u.autopay_limit {
        if l <= rust_decimal::Decimal::ZERO || l.scale() > 2 {
            return Err(ApiError::unprocessable(
                "invalid_autopay_limit",
                "autopay_limit must be a positive amount with at most two decimals",
            ));
        }
    }
    if let Some(m) = u.sca_method.as_deref().filter(|m| !m.is_empty()) {
        crate::engine::parse_sca_method(m)?;
    }
    let sealed = match &u.qonto_webhook_secret {
        Some(s) if s.len() < 16 || s.len() > 256 => {
            return Err(ApiError::unprocessable(
                "invalid_secret",
                "qonto_webhook_secret must be 16 to 256 characters",
            ))
        }
        Some(s) => Some(
            state
                .keys
                .encrypt(
                    s.as_bytes(),
                    format!("billbridge:qonto-webhook:{org}").as_bytes(),
                )
                .map_err(|e| ApiError::unprocessable("invalid_secret", e.to_string()))?,
        ),
        None => None,
    };
    let mut p = state
        .store
        .update_payment_policy(&org, &actor(&org), |p| {
            if let Some(v) = u.autopay {
                p.autopay = v;
            }
            if let Some(v) = u.autopay_limit {
                p.autopay_limit = v;
            }
            if let Some(v) = u.accept_close_match {
                p.accept_close_match = v;
            }
            if let Some(v) = u.accept_unverified {
                p.accept_unverified = v;
            }
            if let Some(v) = &u.sca_method {
                p.sca_method = (!v.is_empty()).then(|| v.clone());
            }
            if let Some(v) = u.plan_forbids_bulk {
                p.plan_forbids_bulk = v;
            }
            if let Some(v) = u.approval_requests {
                p.approval_requests = v;
            }
            if let Some(v) = u.included_transfers_per_month {
                p.included_transfers_per_month = Some(v);
            }
            if let Some(v) = u.group_by_supplier {
                p.group_by_supplier = v;
            }
            if let Some(v) = u.create_beneficiaries {
                p.create_beneficiaries = v;
            }
            if let Some(v) = u.beneficiary_create_needs_sca {
                p.beneficiary_create_needs_sca = v;
            }
            if let Some(s) = sealed {
                p.qonto_webhook_secret_sealed = Some(s);
            }
        })
        .await?;
    p.qonto_webhook_secret_sealed = None;
    Ok(HttpResponse::Ok().json(p))
}

/// Qonto's webhooks (`v1/transactions`), signed `X-Qonto-Signature`. A valid one makes
/// billbridge poll Qonto for transfer statuses now; its content is not trusted for payment
/// states. Unsigned, forged or stale requests get 401.
#[utoipa::path(post, path = "/v1/qonto/webhooks/{org_id}", tag = "payments", params(("org_id" = String, Path)),
    responses((status = 204), (status = 401, body = super::error::ErrorBody)))]
pub async fn qonto_webhook(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let unauthorized = || {
        ApiError::unauthorized(
            "invalid_signature",
            "the Qonto webhook signature is not valid",
        )
    };
    let org: OrgId = path.into_inner().parse().map_err(|_| unauthorized())?;
    let policy = match state.store.payment_policy(&org).await {
        Ok(p) => p,
        Err(crate::store::StoreError::NotFound(_)) => return Err(unauthorized()),
        Err(e) => return Err(e.into()),
    };
    let Some(sealed) = policy.qonto_webhook_secret_sealed else {
        return Err(ApiError::unauthorized(
            "no_webhook_secret",
            "no Qonto webhook secret is set for this organization (PUT /v1/settings/payments)",
        ));
    };
    let secret = state
        .keys
        .decrypt(
            &sealed,
            format!("billbridge:qonto-webhook:{org}").as_bytes(),
        )
        .map_err(|_| unauthorized())?;
    let header = req
        .headers()
        .get("x-qonto-signature")
        .and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = crate::engine::qonto_webhook::verify(
        secrecy::ExposeSecret::expose_secret(&secret),
        header,
        &body,
        now,
        300,
    ) {
        tracing::warn!(org_id = %org, reason = %e, "refused a Qonto webhook");
        return Err(ApiError::unauthorized("invalid_signature", e.to_string()));
    }
    if let Some(engine) = &state.engine {
        engine.nudge_follow_up();
    }
    Ok(HttpResponse::NoContent().finish())
}
