//! `POST /v1/sources/{source_id}/bills`: signed intake of e-invoices and JSON bills.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use tracing::Instrument;

use super::error::ApiError;
use super::State;
use crate::ids::SourceId;
use crate::intake::Received;
use crate::signing::{self, ReceivedHeaders};
use crate::store::bills::{BillView, IntakeOutcome};
use crate::store::StoreError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sources/{source_id}/bills", web::post().to(receive_bill));
}

/// The document formats intake accepts, from `Content-Type`.
fn accepted(content_type: &str) -> Option<&'static str> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/xml" | "text/xml" => Some("application/xml"),
        "application/pdf" => Some("application/pdf"),
        "application/json" => Some("application/json"),
        _ => None,
    }
}

/// Receive a bill.
///
/// Signed the Standard Webhooks way with the source's secret (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature`). An optional `billbridge-external-id` header names
/// the ERP's id for an XML or PDF document (JSON bills carry `external_id`); without one, the
/// document's SHA-256 identifies it, so sending the same bytes twice gives one bill.
#[utoipa::path(
    post,
    path = "/v1/sources/{source_id}/bills",
    tag = "intake",
    params(("source_id" = String, Path, description = "The source the bill comes from")),
    request_body(description = "UBL or CII XML (application/xml), a Factur-X PDF (application/pdf) or a JSON bill (application/json)",
        content(
            (String = "application/xml"),
            (String = "application/pdf"),
            (Object = "application/json"),
        )),
    responses(
        (status = 201, description = "A new bill", body = BillView),
        (status = 200, description = "A repeat: the existing bill", body = BillView),
        (status = 401, description = "Missing, bad, expired signature", body = super::error::ErrorBody),
        (status = 404, description = "No such source", body = super::error::ErrorBody),
        (status = 409, description = "webhook-id reused for another body", body = super::error::ErrorBody),
        (status = 413, description = "Body above the size limit", body = super::error::ErrorBody),
        (status = 415, description = "Not XML, PDF or JSON", body = super::error::ErrorBody),
        (status = 422, description = "Unreadable document (coded)", body = super::error::ErrorBody),
    )
)]
pub async fn receive_bill(
    req: HttpRequest,
    path: web::Path<String>,
    mut payload: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let source_id: SourceId = path.into_inner().parse()?;
    let span = tracing::info_span!("intake", source_id = %source_id, org_id = tracing::field::Empty, bill_id = tracing::field::Empty);
    async move {
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(content_type) = accepted(content_type) else {
            state.metrics.intake("rejected", "unsupported_media_type");
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/xml (UBL or CII), application/pdf (Factur-X) or application/json",
            ));
        };
        let limit = state.settings.max_body_bytes;
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body is larger than {limit} bytes"),
            )
        };
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            state.metrics.intake("rejected", "too_large");
            return Err(too_large());
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ApiError::bad_request("bad_body", e.to_string()))?;
            if body.len() + chunk.len() > limit {
                state.metrics.intake("rejected", "too_large");
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();

        let src = match state.store.intake_source(&source_id, &state.keys).await {
            Ok(s) => s,
            Err(StoreError::NotFound(_)) => return Err(ApiError::not_found("source")),
            Err(e) => return Err(e.into()),
        };
        tracing::Span::current().record("org_id", tracing::field::display(&src.source.org_id));
        let headers =
            ReceivedHeaders::from_fn(|n| req.headers().get(n).and_then(|v| v.to_str().ok()));
        if let Err(e) = signing::verify(
            &src.secrets,
            &headers,
            &body,
            chrono::Utc::now(),
            state.settings.signature_tolerance,
        ) {
            state.metrics.intake("unauthorized", e.code());
            tracing::warn!(code = e.code(), "intake refused: signature");
            return Err(ApiError::unauthorized(e.code(), e.to_string()));
        }
        let header_external_id = req
            .headers()
            .get("billbridge-external-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 200)
            .map(str::to_string);
        let received = crate::intake::receive(
            &state.store,
            &src,
            crate::intake::Document {
                content_type,
                body: &body,
                external_id: header_external_id,
                webhook_id: headers.webhook_id.map(str::to_string),
                max_bytes: limit,
                actor: "intake",
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "webhook_id_reused", m),
            other => other.into(),
        })?;
        let outcome = match received {
            Received::Recorded(outcome) => *outcome,
            Received::Rejected(e) => {
                state.metrics.intake("rejected", e.code.as_str());
                tracing::info!(
                    code = e.code.as_str(),
                    "intake rejected: unreadable document"
                );
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    e.code.as_str(),
                    e.message,
                ));
            }
        };
        Ok(match outcome {
            IntakeOutcome::Created(view) => {
                tracing::Span::current().record("bill_id", tracing::field::display(&view.id));
                state.metrics.intake("created", &view.status);
                tracing::info!(status = %view.status, "bill received");
                HttpResponse::Created().json(view)
            }
            IntakeOutcome::Existing(view) => {
                tracing::Span::current().record("bill_id", tracing::field::display(&view.id));
                state.metrics.intake("repeat", &view.status);
                HttpResponse::Ok().json(view)
            }
        })
    }
    .instrument(span)
    .await
}
