//! Outcome events for the ERP (DESIGN §3 invariant 4, §6): written to the `events` outbox in the
//! same transaction as the state change they report, with one `deliveries` row per endpoint; the
//! [`crate::webhooks::Dispatcher`] sends them, signed the Standard Webhooks way.
//!
//! The body sent is the Standard Webhooks envelope, stored once and sent byte for byte on every
//! attempt: `{"type": "bill.paid", "timestamp": "2026-11-27T10:00:00.000Z", "data": {…}}`. The
//! `webhook-id` header is the event id (`msg_…`), the same on every retry and replay: receivers
//! deduplicate on it.
//!
//! Callers (intake, the payment engine) emit inside their own transaction:
//!
//! ```ignore
//! let w = store.begin_write().await?;
//! // … change the bill …
//! let mut data = events::bill_data(&bill_row);
//! events::merge(&mut data, json!({ "transfer_id": t, "paid_at": at, … }));
//! events::emit(&w.txn, &org, NewEvent::bill(EventType::BillPaid, &bill_row, data)?).await?;
//! w.commit().await?;
//! events::wake(); // optional: the dispatcher sends now instead of at its next poll
//! ```

use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::ids::{BillId, DeliveryId, EventId, OrgId, RunId, SourceId};
use crate::store::entities::{bill, delivery, event, source};
use crate::store::{in_list, insert_runs, StoreError};

/// The kinds of outcome events.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum EventType {
    /// A new bill was recorded (every new bill, payable or held).
    #[serde(rename = "bill.received")]
    BillReceived,
    /// A bill is held: at intake (with its hold reasons) or by a person.
    #[serde(rename = "bill.held")]
    BillHeld,
    /// A person released a held bill; it is ready to pay.
    #[serde(rename = "bill.released")]
    BillReleased,
    /// A payment run waits for a person's confirmation (e.g. payee check results to review).
    #[serde(rename = "payment_run.awaiting_confirmation")]
    PaymentRunAwaitingConfirmation,
    /// A payment run waits for Strong Customer Authentication in the Qonto app.
    #[serde(rename = "payment_run.awaiting_sca")]
    PaymentRunAwaitingSca,
    /// The bill's transfer was submitted to Qonto.
    #[serde(rename = "bill.payment_submitted")]
    BillPaymentSubmitted,
    /// The bill's transfer settled: mark the invoice paid.
    #[serde(rename = "bill.paid")]
    BillPaid,
    /// The bill's transfer failed, was declined or canceled; the bill is not paid.
    #[serde(rename = "bill.payment_failed")]
    BillPaymentFailed,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 8] = [
        EventType::BillReceived,
        EventType::BillHeld,
        EventType::BillReleased,
        EventType::PaymentRunAwaitingConfirmation,
        EventType::PaymentRunAwaitingSca,
        EventType::BillPaymentSubmitted,
        EventType::BillPaid,
        EventType::BillPaymentFailed,
    ];

    /// The name on the wire, e.g. `bill.paid`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::BillReceived => "bill.received",
            EventType::BillHeld => "bill.held",
            EventType::BillReleased => "bill.released",
            EventType::PaymentRunAwaitingConfirmation => "payment_run.awaiting_confirmation",
            EventType::PaymentRunAwaitingSca => "payment_run.awaiting_sca",
            EventType::BillPaymentSubmitted => "bill.payment_submitted",
            EventType::BillPaid => "bill.paid",
            EventType::BillPaymentFailed => "bill.payment_failed",
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown event type name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown event type {0:?}")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.chars().take(80).collect()))
    }
}

/// An event to record. `data` becomes the envelope's `data` object.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: EventType,
    /// The source whose callback gets it. `None` with a `bill_id`: the bill's source. `None`
    /// without a bill (run-level events): every source of the organization with a callback.
    pub source_id: Option<SourceId>,
    pub bill_id: Option<BillId>,
    pub run_id: Option<RunId>,
    pub data: serde_json::Value,
}

impl NewEvent {
    /// A bill-level event for `bill`'s source, with `data` (usually [`bill_data`] plus extras).
    pub fn bill(
        event_type: EventType,
        bill: &bill::Model,
        data: serde_json::Value,
    ) -> Result<NewEvent, StoreError> {
        Ok(NewEvent {
            event_type,
            source_id: Some(bill.source_id.parse().map_err(corrupt)?),
            bill_id: Some(bill.id.parse().map_err(corrupt)?),
            run_id: None,
            data,
        })
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Delivery statuses (DESIGN §4).
pub mod delivery_status {
    /// Not delivered yet: due, waiting for a retry, or paused while its endpoint is disabled.
    pub const PENDING: &str = "pending";
    /// The endpoint answered 2xx.
    pub const DELIVERED: &str = "delivered";
    /// Every attempt of the retry schedule failed (a person can replay it).
    pub const DEAD: &str = "dead";
    /// Dropped when an endpoint was re-enabled without redelivery.
    pub const CANCELED: &str = "canceled";
    pub const ALL: [&str; 4] = [PENDING, DELIVERED, DEAD, CANCELED];
}

static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Wake this process's dispatcher so it sends what was just committed without waiting for its
/// next poll. Call it after the transaction that emitted events commits (before, it would look
/// too early); it is only a nudge, the dispatcher polls anyway.
pub fn wake() {
    WAKE.notify_one();
}

/// What the dispatcher waits on besides its poll interval.
pub(crate) fn waker() -> &'static Notify {
    &WAKE
}

/// Record `event` for organization `org` on `conn` (the caller's transaction), with one
/// pending delivery per target endpoint: the event's source's callback, or for run-level events
/// (no source, no bill) every source of the organization that has a callback.
///
/// Endpoints that are disabled get their delivery too, paused: it goes out, in order, when the
/// endpoint is enabled again (or its callback URL is set anew), so nothing is lost meanwhile.
pub async fn emit<C: ConnectionTrait>(
    conn: &C,
    org: &OrgId,
    event: NewEvent,
) -> Result<EventId, StoreError> {
    emit_many(conn, vec![(org.clone(), event)])
        .await?
        .pop()
        .ok_or_else(|| corrupt("no id for the event"))
}

/// [`emit`] for several events at once, in order: the same rows (one event each, one pending
/// delivery per target endpoint), written with one look-up of the target sources and one
/// multi-row insert per table instead of a few statements per event (intake records a batch
/// of bills this way). Returns the events' ids in the order given.
pub async fn emit_many<C: ConnectionTrait>(
    conn: &C,
    events: Vec<(OrgId, NewEvent)>,
) -> Result<Vec<EventId>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // The source of each event: given, else its bill's (looked up), else none (run-level:
    // every source of the organization with a callback).
    let mut resolved = Vec::with_capacity(events.len());
    for (org, event) in events {
        let org_s = org.to_string();
        let mut source_id = event.source_id.as_ref().map(ToString::to_string);
        if source_id.is_none() {
            if let Some(b) = &event.bill_id {
                let row = bill::Entity::find_by_id(b.to_string())
                    .filter(bill::Column::OrgId.eq(org_s.clone()))
                    .one(conn)
                    .await?
                    .ok_or(StoreError::NotFound("bill"))?;
                source_id = Some(row.source_id);
            }
        }
        resolved.push((org_s, source_id, event));
    }

    // The endpoints: one look-up for all the events.
    let orgs = in_list(resolved.iter().map(|(o, _, _)| o));
    let mut q = source::Entity::find()
        .filter(source::Column::OrgId.is_in(orgs))
        .filter(source::Column::CallbackUrl.is_not_null());
    if resolved.iter().all(|(_, s, _)| s.is_some()) {
        let ids = in_list(resolved.iter().filter_map(|(_, s, _)| s.as_ref()));
        q = q.filter(source::Column::Id.is_in(ids));
    }
    let sources = q.all(conn).await?;

    let mut ids = Vec::with_capacity(resolved.len());
    let mut event_rows = Vec::with_capacity(resolved.len());
    let mut delivery_rows = Vec::new();
    for (org_s, source_id, event) in resolved {
        let id = EventId::new();
        let at = crate::store::now();
        let body = serde_json::json!({
            "type": event.event_type.as_str(),
            "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": event.data,
        })
        .to_string();
        let bill_id = event.bill_id.as_ref().map(ToString::to_string);
        event_rows.push(event::ActiveModel {
            id: Set(id.to_string()),
            org_id: Set(org_s.clone()),
            source_id: Set(source_id.clone()),
            bill_id: Set(bill_id.clone()),
            run_id: Set(event.run_id.as_ref().map(ToString::to_string)),
            event_type: Set(event.event_type.as_str().to_string()),
            payload: Set(body),
            created_at: Set(at),
        });
        let targets = sources
            .iter()
            .filter(|t| t.org_id == org_s && source_id.as_ref().is_none_or(|s| *s == t.id));
        let mut deliveries = 0;
        for t in targets {
            let Some(url) = &t.callback_url else { continue };
            deliveries += 1;
            delivery_rows.push(delivery::ActiveModel {
                id: Set(DeliveryId::new().to_string()),
                event_id: Set(id.to_string()),
                event_type: Set(event.event_type.as_str().to_string()),
                org_id: Set(org_s.clone()),
                source_id: Set(t.id.clone()),
                bill_id: Set(bill_id.clone()),
                url: Set(url.clone()),
                status: Set(delivery_status::PENDING.into()),
                attempts: Set(0),
                round_attempts: Set(0),
                next_attempt_at: Set(at),
                locked_by: Set(None),
                locked_until: Set(None),
                last_status_code: Set(None),
                last_error: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                delivered_at: Set(None),
            });
        }
        tracing::debug!(
            org_id = %org_s,
            event_id = %id,
            event_type = event.event_type.as_str(),
            bill_id = bill_id.as_deref(),
            deliveries,
            "event recorded"
        );
        ids.push(id);
    }
    for run in insert_runs(event_rows, 8) {
        event::Entity::insert_many(run)
            .exec_without_returning(conn)
            .await?;
    }
    for run in insert_runs(delivery_rows, 18) {
        delivery::Entity::insert_many(run)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(ids)
}

/// Add `extra`'s keys to the object `base` (overwriting), e.g. a transfer's keys to
/// [`bill_data`]. Does nothing unless both are objects.
pub fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(b), serde_json::Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
}

/// The bill part of every `bill.*` event's `data`, as a JSON object ([`BillEventData`]).
pub fn bill_data(bill: &bill::Model) -> serde_json::Value {
    serde_json::to_value(BillEventData::from(bill)).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Payload documentation (OpenAPI components). The structs are the contract: `bill_data` is
// built from `BillEventData`; the engine adds the documented extra keys.
// ---------------------------------------------------------------------------------------------

/// The body of every webhook (Standard Webhooks envelope).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookEnvelope {
    /// The event type, e.g. `bill.paid`.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When the event happened (RFC 3339, UTC). The `webhook-timestamp` header is the time of
    /// the attempt instead.
    pub timestamp: DateTime<Utc>,
    /// One of `BillEventData` (`bill.received`, `bill.held`, `bill.released`),
    /// `BillPaymentSubmittedData`, `BillPaidData`, `BillPaymentFailedData` or `PaymentRunEventData`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `data` of `bill.received`, `bill.held` and `bill.released`; the common part of every
/// `bill.*` event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BillEventData {
    /// billbridge's id of the bill (`bill_…`).
    pub bill_id: String,
    /// The source (ERP) the bill came from (`src_…`).
    pub source_id: String,
    /// The ERP's own id for the bill, as it sent it (or `sha256:…` of the document when it gave
    /// none): what the ERP looks the invoice up by.
    pub external_id: Option<String>,
    /// The invoice number (BT-1).
    pub number: Option<String>,
    /// The amount due (BT-115), a decimal string such as `"1100.10"`.
    pub amount: Option<String>,
    /// ISO 4217 currency code (`EUR`).
    pub currency: Option<String>,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// The bill's status when the event was recorded: `ready`, `held`, `in_run`, `submitted`,
    /// `paid`, `failed`, `canceled`.
    pub status: String,
    /// Why the bill is held (codes such as `iban_changed`, `duplicate`, `credit_note`); empty
    /// when it is not.
    pub hold_reasons: Vec<String>,
    /// The seller's legal name (BT-27).
    pub seller_name: Option<String>,
    pub seller_vat_id: Option<String>,
    /// Who is paid (the payee, else the seller).
    pub creditor_name: Option<String>,
    /// The payee's IBAN, masked (`FR76…0189`).
    pub iban_masked: Option<String>,
    /// The payment reference the invoice asked for (BT-83).
    pub payment_reference: Option<String>,
}

impl From<&bill::Model> for BillEventData {
    fn from(b: &bill::Model) -> Self {
        BillEventData {
            bill_id: b.id.clone(),
            source_id: b.source_id.clone(),
            external_id: b.external_id.clone(),
            number: b.number.clone(),
            amount: b.amount_due.clone(),
            currency: b.currency.clone(),
            issue_date: b.issue_date,
            due_date: b.due_date,
            status: b.status.clone(),
            hold_reasons: serde_json::from_str(&b.hold_reasons).unwrap_or_default(),
            seller_name: b.seller_name.clone(),
            seller_vat_id: b.seller_vat_id.clone(),
            creditor_name: b.creditor_name.clone(),
            iban_masked: b.iban.as_deref().map(crate::qonto::mask_iban),
            payment_reference: b.payment_reference.clone(),
        }
    }
}

/// `data` of `bill.payment_submitted`: the bill's keys and its transfer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillPaymentSubmittedData {
    #[serde(flatten)]
    pub bill: BillEventData,
    /// billbridge's transfer id (`trf_…`).
    pub transfer_id: String,
    /// Qonto's id of the transfer, once Qonto gave one.
    pub qonto_transfer_id: Option<String>,
    /// The payment run (`run_…`).
    pub run_id: String,
    /// The reference sent with the transfer (what the supplier sees on its statement): with
    /// per-supplier grouping, the joined references of the bills paid together.
    pub reference: String,
    /// Set when this bill was paid together with other bills of the same supplier by one
    /// transfer (`group_by_supplier`): the same value, and the same `qonto_transfer_id`, on
    /// each of them; the transfer's amount is the sum of theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
}

/// `data` of `bill.paid`: everything needed to mark the invoice paid.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillPaidData {
    #[serde(flatten)]
    pub bill: BillEventData,
    pub transfer_id: String,
    /// Qonto's id of the settled transfer.
    pub qonto_transfer_id: Option<String>,
    pub run_id: String,
    /// The reference sent with the transfer (see `bill.payment_submitted`).
    pub reference: String,
    /// When the transfer settled (RFC 3339).
    pub paid_at: DateTime<Utc>,
    /// Bills paid together by one transfer share it (see `bill.payment_submitted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
}

/// `data` of `bill.payment_failed`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillPaymentFailedData {
    #[serde(flatten)]
    pub bill: BillEventData,
    pub transfer_id: Option<String>,
    pub qonto_transfer_id: Option<String>,
    pub run_id: Option<String>,
    /// Why, as a code or Qonto's decline reason (e.g. `declined`, `insufficient_funds`).
    pub reason: String,
}

/// `data` of `payment_run.awaiting_confirmation` and `payment_run.awaiting_sca`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentRunEventData {
    /// The payment run (`run_…`).
    pub run_id: String,
    /// The run's status (`awaiting_confirmation`, `awaiting_sca`).
    pub status: String,
    /// The bills in the run (`bill_…`).
    pub bill_ids: Vec<String>,
    /// Their total, a decimal string.
    pub total_amount: Option<String>,
    pub currency: Option<String>,
    /// `awaiting_confirmation`: the preview (counts, per supplier, SCA, payee checks to
    /// review, warnings), as `GET /v1/payment-runs/{id}` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub summary: Option<serde_json::Value>,
    /// `awaiting_sca`: the chunk (one Qonto bulk transfer) waiting for approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_id: Option<String>,
    /// `awaiting_sca`: transfers waiting for the approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfers: Option<u64>,
    /// `awaiting_sca`: the SCA method (`paired-device`, `passkey`, `mock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sca_method: Option<String>,
    /// `awaiting_sca`: when the SCA session expires (15 minutes after it started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// `awaiting_sca`: what to tell the user ("open the Qonto app on your phone…").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for t in EventType::ALL {
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json, t.as_str());
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
            assert_eq!(serde_json::from_value::<EventType>(json).unwrap(), t);
        }
        assert!("bill.unknown".parse::<EventType>().is_err());
    }

    #[test]
    fn merge_adds_keys() {
        let mut a = serde_json::json!({"a": 1});
        merge(&mut a, serde_json::json!({"b": 2, "a": 3}));
        assert_eq!(a, serde_json::json!({"a": 3, "b": 2}));
    }
}
