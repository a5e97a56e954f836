//! Prometheus metrics at `/metrics` (text exposition format).

use std::future::{ready, Ready};
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::HttpResponse;
use futures_util::future::LocalBoxFuture;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::State;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route pattern (`/v1/bills/{bill_id}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntakeLabels {
    /// `created`, `repeat`, `rejected`, `unauthorized`.
    pub outcome: String,
    /// `ready`/`held` for created bills, the error code otherwise.
    pub detail: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<HttpLabels, Histogram>,
    pub intake: Family<IntakeLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("billbridge");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let intake = Family::<IntakeLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            http_duration.clone(),
        );
        registry.register(
            "intake_bills",
            "Bills offered at intake, by outcome",
            intake.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            http_requests,
            http_duration,
            intake,
        }
    }

    pub fn intake(&self, outcome: &str, detail: &str) {
        self.intake
            .get_or_create(&IntakeLabels {
                outcome: outcome.to_string(),
                detail: detail.to_string(),
            })
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The Prometheus scrape endpoint.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn render(state: State) -> HttpResponse {
    let mut out = String::new();
    let encoded = match state.metrics.registry.lock() {
        Ok(r) => prometheus_client::encoding::text::encode(&mut out, &r).is_ok(),
        Err(_) => false,
    };
    if !encoded {
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(out)
}

/// Middleware counting requests and their latency per route pattern, and writing the access log.
pub struct RequestMetrics;

impl<S, B> Transform<S, ServiceRequest> for RequestMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestMetricsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestMetricsMiddleware { service }))
    }
}

pub struct RequestMetricsMiddleware<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RequestMetricsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let start = Instant::now();
        let method = req.method().to_string();
        let state = req.app_data::<State>().cloned();
        let fut = self.service.call(req);
        Box::pin(async move {
            let res = fut.await?;
            if let Some(state) = state {
                let labels = HttpLabels {
                    method,
                    route: res
                        .request()
                        .match_pattern()
                        .unwrap_or_else(|| "unmatched".to_string()),
                    status: res.status().as_u16(),
                };
                // The access log: route pattern (never the raw path or query), status, time.
                tracing::info!(
                    method = %labels.method,
                    route = %labels.route,
                    status = labels.status,
                    ms = start.elapsed().as_millis() as u64,
                    "request"
                );
                state.metrics.http_requests.get_or_create(&labels).inc();
                state
                    .metrics
                    .http_duration
                    .get_or_create(&labels)
                    .observe(start.elapsed().as_secs_f64());
            }
            Ok(res)
        })
    }
}
