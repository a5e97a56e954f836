//! Path tables: FIELDS.md §2.2 (UBL), §2.3 (CII D16B) and §2.4 (ZUGFeRD 1.0), written out.
//!
//! Paths are relative to the root and written with canonical prefixes (see [`Ns`]); they are
//! compiled into a tree keyed by (namespace, local name). Every proper prefix of a leaf path is a
//! container, so the walker descends only where a field may be found.

use std::sync::LazyLock;

/// A field the builder understands. `*Open` fields mark containers whose children form a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Profile,
    BusinessProcess,
    Number,
    TypeCode,
    IssueDate,
    DueDate,
    PaymentTerms,
    Currency,
    BuyerReference,
    PurchaseOrder,
    PrecedingOpen,
    PrecedingNumber,
    PrecedingDate,
    SellerName,
    SellerTradingName,
    SellerId,
    SellerLegalId,
    /// UBL `PartyTaxScheme` group.
    SellerTaxOpen,
    SellerTaxCompanyId,
    SellerTaxSchemeId,
    /// CII `SpecifiedTaxRegistration/ID` with `@schemeID` `VA` or `FC`.
    SellerTaxRegistration,
    SellerEndpoint,
    SellerCity,
    SellerCountry,
    BuyerName,
    BuyerTradingName,
    BuyerLegalId,
    PayeeOpen,
    PayeeName,
    PayeeId,
    PayeeLegalId,
    CreditorId,
    PaymentReference,
    PaymentOpen,
    PmCode,
    PmText,
    PmDueDate,
    PmPaymentId,
    /// UBL `PayeeFinancialAccount/cbc:ID`.
    PmAccountId,
    /// CII `IBANID`.
    PmIban,
    /// CII `ProprietaryID`.
    PmProprietary,
    PmAccountName,
    PmBic,
    /// Pre-EN UBL `FinancialInstitutionBranch/FinancialInstitution/cbc:ID`.
    PmBicFallback,
    PmCard,
    PmMandate,
    PmPayerAccount,
    /// CII `SpecifiedTradePaymentTerms/DirectDebitMandateID`.
    Mandate,
    TaxInclusive,
    Prepaid,
    Rounding,
    Payable,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Node {
    Leaf(Field),
    Container(Option<Field>),
}

/// The namespaces the tables name, by their canonical prefix. Every other URI is [`Ns::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    Other,
    /// UBL CommonAggregateComponents-2.
    Cac,
    /// UBL CommonBasicComponents-2.
    Cbc,
    /// CII D16B CrossIndustryInvoice:100.
    Rsm,
    /// CII D16B ReusableAggregateBusinessInformationEntity:100.
    Ram,
    /// CII D16B UnqualifiedDataType:100.
    Udt,
    /// CII D16B QualifiedDataType:100.
    Qdt,
    /// ZUGFeRD 1.0 CrossIndustryDocument:invoice:1p0.
    Rsm1,
    /// ZUGFeRD 1.0 ReusableAggregateBusinessInformationEntity:12.
    Ram12,
    /// ZUGFeRD 1.0 UnqualifiedDataType:15.
    Udt15,
}

impl Ns {
    /// The namespace of a URI (the raw value of its `xmlns` declaration).
    pub(crate) fn of_uri(uri: &str) -> Ns {
        match uri {
            "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" => Ns::Cac,
            "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" => Ns::Cbc,
            "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" => Ns::Rsm,
            "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" => {
                Ns::Ram
            }
            "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100" => Ns::Udt,
            "urn:un:unece:uncefact:data:standard:QualifiedDataType:100" => Ns::Qdt,
            // ZUGFeRD 1.0 uses older versions of the same vocabularies.
            "urn:ferd:CrossIndustryDocument:invoice:1p0" => Ns::Rsm1,
            "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12" => {
                Ns::Ram12
            }
            "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15" => Ns::Udt15,
            _ => Ns::Other,
        }
    }

    /// The namespace of a canonical prefix as written in the tables below.
    fn of_canonical_prefix(prefix: &str) -> Ns {
        match prefix {
            "cac" => Ns::Cac,
            "cbc" => Ns::Cbc,
            "rsm" => Ns::Rsm,
            "ram" => Ns::Ram,
            "udt" => Ns::Udt,
            "qdt" => Ns::Qdt,
            "rsm1" => Ns::Rsm1,
            "ram12" => Ns::Ram12,
            "udt15" => Ns::Udt15,
            _ => panic!("unknown canonical prefix {prefix:?} in a path table"),
        }
    }
}

/// Index of a node in a [`Table`]; the root element is [`Table::ROOT`].
pub(crate) type NodeId = u16;

struct Child {
    ns: Ns,
    local: &'static str,
    node: NodeId,
}

struct TableNode {
    kind: Node,
    children: Vec<Child>,
}

/// The paths of one syntax as a tree: each node lists the (namespace, local name) of the children
/// worth descending into, so the walker finds an element by comparing a few short names with its
/// parent's children, without building or hashing the path.
pub(crate) struct Table {
    nodes: Vec<TableNode>,
}

impl Table {
    pub(crate) const ROOT: NodeId = 0;

    /// The child of `parent` named (`ns`, `local`), if billbridge reads anything in it.
    #[inline]
    pub(crate) fn child(&self, parent: NodeId, ns: Ns, local: &[u8]) -> Option<(NodeId, Node)> {
        let children = &self.nodes[usize::from(parent)].children;
        let c = children
            .iter()
            .find(|c| c.ns == ns && c.local.as_bytes() == local)?;
        Some((c.node, self.nodes[usize::from(c.node)].kind))
    }

    /// The node at `path` (`/prefix:Local/…`), created as a container if absent.
    fn node_at(&mut self, path: &'static str) -> NodeId {
        let mut at = Table::ROOT;
        for step in path.split('/').skip(1) {
            let (prefix, local) = step
                .split_once(':')
                .unwrap_or_else(|| panic!("path step {step:?} has no prefix"));
            let ns = Ns::of_canonical_prefix(prefix);
            let existing = self.nodes[usize::from(at)]
                .children
                .iter()
                .find(|c| c.ns == ns && c.local == local)
                .map(|c| c.node);
            at = match existing {
                Some(n) => n,
                None => {
                    let n = NodeId::try_from(self.nodes.len()).expect("path table too large");
                    self.nodes.push(TableNode {
                        kind: Node::Container(None),
                        children: Vec::new(),
                    });
                    self.nodes[usize::from(at)]
                        .children
                        .push(Child { ns, local, node: n });
                    n
                }
            };
        }
        at
    }
}

fn build(leaves: &[(&'static str, Field)], groups: &[(&'static str, Field)]) -> Table {
    let mut t = Table {
        nodes: vec![TableNode {
            kind: Node::Container(None),
            children: Vec::new(),
        }],
    };
    for (path, field) in leaves {
        let n = t.node_at(path);
        t.nodes[usize::from(n)].kind = Node::Leaf(*field);
    }
    for (path, field) in groups {
        let n = t.node_at(path);
        t.nodes[usize::from(n)].kind = Node::Container(Some(*field));
    }
    t
}

/// UBL 2.x Invoice and CreditNote (they share everything but the root and the type code name).
pub(crate) fn ubl() -> &'static Table {
    static T: LazyLock<Table> = LazyLock::new(|| {
        use Field::*;
        build(
            &[
                ("/cbc:CustomizationID", Profile),
                ("/cbc:ProfileID", BusinessProcess),
                ("/cbc:ID", Number),
                ("/cbc:IssueDate", IssueDate),
                ("/cbc:DueDate", DueDate),
                ("/cbc:InvoiceTypeCode", TypeCode),
                ("/cbc:CreditNoteTypeCode", TypeCode),
                ("/cbc:DocumentCurrencyCode", Currency),
                ("/cbc:BuyerReference", BuyerReference),
                ("/cac:OrderReference/cbc:ID", PurchaseOrder),
                ("/cac:PaymentTerms/cbc:Note", PaymentTerms),
                ("/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", PrecedingNumber),
                ("/cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate", PrecedingDate),
                ("/cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName", SellerName),
                ("/cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID", SellerLegalId),
                ("/cac:AccountingSupplierParty/cac:Party/cac:PartyName/cbc:Name", SellerTradingName),
                ("/cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID", SellerId),
                ("/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID", SellerTaxCompanyId),
                ("/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cac:TaxScheme/cbc:ID", SellerTaxSchemeId),
                ("/cac:AccountingSupplierParty/cac:Party/cbc:EndpointID", SellerEndpoint),
                ("/cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/cbc:CityName", SellerCity),
                ("/cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode", SellerCountry),
                ("/cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName", BuyerName),
                ("/cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID", BuyerLegalId),
                ("/cac:AccountingCustomerParty/cac:Party/cac:PartyName/cbc:Name", BuyerTradingName),
                ("/cac:PayeeParty/cac:PartyName/cbc:Name", PayeeName),
                ("/cac:PayeeParty/cac:PartyIdentification/cbc:ID", PayeeId),
                ("/cac:PayeeParty/cac:PartyLegalEntity/cbc:CompanyID", PayeeLegalId),
                ("/cac:PaymentMeans/cbc:PaymentMeansCode", PmCode),
                ("/cac:PaymentMeans/cbc:PaymentDueDate", PmDueDate),
                ("/cac:PaymentMeans/cbc:PaymentID", PmPaymentId),
                ("/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", PmAccountId),
                ("/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:Name", PmAccountName),
                ("/cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID", PmBic),
                ("/cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cac:FinancialInstitution/cbc:ID", PmBicFallback),
                ("/cac:PaymentMeans/cac:CardAccount/cbc:PrimaryAccountNumberID", PmCard),
                ("/cac:PaymentMeans/cac:PaymentMandate/cbc:ID", PmMandate),
                ("/cac:PaymentMeans/cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID", PmPayerAccount),
                ("/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", TaxInclusive),
                ("/cac:LegalMonetaryTotal/cbc:PrepaidAmount", Prepaid),
                ("/cac:LegalMonetaryTotal/cbc:PayableRoundingAmount", Rounding),
                ("/cac:LegalMonetaryTotal/cbc:PayableAmount", Payable),
            ],
            &[
                ("/cac:BillingReference/cac:InvoiceDocumentReference", PrecedingOpen),
                ("/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme", SellerTaxOpen),
                ("/cac:PayeeParty", PayeeOpen),
                ("/cac:PaymentMeans", PaymentOpen),
            ],
        )
    });
    &T
}

/// CII D16B: Factur-X (every profile), ZUGFeRD 2.x, XRechnung CII, French CTC EXTENDED.
pub(crate) fn cii() -> &'static Table {
    static T: LazyLock<Table> = LazyLock::new(|| {
        use Field::*;
        build(
            &[
                ("/rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", Profile),
                ("/rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID", BusinessProcess),
                ("/rsm:ExchangedDocument/ram:ID", Number),
                ("/rsm:ExchangedDocument/ram:TypeCode", TypeCode),
                ("/rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", IssueDate),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerReference", BuyerReference),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID", PurchaseOrder),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:Name", SellerName),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:ID", SellerId),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:GlobalID", SellerId),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", SellerLegalId),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:TradingBusinessName", SellerTradingName),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", SellerTaxRegistration),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:URIUniversalCommunication/ram:URIID", SellerEndpoint),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:PostalTradeAddress/ram:CityName", SellerCity),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:PostalTradeAddress/ram:CountryID", SellerCountry),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty/ram:Name", BuyerName),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", BuyerLegalId),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:InvoiceCurrencyCode", Currency),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:PaymentReference", PaymentReference),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:CreditorReferenceID", CreditorId),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:PayeeTradeParty/ram:Name", PayeeName),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:PayeeTradeParty/ram:ID", PayeeId),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:PayeeTradeParty/ram:GlobalID", PayeeId),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:PayeeTradeParty/ram:SpecifiedLegalOrganization/ram:ID", PayeeLegalId),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode", PmCode),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans/ram:Information", PmText),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:IBANID", PmIban),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:ProprietaryID", PmProprietary),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:AccountName", PmAccountName),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID", PmBic),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans/ram:ApplicableTradeSettlementFinancialCard/ram:ID", PmCard),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayerPartyDebtorFinancialAccount/ram:IBANID", PmPayerAccount),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradePaymentTerms/ram:Description", PaymentTerms),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString", DueDate),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID", Mandate),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:InvoiceReferencedDocument/ram:IssuerAssignedID", PrecedingNumber),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString", PrecedingDate),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount", TaxInclusive),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TotalPrepaidAmount", Prepaid),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:RoundingAmount", Rounding),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount", Payable),
            ],
            &[
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:PayeeTradeParty", PayeeOpen),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans", PaymentOpen),
                ("/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:InvoiceReferencedDocument", PrecedingOpen),
            ],
        )
    });
    &T
}

/// ZUGFeRD 1.0 `CrossIndustryDocument` (FIELDS.md §2.4).
pub(crate) fn zugferd1() -> &'static Table {
    static T: LazyLock<Table> = LazyLock::new(|| {
        use Field::*;
        build(
            &[
                ("/rsm1:SpecifiedExchangedDocumentContext/ram12:GuidelineSpecifiedDocumentContextParameter/ram12:ID", Profile),
                ("/rsm1:HeaderExchangedDocument/ram12:ID", Number),
                ("/rsm1:HeaderExchangedDocument/ram12:TypeCode", TypeCode),
                ("/rsm1:HeaderExchangedDocument/ram12:IssueDateTime/udt15:DateTimeString", IssueDate),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeAgreement/ram12:BuyerReference", BuyerReference),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeAgreement/ram12:BuyerOrderReferencedDocument/ram12:ID", PurchaseOrder),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeAgreement/ram12:SellerTradeParty/ram12:Name", SellerName),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeAgreement/ram12:SellerTradeParty/ram12:ID", SellerId),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeAgreement/ram12:SellerTradeParty/ram12:GlobalID", SellerId),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeAgreement/ram12:SellerTradeParty/ram12:SpecifiedTaxRegistration/ram12:ID", SellerTaxRegistration),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeAgreement/ram12:SellerTradeParty/ram12:PostalTradeAddress/ram12:CityName", SellerCity),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeAgreement/ram12:SellerTradeParty/ram12:PostalTradeAddress/ram12:CountryID", SellerCountry),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeAgreement/ram12:BuyerTradeParty/ram12:Name", BuyerName),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:PaymentReference", PaymentReference),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:CreditorReferenceID", CreditorId),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:InvoiceCurrencyCode", Currency),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:PayeeTradeParty/ram12:Name", PayeeName),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:PayeeTradeParty/ram12:ID", PayeeId),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementPaymentMeans/ram12:TypeCode", PmCode),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementPaymentMeans/ram12:Information", PmText),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementPaymentMeans/ram12:PayeePartyCreditorFinancialAccount/ram12:IBANID", PmIban),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementPaymentMeans/ram12:PayeePartyCreditorFinancialAccount/ram12:ProprietaryID", PmProprietary),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementPaymentMeans/ram12:PayeePartyCreditorFinancialAccount/ram12:AccountName", PmAccountName),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementPaymentMeans/ram12:PayeeSpecifiedCreditorFinancialInstitution/ram12:BICID", PmBic),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementPaymentMeans/ram12:PayerPartyDebtorFinancialAccount/ram12:IBANID", PmPayerAccount),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradePaymentTerms/ram12:Description", PaymentTerms),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradePaymentTerms/ram12:DueDateDateTime/udt15:DateTimeString", DueDate),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementMonetarySummation/ram12:GrandTotalAmount", TaxInclusive),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementMonetarySummation/ram12:TotalPrepaidAmount", Prepaid),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementMonetarySummation/ram12:DuePayableAmount", Payable),
            ],
            &[
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:PayeeTradeParty", PayeeOpen),
                ("/rsm1:SpecifiedSupplyChainTradeTransaction/ram12:ApplicableSupplyChainTradeSettlement/ram12:SpecifiedTradeSettlementPaymentMeans", PaymentOpen),
            ],
        )
    });
    &T
}
