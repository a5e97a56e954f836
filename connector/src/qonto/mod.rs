//! Client of the Qonto Business API (current `/v2/sepa/*` endpoints; API.md, DESIGN §5).
//!
//! * [`QontoApi`]: the operations billbridge needs, object-safe (`Arc<dyn QontoApi>`);
//!   [`QontoClient`] implements it with reqwest.
//! * [`QontoConfig`]: environment (production, sandbox, custom URLs), credentials, SCA method,
//!   timeouts, retries.
//! * [`QontoError`]: typed errors with [`QontoError::is_transient`], [`QontoError::retry_after`],
//!   [`QontoError::trace_id`], [`QontoError::class`].
//! * [`TokenStore`] / [`OAuthClient`]: OAuth 2.0 with rotating refresh tokens.
//! * [`AuditSink`]: one [`QontoCallRecord`] per HTTP exchange, without secrets.

#![warn(missing_docs)]

mod audit;
mod auth;
mod client;
mod config;
mod error;
mod lenient;
mod models;
mod validate;

pub use audit::{AuditSink, CallOutcome, MemoryAuditSink, QontoCallRecord, TracingAuditSink};
pub use auth::{
    AuthorizationRequest, InMemoryTokenStore, OAuthClient, StoredTokens, TokenSet, TokenStore,
};
pub use client::{QontoApi, QontoClient, QontoClientBuilder, ScaOptions};
pub use config::{
    ApiKeyConfig, Environment, OAuthAppConfig, QontoConfig, RetryConfig, ScaMethod,
    PRODUCTION_API_BASE, PRODUCTION_OAUTH_BASE, SANDBOX_API_BASE, SANDBOX_OAUTH_BASE,
};
pub use error::{ApiErrorItem, ErrorClass, NetworkErrorKind, QontoError, Result, ScaSessionToken};
pub use models::*;
pub use validate::{
    check_reference, is_sepa_char, mask_iban, normalize_iban, normalize_iban_shape, Amount,
    IdempotencyKey, ATTACHMENT_THRESHOLD_EUR, MAX_ATTACHMENTS, MAX_BULK_ITEMS,
    MAX_BULK_REFERENCE_LEN, MAX_IDS_PER_LIST, MAX_NAME_LEN, MAX_NOTE_LEN, MAX_SINGLE_REFERENCE_LEN,
};
