//! Request and response types of the Qonto Business API (`/v2/sepa/*` generation).
//!
//! Responses are parsed leniently (API.md §14): unknown fields are ignored, amounts may be
//! numbers or strings, beneficiaries may carry their IBAN flat or under `bank_account`, the bulk
//! transfer may come with or without its wrapper, `proof_token` may be a string or an object.
//! Requests are checked strictly by [`Validate`] before they are serialised once into a
//! [`Prepared`] body.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use super::error::{ApiErrorItem, QontoError};
use super::lenient;
use super::validate::{
    check_len, check_reference, normalize_iban_shape, Amount, MAX_ATTACHMENTS, MAX_BULK_ITEMS,
    MAX_BULK_REFERENCE_LEN, MAX_NAME_LEN, MAX_NOTE_LEN, MAX_SINGLE_REFERENCE_LEN,
};

// ---------------------------------------------------------------------------------------------
// Prepared bodies

/// A request body checked and serialised once. The bytes are what is sent on every attempt and
/// on the SCA replay (DESIGN §3 invariant 2): persist [`Prepared::as_bytes`] with the
/// idempotency key, and rebuild with [`Prepared::from_persisted`] to replay.
pub struct Prepared<T> {
    bytes: Bytes,
    _kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Prepared<T> {
    fn clone(&self) -> Self {
        Prepared {
            bytes: self.bytes.clone(),
            _kind: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Prepared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies carry IBANs and names: show only the size.
        write!(f, "Prepared({} bytes)", self.bytes.len())
    }
}

impl<T: Serialize + Validate> Prepared<T> {
    /// Validates `value` and serialises it to JSON.
    pub fn new(value: &T) -> Result<Self, QontoError> {
        value.validate()?;
        let bytes = serde_json::to_vec(value)
            .map_err(|e| QontoError::InvalidRequest(format!("cannot serialise body: {e}")))?;
        Ok(Prepared {
            bytes: Bytes::from(bytes),
            _kind: PhantomData,
        })
    }
}

impl<T> Prepared<T> {
    /// Wraps bytes persisted from an earlier [`Prepared::new`], to replay them unchanged.
    /// They must be a JSON object (nothing else is checked: the point is to send them as they are).
    pub fn from_persisted(bytes: impl Into<Bytes>) -> Result<Self, QontoError> {
        let bytes = bytes.into();
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(_)) => Ok(Prepared {
                bytes,
                _kind: PhantomData,
            }),
            _ => Err(QontoError::InvalidRequest(
                "persisted body is not a JSON object".into(),
            )),
        }
    }

    /// The exact bytes sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }
}

/// Local checks done before a request is sent.
pub trait Validate {
    /// Refuses what Qonto would refuse or what would silently lose information.
    fn validate(&self) -> Result<(), QontoError>;
}

fn check_normalized_iban(iban: &str) -> Result<(), QontoError> {
    if normalize_iban_shape(iban)? != iban {
        return Err(QontoError::InvalidRequest(
            "IBAN must be normalised (upper case, no spaces)".into(),
        ));
    }
    Ok(())
}

fn check_attachments(amount: &Amount, ids: &[String]) -> Result<(), QontoError> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(QontoError::InvalidRequest(format!(
            "at most {MAX_ATTACHMENTS} attachments per transfer"
        )));
    }
    if amount.needs_attachment() && ids.is_empty() {
        return Err(QontoError::InvalidRequest(
            "a transfer above 30,000 EUR needs at least one attachment".into(),
        ));
    }
    Ok(())
}

fn check_note(note: &Option<String>) -> Result<(), QontoError> {
    match note {
        Some(n) => check_len("note", n, 0, MAX_NOTE_LEN),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Common

/// Pagination block (`meta`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    /// Current page (1-based).
    #[serde(default)]
    pub current_page: Option<u32>,
    /// Next page, `null` or absent on the last page.
    #[serde(default)]
    pub next_page: Option<u32>,
    /// Total pages.
    #[serde(default)]
    pub total_pages: Option<u32>,
    /// Total items.
    #[serde(default)]
    pub total_count: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Organization and bank accounts

/// `GET /v2/organization` → `organization`.
#[derive(Debug, Clone, Deserialize)]
pub struct Organization {
    /// Qonto organization id.
    pub id: String,
    /// Display name.
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    pub name: String,
    /// Slug.
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    pub slug: String,
    /// Legal name.
    #[serde(default)]
    pub legal_name: Option<String>,
    /// Bank accounts.
    #[serde(default, deserialize_with = "lenient::vec_or_null")]
    pub bank_accounts: Vec<BankAccount>,
}

impl Organization {
    /// The main, active, non-external EUR account (the debit account of DESIGN §5).
    pub fn main_eur_account(&self) -> Option<&BankAccount> {
        self.bank_accounts
            .iter()
            .find(|a| a.main && a.is_active() && !a.is_external_account && a.currency == "EUR")
    }
}

/// A bank account (`bank_accounts[]`, `bank_account`).
#[derive(Debug, Clone, Deserialize)]
pub struct BankAccount {
    /// Id to use as `bank_account_id` (not the slug).
    pub id: String,
    /// Slug.
    #[serde(default)]
    pub slug: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    pub name: String,
    /// IBAN (empty for some external accounts).
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    pub iban: String,
    /// BIC.
    #[serde(default)]
    pub bic: Option<String>,
    /// Currency (`EUR`).
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    pub currency: String,
    /// Balance in euros.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub balance: Option<Decimal>,
    /// Balance in cents.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub balance_cents: Option<i64>,
    /// Available for payments, in euros.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub authorized_balance: Option<Decimal>,
    /// Available for payments, in cents (check this before a run).
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub authorized_balance_cents: Option<i64>,
    /// `active` or `closed`.
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    pub status: String,
    /// The organization's main account.
    #[serde(default, deserialize_with = "lenient::bool_or_null")]
    pub main: bool,
    /// A connected non-Qonto account (never debit it).
    #[serde(default, deserialize_with = "lenient::bool_or_null")]
    pub is_external_account: bool,
    /// Last update.
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl BankAccount {
    /// `status == "active"`.
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    /// Available balance in euros: from `authorized_balance_cents` when given, else
    /// `authorized_balance`.
    pub fn available(&self) -> Option<Decimal> {
        self.authorized_balance_cents
            .map(|c| Decimal::new(c, 2))
            .or(self.authorized_balance)
    }
}

// ---------------------------------------------------------------------------------------------
// Beneficiaries

/// A SEPA beneficiary. IBAN/BIC/currency come flat (docs) or under `bank_account` (sandbox).
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawBeneficiary")]
pub struct Beneficiary {
    /// Id (`beneficiary_id`).
    pub id: String,
    /// Name.
    pub name: String,
    /// IBAN (as Qonto returns it).
    pub iban: String,
    /// BIC, when known.
    pub bic: Option<String>,
    /// Currency, when given.
    pub currency: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Activity tag.
    pub activity_tag: Option<String>,
    /// `pending`, `validated` or `declined`.
    pub status: String,
    /// Transfers by `beneficiary_id` need no SCA.
    pub trusted: bool,
    /// Creation time.
    pub created_at: Option<DateTime<Utc>>,
    /// Last update.
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct RawBeneficiaryAccount {
    #[serde(default)]
    iban: Option<String>,
    #[serde(default)]
    bic: Option<String>,
    #[serde(default)]
    currency: Option<String>,
}

#[derive(Deserialize)]
struct RawBeneficiary {
    id: String,
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    name: String,
    #[serde(default)]
    iban: Option<String>,
    #[serde(default)]
    bic: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    bank_account: Option<RawBeneficiaryAccount>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    activity_tag: Option<String>,
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    status: String,
    #[serde(default, deserialize_with = "lenient::bool_or_null")]
    trusted: bool,
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    updated_at: Option<DateTime<Utc>>,
}

impl From<RawBeneficiary> for Beneficiary {
    fn from(r: RawBeneficiary) -> Self {
        let (n_iban, n_bic, n_cur) = match r.bank_account {
            Some(a) => (a.iban, a.bic, a.currency),
            None => (None, None, None),
        };
        Beneficiary {
            id: r.id,
            name: r.name,
            iban: r.iban.or(n_iban).unwrap_or_default(),
            bic: r.bic.or(n_bic),
            currency: r.currency.or(n_cur),
            email: r.email,
            activity_tag: r.activity_tag,
            status: r.status,
            trusted: r.trusted,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Filters of `GET /v2/sepa/beneficiaries`.
#[derive(Debug, Clone, Default)]
pub struct BeneficiaryFilter {
    /// `iban[]` (normalised IBANs). Long lists are split over several requests.
    pub ibans: Vec<String>,
    /// `trusted`.
    pub trusted: Option<bool>,
    /// `status[]` (`pending`, `validated`, `declined`).
    pub statuses: Vec<String>,
}

/// Beneficiary data sent inline in a transfer or to `POST /v2/sepa/beneficiaries`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewBeneficiary {
    /// Name (1..=140).
    pub name: String,
    /// Normalised IBAN.
    pub iban: String,
    /// BIC.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bic: Option<String>,
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    /// Activity tag.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub activity_tag: Option<String>,
}

impl Validate for NewBeneficiary {
    fn validate(&self) -> Result<(), QontoError> {
        check_len("beneficiary name", &self.name, 1, MAX_NAME_LEN)?;
        check_normalized_iban(&self.iban)
    }
}

/// Body of `POST /v2/sepa/beneficiaries`: `{"beneficiary":{…}}`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateBeneficiary {
    /// The beneficiary.
    pub beneficiary: NewBeneficiary,
}

impl Validate for CreateBeneficiary {
    fn validate(&self) -> Result<(), QontoError> {
        self.beneficiary.validate()
    }
}

/// Who is paid: an existing beneficiary (`beneficiary_id`; no SCA if trusted) or inline data
/// (`beneficiary`; always SCA).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub enum Payee {
    /// `beneficiary_id`.
    #[serde(rename = "beneficiary_id")]
    BeneficiaryId(String),
    /// `beneficiary`.
    #[serde(rename = "beneficiary")]
    Inline(NewBeneficiary),
}

impl Validate for Payee {
    fn validate(&self) -> Result<(), QontoError> {
        match self {
            Payee::BeneficiaryId(id) if id.trim().is_empty() => {
                Err(QontoError::InvalidRequest("beneficiary_id is empty".into()))
            }
            Payee::BeneficiaryId(_) => Ok(()),
            Payee::Inline(b) => b.validate(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Verification of Payee

/// VoP match result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum MatchResult {
    /// Exact match.
    #[serde(rename = "MATCH_RESULT_MATCH")]
    Match,
    /// Close match (`matched_name` says the bank's name).
    #[serde(rename = "MATCH_RESULT_CLOSE_MATCH")]
    CloseMatch,
    /// No match.
    #[serde(rename = "MATCH_RESULT_NO_MATCH")]
    NoMatch,
    /// The bank could not verify.
    #[serde(rename = "MATCH_RESULT_NOT_POSSIBLE")]
    NotPossible,
    /// Unspecified (treat as not possible).
    #[serde(rename = "MATCH_RESULT_UNSPECIFIED")]
    Unspecified,
    /// A value this client does not know (treat as not possible).
    #[serde(other)]
    Unknown,
}

impl MatchResult {
    /// Only an exact match goes through without a person's review.
    pub fn is_match(self) -> bool {
        self == MatchResult::Match
    }
}

/// Body of `POST /v2/sepa/verify_payee`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyPayeeRequest {
    /// Normalised IBAN.
    pub iban: String,
    /// Name to check (1..=140).
    pub beneficiary_name: String,
}

impl Validate for VerifyPayeeRequest {
    fn validate(&self) -> Result<(), QontoError> {
        check_len("beneficiary_name", &self.beneficiary_name, 1, MAX_NAME_LEN)?;
        check_normalized_iban(&self.iban)
    }
}

/// A VoP proof token, given as `"proof_…"` or `{"token":"proof_…"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofToken(pub String);

impl<'de> Deserialize<'de> for ProofToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Str(String),
            Obj { token: String },
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Str(s) | Raw::Obj { token: s } => ProofToken(s),
        })
    }
}

/// Result of a single VoP.
#[derive(Debug, Clone, Deserialize)]
pub struct VerifyPayeeResult {
    /// The match result (`NotPossible` when the responding bank failed, see `bank_error`).
    pub match_result: MatchResult,
    /// Name held by the payee's bank (close matches).
    #[serde(default)]
    pub matched_name: Option<String>,
    /// Proof token for the transfer (valid 23 h).
    pub proof_token: ProofToken,
    /// Set when Qonto answered 400 because the responding bank failed but still gave a token.
    #[serde(skip)]
    pub bank_error: Option<String>,
}

/// One payee of a bulk VoP.
#[derive(Debug, Clone, Serialize)]
pub struct BulkVerifyPayeeItem {
    /// Our correlation id.
    pub id: String,
    /// Name to check.
    pub beneficiary_name: String,
    /// Normalised IBAN.
    pub iban: String,
}

/// Body of `POST /v2/sepa/bulk_verify_payee` (1..=400 payees).
#[derive(Debug, Clone, Serialize)]
pub struct BulkVerifyPayeeRequest {
    /// The payees.
    pub requests: Vec<BulkVerifyPayeeItem>,
}

impl Validate for BulkVerifyPayeeRequest {
    fn validate(&self) -> Result<(), QontoError> {
        check_count("requests", self.requests.len())?;
        for r in &self.requests {
            check_len("id", &r.id, 1, 255)?;
            check_len("beneficiary_name", &r.beneficiary_name, 1, MAX_NAME_LEN)?;
            check_normalized_iban(&r.iban)?;
        }
        Ok(())
    }
}

fn check_count(what: &str, n: usize) -> Result<(), QontoError> {
    if n == 0 || n > MAX_BULK_ITEMS {
        return Err(QontoError::InvalidRequest(format!(
            "{what} must hold 1..={MAX_BULK_ITEMS} items, got {n}"
        )));
    }
    Ok(())
}

/// Error of one bulk VoP entry (`error_code` string or `error{code,detail}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VopEntryError {
    /// Code (e.g. `SINGLE_REQUEST_ERROR_CODE_BAD_REQUEST_ERROR_RESPONDING_BANK_NOT_AVAILABLE`).
    pub code: String,
    /// Detail, if any.
    pub detail: Option<String>,
}

/// One entry of a bulk VoP result, correlated by `id`.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawBulkVerifyEntry")]
pub struct BulkVerifyEntry {
    /// Our correlation id.
    pub id: String,
    /// The match result, when the verification went through.
    pub match_result: Option<MatchResult>,
    /// Name held by the payee's bank.
    pub matched_name: Option<String>,
    /// The error, when it did not.
    pub error: Option<VopEntryError>,
}

#[derive(Deserialize)]
struct RawVopResponse {
    #[serde(default)]
    match_result: Option<MatchResult>,
    #[serde(default)]
    matched_name: Option<String>,
}

#[derive(Deserialize)]
struct RawVopError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

#[derive(Deserialize)]
struct RawBulkVerifyEntry {
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    id: String,
    #[serde(default)]
    response: Option<RawVopResponse>,
    #[serde(default)]
    match_result: Option<MatchResult>,
    #[serde(default)]
    matched_name: Option<String>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    error: Option<RawVopError>,
}

impl From<RawBulkVerifyEntry> for BulkVerifyEntry {
    fn from(r: RawBulkVerifyEntry) -> Self {
        let (match_result, matched_name) = match r.response {
            Some(resp) => (resp.match_result, resp.matched_name),
            None => (r.match_result, r.matched_name),
        };
        let error = match (r.error, r.error_code) {
            (Some(e), _) => Some(VopEntryError {
                code: e.code.unwrap_or_else(|| "unknown".into()),
                detail: e.detail,
            }),
            (None, Some(code)) => Some(VopEntryError { code, detail: None }),
            (None, None) if match_result.is_none() => Some(VopEntryError {
                code: "missing_result".into(),
                detail: None,
            }),
            (None, None) => None,
        };
        BulkVerifyEntry {
            id: r.id,
            match_result,
            matched_name,
            error,
        }
    }
}

/// Result of a bulk VoP: one token for exactly this set of IBANs, and one entry per payee.
#[derive(Debug, Clone, Deserialize)]
pub struct BulkVerifyPayeeResult {
    /// Batch-level proof token (valid 23 h, only for these IBANs).
    pub proof_token: ProofToken,
    /// Per-payee entries.
    #[serde(default, deserialize_with = "lenient::vec_or_null")]
    pub requests: Vec<BulkVerifyEntry>,
}

// ---------------------------------------------------------------------------------------------
// Transfers

/// The `transfer` object of `POST /v2/sepa/transfers`.
#[derive(Debug, Clone, Serialize)]
pub struct NewTransfer {
    /// Who is paid.
    #[serde(flatten)]
    pub payee: Payee,
    /// Debit account id.
    pub bank_account_id: String,
    /// Reference sent to the payee (≤ 99 characters, SEPA character set).
    pub reference: String,
    /// Amount in EUR.
    pub amount: Amount,
    /// Internal note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Attachments (required above 30,000 EUR, ≤ 5).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachment_ids: Vec<String>,
    /// Execution date; immediately when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_date: Option<NaiveDate>,
}

/// Body of `POST /v2/sepa/transfers`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateTransfer {
    /// VoP proof token (the same one on the SCA replay).
    pub vop_proof_token: String,
    /// The transfer.
    pub transfer: NewTransfer,
}

impl Validate for CreateTransfer {
    fn validate(&self) -> Result<(), QontoError> {
        check_len("vop_proof_token", &self.vop_proof_token, 1, 4096)?;
        let t = &self.transfer;
        t.payee.validate()?;
        check_len("bank_account_id", &t.bank_account_id, 1, 255)?;
        check_reference(&t.reference, MAX_SINGLE_REFERENCE_LEN)?;
        check_note(&t.note)?;
        check_attachments(&t.amount, &t.attachment_ids)
    }
}

/// Status of a SEPA transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    /// Created, not processed yet.
    Pending,
    /// Balance debited, being sent.
    Processing,
    /// Canceled by a user (final).
    Canceled,
    /// Rejected (final).
    Declined,
    /// Sent to the network (final; "paid").
    Settled,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

impl TransferStatus {
    /// Final states never change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TransferStatus::Canceled | TransferStatus::Declined | TransferStatus::Settled
        )
    }
}

fn unknown_status() -> TransferStatus {
    TransferStatus::Unknown
}

/// A SEPA transfer.
#[derive(Debug, Clone, Deserialize)]
pub struct SepaTransfer {
    /// Id.
    pub id: String,
    /// Status.
    #[serde(default = "unknown_status")]
    pub status: TransferStatus,
    /// Amount in euros (number or string in the wild).
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub amount: Option<Decimal>,
    /// Amount in cents (exact).
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub amount_cents: Option<i64>,
    /// Currency.
    #[serde(default)]
    pub amount_currency: Option<String>,
    /// Beneficiary.
    #[serde(default)]
    pub beneficiary_id: Option<String>,
    /// Debit account.
    #[serde(default)]
    pub bank_account_id: Option<String>,
    /// Initiator membership.
    #[serde(default)]
    pub initiator_id: Option<String>,
    /// Reference.
    #[serde(default)]
    pub reference: Option<String>,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
    /// Why it was declined.
    #[serde(default)]
    pub declined_reason: Option<String>,
    /// Execution date.
    #[serde(default, deserialize_with = "lenient::date_opt")]
    pub scheduled_date: Option<NaiveDate>,
    /// Transaction id once processing.
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// Creation time.
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    pub created_at: Option<DateTime<Utc>>,
    /// Last update.
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Processing time.
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    pub processed_at: Option<DateTime<Utc>>,
    /// Completion time.
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    pub completed_at: Option<DateTime<Utc>>,
}

impl SepaTransfer {
    /// The amount, exact: from `amount_cents` when given, else `amount`.
    pub fn amount_eur(&self) -> Option<Decimal> {
        self.amount_cents
            .map(|c| Decimal::new(c, 2))
            .or(self.amount)
    }
}

// ---------------------------------------------------------------------------------------------
// Bulk transfers

/// One item of a bulk transfer.
#[derive(Debug, Clone, Serialize)]
pub struct BulkTransferItem {
    /// Our transfer id, used to correlate results.
    pub client_transfer_id: String,
    /// Who is paid.
    #[serde(flatten)]
    pub payee: Payee,
    /// Reference (≤ 140 characters, SEPA character set).
    pub reference: String,
    /// Amount in EUR.
    pub amount: Amount,
    /// Execution date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_date: Option<NaiveDate>,
    /// Internal note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Attachments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachment_ids: Vec<String>,
}

/// Body of `POST /v2/sepa/bulk_transfers` (flat, no wrapper).
#[derive(Debug, Clone, Serialize)]
pub struct CreateBulkTransfer {
    /// Token of a bulk VoP over exactly these payees.
    pub vop_proof_token: String,
    /// Debit account id.
    pub bank_account_id: String,
    /// 1..=400 items.
    pub bulk_transfers: Vec<BulkTransferItem>,
}

impl Validate for CreateBulkTransfer {
    fn validate(&self) -> Result<(), QontoError> {
        check_len("vop_proof_token", &self.vop_proof_token, 1, 4096)?;
        check_len("bank_account_id", &self.bank_account_id, 1, 255)?;
        check_count("bulk_transfers", self.bulk_transfers.len())?;
        let mut seen = std::collections::HashSet::new();
        for item in &self.bulk_transfers {
            check_len("client_transfer_id", &item.client_transfer_id, 1, 255)?;
            if !seen.insert(item.client_transfer_id.as_str()) {
                return Err(QontoError::InvalidRequest(
                    "client_transfer_id must be unique within a bulk".into(),
                ));
            }
            item.payee.validate()?;
            check_reference(&item.reference, MAX_BULK_REFERENCE_LEN)?;
            check_note(&item.note)?;
            check_attachments(&item.amount, &item.attachment_ids)?;
        }
        Ok(())
    }
}

/// Creation status of one bulk item (not the payment status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkResultStatus {
    /// Not created yet.
    Pending,
    /// Transfer created (`transfer_id` set).
    Completed,
    /// Creation failed (`errors` set).
    Failed,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

fn unknown_bulk_status() -> BulkResultStatus {
    BulkResultStatus::Unknown
}

/// One result of a bulk transfer.
#[derive(Debug, Clone, Deserialize)]
pub struct BulkTransferResult {
    /// Our id.
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    pub client_transfer_id: String,
    /// Creation status.
    #[serde(default = "unknown_bulk_status")]
    pub status: BulkResultStatus,
    /// The created transfer.
    #[serde(default)]
    pub transfer_id: Option<String>,
    /// Errors, flattened from either documented shape.
    #[serde(default, deserialize_with = "de_error_items")]
    pub errors: Vec<ApiErrorItem>,
}

/// A bulk transfer.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawBulkTransfer")]
pub struct BulkTransfer {
    /// Id.
    pub id: String,
    /// Initiator membership.
    pub initiator_id: Option<String>,
    /// Creation time.
    pub created_at: Option<DateTime<Utc>>,
    /// Last update.
    pub updated_at: Option<DateTime<Utc>>,
    /// Item count.
    pub total_count: Option<i64>,
    /// Items created.
    pub completed_count: Option<i64>,
    /// Items failed.
    pub failed_count: Option<i64>,
    /// Items pending.
    pub pending_count: Option<i64>,
    /// Per-item results.
    pub results: Vec<BulkTransferResult>,
}

#[derive(Deserialize)]
struct RawBulkTransfer {
    id: String,
    #[serde(default)]
    initiator_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    total_count: Option<i64>,
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    completed_count: Option<i64>,
    /// Documented typo (API.md §10.2).
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    completed_ount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    failed_count: Option<i64>,
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pending_count: Option<i64>,
    #[serde(default, deserialize_with = "lenient::vec_or_null")]
    results: Vec<BulkTransferResult>,
}

impl From<RawBulkTransfer> for BulkTransfer {
    fn from(r: RawBulkTransfer) -> Self {
        BulkTransfer {
            id: r.id,
            initiator_id: r.initiator_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            total_count: r.total_count,
            completed_count: r.completed_count.or(r.completed_ount),
            failed_count: r.failed_count,
            pending_count: r.pending_count,
            results: r.results,
        }
    }
}

/// A bulk transfer with or without its `{"bulk_transfer": …}` wrapper.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum MaybeWrappedBulk {
    Wrapped { bulk_transfer: BulkTransfer },
    Bare(BulkTransfer),
}

impl From<MaybeWrappedBulk> for BulkTransfer {
    fn from(m: MaybeWrappedBulk) -> Self {
        match m {
            MaybeWrappedBulk::Wrapped { bulk_transfer } | MaybeWrappedBulk::Bare(bulk_transfer) => {
                bulk_transfer
            }
        }
    }
}

/// Reads error items from any documented shape: JSON:API list, nested `[{errors:[…]}]`,
/// a single object, `source.pointer` or `source.properties.pointer`, `message` for `detail`.
pub(crate) fn error_items_from(v: &serde_json::Value) -> Vec<ApiErrorItem> {
    use serde_json::Value;
    fn s(v: Option<&Value>) -> Option<String> {
        v.and_then(Value::as_str).map(str::to_owned)
    }
    let mut out = Vec::new();
    match v {
        Value::Array(items) => {
            for item in items {
                out.extend(error_items_from(item));
            }
        }
        Value::Object(map) => {
            if let Some(nested) = map.get("errors") {
                out.extend(error_items_from(nested));
                if map.get("code").is_none() && map.get("detail").is_none() {
                    return out;
                }
            }
            let source = map.get("source");
            let pointer = source
                .and_then(|s| s.get("pointer"))
                .or_else(|| {
                    source
                        .and_then(|s| s.get("properties"))
                        .and_then(|p| p.get("pointer"))
                })
                .and_then(Value::as_str)
                .map(str::to_owned);
            out.push(ApiErrorItem {
                code: s(map.get("code")),
                detail: s(map.get("detail")).or_else(|| s(map.get("message"))),
                pointer,
                parameter: s(source.and_then(|s| s.get("parameter"))),
            });
        }
        Value::String(text) => out.push(ApiErrorItem {
            code: None,
            detail: Some(text.clone()),
            pointer: None,
            parameter: None,
        }),
        _ => {}
    }
    out
}

fn de_error_items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ApiErrorItem>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(error_items_from(&v))
}

// ---------------------------------------------------------------------------------------------
// SCA

/// Result of an SCA session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaResult {
    /// Not yet decided.
    Waiting,
    /// Approved: replay the request.
    Allow,
    /// Refused or expired.
    Deny,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

/// `GET /v2/sca_sessions/{token}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ScaSession {
    /// The result.
    pub result: ScaResult,
    /// When it was canceled.
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    pub canceled_at: Option<DateTime<Utc>>,
}

/// Sandbox decision for a mocked SCA session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockScaDecision {
    /// `POST /v2/mocked_sca_sessions/{token}/allow`.
    Allow,
    /// `POST /v2/mocked_sca_sessions/{token}/deny`.
    Deny,
}

// ---------------------------------------------------------------------------------------------
// Attachments

/// A file to upload (`POST /v2/attachments`, multipart part `file`).
#[derive(Clone)]
pub struct AttachmentUpload {
    /// File name sent in the part.
    pub file_name: String,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Bytes,
}

impl fmt::Debug for AttachmentUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttachmentUpload")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Validate for AttachmentUpload {
    fn validate(&self) -> Result<(), QontoError> {
        if !matches!(
            self.content_type.as_str(),
            "application/pdf" | "image/jpeg" | "image/png"
        ) {
            return Err(QontoError::InvalidRequest(
                "attachments must be PDF, JPEG or PNG".into(),
            ));
        }
        if self.bytes.is_empty() {
            return Err(QontoError::InvalidRequest("attachment is empty".into()));
        }
        check_len("file name", &self.file_name, 1, 255)
    }
}

/// An uploaded attachment.
#[derive(Debug, Clone, Deserialize)]
pub struct Attachment {
    /// Id to put in `attachment_ids`.
    pub id: String,
    /// File name, when returned.
    #[serde(default)]
    pub file_name: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Transfer requests (approval flow)

/// One transfer of a multi-transfer request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestTransferItem {
    /// Amount in EUR.
    pub amount: Amount,
    /// Always `EUR`.
    pub currency: &'static str,
    /// Normalised IBAN of the payee.
    pub credit_iban: String,
    /// Payee name (≤ 140).
    pub credit_account_name: String,
    /// Always `EUR`.
    pub credit_account_currency: &'static str,
    /// Reference (≤ 140, SEPA character set).
    pub reference: String,
    /// Attachments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachment_ids: Vec<String>,
}

impl RequestTransferItem {
    /// An EUR transfer item.
    pub fn eur(
        amount: Amount,
        credit_iban: String,
        credit_account_name: String,
        reference: String,
    ) -> Self {
        RequestTransferItem {
            amount,
            currency: "EUR",
            credit_iban,
            credit_account_name,
            credit_account_currency: "EUR",
            reference,
            attachment_ids: Vec::new(),
        }
    }
}

/// The `request_multi_transfer` object.
#[derive(Debug, Clone, Serialize)]
pub struct MultiTransferRequestData {
    /// Why (shown to the approver).
    pub note: String,
    /// 1..=400 transfers.
    pub transfers: Vec<RequestTransferItem>,
    /// Execution date for all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_date: Option<NaiveDate>,
    /// Debit IBAN (main account when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debit_iban: Option<String>,
}

/// Body of `POST /v2/requests/multi_transfers`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateMultiTransferRequest {
    /// The request.
    pub request_multi_transfer: MultiTransferRequestData,
}

impl Validate for CreateMultiTransferRequest {
    fn validate(&self) -> Result<(), QontoError> {
        let r = &self.request_multi_transfer;
        check_len("note", &r.note, 1, 1000)?;
        check_count("transfers", r.transfers.len())?;
        if let Some(iban) = &r.debit_iban {
            check_normalized_iban(iban)?;
        }
        for t in &r.transfers {
            check_normalized_iban(&t.credit_iban)?;
            check_len(
                "credit_account_name",
                &t.credit_account_name,
                1,
                MAX_NAME_LEN,
            )?;
            check_reference(&t.reference, MAX_BULK_REFERENCE_LEN)?;
            check_attachments(&t.amount, &t.attachment_ids)?;
        }
        Ok(())
    }
}

/// A created multi-transfer request.
#[derive(Debug, Clone, Deserialize)]
pub struct MultiTransferRequest {
    /// Id.
    pub id: String,
    /// `pending`, `approved`, `declined`, …
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    pub status: String,
    /// Total amount.
    #[serde(default, deserialize_with = "lenient::decimal_opt")]
    pub total_transfers_amount: Option<Decimal>,
    /// Number of transfers.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub total_transfers_count: Option<i64>,
    /// Creation time.
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    pub created_at: Option<DateTime<Utc>>,
    /// The note given at creation (billbridge puts its chunk id there).
    #[serde(default)]
    pub note: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Webhook subscriptions

/// Body of `POST /v2/webhook_subscriptions`.
#[derive(Debug, Clone)]
pub struct NewWebhookSubscription {
    /// HTTPS callback (≤ 512).
    pub callback_url: String,
    /// Event types (≥ 1), e.g. `v1/transactions`.
    pub types: Vec<String>,
    /// Signing secret (32..=128 characters; Qonto generates one when absent).
    pub secret: Option<SecretString>,
    /// Description (≤ 256).
    pub description: Option<String>,
}

impl Serialize for NewWebhookSubscription {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("callback_url", &self.callback_url)?;
        m.serialize_entry("types", &self.types)?;
        if let Some(secret) = &self.secret {
            m.serialize_entry("secret", secret.expose_secret())?;
        }
        if let Some(d) = &self.description {
            m.serialize_entry("description", d)?;
        }
        m.end()
    }
}

impl Validate for NewWebhookSubscription {
    fn validate(&self) -> Result<(), QontoError> {
        check_len("callback_url", &self.callback_url, 1, 512)?;
        if !self.callback_url.starts_with("https://") {
            return Err(QontoError::InvalidRequest(
                "callback_url must be an https URL".into(),
            ));
        }
        if self.types.is_empty() {
            return Err(QontoError::InvalidRequest(
                "at least one webhook type".into(),
            ));
        }
        if let Some(secret) = &self.secret {
            check_len("secret", secret.expose_secret(), 32, 128)?;
        }
        if let Some(d) = &self.description {
            check_len("description", d, 0, 256)?;
        }
        Ok(())
    }
}

/// A webhook subscription. `secret` is only returned on creation.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSubscription {
    /// Id.
    pub id: String,
    /// Organization.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Callback URL.
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    pub callback_url: String,
    /// Event types.
    #[serde(default, deserialize_with = "lenient::vec_or_null")]
    pub types: Vec<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Signing secret (creation response only).
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// Creation time.
    #[serde(default, deserialize_with = "lenient::datetime_opt")]
    pub created_at: Option<DateTime<Utc>>,
}
