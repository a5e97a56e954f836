//! "Can I pay this?" — the payability decision (FIELDS.md §3–§5), with coded hold reasons.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Bill, BillKind, Syntax};
use crate::validate::{
    bic_country, bic_is_valid, is_sepa_country, normalize_iban, rf_reference_is_valid,
};

/// Why a bill is not paid automatically. Codes are stable (snake_case in JSON and the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// A credit note: the amount is owed to us.
    CreditNote,
    /// BT-115 ≤ 0 (negative invoice, prepayment exceeding the total, nothing due).
    NonPositiveAmount,
    /// BT-115 absent or unreadable.
    MissingAmount,
    /// BT-115 has more than two decimals.
    AmountPrecision,
    /// BT-115 ≠ BT-112 − BT-113 + BT-114.
    TotalsMismatch,
    /// Direct debit (49/59): the supplier collects; paying as well would pay twice.
    DirectDebit,
    /// Card or online payment (48/54/55/68 or a card named).
    CardPayment,
    /// A means of payment billbridge cannot use (cash, cheque, netting, unspecified…).
    UnsupportedMeans,
    /// An account is given but it is not a valid IBAN.
    InvalidIban,
    /// No payee account at all.
    NoIban,
    /// A valid IBAN outside the SEPA area.
    NonSepaIban,
    /// The BIC of the chosen account is malformed.
    InvalidBic,
    /// The chosen account is the payer's own (BT-91).
    PayerAccount,
    /// Not in euro (SEPA credit transfers are EUR only).
    NonEur,
    /// The amount's currency differs from the document currency.
    CurrencyMismatch,
    /// French CTC B2/S2/M2: already paid.
    AlreadyPaid,
    /// Not a payable document type (e.g. 751 information for accounting).
    NotAnInvoice,
    /// A corrected invoice (384) without the invoice it corrects (BT-25).
    MissingPrecedingInvoice,
    /// A factored invoice (393) without the factor (BG-10 payee name).
    MissingPayee,
    /// No invoice number (BT-1).
    MissingNumber,
    /// BT-24 is not a known EN 16931 specification, CIUS or extension.
    UnknownSpecification,
    /// Same supplier, number and amount as another bill (set by the connector).
    Duplicate,
    /// The supplier's IBAN differs from the one on record (set by the connector).
    IbanChanged,
    /// Above 30,000 EUR without the invoice PDF to attach (set by the connector).
    NeedsAttachment,
    /// Verification of Payee did not match (set by the connector).
    VopMismatch,
    /// Held by a person (set by the connector).
    Manual,
}

/// Things worth a look that do not stop payment on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    InvalidIssueDate,
    InvalidDueDate,
    InvalidPrecedingDate,
    InvalidAmount,
    AmountCurrencyMismatch,
    MultipleDueDates,
    MultiplePaymentReferences,
    /// Several different valid IBANs; the first (or the one already known) was chosen.
    MultipleIbans,
    /// The BIC's country differs from the IBAN's.
    BicCountryMismatch,
    /// No BT-9: the due date is only in the payment terms, if anywhere.
    NoDueDate,
    /// BT-9 before BT-2.
    DueBeforeIssue,
    /// BT-112 absent, so BR-CO-16 could not be recomputed.
    TotalsUnchecked,
    /// BT-83 looks like an RF creditor reference but its check digits are wrong.
    InvalidCreditorReference,
}

/// What the assessment may know beyond the document itself.
#[derive(Debug, Clone, Default)]
pub struct AssessOptions<'a> {
    /// IBANs already on record for this supplier (normalised); preferred when several are offered.
    pub known_ibans: &'a [String],
    /// Accept documents whose BT-24 is not a known EN 16931 specification (e.g. UBL 2.0 samples).
    pub accept_any_specification: bool,
}

/// Whether BT-24 names a known EN 16931 specification, CIUS, extension or Factur-X/ZUGFeRD profile.
pub fn is_known_specification(id: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "urn:cen.eu:en16931:2017",
        "urn:factur-x.eu:1p0:",
        "urn:ferd:CrossIndustryDocument:invoice:1p0",
        "urn:zugferd.de:2p0:",
        "urn:xoev-de:kosit:standard:xrechnung",
        "urn:xeinkauf.de:kosit:xrechnung",
        "urn:fdc:peppol.eu:2017:poacc:billing",
        "urn:peppol:pint:billing",
    ];
    PREFIXES.iter().any(|p| id.starts_with(p))
}

const CREDIT_TRANSFER: &[&str] = &["30", "58", "31", "42"];
const DIRECT_DEBIT: &[&str] = &["49", "59"];
const CARD: &[&str] = &["48", "54", "55", "68"];

/// Decide whether billbridge may pay `bill`: fills `chosen_instruction`, `hold_reasons`,
/// `warnings` and `payable`. Idempotent: holds it set earlier are recomputed, the connector's
/// own holds (duplicate, iban_changed…) are kept.
pub fn assess(bill: &mut Bill, opts: &AssessOptions) {
    let mut holds: BTreeSet<HoldReason> = bill
        .hold_reasons
        .iter()
        .copied()
        .filter(|h| {
            matches!(
                h,
                HoldReason::Duplicate
                    | HoldReason::IbanChanged
                    | HoldReason::NeedsAttachment
                    | HoldReason::VopMismatch
                    | HoldReason::Manual
            )
        })
        .collect();
    let mut warnings: BTreeSet<Warning> = bill
        .warnings
        .iter()
        .copied()
        .filter(|w| {
            !matches!(
                w,
                Warning::MultipleIbans
                    | Warning::BicCountryMismatch
                    | Warning::NoDueDate
                    | Warning::DueBeforeIssue
                    | Warning::TotalsUnchecked
                    | Warning::InvalidCreditorReference
            )
        })
        .collect();

    // What the document is.
    match bill.kind {
        BillKind::CreditNote => {
            holds.insert(HoldReason::CreditNote);
        }
        BillKind::Other => {
            holds.insert(HoldReason::NotAnInvoice);
        }
        BillKind::Corrected if bill.preceding_invoices.is_empty() => {
            holds.insert(HoldReason::MissingPrecedingInvoice);
        }
        BillKind::Factored if bill.payee.as_ref().and_then(|p| p.name.as_ref()).is_none() => {
            holds.insert(HoldReason::MissingPayee);
        }
        _ => {}
    }
    if bill.syntax == Syntax::UblCreditNote {
        holds.insert(HoldReason::CreditNote);
    }
    if matches!(bill.business_process.as_deref(), Some("B2" | "S2" | "M2")) {
        holds.insert(HoldReason::AlreadyPaid);
    }
    if bill.number.is_none() {
        holds.insert(HoldReason::MissingNumber);
    }
    if bill.syntax != Syntax::Json
        && !opts.accept_any_specification
        && !bill.profile.as_deref().is_some_and(is_known_specification)
    {
        holds.insert(HoldReason::UnknownSpecification);
    }

    // Currency and amounts.
    if bill.currency.as_deref() != Some("EUR") {
        holds.insert(HoldReason::NonEur);
    }
    if warnings.contains(&Warning::AmountCurrencyMismatch) {
        holds.insert(HoldReason::CurrencyMismatch);
    }
    match bill.amounts.payable {
        None => {
            holds.insert(HoldReason::MissingAmount);
        }
        Some(due) => {
            if due <= Decimal::ZERO {
                holds.insert(HoldReason::NonPositiveAmount);
            }
            if due.normalize().scale() > 2 {
                holds.insert(HoldReason::AmountPrecision);
            }
            match bill.amounts.tax_inclusive {
                Some(total) => {
                    let expected = total - bill.amounts.prepaid.unwrap_or_default()
                        + bill.amounts.rounding.unwrap_or_default();
                    if expected != due {
                        holds.insert(HoldReason::TotalsMismatch);
                    }
                }
                None => {
                    warnings.insert(Warning::TotalsUnchecked);
                }
            }
        }
    }

    // Means of payment and the account to pay.
    bill.chosen_instruction = None;
    let instructions = &bill.payment_instructions;
    let codes: Vec<&str> = instructions
        .iter()
        .filter_map(|p| p.means_code.as_deref())
        .collect();
    let has = |set: &[&str]| codes.iter().any(|c| set.contains(c));
    if has(DIRECT_DEBIT) {
        holds.insert(HoldReason::DirectDebit);
    }
    // Card data next to a transfer code (Factur-X demo samples fill every field) does not make
    // it a card payment: the means code decides (BR-DE-23 forbids card data with 30/58 anyway).
    if has(CARD) {
        holds.insert(HoldReason::CardPayment);
    }
    // A JSON bill may give an account without a means code: that is a credit transfer.
    let is_transfer = |code: Option<&str>| {
        code.is_none_or(|c| CREDIT_TRANSFER.contains(&c))
            && !(code.is_none() && bill.syntax != Syntax::Json)
    };
    let transfer: Vec<(usize, &crate::model::PaymentInstruction)> = instructions
        .iter()
        .enumerate()
        .filter(|(_, p)| is_transfer(p.means_code.as_deref()))
        .collect();
    if instructions.is_empty() {
        holds.insert(HoldReason::NoIban);
    } else if transfer.is_empty() {
        if !holds.contains(&HoldReason::DirectDebit) && !holds.contains(&HoldReason::CardPayment) {
            holds.insert(HoldReason::UnsupportedMeans);
        }
    } else {
        let with_account: Vec<_> = transfer
            .iter()
            .filter(|(_, p)| p.account_id.is_some())
            .collect();
        let valid: Vec<_> = with_account
            .iter()
            .filter(|(_, p)| p.iban.is_some())
            .collect();
        let sepa: Vec<_> = valid
            .iter()
            .filter(|(_, p)| {
                p.iban
                    .as_deref()
                    .and_then(|i| i.get(..2))
                    .is_some_and(is_sepa_country)
            })
            .collect();
        if with_account.is_empty() {
            holds.insert(HoldReason::NoIban);
        } else if valid.is_empty() {
            holds.insert(HoldReason::InvalidIban);
        } else if sepa.is_empty() {
            holds.insert(HoldReason::NonSepaIban);
        } else {
            let known = sepa.iter().find(|(_, p)| {
                p.iban
                    .as_ref()
                    .is_some_and(|i| opts.known_ibans.contains(i))
            });
            let (idx, chosen) = **known.unwrap_or(&sepa[0]);
            let distinct: BTreeSet<&str> =
                sepa.iter().filter_map(|(_, p)| p.iban.as_deref()).collect();
            if distinct.len() > 1 && known.is_none() {
                warnings.insert(Warning::MultipleIbans);
            }
            let iban = chosen.iban.clone().unwrap_or_default();
            let is_payer_account = instructions.iter().any(|p| {
                p.payer_account
                    .as_deref()
                    .and_then(normalize_iban)
                    .as_deref()
                    == Some(iban.as_str())
            });
            if is_payer_account {
                holds.insert(HoldReason::PayerAccount);
            } else {
                if let Some(bic) = chosen.bic.as_deref() {
                    if !bic_is_valid(bic) {
                        holds.insert(HoldReason::InvalidBic);
                    } else if bic_country(bic) != iban.get(..2) {
                        warnings.insert(Warning::BicCountryMismatch);
                    }
                }
                bill.chosen_instruction = Some(*idx);
            }
        }
    }

    // Reference and dates: worth a look, not a hold.
    if let Some(r) = bill.payment_reference.as_deref() {
        if r.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("RF")) && !rf_reference_is_valid(r) {
            warnings.insert(Warning::InvalidCreditorReference);
        }
    }
    match (bill.due_date, bill.issue_date) {
        (None, _) => {
            warnings.insert(Warning::NoDueDate);
        }
        (Some(due), Some(issued)) if due < issued && bill.kind != BillKind::Prepayment => {
            warnings.insert(Warning::DueBeforeIssue);
        }
        _ => {}
    }

    bill.hold_reasons = holds.into_iter().collect();
    bill.warnings = warnings.into_iter().collect();
    bill.payable = bill.hold_reasons.is_empty();
}
