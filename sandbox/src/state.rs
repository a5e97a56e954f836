//! The in-memory world of the simulator and its clock-driven life cycle.

use crate::config::{
    BeneficiaryShape, ClockMode, DeclineMatch, Plan, SandboxConfig, ScaAuto, SeedBeneficiary,
};
use crate::util::{cents_num, cents_str, normalize_iban, ts, Rng};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

pub(crate) const SCA_TTL_SECS: i64 = 15 * 60;
pub(crate) const VOP_TTL_SECS: i64 = 23 * 3600;
pub(crate) const IDEMPOTENCY_TTL_SECS: i64 = 30 * 60;
pub(crate) const AUTH_CODE_TTL_SECS: i64 = 10 * 60;
pub(crate) const ACCESS_TTL_SECS: i64 = 3600;
pub(crate) const REFRESH_TTL_SECS: i64 = 90 * 24 * 3600;
pub(crate) const REFRESH_GRACE_SECS: i64 = 60;

#[derive(Debug, Clone)]
pub(crate) struct Clock {
    pub mode: ClockMode,
    pub start: DateTime<Utc>,
    pub wall_start: Instant,
    pub offset: chrono::Duration,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = match self.mode {
            ClockMode::Manual => chrono::Duration::zero(),
            ClockMode::Realtime => chrono::Duration::from_std(self.wall_start.elapsed())
                .unwrap_or(chrono::Duration::zero()),
        };
        self.start
            .checked_add_signed(self.offset + elapsed)
            .unwrap_or(self.start)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub iban: String,
    pub bic: String,
    pub balance_cents: i64,
    pub authorized_balance_cents: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Beneficiary {
    pub id: String,
    pub name: String,
    pub iban: String,
    pub bic: Option<String>,
    pub email: Option<String>,
    pub activity_tag: Option<String>,
    pub status: String,
    pub trusted: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Beneficiary {
    pub fn to_json(&self, shape: BeneficiaryShape) -> Value {
        let mut v = json!({
            "id": self.id, "name": self.name, "email": self.email,
            "activity_tag": self.activity_tag, "status": self.status, "trusted": self.trusted,
            "created_at": ts(self.created_at), "updated_at": ts(self.updated_at),
        });
        if shape != BeneficiaryShape::Nested {
            v["iban"] = json!(self.iban);
            v["bic"] = json!(self.bic);
            v["currency"] = json!("EUR");
        }
        if shape != BeneficiaryShape::Flat {
            v["bank_account"] = json!({
                "iban": self.iban, "bic": self.bic, "currency": "EUR", "account_number": null,
                "routing_number": null, "intermediary_bank_bic": null, "swift_sort_code": null,
            });
        }
        v
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    Pending,
    Processing,
    Canceled,
    Declined,
    Settled,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Pending => "pending",
            TransferStatus::Processing => "processing",
            TransferStatus::Canceled => "canceled",
            TransferStatus::Declined => "declined",
            TransferStatus::Settled => "settled",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    pub id: String,
    pub initiator_id: String,
    pub bank_account_id: String,
    pub amount_cents: i64,
    pub status: TransferStatus,
    pub beneficiary_id: String,
    pub beneficiary_name: String,
    pub beneficiary_iban: String,
    pub reference: String,
    pub note: Option<String>,
    pub declined_reason: Option<String>,
    pub scheduled_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub transaction_id: Option<String>,
    pub attachment_ids: Vec<String>,
    pub process_at: DateTime<Utc>,
    pub settle_at: Option<DateTime<Utc>>,
    pub origin: &'static str,
    pub idempotency_key: Option<String>,
    pub client_transfer_id: Option<String>,
    pub bulk_transfer_id: Option<String>,
    pub request_id: Option<String>,
}

impl Transfer {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "initiator_id": self.initiator_id, "bank_account_id": self.bank_account_id,
            "amount": cents_num(self.amount_cents), "amount_cents": self.amount_cents,
            "amount_currency": "EUR", "status": self.status.as_str(),
            "beneficiary_id": self.beneficiary_id, "reference": self.reference, "note": self.note,
            "declined_reason": self.declined_reason,
            "scheduled_date": self.scheduled_date.format("%Y-%m-%d").to_string(),
            "created_at": ts(self.created_at), "updated_at": ts(self.updated_at),
            "processed_at": self.processed_at.map(ts), "completed_at": self.completed_at.map(ts),
            "transaction_id": self.transaction_id, "recurring_transfer_id": null,
            "attachment_ids": self.attachment_ids,
        })
    }

    pub fn log_entry(&self) -> TransferLogEntry {
        TransferLogEntry {
            transfer_id: self.id.clone(),
            origin: self.origin.to_string(),
            idempotency_key: self.idempotency_key.clone(),
            client_transfer_id: self.client_transfer_id.clone(),
            bulk_transfer_id: self.bulk_transfer_id.clone(),
            request_id: self.request_id.clone(),
            amount: cents_str(self.amount_cents),
            amount_cents: self.amount_cents,
            beneficiary_id: self.beneficiary_id.clone(),
            beneficiary_name: self.beneficiary_name.clone(),
            beneficiary_iban: self.beneficiary_iban.clone(),
            reference: self.reference.clone(),
            status: self.status,
            declined_reason: self.declined_reason.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// One line of the sandbox's own transfer log: every transfer ever created, whatever the path
/// (single, bulk item, approved request). Tests use it to prove "every bill paid exactly once".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferLogEntry {
    pub transfer_id: String,
    /// `single`, `bulk` or `request`.
    pub origin: String,
    pub idempotency_key: Option<String>,
    pub client_transfer_id: Option<String>,
    pub bulk_transfer_id: Option<String>,
    pub request_id: Option<String>,
    /// Decimal string, `"1100.50"`.
    pub amount: String,
    pub amount_cents: i64,
    pub beneficiary_id: String,
    pub beneficiary_name: String,
    pub beneficiary_iban: String,
    pub reference: String,
    pub status: TransferStatus,
    pub declined_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a transfer's money goes.
#[derive(Debug, Clone)]
pub(crate) enum BenRef {
    Id(String),
    Inline {
        name: String,
        iban: String,
        bic: Option<String>,
        email: Option<String>,
        activity_tag: Option<String>,
    },
}

/// A validated transfer request (single or bulk item).
#[derive(Debug, Clone)]
pub(crate) struct TransferSpec {
    pub beneficiary: BenRef,
    pub amount_cents: i64,
    pub reference: String,
    pub note: Option<String>,
    pub scheduled_date: Option<NaiveDate>,
    pub attachment_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct BulkItem {
    pub client_transfer_id: String,
    pub spec: TransferSpec,
    pub status: &'static str,
    pub transfer_id: Option<String>,
    pub errors: Option<Vec<crate::error::ErrObj>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Bulk {
    pub id: String,
    pub initiator_id: String,
    pub bank_account_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub process_at: DateTime<Utc>,
    pub idempotency_key: Option<String>,
    pub items: Vec<BulkItem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaResult {
    Waiting,
    Allow,
    Deny,
}

#[derive(Debug, Clone)]
pub(crate) struct ScaSession {
    pub token: String,
    pub action_type: &'static str,
    pub method: String,
    pub path: String,
    pub body_hash: String,
    pub idempotency_key: Option<String>,
    pub preference: Option<String>,
    pub created_at: DateTime<Utc>,
    pub result: ScaResult,
    pub used: bool,
}

impl ScaSession {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        now - self.created_at > chrono::Duration::seconds(SCA_TTL_SECS)
    }
    /// What a poll answers.
    pub fn poll_result(&self, now: DateTime<Utc>) -> ScaResult {
        if self.result == ScaResult::Allow && !self.expired(now) {
            ScaResult::Allow
        } else if self.result == ScaResult::Deny || self.expired(now) {
            ScaResult::Deny
        } else {
            ScaResult::Waiting
        }
    }
}

/// Summary of an SCA session for the control API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScaSessionInfo {
    pub token: String,
    pub action_type: String,
    pub method: String,
    pub path: String,
    pub result: ScaResult,
    pub used: bool,
    pub expired: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct VopToken {
    pub ibans: BTreeSet<String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct IdemEntry {
    pub body_hash: String,
    pub status: u16,
    pub body: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: usize,
    pub created_at: DateTime<Utc>,
}

impl Attachment {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "file_name": self.file_name, "file_size": self.size.to_string(),
            "file_content_type": self.content_type, "created_at": ts(self.created_at),
            "url": format!("https://sandbox.invalid/attachments/{}", self.id),
            "probative_attachment": {"status": "unavailable"},
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct WebhookSub {
    pub id: String,
    pub callback_url: String,
    pub types: Vec<String>,
    pub description: Option<String>,
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub first_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RequestTransferLine {
    pub id: String,
    pub credit_iban: String,
    pub credit_account_name: String,
    pub amount_cents: i64,
    pub reference: String,
    pub attachment_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct MultiTransferRequest {
    pub id: String,
    pub initiator_id: String,
    pub note: String,
    pub status: String,
    pub approver_id: Option<String>,
    pub declined_note: Option<String>,
    pub scheduled_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    pub transfers: Vec<RequestTransferLine>,
}

impl MultiTransferRequest {
    pub fn total_cents(&self) -> i64 {
        self.transfers.iter().map(|t| t.amount_cents).sum()
    }
    pub fn to_json(&self, with_transfers: bool) -> Value {
        let mut v = json!({
            "id": self.id, "request_type": "multi_transfer", "status": self.status,
            "initiator_id": self.initiator_id, "approver_id": self.approver_id, "note": self.note,
            "declined_note": self.declined_note,
            "total_transfers_amount": cents_str(self.total_cents()),
            "total_transfers_amount_currency": "EUR",
            "total_transfers_count": self.transfers.len(),
            "scheduled_date": self.scheduled_date.map(|d| d.format("%Y-%m-%d").to_string()),
            "processed_at": self.processed_at.map(ts), "created_at": ts(self.created_at),
        });
        if with_transfers {
            v["transfers"] = self
                .transfers
                .iter()
                .map(|t| {
                    json!({"id": t.id, "credit_account_name": t.credit_account_name,
                           "credit_iban": t.credit_iban,
                           "amount": cents_str(t.amount_cents), "currency": "EUR",
                           "reference": t.reference})
                })
                .collect();
        }
        v
    }
}

/// Where a transfer comes from (for the transfer log).
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub kind: &'static str,
    pub idempotency_key: Option<String>,
    pub client_transfer_id: Option<String>,
    pub bulk_transfer_id: Option<String>,
}

/// A webhook delivery waiting to be sent (signed at send time).
#[derive(Debug, Clone)]
pub(crate) struct OutgoingWebhook {
    pub event_id: String,
    pub subscription_id: String,
    pub url: String,
    pub secret: String,
    pub event: String,
    pub body: Vec<u8>,
}

/// The world. Guarded by one mutex; every request runs its whole logic under it, which makes
/// the simulator linearizable and deterministic for a given request order.
pub(crate) struct State {
    pub cfg: SandboxConfig,
    pub rng: Rng,
    pub clock: Clock,
    pub org_id: String,
    pub membership_id: String,
    pub account: Account,
    pub beneficiaries: Vec<Beneficiary>,
    pub transfers: Vec<Transfer>,
    pub bulks: Vec<Bulk>,
    pub sca: HashMap<String, ScaSession>,
    pub vop: HashMap<String, VopToken>,
    pub idem: HashMap<(String, String, String), IdemEntry>,
    pub attachments: HashMap<String, Attachment>,
    pub webhooks: Vec<WebhookSub>,
    pub codes: HashMap<String, AuthCode>,
    pub access: HashMap<String, AccessToken>,
    pub refresh: HashMap<String, RefreshToken>,
    pub requests: Vec<MultiTransferRequest>,
    pub outbox: Vec<OutgoingWebhook>,
    pub vop_registry: HashMap<String, String>,
}

impl State {
    pub fn new(cfg: SandboxConfig) -> Self {
        let start = cfg.start_time.unwrap_or_else(Utc::now);
        let mut rng = Rng::new(cfg.seed);
        let org_id = rng.uuid();
        let membership_id = rng.uuid();
        let account_id = rng.uuid();
        let balance = crate::util::parse_amount(&cfg.balance.round_dp(2).to_string()).unwrap_or(0);
        let account = Account {
            id: account_id,
            slug: format!("{}-bank-account-1", cfg.organization_slug),
            name: "Main account".into(),
            iban: normalize_iban(&cfg.account_iban),
            bic: cfg.account_bic.clone(),
            balance_cents: balance,
            authorized_balance_cents: balance,
            updated_at: start,
        };
        let mut st = State {
            rng,
            clock: Clock {
                mode: cfg.clock_mode,
                start,
                wall_start: Instant::now(),
                offset: chrono::Duration::zero(),
            },
            org_id,
            membership_id,
            account,
            beneficiaries: vec![],
            transfers: vec![],
            bulks: vec![],
            sca: HashMap::new(),
            vop: HashMap::new(),
            idem: HashMap::new(),
            attachments: HashMap::new(),
            webhooks: vec![],
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            requests: vec![],
            outbox: vec![],
            vop_registry: HashMap::new(),
            cfg,
        };
        for (iban, name) in st.cfg.vop_registry.clone() {
            st.vop_registry.insert(normalize_iban(&iban), name);
        }
        for b in st.cfg.beneficiaries.clone() {
            st.seed_beneficiary(&b);
        }
        st
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn seed_beneficiary(&mut self, b: &SeedBeneficiary) -> Beneficiary {
        let now = self.now();
        let iban = normalize_iban(&b.iban);
        let ben = Beneficiary {
            id: self.rng.uuid(),
            name: b.name.clone(),
            iban: iban.clone(),
            bic: b.bic.clone(),
            email: b.email.clone(),
            activity_tag: None,
            status: b.status.clone(),
            trusted: b.trusted,
            created_at: now,
            updated_at: now,
        };
        self.vop_registry
            .entry(iban)
            .or_insert_with(|| b.name.clone());
        self.beneficiaries.push(ben.clone());
        ben
    }

    pub fn plan(&self) -> Plan {
        self.cfg.plan
    }

    pub fn beneficiary(&self, id: &str) -> Option<&Beneficiary> {
        self.beneficiaries.iter().find(|b| b.id == id)
    }

    pub fn beneficiary_by_iban(&self, iban: &str) -> Option<usize> {
        self.beneficiaries.iter().position(|b| b.iban == iban)
    }

    /// Create or update (by IBAN) an untrusted beneficiary from inline data.
    pub fn upsert_inline_beneficiary(
        &mut self,
        name: &str,
        iban: &str,
        bic: Option<String>,
        email: Option<String>,
        activity_tag: Option<String>,
    ) -> String {
        let now = self.now();
        if let Some(i) = self.beneficiary_by_iban(iban) {
            let b = &mut self.beneficiaries[i];
            b.name = name.to_string();
            if bic.is_some() {
                b.bic = bic;
            }
            if email.is_some() {
                b.email = email;
            }
            if activity_tag.is_some() {
                b.activity_tag = activity_tag;
            }
            b.updated_at = now;
            return b.id.clone();
        }
        let id = self.rng.uuid();
        self.beneficiaries.push(Beneficiary {
            id: id.clone(),
            name: name.to_string(),
            iban: iban.to_string(),
            bic,
            email,
            activity_tag,
            status: "pending".into(),
            trusted: false,
            created_at: now,
            updated_at: now,
        });
        id
    }

    pub fn sca_info(&self, s: &ScaSession) -> ScaSessionInfo {
        let now = self.now();
        ScaSessionInfo {
            token: s.token.clone(),
            action_type: s.action_type.to_string(),
            method: s.method.clone(),
            path: s.path.clone(),
            result: s.result,
            used: s.used,
            expired: s.expired(now),
            created_at: s.created_at,
        }
    }

    pub fn new_sca_session(
        &mut self,
        action_type: &'static str,
        method: &str,
        path: &str,
        body_hash: String,
        idempotency_key: Option<String>,
        preference: Option<String>,
    ) -> String {
        let token = self.rng.token::<48>();
        let result = match self.cfg.sca_auto {
            ScaAuto::Off => ScaResult::Waiting,
            ScaAuto::Allow => ScaResult::Allow,
            ScaAuto::Deny => ScaResult::Deny,
        };
        let created_at = self.now();
        self.sca.insert(
            token.clone(),
            ScaSession {
                token: token.clone(),
                action_type,
                method: method.to_string(),
                path: path.to_string(),
                body_hash,
                idempotency_key,
                preference,
                created_at,
                result,
                used: false,
            },
        );
        token
    }

    /// Create a transfer (checks already done), reserving the money.
    pub fn create_transfer(
        &mut self,
        spec: &TransferSpec,
        beneficiary_id: &str,
        origin: Origin,
        created_at: DateTime<Utc>,
    ) -> String {
        let Origin {
            kind: origin,
            idempotency_key,
            client_transfer_id,
            bulk_transfer_id,
        } = origin;
        let (name, iban) = self
            .beneficiary(beneficiary_id)
            .map(|b| (b.name.clone(), b.iban.clone()))
            .unwrap_or_default();
        let id = self.rng.uuid();
        let today = created_at.date_naive();
        let scheduled = spec.scheduled_date.unwrap_or(today).max(today);
        let mut process_at = created_at
            + chrono::Duration::from_std(self.cfg.processing_delay)
                .unwrap_or(chrono::Duration::zero());
        if scheduled > today {
            if let Some(midnight) = scheduled.and_hms_opt(0, 0, 0) {
                process_at = process_at.max(midnight.and_utc());
            }
        }
        self.account.authorized_balance_cents -= spec.amount_cents;
        self.account.updated_at = created_at;
        self.transfers.push(Transfer {
            id: id.clone(),
            initiator_id: self.membership_id.clone(),
            bank_account_id: self.account.id.clone(),
            amount_cents: spec.amount_cents,
            status: TransferStatus::Pending,
            beneficiary_id: beneficiary_id.to_string(),
            beneficiary_name: name,
            beneficiary_iban: iban,
            reference: spec.reference.clone(),
            note: spec.note.clone(),
            declined_reason: None,
            scheduled_date: scheduled,
            created_at,
            updated_at: created_at,
            processed_at: None,
            completed_at: None,
            transaction_id: None,
            attachment_ids: spec.attachment_ids.clone(),
            process_at,
            settle_at: None,
            origin,
            idempotency_key,
            client_transfer_id,
            bulk_transfer_id,
            request_id: None,
        });
        id
    }

    /// Advance the simulated clock and run everything that became due.
    pub fn advance(&mut self, by: chrono::Duration) {
        // The simulated clock never runs more than ~100 years ahead (keeps date arithmetic
        // far from chrono's limits whatever the control API is asked).
        let max = chrono::Duration::days(36_500);
        if by > chrono::Duration::zero() {
            self.clock.offset = (self.clock.offset + by.min(max)).min(max);
        }
        self.tick();
    }

    /// Run everything due at the current simulated time, in time order.
    pub fn tick(&mut self) {
        let now = self.now();
        // bulk items
        let due: Vec<usize> = (0..self.bulks.len())
            .filter(|&i| {
                self.bulks[i].process_at <= now
                    && self.bulks[i].items.iter().any(|it| it.status == "pending")
            })
            .collect();
        for i in due {
            crate::api::bulk::process_bulk(self, i);
        }
        // transfers: pending → processing|declined, processing → settled
        let mut events: Vec<(DateTime<Utc>, usize, bool)> = vec![];
        for i in 0..self.transfers.len() {
            if self.transfers[i].status == TransferStatus::Pending
                && self.transfers[i].process_at <= now
            {
                let at = self.transfers[i].process_at;
                if let Some(reason) = self.decline_reason(i) {
                    let t = &mut self.transfers[i];
                    t.status = TransferStatus::Declined;
                    t.declined_reason = Some(reason);
                    t.updated_at = at;
                    t.processed_at = Some(at);
                    self.account.authorized_balance_cents += t.amount_cents;
                    continue;
                }
                let settle_at = at
                    + chrono::Duration::from_std(self.cfg.settlement_delay)
                        .unwrap_or(chrono::Duration::zero());
                let txid = self.rng.uuid();
                let t = &mut self.transfers[i];
                t.status = TransferStatus::Processing;
                t.processed_at = Some(at);
                t.updated_at = at;
                t.transaction_id = Some(txid);
                t.settle_at = Some(settle_at);
                self.account.balance_cents -= t.amount_cents;
                self.account.updated_at = at;
                events.push((at, i, false));
            }
            if self.transfers[i].status == TransferStatus::Processing {
                if let Some(at) = self.transfers[i].settle_at.filter(|s| *s <= now) {
                    let t = &mut self.transfers[i];
                    t.status = TransferStatus::Settled;
                    t.completed_at = Some(at);
                    t.updated_at = at;
                    events.push((at, i, true));
                }
            }
        }
        events.sort_by_key(|(at, i, settled)| (*at, *settled, *i));
        for (at, i, settled) in events {
            self.emit_transaction_event(i, settled, at);
        }
        // housekeeping
        let idem_ttl = chrono::Duration::seconds(IDEMPOTENCY_TTL_SECS);
        self.idem.retain(|_, e| now - e.created_at <= idem_ttl);
        self.vop.retain(|_, v| v.expires_at > now);
    }

    fn decline_reason(&mut self, i: usize) -> Option<String> {
        let rules = self.cfg.decline_rules.clone();
        for rule in rules {
            let t = &self.transfers[i];
            let hit = match &rule.matcher {
                DeclineMatch::NameContains { value } => t
                    .beneficiary_name
                    .to_lowercase()
                    .contains(&value.to_lowercase()),
                DeclineMatch::Iban { value } => t.beneficiary_iban == normalize_iban(value),
                DeclineMatch::ReferenceContains { value } => t.reference.contains(value.as_str()),
                DeclineMatch::AmountAbove { value } => {
                    crate::util::cents_to_decimal(t.amount_cents) > *value
                }
                DeclineMatch::Random { ratio } => self.rng.unit() < *ratio,
            };
            if hit {
                return Some(rule.reason.clone());
            }
        }
        None
    }

    fn emit_transaction_event(&mut self, i: usize, settled: bool, at: DateTime<Utc>) {
        let subs: Vec<WebhookSub> = self
            .webhooks
            .iter()
            .filter(|s| s.types.iter().any(|t| t == "v1/transactions"))
            .cloned()
            .collect();
        if subs.is_empty() {
            return;
        }
        let t = self.transfers[i].clone();
        let q = &self.cfg.quirks;
        let amount = if q.webhook_amount_as_string {
            json!(cents_str(t.amount_cents))
        } else {
            cents_num(t.amount_cents)
        };
        let event = if settled { "updated" } else { "created" };
        let tx_id = t.transaction_id.clone().unwrap_or_default();
        let mut data = json!({
            "event": event,
            "id": tx_id,
            "transaction_id": format!("{}-transaction-{}", self.cfg.organization_slug, &tx_id.get(..8).unwrap_or("0")),
            "amount": amount, "amount_cents": t.amount_cents, "currency": "EUR",
            "local_amount": amount, "local_currency": "EUR",
            "side": "debit", "operation_type": "transfer",
            "status": if settled { "completed" } else { "pending" },
            "subject_type": "Transfer", "reference": t.reference, "note": t.note,
            "label": t.beneficiary_name, "clean_counterparty_name": t.beneficiary_name,
            "settled_at": if settled { json!(ts(at)) } else { Value::Null },
            "emitted_at": t.processed_at.map(ts), "updated_at": ts(at),
            "attachment_ids": t.attachment_ids,
            "settled_balance": if settled { cents_num(self.account.balance_cents) } else { Value::Null },
            "transfer": {
                "counterparty_account_number": t.beneficiary_iban,
                "counterparty_account_number_format": "IBAN",
                "counterparty_bank_identifier": self.beneficiary(&t.beneficiary_id).and_then(|b| b.bic.clone()),
                "counterparty_bank_identifier_format": "BIC",
            },
        });
        if q.webhook_nested_bank_account {
            data["bank_account"] = json!({"id": self.account.id, "iban": self.account.iban,
                                          "bic": self.account.bic, "name": self.account.name});
        } else {
            data["bank_account_id"] = json!(self.account.id);
        }
        for sub in subs {
            let event_id = self.rng.uuid();
            let envelope = json!({
                "id": event_id, "subscription_id": sub.id, "organization_id": self.org_id,
                "membership_id": self.membership_id, "type": "v1/transactions",
                "event": format!("transactions.{event}"),
                "created_at": ts(at), "data": data,
            });
            self.outbox.push(OutgoingWebhook {
                event_id,
                subscription_id: sub.id.clone(),
                url: sub.callback_url.clone(),
                secret: sub.secret.clone(),
                event: format!("transactions.{event}"),
                body: envelope.to_string().into_bytes(),
            });
        }
    }

    pub fn account_json(&self) -> Value {
        let a = &self.account;
        json!({
            "id": a.id, "slug": a.slug, "iban": a.iban, "bic": a.bic, "currency": "EUR",
            "balance": cents_num(a.balance_cents), "balance_cents": a.balance_cents,
            "authorized_balance": cents_num(a.authorized_balance_cents),
            "authorized_balance_cents": a.authorized_balance_cents,
            "name": a.name, "updated_at": ts(a.updated_at), "status": "active", "main": true,
            "is_external_account": false, "account_number": null,
            "organization_id": self.org_id,
        })
    }
}
