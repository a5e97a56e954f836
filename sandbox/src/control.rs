//! The sandbox's own control API under `/_sandbox/…` (a path Qonto does not use).

use crate::config::{DeclineRule, Plan, Quirks, ScaAuto, SeedBeneficiary};
use crate::faults::Fault;
use crate::http::{header, json_response, Ctx};
use crate::state::{Beneficiary, ScaResult, ScaSessionInfo, State};
use crate::util::{cents_str, parse_amount};
use crate::{BeneficiaryInfo, SandboxError};
use actix_web::HttpResponse;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) fn info(b: &Beneficiary) -> BeneficiaryInfo {
    BeneficiaryInfo {
        id: b.id.clone(),
        name: b.name.clone(),
        iban: b.iban.clone(),
        trusted: b.trusted,
        status: b.status.clone(),
    }
}

pub(crate) fn set_balance_text(text: &str, st: &mut State) -> Result<(), String> {
    let trimmed = text.trim();
    let (neg, digits) = match trimmed.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, trimmed),
    };
    let cents = parse_amount(digits).ok_or_else(|| format!("invalid balance {text:?}"))?;
    let cents = if neg { -cents } else { cents };
    // keep in-flight reservations: authorized = balance - reserved (pending transfers)
    let reserved = st.account.balance_cents - st.account.authorized_balance_cents;
    st.account.balance_cents = cents;
    st.account.authorized_balance_cents = cents - reserved;
    st.account.updated_at = st.now();
    Ok(())
}

pub(crate) fn decide_sca(st: &mut State, token: &str, allow: bool) -> Result<(), SandboxError> {
    let s = st
        .sca
        .get_mut(token)
        .ok_or_else(|| SandboxError::NotFound(format!("SCA session {token}")))?;
    if s.used {
        return Err(SandboxError::Invalid("SCA session already used".into()));
    }
    s.result = if allow {
        ScaResult::Allow
    } else {
        ScaResult::Deny
    };
    Ok(())
}

pub(crate) fn sca_list(st: &mut State) -> Vec<ScaSessionInfo> {
    let mut v: Vec<ScaSessionInfo> = st.sca.values().map(|s| st.sca_info(s)).collect();
    v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.token.cmp(&b.token)));
    v
}

pub(crate) fn reset(st: &mut State, seed: Option<u64>) {
    let mut cfg = st.cfg.clone();
    if let Some(s) = seed {
        cfg.seed = s;
    }
    *st = State::new(cfg);
}

fn ok(v: Value) -> HttpResponse {
    json_response(200, v.to_string().into_bytes())
}

fn fail(status: u16, msg: impl std::fmt::Display) -> HttpResponse {
    json_response(
        status,
        json!({"error": msg.to_string()}).to_string().into_bytes(),
    )
}

fn body<T: DeserializeOwned>(c: &Ctx) -> Result<T, String> {
    let raw: &[u8] = if c.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        c.body
    };
    serde_json::from_slice(raw).map_err(|e| format!("invalid JSON body: {e}"))
}

fn sandbox_err(e: SandboxError) -> HttpResponse {
    match e {
        SandboxError::NotFound(_) => fail(404, e),
        _ => fail(422, e),
    }
}

#[derive(Deserialize)]
struct SeedReq {
    seed: Option<u64>,
}
#[derive(Deserialize)]
struct PlanReq {
    plan: Plan,
}
#[derive(Deserialize)]
struct BalanceReq {
    balance: Value,
}
#[derive(Deserialize, Default)]
#[serde(default)]
struct AdvanceReq {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
}
#[derive(Deserialize)]
struct ScaAutoReq {
    mode: ScaAuto,
}
#[derive(Deserialize)]
struct RequiredReq {
    required: bool,
}
#[derive(Deserialize)]
#[serde(untagged)]
enum FaultsReq {
    One(Fault),
    Many(Vec<Fault>),
}
#[derive(Deserialize, Default)]
#[serde(default)]
struct NoteReq {
    note: Option<String>,
}
#[derive(Deserialize)]
struct CodeReq {
    #[serde(default)]
    client_id: Option<String>,
    redirect_uri: String,
    #[serde(default)]
    scopes: Vec<String>,
}

fn merge(base: &mut Value, patch: &Value) {
    if let (Some(b), Some(p)) = (base.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            b.insert(k.clone(), v.clone());
        }
    }
}

pub(crate) fn route(c: &Ctx, method: &str, rest: &[&str]) -> HttpResponse {
    let mut st = c.sh.lock();
    if let Some(tok) = &st.cfg.control_token {
        let expected = format!("Bearer {tok}");
        if header(c.req, "authorization").as_deref() != Some(expected.as_str()) {
            return fail(
                401,
                "control API: bad or missing Authorization: Bearer <control_token>",
            );
        }
    }
    st.tick();
    let resp = route_inner(c, &mut st, method, rest);
    c.sh.flush(&mut st);
    resp
}

fn state_json(st: &State) -> Value {
    json!({
        "now": crate::util::ts(st.now()),
        "clock_mode": st.cfg.clock_mode,
        "seed": st.cfg.seed,
        "plan": st.cfg.plan,
        "sca_auto": st.cfg.sca_auto,
        "organization_id": st.org_id,
        "bank_account_id": st.account.id,
        "iban": st.account.iban,
        "balance": cents_str(st.account.balance_cents),
        "authorized_balance": cents_str(st.account.authorized_balance_cents),
        "api_key": st.cfg.api_key_header(),
        "staging_token": st.cfg.staging_token,
        "require_staging_token": st.cfg.require_staging_token,
        "oauth_clients": st.cfg.oauth_clients,
        "counts": {
            "beneficiaries": st.beneficiaries.len(), "transfers": st.transfers.len(),
            "bulk_transfers": st.bulks.len(), "sca_sessions": st.sca.len(),
            "attachments": st.attachments.len(), "webhook_subscriptions": st.webhooks.len(),
            "requests": st.requests.len(),
        },
        "decline_rules": st.cfg.decline_rules,
        "quirks": st.cfg.quirks,
    })
}

fn route_inner(c: &Ctx, st: &mut State, method: &str, rest: &[&str]) -> HttpResponse {
    macro_rules! parse {
        ($t:ty) => {
            match body::<$t>(c) {
                Ok(v) => v,
                Err(msg) => return fail(400, msg),
            }
        };
    }
    match (method, rest) {
        ("GET", ["state"] | []) => ok(state_json(st)),
        ("POST", ["reset"]) => {
            let r = parse!(SeedReq);
            reset(st, r.seed);
            c.sh.lock_faults().clear();
            ok(state_json(st))
        }
        ("PUT" | "POST", ["plan"]) => {
            let r = parse!(PlanReq);
            st.cfg.plan = r.plan;
            ok(json!({"plan": st.cfg.plan}))
        }
        ("PUT" | "POST", ["balance"]) => {
            let r = parse!(BalanceReq);
            let text = match &r.balance {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match set_balance_text(&text, st) {
                Ok(()) => ok(json!({"balance": cents_str(st.account.balance_cents),
                                    "authorized_balance": cents_str(st.account.authorized_balance_cents)})),
                Err(e) => fail(422, e),
            }
        }
        ("GET", ["clock"]) => {
            ok(json!({"now": crate::util::ts(st.now()), "mode": st.cfg.clock_mode}))
        }
        ("POST", ["clock", "advance"]) => {
            let r = parse!(AdvanceReq);
            let secs = r
                .seconds
                .saturating_add(r.minutes.saturating_mul(60))
                .saturating_add(r.hours.saturating_mul(3600))
                .saturating_add(r.days.saturating_mul(86400))
                .min(10 * 365 * 86400);
            st.advance(chrono::Duration::seconds(i64::try_from(secs).unwrap_or(0)));
            ok(json!({"now": crate::util::ts(st.now())}))
        }
        ("PUT" | "POST", ["sca", "auto"]) => {
            let r = parse!(ScaAutoReq);
            st.cfg.sca_auto = r.mode;
            ok(json!({"mode": st.cfg.sca_auto}))
        }
        ("GET", ["sca_sessions"]) => ok(json!({"sca_sessions": sca_list(st)})),
        ("POST", ["sca_sessions", token, d @ ("allow" | "deny")]) => {
            match decide_sca(st, token, *d == "allow") {
                Ok(()) => ok(json!({"message": "Success"})),
                Err(e) => sandbox_err(e),
            }
        }
        ("GET", ["faults"]) => ok(json!({"faults": *c.sh.lock_faults()})),
        ("POST", ["faults"]) => {
            let r = parse!(FaultsReq);
            let mut f = c.sh.lock_faults();
            match r {
                FaultsReq::One(x) => f.push(x),
                FaultsReq::Many(xs) => f.extend(xs),
            }
            ok(json!({"faults": *f}))
        }
        ("DELETE", ["faults"]) => {
            c.sh.lock_faults().clear();
            ok(json!({"faults": []}))
        }
        ("GET", ["rate_limits"]) => ok(json!({"rate_limits": st.cfg.rate_limits})),
        ("PUT" | "POST", ["rate_limits"]) => {
            let r = parse!(Vec<crate::config::RateLimit>);
            st.cfg.rate_limits = r;
            ok(json!({"rate_limits": st.cfg.rate_limits}))
        }
        ("GET", ["decline_rules"]) => ok(json!({"decline_rules": st.cfg.decline_rules})),
        ("PUT" | "POST", ["decline_rules"]) => {
            let r = parse!(Vec<DeclineRule>);
            st.cfg.decline_rules = r;
            ok(json!({"decline_rules": st.cfg.decline_rules}))
        }
        ("GET", ["quirks"]) => ok(json!(st.cfg.quirks)),
        ("PUT" | "PATCH", ["quirks"]) => {
            let patch = parse!(Value);
            let mut base = if method == "PUT" {
                json!(Quirks::default())
            } else {
                json!(st.cfg.quirks)
            };
            merge(&mut base, &patch);
            match serde_json::from_value::<Quirks>(base) {
                Ok(q) => {
                    st.cfg.quirks = q;
                    ok(json!(st.cfg.quirks))
                }
                Err(e) => fail(422, format!("invalid quirks: {e}")),
            }
        }
        ("PUT" | "POST", ["staging_token"]) => {
            let r = parse!(RequiredReq);
            st.cfg.require_staging_token = r.required;
            ok(json!({"required": r.required, "staging_token": st.cfg.staging_token}))
        }
        ("GET", ["transfers"]) => {
            let log: Vec<_> = st.transfers.iter().map(|t| t.log_entry()).collect();
            ok(json!({"transfers": log}))
        }
        ("GET", ["beneficiaries"]) => {
            let v: Vec<_> = st.beneficiaries.iter().map(info).collect();
            ok(json!({"beneficiaries": v}))
        }
        ("POST", ["beneficiaries"]) => {
            let r = parse!(SeedBeneficiary);
            let b = st.seed_beneficiary(&r);
            ok(json!(info(&b)))
        }
        ("POST", ["beneficiaries", id, t @ ("trust" | "untrust")]) => {
            let now = st.now();
            match st.beneficiaries.iter_mut().find(|b| b.id == *id) {
                Some(b) => {
                    b.trusted = *t == "trust";
                    b.updated_at = now;
                    ok(json!(info(b)))
                }
                None => fail(404, "beneficiary not found"),
            }
        }
        ("GET", ["webhook_deliveries"]) => {
            let d =
                c.sh.deliveries
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
            ok(json!({"webhook_deliveries": d}))
        }
        ("GET", ["requests"]) => {
            let v: Vec<_> = st.requests.iter().map(|r| r.to_json(true)).collect();
            ok(json!({"requests": v}))
        }
        ("POST", ["requests", id, d @ ("approve" | "decline")]) => {
            let r = parse!(NoteReq);
            match crate::api::requests::decide(st, id, *d == "approve", r.note) {
                Ok(()) => ok(json!({"message": "Success"})),
                Err(e) => sandbox_err(e),
            }
        }
        ("POST", ["oauth", "code"]) => {
            let r = parse!(CodeReq);
            let client = r
                .client_id
                .or_else(|| st.cfg.oauth_clients.first().map(|c| c.client_id.clone()))
                .unwrap_or_default();
            let scopes: Vec<&str> = r.scopes.iter().map(String::as_str).collect();
            let code = crate::api::oauth::issue_code(st, &client, &r.redirect_uri, &scopes);
            ok(json!({"code": code}))
        }
        _ => fail(404, "unknown control route"),
    }
}
