//! billbridge adapters: bytes in, [`Bill`] out. Pure: no I/O, no async, no database.
//!
//! ```
//! let xml = br#"<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
//!     xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
//!   <cbc:ID>INV-1</cbc:ID></Invoice>"#;
//! let bill = adapters::parse(xml, &adapters::ParseOptions::default()).unwrap();
//! assert_eq!(bill.number.as_deref(), Some("INV-1"));
//! assert!(!bill.payable); // no amount, no account: held with coded reasons
//! ```
//!
//! Readers: UBL 2.x Invoice/CreditNote, CII D16B (Factur-X, ZUGFeRD 2.x, XRechnung, French CTC),
//! ZUGFeRD 1.0, Factur-X/ZUGFeRD PDF (embedded XML), canonical JSON and mapped JSON. Every
//! reader ends in [`assess`], the "can I pay this?" decision.

pub mod assess;
mod error;
pub mod json;
mod model;
mod pdf;
mod report;
pub mod validate;
pub mod values;
mod xml;

pub use assess::{assess, AssessOptions, HoldReason, Warning};
pub use error::{ErrorCode, ParseError};
pub use json::{FieldSource, JsonMapping};
pub use model::{
    Amounts, Bill, BillKind, Buyer, Identifier, Payee, PaymentInstruction, PrecedingInvoice,
    Seller, Syntax,
};
pub use report::ParseReport;

/// Default input cap: 10 MiB.
pub const DEFAULT_MAX_BYTES: usize = 10 * 1024 * 1024;
/// Default XML nesting cap. Real invoices stay below 20 levels.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// Limits and context for one parse.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Inputs (and decompressed PDF attachments) larger than this are refused.
    pub max_bytes: usize,
    /// XML elements nested deeper than this are refused.
    pub max_depth: usize,
    /// IBANs on record for the supplier; see [`AssessOptions::known_ibans`].
    pub known_ibans: Vec<String>,
    /// See [`AssessOptions::accept_any_specification`].
    pub accept_any_specification: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_bytes: DEFAULT_MAX_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            known_ibans: Vec::new(),
            accept_any_specification: false,
        }
    }
}

/// The shape of an input, told from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Pdf,
    Json,
}

/// Tell XML, PDF and JSON apart by their first bytes (a BOM and leading whitespace are skipped).
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Some(Format::Xml);
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    match body[start] {
        b'<' => Some(Format::Xml),
        b'{' => Some(Format::Json),
        b'%' if body[start..].starts_with(b"%PDF-") => Some(Format::Pdf),
        b'\0' if body.starts_with(b"\0<") => Some(Format::Xml),
        // PDF allows up to 1 KiB of garbage before the header.
        _ if body[..body.len().min(1024)]
            .windows(5)
            .any(|w| w == b"%PDF-") =>
        {
            Some(Format::Pdf)
        }
        _ => None,
    }
}

fn check_size(bytes: &[u8], opts: &ParseOptions) -> Result<(), ParseError> {
    if bytes.len() > opts.max_bytes {
        return Err(ParseError::new(
            ErrorCode::TooLarge,
            format!(
                "the document is {} bytes; the limit is {} bytes",
                bytes.len(),
                opts.max_bytes
            ),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::new(ErrorCode::Empty, "the document is empty"));
    }
    Ok(())
}

fn finish(mut bill: Bill, opts: &ParseOptions) -> Bill {
    assess(
        &mut bill,
        &AssessOptions {
            known_ibans: &opts.known_ibans,
            accept_any_specification: opts.accept_any_specification,
        },
    );
    bill
}

/// Read any supported document (told apart by [`sniff`]) and decide whether it can be paid.
/// JSON is read as billbridge's canonical JSON bill.
pub fn parse(bytes: &[u8], opts: &ParseOptions) -> Result<Bill, ParseError> {
    check_size(bytes, opts)?;
    let bill = match sniff(bytes) {
        Some(Format::Xml) => xml::read(bytes, opts)?,
        Some(Format::Pdf) => pdf::read(bytes, opts)?,
        Some(Format::Json) => json::read_canonical(bytes)?,
        None => {
            return Err(ParseError::new(
                ErrorCode::UnrecognizedFormat,
                "not an XML, PDF or JSON document",
            ))
        }
    };
    Ok(finish(bill, opts))
}

/// Read UBL, CII or ZUGFeRD 1.0 XML.
pub fn parse_xml(bytes: &[u8], opts: &ParseOptions) -> Result<Bill, ParseError> {
    check_size(bytes, opts)?;
    Ok(finish(xml::read(bytes, opts)?, opts))
}

/// Read the invoice XML embedded in a Factur-X / ZUGFeRD / XRechnung PDF.
pub fn parse_pdf(bytes: &[u8], opts: &ParseOptions) -> Result<Bill, ParseError> {
    check_size(bytes, opts)?;
    Ok(finish(pdf::read(bytes, opts)?, opts))
}

/// Read a JSON payload: through `mapping` when given, else as the canonical JSON bill.
pub fn parse_json(
    bytes: &[u8],
    mapping: Option<&JsonMapping>,
    opts: &ParseOptions,
) -> Result<Bill, ParseError> {
    check_size(bytes, opts)?;
    let bill = match mapping {
        Some(m) => json::read_mapped(bytes, m)?,
        None => json::read_canonical(bytes)?,
    };
    Ok(finish(bill, opts))
}
