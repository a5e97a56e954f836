//! Coded parse errors: every unreadable input yields one of these, never a panic.

use serde::Serialize;

/// A stable, machine-readable error code (snake_case in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The file could not be read at all (missing, permissions, I/O error).
    Unreadable,
    /// The input is larger than the configured limit.
    TooLarge,
    /// The input is empty or only whitespace.
    Empty,
    /// Neither XML, PDF nor JSON.
    UnrecognizedFormat,
    /// The XML is not well-formed (including truncated documents).
    MalformedXml,
    /// The XML carries a document type declaration (DTD); refused to stop entity attacks.
    DtdForbidden,
    /// The XML references an entity other than the five predefined ones or a character reference.
    EntityForbidden,
    /// Elements are nested deeper than the configured limit.
    TooDeep,
    /// The declared or detected character encoding is unknown or the bytes do not decode.
    UnsupportedEncoding,
    /// Well-formed XML, but not a UBL, CII or ZUGFeRD 1.0 invoice.
    UnknownDocument,
    /// The PDF cannot be read.
    MalformedPdf,
    /// The PDF is readable but carries no Factur-X / ZUGFeRD / XRechnung XML.
    NoEmbeddedInvoice,
    /// The JSON is not well-formed.
    MalformedJson,
    /// The JSON is well-formed but does not describe a bill (missing or mistyped field).
    InvalidJson,
    /// A JSON mapping is itself invalid (bad pointer, unknown field).
    InvalidMapping,
}

impl ErrorCode {
    /// The code as written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unreadable => "unreadable",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Empty => "empty",
            ErrorCode::UnrecognizedFormat => "unrecognized_format",
            ErrorCode::MalformedXml => "malformed_xml",
            ErrorCode::DtdForbidden => "dtd_forbidden",
            ErrorCode::EntityForbidden => "entity_forbidden",
            ErrorCode::TooDeep => "too_deep",
            ErrorCode::UnsupportedEncoding => "unsupported_encoding",
            ErrorCode::UnknownDocument => "unknown_document",
            ErrorCode::MalformedPdf => "malformed_pdf",
            ErrorCode::NoEmbeddedInvoice => "no_embedded_invoice",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidMapping => "invalid_mapping",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ParseError {
    pub code: ErrorCode,
    pub message: String,
}

impl ParseError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ParseError {
            code,
            message: message.into(),
        }
    }
}
