//! One test per trap of FIELDS.md §3 (and the decision rules of §4–§5), on fixtures the team
//! wrote (tests/fixtures) and small edits of them.

mod common;

use adapters::{BillKind, HoldReason as H, ParseOptions, Syntax, Warning as W};
use chrono::NaiveDate;
use common::{edit, parse, parse_bytes, CII, JSON, UBL};
use rust_decimal::Decimal;
use std::str::FromStr;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

#[test]
fn base_fixtures_are_payable_with_every_field() {
    let b = parse(UBL);
    assert_eq!(b.syntax, Syntax::UblInvoice);
    assert!(b.payable, "{:?}", b.hold_reasons);
    assert_eq!(b.number.as_deref(), Some("FA-2026-0042"));
    assert_eq!(b.kind, BillKind::Invoice);
    assert_eq!(b.issue_date, date(2026, 11, 2));
    assert_eq!(b.due_date, date(2026, 12, 2));
    assert_eq!(b.amounts.payable, Some(dec("1100.10")));
    assert_eq!(b.amounts.prepaid, Some(dec("100.00")));
    assert_eq!(b.seller.name.as_deref(), Some("Papeterie Moderne SAS"));
    assert_eq!(b.seller.trading_name.as_deref(), Some("Papeterie Moderne"));
    assert_eq!(b.seller.vat_id.as_deref(), Some("FR44123456782"));
    assert_eq!(b.seller.siren(), Some("123456782"));
    assert_eq!(b.seller.city.as_deref(), Some("Lyon"));
    assert_eq!(b.seller.country.as_deref(), Some("FR"));
    assert_eq!(b.buyer_reference.as_deref(), Some("REF-ACHAT-7"));
    assert_eq!(b.purchase_order.as_deref(), Some("PO-991"));
    assert_eq!(b.payee_iban(), Some("FR7630006000011234567890189"));
    assert_eq!(
        b.chosen_payment().and_then(|p| p.bic.as_deref()),
        Some("AGRIFRPP")
    );
    assert_eq!(
        b.chosen_payment().and_then(|p| p.means_text.as_deref()),
        Some("Virement SEPA")
    );
    assert_eq!(b.payment_reference.as_deref(), Some("RF18539007547034"));

    let c = parse(CII);
    assert_eq!(c.syntax, Syntax::Cii);
    assert!(c.payable, "{:?}", c.hold_reasons);
    assert_eq!(c.business_process.as_deref(), Some("S1"));
    assert_eq!(
        c.seller.legal_id.as_ref().map(|i| i.scheme.as_deref()),
        Some(Some("0002"))
    );
    assert_eq!(c.seller.trading_name.as_deref(), Some("Dupont Chauffage"));
    assert_eq!(c.seller.ids[0].scheme.as_deref(), Some("0009"));
    assert_eq!(c.due_date, date(2026, 12, 5));
    assert_eq!(c.amounts.payable, Some(dec("576.00")));

    let j = parse(JSON);
    assert_eq!(j.syntax, Syntax::Json);
    assert!(j.payable, "{:?}", j.hold_reasons);
    assert_eq!(j.external_id.as_deref(), Some("ERP-4711"));
}

/// Trap 1: UBL CreditNote root; BT-9 lives in PaymentMeans/PaymentDueDate.
#[test]
fn trap01_credit_note_root_and_its_due_date() {
    let doc = UBL
        .replace("xsd:Invoice-2", "xsd:CreditNote-2")
        .replace("<Invoice ", "<CreditNote ")
        .replace("</Invoice>", "</CreditNote>")
        .replace("InvoiceTypeCode>380", "CreditNoteTypeCode>381")
        .replace("</cbc:InvoiceTypeCode>", "</cbc:CreditNoteTypeCode>")
        .replace("<cbc:DueDate>2026-12-02</cbc:DueDate>", "")
        .replace(
            "<cbc:PaymentID>",
            "<cbc:PaymentDueDate>2026-12-20</cbc:PaymentDueDate><cbc:PaymentID>",
        );
    let b = parse(&doc);
    assert_eq!(b.syntax, Syntax::UblCreditNote);
    assert_eq!(b.kind, BillKind::CreditNote);
    assert_eq!(b.due_date, date(2026, 12, 20));
    assert!(!b.payable);
    assert!(b.hold_reasons.contains(&H::CreditNote));
}

/// Trap 2: credits as negative invoices, and prepayment exceeding the total.
#[test]
fn trap02_negative_and_zero_amounts_are_never_paid() {
    let doc = edit(
        UBL,
        "<cbc:PayableAmount currencyID=\"EUR\">1100.10",
        "<cbc:PayableAmount currencyID=\"EUR\">-1100.10",
    );
    let b = parse(&doc);
    assert!(b.hold_reasons.contains(&H::NonPositiveAmount));
    let doc = edit(
        CII,
        "<ram:DuePayableAmount>576.00",
        "<ram:TotalPrepaidAmount>576.00</ram:TotalPrepaidAmount><ram:DuePayableAmount>0.00",
    );
    let b = parse(&doc);
    assert_eq!(b.hold_reasons, vec![H::NonPositiveAmount]);
    // CII carries credit notes under the same root.
    let doc = edit(CII, "<ram:TypeCode>380", "<ram:TypeCode>381");
    assert!(parse(&doc).hold_reasons.contains(&H::CreditNote));
}

/// Trap 3: German "Gutschrift" is 389 self-billing, a real debt, not a credit note.
#[test]
fn trap03_self_billed_is_payable() {
    let b = parse(&edit(CII, "<ram:TypeCode>380", "<ram:TypeCode>389"));
    assert_eq!(b.kind, BillKind::SelfBilled);
    assert!(b.payable, "{:?}", b.hold_reasons);
}

/// Trap 4: several payment instructions with different accounts.
#[test]
fn trap04_multiple_payment_means() {
    let second = "<cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>\
        <cac:PayeeFinancialAccount><cbc:ID>DE89370400440532013000</cbc:ID></cac:PayeeFinancialAccount>\
        </cac:PaymentMeans><cac:PaymentTerms>";
    let doc = edit(UBL, "<cac:PaymentTerms>", second);
    let b = parse(&doc);
    assert_eq!(b.payment_instructions.len(), 2);
    assert_eq!(b.payee_iban(), Some("FR7630006000011234567890189"));
    assert!(b.warnings.contains(&W::MultipleIbans));
    assert!(b.payable);
    // An account already on record for the supplier wins, and then nothing needs a look.
    let opts = ParseOptions {
        known_ibans: vec!["DE89370400440532013000".into()],
        ..ParseOptions::default()
    };
    let b = adapters::parse(doc.as_bytes(), &opts).unwrap();
    assert_eq!(b.payee_iban(), Some("DE89370400440532013000"));
    assert!(!b.warnings.contains(&W::MultipleIbans));
}

/// Trap 5: the payer's (our) account is never the one paid, whatever the document order.
#[test]
fn trap05_payer_account_is_never_taken() {
    let b = parse(CII);
    assert_eq!(b.payee_iban(), Some("DE89370400440532013000"));
    assert_eq!(
        b.payment_instructions[0].payer_account.as_deref(),
        Some("FR1420041010050500013M02606")
    );
    // Only a debtor account: nothing to pay to.
    let doc = edit(
        CII,
        "<ram:IBANID>DE89 3704 0044 0532 0130 00</ram:IBANID>",
        "",
    );
    let b = parse(&doc);
    assert_eq!(b.payee_iban(), None);
    assert!(b.hold_reasons.contains(&H::NoIban));
    // A payee account equal to the payer account is refused.
    let doc = edit(
        CII,
        "DE89 3704 0044 0532 0130 00",
        "FR14 2004 1010 0505 0001 3M02 606",
    );
    assert!(parse(&doc).hold_reasons.contains(&H::PayerAccount));
}

/// Trap 6: BT-90 (SEPA creditor id) hides in PartyIdentification.
#[test]
fn trap06_creditor_id_is_not_a_seller_id() {
    let b = parse(UBL);
    assert_eq!(b.creditor_id.as_deref(), Some("FR12ZZZ123456"));
    assert_eq!(b.seller.ids.len(), 1);
    assert_eq!(b.seller.ids[0].value, "12345678200017");
}

/// Trap 7: payee ≠ seller (factoring): the payee is the creditor.
#[test]
fn trap07_factored_invoice_pays_the_payee() {
    let doc = edit(CII, "<ram:TypeCode>380", "<ram:TypeCode>393");
    let b = parse(&doc);
    assert!(b.hold_reasons.contains(&H::MissingPayee));
    let doc = edit(
        &doc,
        "<ram:InvoiceCurrencyCode>",
        "<ram:PayeeTradeParty><ram:Name>Factor Finance SA</ram:Name></ram:PayeeTradeParty><ram:InvoiceCurrencyCode>",
    );
    let b = parse(&doc);
    assert_eq!(b.kind, BillKind::Factored);
    assert!(b.payable, "{:?}", b.hold_reasons);
    assert_eq!(b.creditor_name(), Some("Factor Finance SA"));
}

/// Trap 8: amounts are decimals with many lexical forms; never f64.
#[test]
fn trap08_amount_lexical_forms() {
    let b = parse(UBL);
    assert_eq!(b.amounts.rounding, Some(dec("0.10")));
    let doc = edit(
        CII,
        "<ram:DuePayableAmount>576.00",
        "<ram:DuePayableAmount>576.0",
    );
    assert_eq!(parse(&doc).amounts.payable, Some(dec("576")));
    let doc = edit(
        CII,
        "<ram:DuePayableAmount>576.00",
        "<ram:DuePayableAmount>5.76e2",
    );
    let b = parse(&doc);
    assert_eq!(b.amounts.payable, None);
    assert!(b.hold_reasons.contains(&H::MissingAmount));
    assert!(b.warnings.contains(&W::InvalidAmount));
    let doc = edit(
        CII,
        "<ram:DuePayableAmount>576.00",
        "<ram:DuePayableAmount>575.995",
    );
    assert!(parse(&doc).hold_reasons.contains(&H::AmountPrecision));
}

/// Trap 9: BT-115 = BT-112 − BT-113 + BT-114, recomputed; pay BT-115, never BT-112.
#[test]
fn trap09_totals_are_recomputed() {
    let doc = edit(
        UBL,
        "<cbc:PayableAmount currencyID=\"EUR\">1100.10",
        "<cbc:PayableAmount currencyID=\"EUR\">1200.00",
    );
    assert!(parse(&doc).hold_reasons.contains(&H::TotalsMismatch));
}

/// Trap 10: dates: xs:date in UBL, format 102 only in CII.
#[test]
fn trap10_dates() {
    let doc = edit(
        UBL,
        "<cbc:DueDate>2026-12-02</cbc:DueDate>",
        "<cbc:DueDate>2026-12-02Z</cbc:DueDate>",
    );
    assert_eq!(parse(&doc).due_date, date(2026, 12, 2));
    let doc = edit(CII, "format=\"102\">20261205", "format=\"610\">202612");
    let b = parse(&doc);
    assert_eq!(b.due_date, None);
    assert!(b.warnings.contains(&W::InvalidDueDate));
    assert!(b.warnings.contains(&W::NoDueDate));
    // No BT-9 at all: terms in prose are not read as a date.
    let doc = edit(UBL, "<cbc:DueDate>2026-12-02</cbc:DueDate>", "");
    let b = parse(&doc);
    assert_eq!(b.due_date, None);
    assert_eq!(b.payment_terms.as_deref(), Some("30 jours net"));
}

/// Trap 11: prefixes vary; only namespace URIs count.
#[test]
fn trap11_prefixes_do_not_matter() {
    let doc = UBL
        .replace("<Invoice xmlns=", "<Bob:Invoice xmlns:Bob=")
        .replace("</Invoice>", "</Bob:Invoice>")
        .replace("xmlns:cbc=", "xmlns=")
        .replace("cbc:", "")
        .replace("cac:", "Sally:")
        .replace("xmlns:Sally:", "xmlns:Sally=")
        .replace("xmlns:cac=", "xmlns:Sally=");
    let a = parse(UBL);
    let b = parse(&doc);
    assert_eq!(a, b);
    // And a look-alike prefix bound to another namespace is not read.
    let doc = UBL.replace(
        "xmlns:cbc=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\"",
        "xmlns:cbc=\"urn:example:not-ubl\"",
    );
    assert_eq!(parse(&doc).number, None);
}

/// Trap 12: BOM, no declaration, single line, `</cbc:ID >`, trailing spaces, other encodings.
#[test]
fn trap12_bytes_before_the_root() {
    let reference = parse(UBL);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(UBL.as_bytes());
    assert_eq!(parse_bytes(&bom).unwrap(), reference);
    let no_decl = UBL.split_once("?>").unwrap().1;
    assert_eq!(parse(no_decl), reference);
    let one_line = UBL.replace('\n', " ");
    assert_eq!(parse(&one_line), reference);
    let spaced = edit(
        UBL,
        "<cbc:ID>FA-2026-0042</cbc:ID>",
        "<cbc:ID>  FA-2026-0042 </cbc:ID >",
    );
    assert_eq!(parse(&spaced).number.as_deref(), Some("FA-2026-0042"));

    // ISO-8859-1 declared and UTF-16 with BOM: transcoded, same bill.
    let latin = UBL
        .replace("encoding=\"UTF-8\"", "encoding=\"ISO-8859-1\"")
        .replace("Papeterie Moderne SAS", "Papeterie Müller SAS");
    let latin_bytes: Vec<u8> = latin.chars().map(|c| c as u32 as u8).collect();
    assert_eq!(
        parse_bytes(&latin_bytes).unwrap().seller.name.as_deref(),
        Some("Papeterie Müller SAS")
    );
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in UBL.replace("UTF-8", "UTF-16").encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    assert_eq!(parse_bytes(&utf16).unwrap(), reference);
    // Entities and CDATA in text.
    let doc = edit(
        UBL,
        "<cbc:BuyerReference>REF-ACHAT-7",
        "<cbc:BuyerReference>REF&#45;ACHAT<![CDATA[-]]>7&amp;",
    );
    assert_eq!(parse(&doc).buyer_reference.as_deref(), Some("REF-ACHAT-7&"));
}

/// Trap 13: IBANs in print format with spaces and lower case are normalised.
#[test]
fn trap13_print_format_iban() {
    let doc = edit(
        UBL,
        "FR76 3000 6000 0112 3456 7890 189",
        "fr76 3000 6000 0112 3456 7890 189",
    );
    assert_eq!(
        parse(&doc).payee_iban(),
        Some("FR7630006000011234567890189")
    );
}

/// Trap 14: example data is not bank data: rejected, not "fixed".
#[test]
fn trap14_fake_bank_data_is_held() {
    for fake in [
        "IBAN32423940",
        "DE8576040061XXXXXXXXXX",
        "DE12 1234 4321 9876 00",
        "DE12123456781234567890",
    ] {
        let b = parse(&edit(UBL, "FR76 3000 6000 0112 3456 7890 189", fake));
        assert_eq!(b.hold_reasons, vec![H::InvalidIban], "{fake}");
        assert_eq!(b.payment_instructions[0].account_id.as_deref(), Some(fake));
    }
    let b = parse(&edit(
        UBL,
        "<cbc:ID>AGRIFRPP</cbc:ID>",
        "<cbc:ID>BIC_MONCOMPTE</cbc:ID>",
    ));
    assert_eq!(b.hold_reasons, vec![H::InvalidBic]);
    let b = parse(&edit(
        UBL,
        "<cbc:ID>AGRIFRPP</cbc:ID>",
        "<cbc:ID>DEUTDEFF</cbc:ID>",
    ));
    assert!(b.payable);
    assert!(b.warnings.contains(&W::BicCountryMismatch));
}

/// Trap 15: only an ISO 11649-valid RF reference is structured; others are free text.
#[test]
fn trap15_references() {
    assert!(!parse(UBL).warnings.contains(&W::InvalidCreditorReference));
    let b = parse(&edit(UBL, "RF18539007547034", "RF19539007547034"));
    assert!(b.warnings.contains(&W::InvalidCreditorReference));
    assert!(
        b.payable,
        "a wrong RF is sent as free text, not a reason to hold"
    );
    let b = parse(&edit(UBL, "RF18539007547034", "+++010/6766/09538+++"));
    assert!(!b.warnings.contains(&W::InvalidCreditorReference));
}

/// Trap 16: no payment instructions at all (Factur-X MINIMUM, invoices without BG-16).
#[test]
fn trap16_no_payment_data() {
    let start = UBL.find("<cac:PaymentMeans>").unwrap();
    let end = UBL.find("</cac:PaymentMeans>").unwrap() + "</cac:PaymentMeans>".len();
    let doc = format!("{}{}", &UBL[..start], &UBL[end..]);
    let b = parse(&doc);
    assert!(b.payment_instructions.is_empty());
    assert_eq!(b.hold_reasons, vec![H::NoIban]);
}

/// Trap 17: direct debit: the supplier collects; paying as well would pay twice.
#[test]
fn trap17_direct_debit() {
    for code in ["49", "59"] {
        let b = parse(&edit(
            CII,
            "<ram:TypeCode>30</ram:TypeCode>",
            &format!("<ram:TypeCode>{code}</ram:TypeCode>"),
        ));
        assert!(b.hold_reasons.contains(&H::DirectDebit), "{code}");
        assert_eq!(b.payee_iban(), None);
    }
    for code in ["48", "54", "55"] {
        let b = parse(&edit(
            CII,
            "<ram:TypeCode>30</ram:TypeCode>",
            &format!("<ram:TypeCode>{code}</ram:TypeCode>"),
        ));
        assert_eq!(b.hold_reasons, vec![H::CardPayment], "{code}");
    }
    let b = parse(&edit(
        CII,
        "<ram:TypeCode>30</ram:TypeCode>",
        "<ram:TypeCode>10</ram:TypeCode>",
    ));
    assert_eq!(b.hold_reasons, vec![H::UnsupportedMeans]);
}

/// Trap 18: French CTC B2/S2/M2: already paid.
#[test]
fn trap18_french_already_paid() {
    let b = parse(&edit(CII, "<ram:ID>S1</ram:ID>", "<ram:ID>S2</ram:ID>"));
    assert!(b.hold_reasons.contains(&H::AlreadyPaid));
}

/// Trap 19: non-EN 16931 UBL is held unless explicitly accepted.
#[test]
fn trap19_unknown_specification() {
    let doc = edit(
        UBL,
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0",
        "urn:oasis:names:specification:ubl:xpath:Invoice-2.0:sbs-1.0-draft",
    );
    assert_eq!(parse(&doc).hold_reasons, vec![H::UnknownSpecification]);
    let opts = ParseOptions {
        accept_any_specification: true,
        ..ParseOptions::default()
    };
    assert!(adapters::parse(doc.as_bytes(), &opts).unwrap().payable);
}

/// Trap 20: SEPA transfers are EUR only; BT-6 does not change the payable currency.
#[test]
fn trap20_currencies() {
    let doc = UBL.replace("EUR", "USD");
    assert!(parse(&doc).hold_reasons.contains(&H::NonEur));
    let doc = edit(
        UBL,
        "<cbc:BuyerReference>",
        "<cbc:TaxCurrencyCode>SEK</cbc:TaxCurrencyCode><cbc:BuyerReference>",
    );
    assert!(parse(&doc).payable);
    // An amount in another currency than the document's is not paid.
    let doc = edit(
        UBL,
        "<cbc:PayableAmount currencyID=\"EUR\">",
        "<cbc:PayableAmount currencyID=\"USD\">",
    );
    assert!(parse(&doc).hold_reasons.contains(&H::CurrencyMismatch));
}

/// Trap 21: size and security (DTD, entities): see also tests/hostile.rs.
#[test]
fn trap21_dtd_is_refused() {
    let doc = UBL.replacen(
        "<Invoice",
        "<!DOCTYPE Invoice [<!ENTITY x \"y\">]><Invoice",
        1,
    );
    assert_eq!(
        parse_bytes(doc.as_bytes()).unwrap_err().code,
        adapters::ErrorCode::DtdForbidden
    );
}

/// 384 corrected invoices must name the invoice they replace (BT-25).
#[test]
fn corrected_invoice_links_to_the_original() {
    let doc = edit(CII, "<ram:TypeCode>380", "<ram:TypeCode>384");
    assert_eq!(parse(&doc).hold_reasons, vec![H::MissingPrecedingInvoice]);
    let doc = edit(
        &doc,
        "<ram:SpecifiedTradePaymentTerms>",
        "<ram:InvoiceReferencedDocument><ram:IssuerAssignedID>F-2026-100</ram:IssuerAssignedID>\
         <ram:FormattedIssueDateTime><qdt:DateTimeString format=\"102\">20261001</qdt:DateTimeString></ram:FormattedIssueDateTime>\
         </ram:InvoiceReferencedDocument><ram:SpecifiedTradePaymentTerms>",
    );
    let b = parse(&doc);
    assert!(b.payable, "{:?}", b.hold_reasons);
    assert_eq!(b.kind, BillKind::Corrected);
    assert_eq!(b.preceding_invoices[0].number, "F-2026-100");
    assert_eq!(b.preceding_invoices[0].issue_date, date(2026, 10, 1));
}

/// 751 (information for accounting purposes) is not a bill to pay.
#[test]
fn information_only_documents_are_held() {
    let b = parse(&edit(CII, "<ram:TypeCode>380", "<ram:TypeCode>751"));
    assert_eq!(b.hold_reasons, vec![H::NotAnInvoice]);
}

/// ZUGFeRD 1.0 is read, not refused and not mistaken for CII D16B.
#[test]
fn zugferd_1_is_supported() {
    let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryDocument xmlns:rsm="urn:ferd:CrossIndustryDocument:invoice:1p0"
  xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12"
  xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15">
 <rsm:SpecifiedExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter>
   <ram:ID>urn:ferd:CrossIndustryDocument:invoice:1p0:comfort</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>
 </rsm:SpecifiedExchangedDocumentContext>
 <rsm:HeaderExchangedDocument><ram:ID>RE-1001</ram:ID><ram:TypeCode>380</ram:TypeCode>
   <ram:IssueDateTime><udt:DateTimeString format="102">20261101</udt:DateTimeString></ram:IssueDateTime></rsm:HeaderExchangedDocument>
 <rsm:SpecifiedSupplyChainTradeTransaction>
  <ram:ApplicableSupplyChainTradeAgreement><ram:SellerTradeParty><ram:Name>Lieferant GmbH</ram:Name>
   <ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">DE123456789</ram:ID></ram:SpecifiedTaxRegistration></ram:SellerTradeParty>
  </ram:ApplicableSupplyChainTradeAgreement>
  <ram:ApplicableSupplyChainTradeSettlement>
   <ram:PaymentReference>RE-1001</ram:PaymentReference>
   <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
   <ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>31</ram:TypeCode>
    <ram:PayeePartyCreditorFinancialAccount><ram:IBANID>DE89370400440532013000</ram:IBANID></ram:PayeePartyCreditorFinancialAccount>
    <ram:PayeeSpecifiedCreditorFinancialInstitution><ram:BICID>COBADEFFXXX</ram:BICID></ram:PayeeSpecifiedCreditorFinancialInstitution>
   </ram:SpecifiedTradeSettlementPaymentMeans>
   <ram:SpecifiedTradePaymentTerms><ram:DueDateDateTime><udt:DateTimeString format="102">20261201</udt:DateTimeString></ram:DueDateDateTime></ram:SpecifiedTradePaymentTerms>
   <ram:SpecifiedTradeSettlementMonetarySummation>
    <ram:GrandTotalAmount currencyID="EUR">119.00</ram:GrandTotalAmount>
    <ram:DuePayableAmount currencyID="EUR">119.00</ram:DuePayableAmount>
   </ram:SpecifiedTradeSettlementMonetarySummation>
  </ram:ApplicableSupplyChainTradeSettlement>
 </rsm:SpecifiedSupplyChainTradeTransaction>
</rsm:CrossIndustryDocument>"#;
    let b = parse(doc);
    assert_eq!(b.syntax, Syntax::Zugferd1);
    assert!(b.payable, "{:?}", b.hold_reasons);
    assert_eq!(b.seller.vat_id.as_deref(), Some("DE123456789"));
    assert_eq!(b.due_date, date(2026, 12, 1));
    assert_eq!(b.amounts.payable, Some(dec("119.00")));
    assert_eq!(b.payee_iban(), Some("DE89370400440532013000"));
}

/// A Factur-X PDF yields the same bill as its XML.
#[test]
fn factur_x_pdf_yields_its_embedded_xml() {
    let pdf = common::pdf_with_attachment("factur-x.xml", CII.as_bytes());
    assert_eq!(parse_bytes(&pdf).unwrap(), parse(CII));
    let pdf = common::pdf_with_attachment("ZUGFeRD-invoice.xml", UBL.as_bytes());
    assert_eq!(parse_bytes(&pdf).unwrap(), parse(UBL));
    let pdf = common::pdf_with_attachment("notes.txt", b"hello");
    assert_eq!(
        parse_bytes(&pdf).unwrap_err().code,
        adapters::ErrorCode::NoEmbeddedInvoice
    );
}

/// JSON: canonical, and an ERP payload through a mapping.
#[test]
fn json_canonical_and_mapped() {
    let mapping: adapters::JsonMapping = serde_json::from_str(
        r#"{"fields": {
            "external_id": "/id",
            "number": "/doc/no",
            "payable_amount": "/totals/open",
            "due_date": {"pointer": "/doc/due", "date_format": "%d.%m.%Y"},
            "currency": {"value": "EUR"},
            "seller.name": "/vendor/name",
            "payment.iban": "/vendor/bank/iban"
        }}"#,
    )
    .unwrap();
    let payload = br#"{"id": 991, "doc": {"no": "R-17", "due": "15.12.2026"},
        "totals": {"open": 420.5}, "vendor": {"name": "Schmidt KG", "bank": {"iban": "DE89 3704 0044 0532 0130 00"}}}"#;
    let b = adapters::parse_json(payload, Some(&mapping), &ParseOptions::default()).unwrap();
    assert_eq!(b.external_id.as_deref(), Some("991"));
    assert_eq!(b.number.as_deref(), Some("R-17"));
    assert_eq!(b.amounts.payable, Some(dec("420.5")));
    assert_eq!(b.due_date, date(2026, 12, 15));
    assert_eq!(b.payee_iban(), Some("DE89370400440532013000"));
    assert!(b.payable, "{:?}", b.hold_reasons);

    let bad: adapters::JsonMapping =
        serde_json::from_str(r#"{"fields": {"number": "doc/no", "payable_amount": "/x"}}"#)
            .unwrap();
    assert_eq!(
        bad.validate().unwrap_err().code,
        adapters::ErrorCode::InvalidMapping
    );
    let missing = edit(JSON, "\"payable_amount\": \"1250.00\",", "");
    assert_eq!(
        parse_bytes(missing.as_bytes()).unwrap_err().code,
        adapters::ErrorCode::InvalidJson
    );
    let wrong_type = edit(
        JSON,
        "\"payable_amount\": \"1250.00\"",
        "\"payable_amount\": [1]",
    );
    assert_eq!(
        parse_bytes(wrong_type.as_bytes()).unwrap_err().code,
        adapters::ErrorCode::InvalidJson
    );
}
