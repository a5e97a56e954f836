//! `/openapi.json`: the OpenAPI document of every endpoint (utoipa).

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "billbridge", description = "Pay supplier bills from your ERP through Qonto."),
    paths(
        super::health::healthz, super::health::readyz, super::metrics::render,
        super::intake::receive_bill,
        super::admin::create_org, super::admin::list_orgs,
        super::admin::create_source, super::admin::list_sources, super::admin::get_source,
        super::admin::rotate_secret, super::admin::set_callback, super::admin::set_mapping, super::admin::get_mapping,
        super::admin::list_bills, super::admin::get_bill, super::admin::hold_bill, super::admin::release_bill,
        super::admin::cancel_bill, super::admin::audit,
        super::runs::create_run, super::runs::list_runs, super::runs::get_run, super::runs::confirm_run,
        super::runs::cancel_run, super::runs::decide_sca, super::runs::bill_transfers, super::runs::retry_bill,
        super::runs::get_policy, super::runs::put_policy, super::runs::qonto_webhook,
        super::webhooks::list_events, super::webhooks::list_deliveries, super::webhooks::get_delivery,
        super::webhooks::replay_delivery, super::webhooks::enable_callback, super::webhooks::rotate_callback_secret,
        super::qonto::connect, super::qonto::oauth_callback, super::qonto::get_connection,
        super::qonto::delete_connection,
    ),
    // Outcome webhook bodies (what billbridge POSTs to a source's callback; README "Webhooks to
    // your ERP").
    components(schemas(
        crate::events::WebhookEnvelope, crate::events::EventType, crate::events::BillEventData,
        crate::events::BillPaymentSubmittedData, crate::events::BillPaidData,
        crate::events::BillPaymentFailedData, crate::events::PaymentRunEventData,
    )),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(openapi_json));
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
