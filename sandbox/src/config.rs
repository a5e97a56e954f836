//! Configuration of the sandbox: seed data, credentials, plan and the switches that let the
//! simulator play either reading of the points where Qonto's documentation contradicts itself.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Qonto price plans. Only `SoloBasic` changes behaviour (no bulk transfers, no multi-transfer
/// requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    SoloBasic,
    SoloSmart,
    Essential,
    #[default]
    Business,
    Enterprise,
}

/// How the simulated clock moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// Simulated time only moves when advanced (control API or [`crate::RunningSandbox::advance_clock`]).
    /// Fully deterministic: the default for tests.
    #[default]
    Manual,
    /// Simulated time follows the wall clock (plus any manual advance). Handy for demos.
    Realtime,
}

/// What the sandbox does with an SCA session when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScaAuto {
    /// Sessions wait for `mocked_sca_sessions/{token}/allow|deny` or the control API.
    #[default]
    Off,
    /// Every new session is approved at once (the client still gets the 428 and must replay).
    Allow,
    /// Every new session is denied at once.
    Deny,
}

/// One beneficiary present when the sandbox starts (or is reset).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedBeneficiary {
    pub name: String,
    pub iban: String,
    #[serde(default)]
    pub bic: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// `true`: transfers to it by `beneficiary_id` need no SCA.
    #[serde(default)]
    pub trusted: bool,
    /// `pending`, `validated` or `declined`.
    #[serde(default = "default_validated")]
    pub status: String,
}

fn default_validated() -> String {
    "validated".into()
}

impl SeedBeneficiary {
    pub fn new(name: &str, iban: &str, trusted: bool) -> Self {
        SeedBeneficiary {
            name: name.into(),
            iban: iban.into(),
            bic: None,
            email: None,
            trusted,
            status: "validated".into(),
        }
    }
}

/// How a matching transfer should be declined when it is processed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "match", rename_all = "snake_case")]
pub enum DeclineMatch {
    /// Beneficiary name contains this text (case-insensitive).
    NameContains { value: String },
    /// Beneficiary IBAN equals this one (spaces ignored).
    Iban { value: String },
    /// Transfer reference contains this text.
    ReferenceContains { value: String },
    /// Amount strictly above this decimal.
    AmountAbove { value: Decimal },
    /// Every transfer with probability `ratio` (0..=1), drawn from the seeded generator.
    Random { ratio: f64 },
}

/// A rule that declines transfers when they leave `pending`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeclineRule {
    #[serde(flatten)]
    pub matcher: DeclineMatch,
    /// `declined_reason` reported on the transfer.
    #[serde(default = "default_decline_reason")]
    pub reason: String,
}

fn default_decline_reason() -> String {
    "beneficiary_network_rules_error".into()
}

impl DeclineRule {
    pub fn name_contains(text: &str) -> Self {
        DeclineRule {
            matcher: DeclineMatch::NameContains { value: text.into() },
            reason: default_decline_reason(),
        }
    }
    pub fn iban(iban: &str) -> Self {
        DeclineRule {
            matcher: DeclineMatch::Iban { value: iban.into() },
            reason: default_decline_reason(),
        }
    }
}

/// Shape of the `proof_token` of `bulk_verify_payee` (API.md §14.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProofTokenShape {
    /// `{"proof_token":{"token":"…"}}` and per-entry `error:{code,detail}` (\[QC\], tested on sandbox).
    #[default]
    Object,
    /// `{"proof_token":"…"}` and per-entry `error_code:"…"` (older \[DOC-B\]).
    String,
}

/// Shape of bulk result `errors` (API.md §14.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BulkErrorShape {
    /// `[{code,detail,source}]`
    #[default]
    Flat,
    /// `[{"errors":[{code,detail,source}]}]`
    Nested,
}

/// Shape of a SEPA beneficiary object (API.md §14.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BeneficiaryShape {
    /// Flat `iban`, `bic`, `currency` (docs).
    #[default]
    Flat,
    /// Nested `bank_account{iban,bic,currency}` (what \[QC\] saw in Qonto's sandbox).
    Nested,
    /// Both at once.
    Both,
}

/// What a reused idempotency key with a *different* body gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IdempotencyConflict {
    /// API.md §8: "any later request with the same key returns the cached response, even if
    /// the body differs".
    #[default]
    ReturnCached,
    /// 422 `{"errors":[{"code":"idempotency_key_reused",…}]}` (stricter, not documented by Qonto).
    Reject,
}

/// How the sunset `/v2/external_transfers*` endpoints answer (API.md §15: UNCONFIRMED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SunsetResponse {
    /// Gateway 404, `text/plain` (like any unknown route).
    #[default]
    NotFound,
    /// 410 Gone with a JSON:API error body.
    Gone,
}

/// What the staging-token guard answers when the token is required and missing/wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StagingTokenFailure {
    /// 200 with an HTML (OneLogin-like) page, like Qonto's staging gateway.
    #[default]
    HtmlOk,
    /// 401 with the same HTML page.
    HtmlUnauthorized,
}

/// Switches for documented contradictions (API.md §14) and UNCONFIRMED behaviour. Defaults
/// follow the reading API.md recommends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Quirks {
    /// HTTP status of a successful `POST /v2/sepa/transfers` (200 or 201; UNCONFIRMED).
    pub transfer_create_status: u16,
    /// HTTP status of a successful `POST /v2/sepa/bulk_transfers` (UNCONFIRMED).
    pub bulk_create_status: u16,
    /// `true`: bulk create answers `{"bulk_transfer":{…}}`; `false`: the object at top level (§14.6).
    pub bulk_create_wrapped: bool,
    pub bulk_error_shape: BulkErrorShape,
    /// Write the doc typo `completed_ount` next to `completed_count` (§10.2).
    pub bulk_completed_count_typo: bool,
    pub bulk_proof_token_shape: ProofTokenShape,
    pub beneficiary_shape: BeneficiaryShape,
    /// Default `per_page` of `GET /v2/sepa/beneficiaries` (25 per docs, 100 elsewhere; §14.12).
    pub beneficiaries_default_per_page: u32,
    /// Omit `next_page` on the last page instead of `null` (\[QC\] observation).
    pub omit_next_page_on_last: bool,
    /// `X-Qonto-Idempotency-Key` required on `POST /v2/attachments` (§14.17).
    pub attachment_idempotency_required: bool,
    pub idempotency_conflict: IdempotencyConflict,
    /// 428 body: flat `{code,message,sca_session_token,…}` (true) or JSON:API `errors[]` (false;
    /// that variant still carries `sca_session_token` inside `errors[0].meta`). §14.18.
    pub sca_flat_body: bool,
    /// Accept `PUT` as well as `PATCH` for beneficiary update (§14.1).
    pub beneficiary_update_accepts_put: bool,
    /// `PATCH /v2/sepa/beneficiaries/trust` requires SCA (docs: yes).
    pub trust_requires_sca: bool,
    /// API-key auth may move money (§14.10). When false, money-moving endpoints answer 403 to
    /// an API key.
    pub api_key_can_move_money: bool,
    /// Webhook `data.amount` as a string (`"50.00"`) instead of a number (§14.16).
    pub webhook_amount_as_string: bool,
    /// Webhook `data` carries `bank_account{…}` instead of `bank_account_id` (§14.16).
    pub webhook_nested_bank_account: bool,
    pub sunset_response: SunsetResponse,
    /// Serve the legacy `GET /v2/beneficiaries(/{id})` read endpoints (status UNCONFIRMED).
    pub legacy_beneficiaries_enabled: bool,
    /// Also serve the OAuth token endpoint at `/v2/oauth2/token` (§14.3).
    pub oauth_token_v2_alias: bool,
    /// Every transfer creation needs a valid `vop_proof_token` (§5).
    pub require_vop: bool,
    /// VoP result for an IBAN the sandbox does not know: `MATCH` (true) or `NOT_POSSIBLE` (false).
    pub vop_unknown_iban_matches: bool,
    /// Accept `http://` webhook callback URLs (Qonto requires https).
    pub webhook_allow_http: bool,
    pub staging_token_failure: StagingTokenFailure,
    /// `PATCH/PUT` on a `pending` beneficiary answers 404 (what \[QC\] saw in Qonto's sandbox).
    pub update_pending_beneficiary_not_found: bool,
    /// SCA-protected actions refuse API-key auth with 403 (the SCA guide requires OAuth).
    pub sca_requires_oauth: bool,
    /// `POST /v2/sepa/beneficiaries` asks for SCA ("may trigger SCA", §4.4).
    pub beneficiary_create_requires_sca: bool,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            transfer_create_status: 200,
            bulk_create_status: 200,
            bulk_create_wrapped: true,
            bulk_error_shape: BulkErrorShape::Flat,
            bulk_completed_count_typo: false,
            bulk_proof_token_shape: ProofTokenShape::Object,
            beneficiary_shape: BeneficiaryShape::Flat,
            beneficiaries_default_per_page: 25,
            omit_next_page_on_last: false,
            attachment_idempotency_required: true,
            idempotency_conflict: IdempotencyConflict::ReturnCached,
            sca_flat_body: true,
            beneficiary_update_accepts_put: true,
            trust_requires_sca: true,
            api_key_can_move_money: true,
            webhook_amount_as_string: false,
            webhook_nested_bank_account: false,
            sunset_response: SunsetResponse::NotFound,
            legacy_beneficiaries_enabled: false,
            oauth_token_v2_alias: true,
            require_vop: true,
            vop_unknown_iban_matches: true,
            webhook_allow_http: true,
            staging_token_failure: StagingTokenFailure::HtmlOk,
            update_pending_beneficiary_not_found: false,
            sca_requires_oauth: false,
            beneficiary_create_requires_sca: false,
        }
    }
}

/// A rate limit on the Qonto routes (wall clock, all clients together): at most
/// `max_requests` in any `window_secs` window, else 429 with `Retry-After`. Qonto documents
/// 1,000 / 10 s and 10,000 / 10 min per IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub max_requests: u32,
    pub window_secs: u64,
}

impl RateLimit {
    /// Qonto's documented limits.
    pub fn documented() -> Vec<RateLimit> {
        vec![
            RateLimit {
                max_requests: 1_000,
                window_secs: 10,
            },
            RateLimit {
                max_requests: 10_000,
                window_secs: 600,
            },
        ]
    }
}

/// An OAuth 2.0 client registered in the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    /// Allowed redirect URIs; empty = any.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

/// Everything the sandbox starts from. `SandboxConfig::default()` gives a ready-to-use
/// organization; see the crate docs for the values.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxConfig {
    /// Seed of the deterministic generator (ids, tokens, random declines).
    pub seed: u64,
    /// Simulated time at start; `None` = wall clock at start.
    pub start_time: Option<DateTime<Utc>>,
    pub clock_mode: ClockMode,
    /// API key login (`Authorization: login:secret`).
    pub api_login: String,
    pub api_secret: String,
    pub oauth_clients: Vec<OAuthClient>,
    /// The `X-Qonto-Staging-Token` value.
    pub staging_token: String,
    /// When true, every Qonto route (API and OAuth token endpoint) needs the staging token.
    pub require_staging_token: bool,
    pub plan: Plan,
    pub organization_name: String,
    pub organization_slug: String,
    pub account_iban: String,
    pub account_bic: String,
    /// Opening balance of the main account, EUR.
    pub balance: Decimal,
    pub beneficiaries: Vec<SeedBeneficiary>,
    /// Extra VoP registry entries: IBAN → name the payee's bank holds. Seeded beneficiaries are
    /// registered under their own names.
    pub vop_registry: Vec<(String, String)>,
    /// IBANs whose bank is "not available" for VoP (400 with a usable proof token in `meta`).
    pub vop_unavailable_ibans: Vec<String>,
    pub sca_auto: ScaAuto,
    pub decline_rules: Vec<DeclineRule>,
    /// Simulated delay pending → processing.
    #[serde(with = "secs")]
    pub processing_delay: Duration,
    /// Simulated delay processing → settled.
    #[serde(with = "secs")]
    pub settlement_delay: Duration,
    /// Simulated delay before a bulk transfer's items are processed (0 = on the next request).
    #[serde(with = "secs")]
    pub bulk_processing_delay: Duration,
    /// Above this amount a transfer needs an attachment (30,000 EUR).
    pub attachment_threshold: Decimal,
    /// 4-eyes payment policy: transfers (single or bulk item) above this amount are refused
    /// with 400 `payment_policy_approval_required` (submit a transfer request instead).
    /// `None` = no policy.
    pub payment_policy_threshold: Option<Decimal>,
    /// Protect `/_sandbox/*` with `Authorization: Bearer <token>`; `None` = open.
    pub control_token: Option<String>,
    /// Rate limits (none by default; see [`RateLimit::documented`]).
    pub rate_limits: Vec<RateLimit>,
    pub quirks: Quirks,
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

/// Default API key login.
pub const DEFAULT_LOGIN: &str = "acme-sandbox-4242";
/// Default API key secret.
pub const DEFAULT_SECRET: &str = "sk_sandbox_62885d39f3a0ddedd3d3ee0432a43ccr";
/// Default staging token.
pub const DEFAULT_STAGING_TOKEN: &str = "staging_sandbox_token";
/// Default OAuth client id / secret.
pub const DEFAULT_CLIENT_ID: &str = "billbridge-sandbox-client";
pub const DEFAULT_CLIENT_SECRET: &str = "billbridge-sandbox-client-secret";
/// IBAN of the seeded main account.
pub const DEFAULT_ACCOUNT_IBAN: &str = "FR7616798000010000005663951";

/// The seeded beneficiaries of [`SandboxConfig::default`].
pub fn default_beneficiaries() -> Vec<SeedBeneficiary> {
    let mut pending = SeedBeneficiary::new("Brasserie Lambic SPRL", "BE68539007547034", false);
    pending.status = "pending".into();
    vec![
        SeedBeneficiary {
            bic: Some("AGRIFRPP".into()),
            email: Some("ap@acme.fr".into()),
            ..SeedBeneficiary::new("ACME SAS", "FR7630006000011234567890189", true)
        },
        SeedBeneficiary {
            bic: Some("COBADEFFXXX".into()),
            ..SeedBeneficiary::new("Müller Elektro GmbH", "DE89370400440532013000", true)
        },
        SeedBeneficiary::new("Van Dijk Logistics BV", "NL20INGB0001234567", true),
        SeedBeneficiary {
            bic: Some("DEUTDEDDXXX".into()),
            ..SeedBeneficiary::new("Alice In Wonderland", "DE91100000000123456789", false)
        },
        SeedBeneficiary::new("Malt", "DE31100101238050671253", false),
        SeedBeneficiary::new("Rossi Forniture SRL", "IT60X0542811101000000123456", false),
        pending,
    ]
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 42,
            start_time: None,
            clock_mode: ClockMode::Manual,
            api_login: DEFAULT_LOGIN.into(),
            api_secret: DEFAULT_SECRET.into(),
            oauth_clients: vec![OAuthClient {
                client_id: DEFAULT_CLIENT_ID.into(),
                client_secret: DEFAULT_CLIENT_SECRET.into(),
                redirect_uris: vec![],
            }],
            staging_token: DEFAULT_STAGING_TOKEN.into(),
            require_staging_token: false,
            plan: Plan::Business,
            organization_name: "Acme Sandbox SAS".into(),
            organization_slug: DEFAULT_LOGIN.into(),
            account_iban: DEFAULT_ACCOUNT_IBAN.into(),
            account_bic: "TRZOFR21XXX".into(),
            balance: Decimal::new(100_000_000, 2), // 1,000,000.00 EUR
            beneficiaries: default_beneficiaries(),
            vop_registry: vec![
                (
                    "FR7610002006000000141790000".into(),
                    "Default Match Person".into(),
                ),
                ("DE31100101238050671253".into(), "Malt".into()),
            ],
            vop_unavailable_ibans: vec!["ES9121000418450200051332".into()],
            sca_auto: ScaAuto::Off,
            decline_rules: vec![DeclineRule::name_contains("DECLINE")],
            processing_delay: Duration::from_secs(60),
            settlement_delay: Duration::from_secs(3600),
            bulk_processing_delay: Duration::ZERO,
            attachment_threshold: Decimal::new(30_000, 0),
            payment_policy_threshold: None,
            control_token: None,
            rate_limits: vec![],
            quirks: Quirks::default(),
        }
    }
}

impl SandboxConfig {
    /// Same as default with another seed.
    pub fn with_seed(seed: u64) -> Self {
        SandboxConfig {
            seed,
            ..Self::default()
        }
    }

    /// The `Authorization` header value for the configured API key.
    pub fn api_key_header(&self) -> String {
        format!("{}:{}", self.api_login, self.api_secret)
    }
}
