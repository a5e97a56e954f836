//! Turns the walker's (field, text, attributes) stream into a [`Bill`].

use chrono::NaiveDate;

use super::tables::Field;
use super::Attrs;
use crate::assess::Warning;
use crate::model::{
    Bill, BillKind, Identifier, Payee, PaymentInstruction, PrecedingInvoice, Syntax,
};
use crate::values::{parse_amount, parse_cii_date, parse_xs_date};

pub(crate) struct Builder {
    bill: Bill,
    /// (field, lexical value, `@currencyID`) of every total, resolved in `finish`.
    amounts: Vec<(Field, String, Option<String>)>,
    /// UBL `PartyTaxScheme` groups: (CompanyID, TaxScheme/ID).
    tax_groups: Vec<(Option<String>, Option<String>)>,
    /// Every BT-9 candidate in document order.
    due_dates: Vec<NaiveDate>,
    /// UBL `PaymentMeans/PaymentDueDate` (BT-9 of credit notes and pre-EN invoices).
    means_due_date: Option<NaiveDate>,
    /// CII `ProprietaryID` per payment instruction (used when there is no `IBANID`).
    proprietary: Vec<Option<String>>,
    preceding: Vec<(Option<String>, Option<NaiveDate>)>,
    mandate: Option<String>,
}

fn set_first(slot: &mut Option<String>, value: &str) {
    if slot.is_none() {
        *slot = Some(value.to_string());
    }
}

fn ident(value: &str, attrs: Attrs) -> Identifier {
    Identifier {
        value: value.to_string(),
        scheme: attrs.scheme,
    }
}

impl Builder {
    pub(crate) fn new(syntax: Syntax) -> Self {
        Builder {
            bill: Bill::empty(syntax),
            amounts: Vec::new(),
            tax_groups: Vec::new(),
            due_dates: Vec::new(),
            means_due_date: None,
            proprietary: Vec::new(),
            preceding: Vec::new(),
            mandate: None,
        }
    }

    fn is_ubl(&self) -> bool {
        matches!(self.bill.syntax, Syntax::UblInvoice | Syntax::UblCreditNote)
    }

    fn date(&mut self, value: &str, attrs: &Attrs, bad: Warning) -> Option<NaiveDate> {
        let parsed = if self.is_ubl() {
            parse_xs_date(value)
        } else {
            parse_cii_date(value, attrs.format.as_deref())
        };
        if parsed.is_none() {
            self.warn(bad);
        }
        parsed
    }

    fn warn(&mut self, w: Warning) {
        if !self.bill.warnings.contains(&w) {
            self.bill.warnings.push(w);
        }
    }

    fn instruction(&mut self) -> &mut PaymentInstruction {
        if self.bill.payment_instructions.is_empty() {
            self.open(Field::PaymentOpen);
        }
        let last = self.bill.payment_instructions.len() - 1;
        &mut self.bill.payment_instructions[last]
    }

    fn payee(&mut self) -> &mut Payee {
        self.bill.payee.get_or_insert_with(Payee::default)
    }

    /// A group container opened.
    pub(crate) fn open(&mut self, f: Field) {
        match f {
            Field::PaymentOpen => {
                self.bill
                    .payment_instructions
                    .push(PaymentInstruction::default());
                self.proprietary.push(None);
            }
            Field::SellerTaxOpen => self.tax_groups.push((None, None)),
            Field::PrecedingOpen => self.preceding.push((None, None)),
            Field::PayeeOpen => {
                self.payee();
            }
            _ => {}
        }
    }

    /// A group container closed (nothing to do yet: groups are resolved in `finish`).
    pub(crate) fn close(&mut self, _f: Field) {}

    /// A leaf's trimmed text and attributes.
    pub(crate) fn field(&mut self, f: Field, v: &str, attrs: Attrs) {
        if v.is_empty() {
            return; // empty elements count as absent (Peppol R008)
        }
        match f {
            Field::Profile => set_first(&mut self.bill.profile, v),
            Field::BusinessProcess => set_first(&mut self.bill.business_process, v),
            Field::Number => set_first(&mut self.bill.number, v),
            Field::TypeCode => set_first(&mut self.bill.type_code, v),
            Field::IssueDate => {
                if self.bill.issue_date.is_none() {
                    self.bill.issue_date = self.date(v, &attrs, Warning::InvalidIssueDate);
                }
            }
            Field::DueDate => {
                if let Some(d) = self.date(v, &attrs, Warning::InvalidDueDate) {
                    self.due_dates.push(d);
                }
            }
            Field::PmDueDate => {
                let d = self.date(v, &attrs, Warning::InvalidDueDate);
                if self.means_due_date.is_none() {
                    self.means_due_date = d;
                }
            }
            Field::PaymentTerms => set_first(&mut self.bill.payment_terms, v),
            Field::Currency => set_first(&mut self.bill.currency, v),
            Field::BuyerReference => set_first(&mut self.bill.buyer_reference, v),
            Field::PurchaseOrder => set_first(&mut self.bill.purchase_order, v),
            Field::PrecedingOpen | Field::SellerTaxOpen | Field::PayeeOpen | Field::PaymentOpen => {
            }
            Field::PrecedingNumber => {
                if self.preceding.is_empty() {
                    self.preceding.push((None, None));
                }
                if let Some(last) = self.preceding.last_mut() {
                    set_first(&mut last.0, v);
                }
            }
            Field::PrecedingDate => {
                let d = self.date(v, &attrs, Warning::InvalidPrecedingDate);
                if self.preceding.is_empty() {
                    self.preceding.push((None, None));
                }
                if let Some(last) = self.preceding.last_mut() {
                    last.1 = last.1.or(d);
                }
            }
            Field::SellerName => set_first(&mut self.bill.seller.name, v),
            Field::SellerTradingName => set_first(&mut self.bill.seller.trading_name, v),
            Field::SellerId => {
                if attrs.scheme.as_deref() == Some("SEPA") {
                    set_first(&mut self.bill.creditor_id, v);
                } else {
                    self.bill.seller.ids.push(ident(v, attrs));
                }
            }
            Field::SellerLegalId => {
                if self.bill.seller.legal_id.is_none() {
                    self.bill.seller.legal_id = Some(ident(v, attrs));
                }
            }
            Field::SellerTaxCompanyId | Field::SellerTaxSchemeId => {
                if self.tax_groups.is_empty() {
                    self.tax_groups.push((None, None));
                }
                if let Some(g) = self.tax_groups.last_mut() {
                    let slot = if f == Field::SellerTaxCompanyId {
                        &mut g.0
                    } else {
                        &mut g.1
                    };
                    set_first(slot, v);
                }
            }
            Field::SellerTaxRegistration => match attrs.scheme.as_deref() {
                Some("FC") => set_first(&mut self.bill.seller.tax_registration, v),
                _ => set_first(&mut self.bill.seller.vat_id, v),
            },
            Field::SellerEndpoint => {
                if self.bill.seller.endpoint.is_none() {
                    self.bill.seller.endpoint = Some(ident(v, attrs));
                }
            }
            Field::SellerCity => set_first(&mut self.bill.seller.city, v),
            Field::SellerCountry => set_first(&mut self.bill.seller.country, v),
            Field::BuyerName => self.bill.buyer.name = Some(v.to_string()),
            Field::BuyerTradingName => set_first(&mut self.bill.buyer.name, v),
            Field::BuyerLegalId => {
                if self.bill.buyer.legal_id.is_none() {
                    self.bill.buyer.legal_id = Some(ident(v, attrs));
                }
            }
            Field::PayeeName => set_first(&mut self.payee().name, v),
            Field::PayeeId => {
                if attrs.scheme.as_deref() == Some("SEPA") {
                    set_first(&mut self.bill.creditor_id, v);
                    self.payee();
                } else {
                    let p = self.payee();
                    if p.id.is_none() {
                        p.id = Some(ident(v, attrs));
                    }
                }
            }
            Field::PayeeLegalId => {
                let p = self.payee();
                if p.legal_id.is_none() {
                    p.legal_id = Some(ident(v, attrs));
                }
            }
            Field::CreditorId => set_first(&mut self.bill.creditor_id, v),
            Field::PaymentReference => {
                if self
                    .bill
                    .payment_reference
                    .as_deref()
                    .is_some_and(|r| r != v)
                {
                    self.warn(Warning::MultiplePaymentReferences);
                }
                set_first(&mut self.bill.payment_reference, v);
            }
            Field::PmCode => {
                let name = attrs.name;
                let pm = self.instruction();
                set_first(&mut pm.means_code, v);
                if pm.means_text.is_none() {
                    pm.means_text = name;
                }
            }
            Field::PmText => set_first(&mut self.instruction().means_text, v),
            Field::PmPaymentId => {
                set_first(&mut self.instruction().payment_id, v);
                if self
                    .bill
                    .payment_reference
                    .as_deref()
                    .is_some_and(|r| r != v)
                {
                    self.warn(Warning::MultiplePaymentReferences);
                }
                set_first(&mut self.bill.payment_reference, v);
            }
            Field::PmAccountId | Field::PmIban => set_first(&mut self.instruction().account_id, v),
            Field::PmProprietary => {
                self.instruction();
                if let Some(slot) = self.proprietary.last_mut() {
                    set_first(slot, v);
                }
            }
            Field::PmAccountName => set_first(&mut self.instruction().account_name, v),
            Field::PmBic | Field::PmBicFallback => set_first(&mut self.instruction().bic, v),
            Field::PmCard => self.instruction().card = true,
            Field::PmMandate => set_first(&mut self.instruction().mandate_id, v),
            Field::PmPayerAccount => set_first(&mut self.instruction().payer_account, v),
            Field::Mandate => set_first(&mut self.mandate, v),
            Field::TaxInclusive | Field::Prepaid | Field::Rounding | Field::Payable => {
                self.amounts.push((f, v.to_string(), attrs.currency));
            }
        }
    }

    pub(crate) fn finish(mut self) -> Bill {
        // Totals: the first occurrence in the document currency (or without currency) wins.
        let doc_currency = self.bill.currency.clone();
        let mut payable_currency = None;
        for field in [
            Field::TaxInclusive,
            Field::Prepaid,
            Field::Rounding,
            Field::Payable,
        ] {
            let mut candidates = self.amounts.iter().filter(|(f, _, _)| *f == field);
            let first = candidates.clone().next();
            let chosen = candidates
                .find(|(_, _, c)| c.is_none() || c.as_deref() == doc_currency.as_deref())
                .or(first);
            let Some((_, lexical, currency)) = chosen.cloned() else {
                continue;
            };
            let value = parse_amount(&lexical);
            if value.is_none() {
                self.warn(Warning::InvalidAmount);
            }
            let a = &mut self.bill.amounts;
            match field {
                Field::TaxInclusive => a.tax_inclusive = value,
                Field::Prepaid => a.prepaid = value,
                Field::Rounding => a.rounding = value,
                _ => {
                    a.payable = value;
                    payable_currency = currency;
                }
            }
        }
        match (&self.bill.currency, &payable_currency) {
            // UBL 2.0 samples have no BT-5: the amount's own currency is the best we have.
            (None, Some(c)) => self.bill.currency = Some(c.clone()),
            (Some(doc), Some(c)) if doc != c => self.warn(Warning::AmountCurrencyMismatch),
            _ => {}
        }

        // Due date: the first BT-9; several different ones deserve a look.
        self.bill.due_date = self.due_dates.first().copied().or(self.means_due_date);
        if self
            .due_dates
            .iter()
            .any(|d| Some(*d) != self.bill.due_date)
        {
            self.warn(Warning::MultipleDueDates);
        }

        // VAT id and tax registration from UBL PartyTaxScheme groups.
        for (company, scheme) in std::mem::take(&mut self.tax_groups) {
            let Some(company) = company else { continue };
            let is_vat = scheme
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("VAT"));
            let slot = if is_vat {
                &mut self.bill.seller.vat_id
            } else {
                &mut self.bill.seller.tax_registration
            };
            if slot.is_none() {
                *slot = Some(company);
            }
        }

        self.bill.preceding_invoices = std::mem::take(&mut self.preceding)
            .into_iter()
            .filter_map(|(number, issue_date)| {
                number.map(|number| PrecedingInvoice { number, issue_date })
            })
            .collect();

        for (pm, proprietary) in self
            .bill
            .payment_instructions
            .iter_mut()
            .zip(self.proprietary.iter())
        {
            if pm.account_id.is_none() {
                pm.account_id = proprietary.clone();
            }
            if pm.mandate_id.is_none() {
                pm.mandate_id = self.mandate.clone();
            }
            pm.iban = pm
                .account_id
                .as_deref()
                .and_then(crate::validate::normalize_iban);
        }

        self.bill.kind = match (&self.bill.type_code, self.bill.syntax) {
            (Some(code), _) => BillKind::from_type_code(code),
            // UBL 2.0 made the type code optional: the root says what the document is.
            (None, Syntax::UblInvoice) => BillKind::Invoice,
            (None, Syntax::UblCreditNote) => BillKind::CreditNote,
            (None, _) => BillKind::Other,
        };
        self.bill
    }
}
