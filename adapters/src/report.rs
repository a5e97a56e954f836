//! The one-line JSON report of `billbridge parse` (DESIGN.md §7).

use serde::Serialize;

use crate::assess::{HoldReason, Warning};
use crate::error::ParseError;
use crate::model::{Bill, BillKind};

#[derive(Debug, Serialize)]
pub struct SellerReport<'a> {
    pub name: Option<&'a str>,
    pub vat_id: Option<&'a str>,
    pub legal_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct PayeeReport<'a> {
    pub name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct PaymentReport<'a> {
    pub means_code: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub iban: Option<&'a str>,
    pub bic: Option<&'a str>,
    pub reference: Option<&'a str>,
    pub account_name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct ErrorReport<'a> {
    pub code: &'static str,
    pub message: &'a str,
}

/// One line of `billbridge parse` output: a bill's summary or a coded error.
#[derive(Debug, Serialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)] // built once per printed line, never stored
pub enum ParseReport<'a> {
    Bill {
        file: &'a str,
        syntax: &'static str,
        profile: Option<&'a str>,
        number: Option<&'a str>,
        type_code: Option<&'a str>,
        kind: BillKind,
        issue_date: Option<String>,
        due_date: Option<String>,
        currency: Option<&'a str>,
        payable_amount: Option<String>,
        seller: SellerReport<'a>,
        payee: Option<PayeeReport<'a>>,
        payment: PaymentReport<'a>,
        payable: bool,
        hold_reasons: &'a [HoldReason],
        warnings: &'a [Warning],
    },
    Error {
        file: &'a str,
        error: ErrorReport<'a>,
    },
}

impl<'a> ParseReport<'a> {
    pub fn from_result(file: &'a str, result: &'a Result<Bill, ParseError>) -> Self {
        match result {
            Ok(bill) => Self::from_bill(file, bill),
            Err(e) => ParseReport::Error {
                file,
                error: ErrorReport {
                    code: e.code.as_str(),
                    message: &e.message,
                },
            },
        }
    }

    pub fn from_bill(file: &'a str, bill: &'a Bill) -> Self {
        // The payment block shows the chosen instruction, else the first one with an account,
        // else the first one (FIELDS.md §4).
        let pm = bill.chosen_payment().or_else(|| {
            bill.payment_instructions
                .iter()
                .find(|p| p.account_id.is_some())
                .or(bill.payment_instructions.first())
        });
        let first_code = bill
            .payment_instructions
            .first()
            .and_then(|p| p.means_code.as_deref());
        ParseReport::Bill {
            file,
            syntax: bill.syntax.as_str(),
            profile: bill.profile.as_deref(),
            number: bill.number.as_deref(),
            type_code: bill.type_code.as_deref(),
            kind: bill.kind,
            issue_date: bill.issue_date.map(|d| d.format("%Y-%m-%d").to_string()),
            due_date: bill.due_date.map(|d| d.format("%Y-%m-%d").to_string()),
            currency: bill.currency.as_deref(),
            payable_amount: bill.amounts.payable.map(|d| d.to_string()),
            seller: SellerReport {
                name: bill.seller.name.as_deref(),
                vat_id: bill.seller.vat_id.as_deref(),
                legal_id: bill.seller.legal_id.as_ref().map(|i| i.value.as_str()),
            },
            payee: bill.payee.as_ref().map(|p| PayeeReport {
                name: p.name.as_deref(),
            }),
            payment: PaymentReport {
                means_code: pm.and_then(|p| p.means_code.as_deref()).or(first_code),
                account_id: pm.and_then(|p| p.account_id.as_deref()),
                iban: pm.and_then(|p| p.iban.as_deref()),
                bic: pm.and_then(|p| p.bic.as_deref()),
                reference: bill.payment_reference.as_deref(),
                account_name: pm.and_then(|p| p.account_name.as_deref()),
            },
            payable: bill.payable,
            hold_reasons: &bill.hold_reasons,
            warnings: &bill.warnings,
        }
    }
}
