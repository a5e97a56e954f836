//! JSON bills: billbridge's canonical JSON, and an ERP's own payload read through a declarative
//! mapping (JSON pointers per field) so that no code is needed per ERP.
//!
//! The canonical JSON (every field optional unless noted):
//!
//! ```json
//! {
//!   "external_id": "ERP-4711",            // the ERP's own id: repeats are recognised by it
//!   "number": "INV-2026-001",             // required (BT-1)
//!   "type_code": "380",                   // default 380
//!   "issue_date": "2026-11-02", "due_date": "2026-12-02",
//!   "currency": "EUR",                    // default EUR
//!   "payable_amount": "1250.00",          // required (BT-115); string or number
//!   "tax_inclusive_amount": "1250.00", "prepaid_amount": "0", "rounding_amount": "0",
//!   "seller": { "name": "ACME SAS", "trading_name": "ACME", "vat_id": "FR32123456789",
//!               "legal_id": "123456789", "legal_id_scheme": "0002", "city": "Paris", "country": "FR" },
//!   "payee": { "name": "Factor Bank" },   // only when someone else than the seller is paid
//!   "buyer_reference": "…", "purchase_order": "PO-1", "preceding_invoice": "INV-2026-000",
//!   "payment": { "means_code": "58", "iban": "FR76…", "bic": "…", "account_name": "…" },
//!   "payment_reference": "RF18539007547034",
//!   "profile": "…", "business_process": "…"
//! }
//! ```
//!
//! A [`JsonMapping`] maps the same field names (dotted for nested ones, e.g. `seller.name`,
//! `payment.iban`) to a JSON pointer into the ERP's payload, or to a constant:
//!
//! ```json
//! { "fields": {
//!     "external_id": "/id",
//!     "number": "/invoice/no",
//!     "payable_amount": "/totals/open",
//!     "due_date": { "pointer": "/invoice/due", "date_format": "%d.%m.%Y" },
//!     "currency": { "value": "EUR" },
//!     "seller.name": "/vendor/name",
//!     "payment.iban": "/vendor/bank/iban" } }
//! ```

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorCode, ParseError};
use crate::model::{
    Bill, BillKind, Identifier, Payee, PaymentInstruction, PrecedingInvoice, Syntax,
};
use crate::validate::normalize_iban;
use crate::values::{parse_amount, parse_xs_date};

/// Every field a JSON bill or a mapping can set.
pub const FIELDS: &[&str] = &[
    "external_id",
    "number",
    "type_code",
    "issue_date",
    "due_date",
    "currency",
    "payable_amount",
    "tax_inclusive_amount",
    "prepaid_amount",
    "rounding_amount",
    "seller.name",
    "seller.trading_name",
    "seller.vat_id",
    "seller.legal_id",
    "seller.legal_id_scheme",
    "seller.city",
    "seller.country",
    "payee.name",
    "buyer_reference",
    "purchase_order",
    "preceding_invoice",
    "payment.means_code",
    "payment.iban",
    "payment.bic",
    "payment.account_name",
    "payment_reference",
    "profile",
    "business_process",
    "payment_terms",
];

/// Where one field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldSource {
    /// A JSON pointer (RFC 6901) into the payload.
    Pointer(String),
    /// A JSON pointer with the date format of its value (chrono `strftime` syntax).
    Dated {
        pointer: String,
        date_format: String,
    },
    /// A constant.
    Value { value: Value },
}

/// A declarative mapping from an ERP's JSON payload to a bill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMapping {
    pub fields: BTreeMap<String, FieldSource>,
}

impl JsonMapping {
    /// Check field names and pointers; a mapping is validated when it is stored, not when it is used.
    pub fn validate(&self) -> Result<(), ParseError> {
        for (field, source) in &self.fields {
            if !FIELDS.contains(&field.as_str()) {
                return Err(ParseError::new(
                    ErrorCode::InvalidMapping,
                    format!(
                        "unknown field {field:?}; known fields: {}",
                        FIELDS.join(", ")
                    ),
                ));
            }
            let pointer = match source {
                FieldSource::Pointer(p) | FieldSource::Dated { pointer: p, .. } => p,
                FieldSource::Value { .. } => continue,
            };
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                return Err(ParseError::new(
                    ErrorCode::InvalidMapping,
                    format!("field {field:?}: {pointer:?} is not a JSON pointer (it must start with '/')"),
                ));
            }
            if let FieldSource::Dated { date_format, .. } = source {
                // `format(…).to_string()` panics on an invalid format string: write it instead.
                use std::fmt::Write;
                let mut sample = String::new();
                let formatted = NaiveDate::from_ymd_opt(2026, 1, 31)
                    .is_some_and(|d| write!(sample, "{}", d.format(date_format)).is_ok());
                if !formatted || NaiveDate::parse_from_str(&sample, date_format).is_err() {
                    return Err(ParseError::new(
                        ErrorCode::InvalidMapping,
                        format!("field {field:?}: date format {date_format:?} does not name a day"),
                    ));
                }
            }
        }
        for required in ["number", "payable_amount"] {
            if !self.fields.contains_key(required) {
                return Err(ParseError::new(
                    ErrorCode::InvalidMapping,
                    format!("the mapping must give {required:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// Read the canonical JSON bill.
pub(crate) fn read_canonical(bytes: &[u8]) -> Result<Bill, ParseError> {
    let root = parse_json(bytes)?;
    if !root.is_object() {
        return Err(invalid("a JSON bill must be an object"));
    }
    let mut values = BTreeMap::new();
    for field in FIELDS {
        let pointer = format!("/{}", field.replace('.', "/"));
        if let Some(v) = root.pointer(&pointer) {
            values.insert(*field, (v.clone(), None));
        }
    }
    // `preceding_invoice` may also be given as an object {number, issue_date}.
    if let Some(Value::Object(p)) = root.get("preceding_invoice") {
        values.remove("preceding_invoice");
        if let Some(n) = p.get("number") {
            values.insert("preceding_invoice", (n.clone(), None));
        }
    }
    build(values)
}

/// Read an ERP payload through a mapping.
pub(crate) fn read_mapped(bytes: &[u8], mapping: &JsonMapping) -> Result<Bill, ParseError> {
    mapping.validate()?;
    let root = parse_json(bytes)?;
    let mut values = BTreeMap::new();
    for (field, source) in &mapping.fields {
        let Some(name) = FIELDS.iter().find(|f| **f == field.as_str()) else {
            continue;
        };
        let (value, format) = match source {
            FieldSource::Pointer(p) => (root.pointer(p).cloned(), None),
            FieldSource::Dated {
                pointer,
                date_format,
            } => (root.pointer(pointer).cloned(), Some(date_format.clone())),
            FieldSource::Value { value } => (Some(value.clone()), None),
        };
        if let Some(v) = value {
            values.insert(*name, (v, format));
        }
    }
    build(values)
}

fn parse_json(bytes: &[u8]) -> Result<Value, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|e| {
        ParseError::new(
            ErrorCode::MalformedJson,
            format!("not well-formed JSON: {e}"),
        )
    })
}

fn invalid(msg: impl Into<String>) -> ParseError {
    ParseError::new(ErrorCode::InvalidJson, msg)
}

type Values = BTreeMap<&'static str, (Value, Option<String>)>;

fn text(values: &Values, field: &str) -> Result<Option<String>, ParseError> {
    match values.get(field).map(|(v, _)| v) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            Ok((!s.is_empty()).then(|| s.to_string()))
        }
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(invalid(format!(
            "{field} must be a string, not {}",
            kind_of(other)
        ))),
    }
}

fn amount(values: &Values, field: &str) -> Result<Option<Decimal>, ParseError> {
    match values.get(field).map(|(v, _)| v) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_amount(s)
            .map(Some)
            .ok_or_else(|| invalid(format!("{field} {s:?} is not a decimal amount"))),
        // Numbers keep their shortest decimal representation ("0.1", not 0.1000000000000000055).
        Some(Value::Number(n)) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .map(Some)
            .map_err(|_| invalid(format!("{field} {n} is not a decimal amount"))),
        Some(other) => Err(invalid(format!(
            "{field} must be a decimal string or number, not {}",
            kind_of(other)
        ))),
    }
}

fn date(values: &Values, field: &str) -> Result<Option<NaiveDate>, ParseError> {
    let format = values.get(field).and_then(|(_, f)| f.clone());
    let Some(s) = text(values, field)? else {
        return Ok(None);
    };
    let parsed = match format {
        Some(f) => NaiveDate::parse_from_str(&s, &f).ok(),
        None => parse_xs_date(&s),
    };
    parsed
        .map(Some)
        .ok_or_else(|| invalid(format!("{field} {s:?} is not a date (YYYY-MM-DD)")))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn build(values: Values) -> Result<Bill, ParseError> {
    let mut bill = Bill::empty(Syntax::Json);
    bill.external_id = text(&values, "external_id")?;
    bill.number = text(&values, "number")?;
    if bill.number.is_none() {
        return Err(invalid("number (the invoice number, BT-1) is required"));
    }
    bill.type_code = Some(text(&values, "type_code")?.unwrap_or_else(|| "380".to_string()));
    bill.kind = bill
        .type_code
        .as_deref()
        .map(BillKind::from_type_code)
        .unwrap_or(BillKind::Invoice);
    bill.issue_date = date(&values, "issue_date")?;
    bill.due_date = date(&values, "due_date")?;
    bill.currency = Some(
        text(&values, "currency")?
            .unwrap_or_else(|| "EUR".to_string())
            .to_ascii_uppercase(),
    );
    bill.amounts.payable = amount(&values, "payable_amount")?;
    if bill.amounts.payable.is_none() {
        return Err(invalid(
            "payable_amount (the amount due, BT-115) is required",
        ));
    }
    bill.amounts.tax_inclusive = amount(&values, "tax_inclusive_amount")?;
    bill.amounts.prepaid = amount(&values, "prepaid_amount")?;
    bill.amounts.rounding = amount(&values, "rounding_amount")?;
    bill.seller.name = text(&values, "seller.name")?;
    bill.seller.trading_name = text(&values, "seller.trading_name")?;
    bill.seller.vat_id = text(&values, "seller.vat_id")?;
    if let Some(legal) = text(&values, "seller.legal_id")? {
        bill.seller.legal_id = Some(Identifier {
            value: legal,
            scheme: text(&values, "seller.legal_id_scheme")?,
        });
    }
    bill.seller.city = text(&values, "seller.city")?;
    bill.seller.country = text(&values, "seller.country")?;
    if let Some(name) = text(&values, "payee.name")? {
        bill.payee = Some(Payee {
            name: Some(name),
            ..Payee::default()
        });
    }
    bill.buyer_reference = text(&values, "buyer_reference")?;
    bill.purchase_order = text(&values, "purchase_order")?;
    if let Some(number) = text(&values, "preceding_invoice")? {
        bill.preceding_invoices.push(PrecedingInvoice {
            number,
            issue_date: None,
        });
    }
    bill.payment_reference = text(&values, "payment_reference")?;
    bill.payment_terms = text(&values, "payment_terms")?;
    bill.profile = text(&values, "profile")?;
    bill.business_process = text(&values, "business_process")?;
    let account = text(&values, "payment.iban")?;
    let means_code = text(&values, "payment.means_code")?;
    let bic = text(&values, "payment.bic")?;
    let account_name = text(&values, "payment.account_name")?;
    if account.is_some() || means_code.is_some() {
        bill.payment_instructions.push(PaymentInstruction {
            iban: account.as_deref().and_then(normalize_iban),
            account_id: account,
            means_code,
            bic,
            account_name,
            ..PaymentInstruction::default()
        });
    }
    Ok(bill)
}
