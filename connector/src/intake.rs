//! Receiving one document for a source — shared by the HTTP intake and `billbridge ingest`:
//! read it (JSON through the source's mapping), keep and log a rejection, or record the bill
//! (the external id defaults to the document's SHA-256, so the same bytes make one bill).

use crate::store::bills::{IntakeOutcome, NewBill};
use crate::store::sources::IntakeSource;
use crate::store::{sha256_hex, Store, StoreError};

/// A document as it arrived.
pub struct Document<'a> {
    /// `application/xml`, `application/pdf`, `application/json`, or anything else to sniff.
    pub content_type: &'a str,
    pub body: &'a [u8],
    /// The caller's id for the bill, when the transport carries one (JSON's `external_id` wins).
    pub external_id: Option<String>,
    pub webhook_id: Option<String>,
    pub max_bytes: usize,
    /// Who brought it (`intake`, `ingest`), for history and audit.
    pub actor: &'a str,
}

/// What became of a document.
pub enum Received {
    Recorded(Box<IntakeOutcome>),
    /// Unreadable; the payload is kept and the rejection is in the audit log.
    Rejected(adapters::ParseError),
}

pub async fn receive(
    store: &Store,
    src: &IntakeSource,
    doc: Document<'_>,
) -> Result<Received, StoreError> {
    let opts = adapters::ParseOptions {
        max_bytes: doc.max_bytes,
        ..adapters::ParseOptions::default()
    };
    let parsed = match doc.content_type {
        "application/json" => adapters::parse_json(doc.body, src.mapping.as_ref(), &opts),
        "application/pdf" => adapters::parse_pdf(doc.body, &opts),
        "application/xml" => adapters::parse_xml(doc.body, &opts),
        // Anything else (`ingest` of a file of unknown shape): let the reader tell.
        _ => adapters::parse(doc.body, &opts),
    };
    let bill = match parsed {
        Ok(bill) => bill,
        Err(e) => {
            store
                .record_rejection(
                    &src.source.org_id,
                    &src.source.id,
                    doc.content_type,
                    doc.body,
                    e.code.as_str(),
                    &e.message,
                )
                .await?;
            return Ok(Received::Rejected(e));
        }
    };
    let sha = sha256_hex(doc.body);
    let external_id = bill
        .external_id
        .clone()
        .or(doc.external_id)
        .unwrap_or_else(|| format!("sha256:{sha}"));
    let outcome = store
        .record_bill(NewBill {
            org_id: &src.source.org_id,
            source_id: &src.source.id,
            external_id: Some(external_id),
            webhook_id: doc.webhook_id,
            content_type: doc.content_type,
            body: doc.body,
            body_sha256: sha,
            bill,
            actor: doc.actor,
        })
        .await?;
    Ok(Received::Recorded(Box::new(outcome)))
}
