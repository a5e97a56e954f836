//! The canonical bill: everything payment needs from an e-invoice (FIELDS.md §2).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::assess::{HoldReason, Warning};

/// Which syntax a bill was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Syntax {
    /// UBL 2.x `Invoice` (root namespace `…:Invoice-2`).
    UblInvoice,
    /// UBL 2.x `CreditNote` (root namespace `…:CreditNote-2`).
    UblCreditNote,
    /// UN/CEFACT CII D16B: Factur-X, ZUGFeRD 2.x, XRechnung CII, French CTC.
    Cii,
    /// ZUGFeRD 1.0 `CrossIndustryDocument`.
    Zugferd1,
    /// billbridge's canonical JSON bill, or an ERP payload read through a mapping.
    Json,
}

impl Syntax {
    /// The stable name used in `billbridge parse` output and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Syntax::UblInvoice => "ubl-invoice",
            Syntax::UblCreditNote => "ubl-credit-note",
            Syntax::Cii => "cii",
            Syntax::Zugferd1 => "zugferd1",
            Syntax::Json => "json",
        }
    }
}

/// What a document is, for payment purposes (from BT-3, UNTDID 1001; FIELDS.md §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillKind {
    /// 380 and the other plain invoice codes: pay it.
    Invoice,
    /// 381, 396, 261, 262, 502, 503, 81, 83, 532…: owed to us, never paid.
    CreditNote,
    /// 384: replaces the invoice named in BT-25.
    Corrected,
    /// 389: issued by the buyer on the seller's behalf (German "Gutschrift").
    SelfBilled,
    /// 393: pay the factor (BG-10 payee).
    Factored,
    /// 386: prepayment invoice.
    Prepayment,
    /// Anything else (751 "information for accounting purposes", unknown codes).
    Other,
}

impl BillKind {
    /// Classify a BT-3 type code. `None` (no code at all) is treated as an invoice only for JSON.
    pub fn from_type_code(code: &str) -> BillKind {
        match code {
            "380" | "71" | "80" | "82" | "84" | "102" | "218" | "219" | "326" | "331" | "382"
            | "383" | "395" | "553" | "575" | "623" | "780" | "817" | "870" | "875" | "876"
            | "877" | "388" | "501" | "500" | "471" | "472" | "473" => BillKind::Invoice,
            "381" | "396" | "261" | "262" | "296" | "308" | "420" | "458" | "502" | "503"
            | "81" | "83" | "532" => BillKind::CreditNote,
            "384" => BillKind::Corrected,
            "389" => BillKind::SelfBilled,
            "393" => BillKind::Factored,
            "386" => BillKind::Prepayment,
            _ => BillKind::Other,
        }
    }
}

/// An identifier with its optional scheme (`@schemeID`, e.g. `0002` = SIREN, `0009` = SIRET).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
}

/// The seller (BG-4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seller {
    /// BT-27 legal name (UBL `RegistrationName`, CII `SellerTradeParty/Name`).
    pub name: Option<String>,
    /// BT-28 trading name.
    pub trading_name: Option<String>,
    /// BT-31 VAT identifier.
    pub vat_id: Option<String>,
    /// BT-30 legal registration identifier (SIREN when the scheme is `0002`).
    pub legal_id: Option<Identifier>,
    /// BT-29 seller identifiers (SIRET `0009`, GLN `0088`…), without the SEPA creditor id.
    #[serde(default)]
    pub ids: Vec<Identifier>,
    /// BT-32 tax registration other than VAT (e.g. German Steuernummer).
    pub tax_registration: Option<String>,
    /// BT-34 electronic address.
    pub endpoint: Option<Identifier>,
    /// BT-37 city.
    pub city: Option<String>,
    /// BT-40 country code.
    pub country: Option<String>,
}

impl Seller {
    /// The SIREN (9 digits) when the legal id carries scheme `0002`, or can be read from a SIRET (`0009`).
    pub fn siren(&self) -> Option<&str> {
        if let Some(id) = &self.legal_id {
            if id.scheme.as_deref() == Some("0002") {
                return Some(id.value.as_str());
            }
        }
        self.ids
            .iter()
            .find(|i| i.scheme.as_deref() == Some("0009") && i.value.len() == 14)
            .map(|i| &i.value[..9])
    }
}

/// The payee when it differs from the seller (BG-10), e.g. a factor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payee {
    /// BT-59.
    pub name: Option<String>,
    /// BT-60.
    pub id: Option<Identifier>,
    /// BT-61.
    pub legal_id: Option<Identifier>,
}

/// The buyer (BG-7): us, as the invoice sees us.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    /// BT-44.
    pub name: Option<String>,
    /// BT-47.
    pub legal_id: Option<Identifier>,
}

/// Document totals (BG-22) as decimals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amounts {
    /// BT-112 total with VAT.
    pub tax_inclusive: Option<Decimal>,
    /// BT-113 paid in advance.
    pub prepaid: Option<Decimal>,
    /// BT-114 rounding.
    pub rounding: Option<Decimal>,
    /// BT-115 amount due: what we pay.
    pub payable: Option<Decimal>,
}

/// One payment instruction (BG-16) as written, with the IBAN when it is a valid one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInstruction {
    /// BT-81 UNTDID 4461 code (`30`, `58`, `49`, `59`…).
    pub means_code: Option<String>,
    /// BT-82 free text.
    pub means_text: Option<String>,
    /// BT-84 payee account as written (IBAN or proprietary id).
    pub account_id: Option<String>,
    /// `account_id` normalised (whitespace removed, upper case) when it is a valid IBAN.
    pub iban: Option<String>,
    /// BT-85.
    pub account_name: Option<String>,
    /// BT-86 as written.
    pub bic: Option<String>,
    /// BT-87 / BG-18: a card is named (card payment).
    pub card: bool,
    /// BT-89 direct debit mandate.
    pub mandate_id: Option<String>,
    /// BT-91: the buyer's (our) account that a direct debit would take from. Never a payee account.
    pub payer_account: Option<String>,
    /// BT-83 given inside this instruction (UBL `PaymentID`).
    pub payment_id: Option<String>,
}

/// The preceding invoice a corrected invoice or credit note refers to (BG-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrecedingInvoice {
    /// BT-25.
    pub number: String,
    /// BT-26.
    pub issue_date: Option<NaiveDate>,
}

/// The canonical bill: what billbridge knows about one supplier document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    pub syntax: Syntax,
    /// BT-24 specification identifier (CIUS / Factur-X profile).
    pub profile: Option<String>,
    /// BT-23 business process (French CTC `B1`, `S2`…).
    pub business_process: Option<String>,
    /// The ERP's own id for the bill (JSON intake only).
    pub external_id: Option<String>,
    /// BT-1.
    pub number: Option<String>,
    /// BT-3 as written.
    pub type_code: Option<String>,
    pub kind: BillKind,
    /// BT-2.
    pub issue_date: Option<NaiveDate>,
    /// BT-9.
    pub due_date: Option<NaiveDate>,
    /// BT-20.
    pub payment_terms: Option<String>,
    /// BT-5.
    pub currency: Option<String>,
    pub amounts: Amounts,
    pub seller: Seller,
    pub payee: Option<Payee>,
    pub buyer: Buyer,
    /// BT-10.
    pub buyer_reference: Option<String>,
    /// BT-13.
    pub purchase_order: Option<String>,
    /// BT-25/26, every one given.
    #[serde(default)]
    pub preceding_invoices: Vec<PrecedingInvoice>,
    /// BT-90 SEPA creditor identifier.
    pub creditor_id: Option<String>,
    /// Every payment instruction (BG-16), in document order.
    #[serde(default)]
    pub payment_instructions: Vec<PaymentInstruction>,
    /// Index into `payment_instructions` of the account billbridge would pay.
    pub chosen_instruction: Option<usize>,
    /// BT-83 remittance information.
    pub payment_reference: Option<String>,
    /// The outcome of [`crate::assess`]: can billbridge pay this?
    pub payable: bool,
    #[serde(default)]
    pub hold_reasons: Vec<HoldReason>,
    #[serde(default)]
    pub warnings: Vec<Warning>,
}

impl Bill {
    /// An empty bill of the given syntax; readers fill it in.
    pub fn empty(syntax: Syntax) -> Bill {
        Bill {
            syntax,
            profile: None,
            business_process: None,
            external_id: None,
            number: None,
            type_code: None,
            kind: BillKind::Other,
            issue_date: None,
            due_date: None,
            payment_terms: None,
            currency: None,
            amounts: Amounts::default(),
            seller: Seller::default(),
            payee: None,
            buyer: Buyer::default(),
            buyer_reference: None,
            purchase_order: None,
            preceding_invoices: Vec::new(),
            creditor_id: None,
            payment_instructions: Vec::new(),
            chosen_instruction: None,
            payment_reference: None,
            payable: false,
            hold_reasons: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The payment instruction billbridge would pay, if one was chosen.
    pub fn chosen_payment(&self) -> Option<&PaymentInstruction> {
        self.chosen_instruction
            .and_then(|i| self.payment_instructions.get(i))
    }

    /// The IBAN billbridge would pay, if any.
    pub fn payee_iban(&self) -> Option<&str> {
        self.chosen_payment().and_then(|p| p.iban.as_deref())
    }

    /// The creditor name for the transfer and for Verification of Payee:
    /// BT-59 payee name when present, else BT-27 legal name, else BT-28 trading name (FIELDS.md §7).
    pub fn creditor_name(&self) -> Option<&str> {
        self.payee
            .as_ref()
            .and_then(|p| p.name.as_deref())
            .or(self.seller.name.as_deref())
            .or(self.seller.trading_name.as_deref())
    }
}
