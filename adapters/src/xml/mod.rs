//! The XML readers: one streaming walker over quick-xml's namespace-resolving reader, driven by
//! a table of paths per syntax (UBL, CII D16B, ZUGFeRD 1.0).
//!
//! Elements are matched by (namespace URI, local name), never by prefix: each namespace URI is
//! mapped to a canonical prefix (`cac`, `cbc`, `ram`…) and the element path, relative to the root,
//! is looked up in the syntax's table. Subtrees that hold nothing billbridge needs (invoice lines,
//! base64 attachments…) are skipped without building anything, which is what keeps parsing within
//! a small factor of a bare event scan.
//!
//! Safety: a document type declaration is refused (no DTD ⇒ no entity can be declared, so billion
//! laughs and XXE are impossible), any entity reference other than the five predefined ones and
//! character references is refused, and nesting is capped.

mod build;
mod decode;
mod tables;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::error::{ErrorCode, ParseError};
use crate::model::{Bill, Syntax};
use crate::ParseOptions;
use build::Builder;
use tables::{Field, Node, Table};

/// Read a UBL, CII or ZUGFeRD 1.0 document into a bill (not yet assessed).
pub(crate) fn read(bytes: &[u8], opts: &ParseOptions) -> Result<Bill, ParseError> {
    let text = decode::decode(bytes)?;
    let mut reader = NsReader::from_str(&text);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.trim_markup_names_in_closing_tags = true;
    cfg.expand_empty_elements = false;

    // Prolog: up to the root element.
    let (syntax, table) = loop {
        match reader.read_resolved_event() {
            Err(e) => return Err(malformed_at(reader.buffer_position(), e)),
            Ok((ns, Event::Start(e))) | Ok((ns, Event::Empty(e))) => {
                break root_syntax(&ns, &e)?;
            }
            Ok((_, Event::DocType(_))) => return Err(dtd()),
            Ok((_, Event::GeneralRef(_))) => {
                return Err(ParseError::new(
                    ErrorCode::MalformedXml,
                    "an entity reference appears before the root element",
                ))
            }
            Ok((_, Event::Text(t))) => {
                if !t.xml10_content().trim().is_empty() {
                    return Err(ParseError::new(
                        ErrorCode::MalformedXml,
                        "text appears before the root element",
                    ));
                }
            }
            Ok((_, Event::Eof)) => {
                return Err(ParseError::new(
                    ErrorCode::MalformedXml,
                    "the document has no root element",
                ))
            }
            Ok((_, Event::End(_))) | Ok((_, Event::CData(_))) => {
                return Err(ParseError::new(
                    ErrorCode::MalformedXml,
                    "markup appears before the root element",
                ))
            }
            Ok(_) => {} // declaration, comments, processing instructions
        }
    };

    let mut walker = Walker {
        table,
        path: String::with_capacity(256),
        stack: Vec::with_capacity(32),
        capture: None,
        max_depth: opts.max_depth,
        builder: Builder::new(syntax),
    };
    walker.run(&mut reader)?;
    Ok(walker.builder.finish())
}

fn root_syntax(ns: &ResolveResult, e: &BytesStart) -> Result<(Syntax, &'static Table), ParseError> {
    let local = e.local_name();
    let local = local.as_ref();
    let uri = match ns {
        ResolveResult::Bound(n) => n.as_ref(),
        _ => "",
    };
    match (uri, local) {
        ("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2", "Invoice") => {
            Ok((Syntax::UblInvoice, tables::ubl()))
        }
        ("urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2", "CreditNote") => {
            Ok((Syntax::UblCreditNote, tables::ubl()))
        }
        (
            "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
            "CrossIndustryInvoice",
        ) => Ok((Syntax::Cii, tables::cii())),
        ("urn:ferd:CrossIndustryDocument:invoice:1p0", "CrossIndustryDocument") => {
            Ok((Syntax::Zugferd1, tables::zugferd1()))
        }
        _ => Err(ParseError::new(
            ErrorCode::UnknownDocument,
            if uri.is_empty() {
                format!("root element <{local}> is not a UBL, CII or ZUGFeRD 1.0 invoice")
            } else {
                format!(
                    "root element <{local}> in namespace {uri} is not a UBL Invoice or CreditNote, \
                     a CII CrossIndustryInvoice or a ZUGFeRD 1.0 CrossIndustryDocument"
                )
            },
        )),
    }
}

/// The canonical prefix of a namespace URI, as used in the path tables.
fn canonical_prefix(ns: &ResolveResult) -> &'static str {
    let ResolveResult::Bound(n) = ns else {
        return "?";
    };
    match n.as_ref() {
        "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" => "cac",
        "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" => "cbc",
        "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" => "rsm",
        "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" => {
            "ram"
        }
        "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100" => "udt",
        "urn:un:unece:uncefact:data:standard:QualifiedDataType:100" => "qdt",
        // ZUGFeRD 1.0 uses older versions of the same vocabularies.
        "urn:ferd:CrossIndustryDocument:invoice:1p0" => "rsm1",
        "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12" => {
            "ram12"
        }
        "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15" => "udt15",
        _ => "?",
    }
}

/// Attributes billbridge reads on a leaf.
#[derive(Debug, Default)]
pub(crate) struct Attrs {
    pub scheme: Option<String>,
    pub currency: Option<String>,
    pub format: Option<String>,
    pub name: Option<String>,
}

struct Capture {
    field: Field,
    text: String,
    attrs: Attrs,
}

enum Frame {
    Leaf,
    Container(Option<Field>),
}

struct Walker {
    table: &'static Table,
    /// `/prefix:Local/prefix:Local…` of the current element, relative to the root.
    path: String,
    /// One frame per open element below the root, with the path length before it was pushed.
    stack: Vec<(usize, Frame)>,
    capture: Option<Capture>,
    max_depth: usize,
    builder: Builder,
}

impl Walker {
    fn run(&mut self, reader: &mut NsReader<&[u8]>) -> Result<(), ParseError> {
        loop {
            let pos = reader.buffer_position();
            let (ns, event) = reader
                .read_resolved_event()
                .map_err(|e| malformed_at(pos, e))?;
            match event {
                Event::Start(e) => {
                    let depth = self.stack.len() + 2; // root is depth 1
                    if depth > self.max_depth {
                        return Err(too_deep(self.max_depth));
                    }
                    if self.capture.is_some() {
                        // Child of a leaf: nothing in it is read.
                        skip_subtree(reader, depth, self.max_depth)?;
                        continue;
                    }
                    let prefix = canonical_prefix(&ns);
                    match self.enter(prefix, &e)? {
                        true => {}
                        false => skip_subtree(reader, depth, self.max_depth)?,
                    }
                }
                Event::Empty(e) => {
                    if self.stack.len() + 2 > self.max_depth {
                        return Err(too_deep(self.max_depth));
                    }
                    if self.capture.is_some() {
                        continue;
                    }
                    let prefix = canonical_prefix(&ns);
                    if self.enter(prefix, &e)? {
                        self.leave();
                    }
                }
                Event::End(_) => {
                    if self.stack.is_empty() {
                        return Ok(()); // the root closed: done, trailing content is not read
                    }
                    self.leave();
                }
                Event::Text(t) => {
                    if let Some(c) = &mut self.capture {
                        c.text.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(c) = &mut self.capture {
                        let raw = t.into_inner();
                        c.text.push_str(&raw);
                    }
                }
                Event::GeneralRef(r) => {
                    let ch = resolve_ref(&r)?;
                    if let Some(c) = &mut self.capture {
                        c.text.push_str(&ch);
                    }
                }
                Event::DocType(_) => return Err(dtd()),
                Event::Eof => return Err(truncated()),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            }
        }
    }

    /// Push an element; returns false (and pushes nothing) when its subtree is not needed.
    fn enter(&mut self, prefix: &str, e: &BytesStart) -> Result<bool, ParseError> {
        let before = self.path.len();
        self.path.push('/');
        self.path.push_str(prefix);
        self.path.push(':');
        self.path.push_str(e.local_name().as_ref());
        match self.table.get(self.path.as_str()) {
            None => {
                self.path.truncate(before);
                Ok(false)
            }
            Some(Node::Container(marker)) => {
                if let Some(m) = marker {
                    self.builder.open(*m);
                }
                self.stack.push((before, Frame::Container(*marker)));
                Ok(true)
            }
            Some(Node::Leaf(field)) => {
                self.capture = Some(Capture {
                    field: *field,
                    text: String::new(),
                    attrs: read_attrs(e)?,
                });
                self.stack.push((before, Frame::Leaf));
                Ok(true)
            }
        }
    }

    fn leave(&mut self) {
        let Some((before, frame)) = self.stack.pop() else {
            return;
        };
        self.path.truncate(before);
        match frame {
            Frame::Leaf => {
                if let Some(c) = self.capture.take() {
                    self.builder.field(c.field, c.text.trim(), c.attrs);
                }
            }
            Frame::Container(Some(m)) => self.builder.close(m),
            Frame::Container(None) => {}
        }
    }
}

/// Read past the end of the element whose start was just read, checking depth and entities.
fn skip_subtree(
    reader: &mut NsReader<&[u8]>,
    depth: usize,
    max_depth: usize,
) -> Result<(), ParseError> {
    let mut open = 1usize;
    loop {
        let pos = reader.buffer_position();
        match reader.read_event().map_err(|e| malformed_at(pos, e))? {
            Event::Start(_) => {
                open += 1;
                if depth + open - 1 > max_depth {
                    return Err(too_deep(max_depth));
                }
            }
            Event::End(_) => {
                open -= 1;
                if open == 0 {
                    return Ok(());
                }
            }
            Event::GeneralRef(r) => {
                resolve_ref(&r)?;
            }
            Event::DocType(_) => return Err(dtd()),
            Event::Eof => return Err(truncated()),
            _ => {}
        }
    }
}

fn read_attrs(e: &BytesStart) -> Result<Attrs, ParseError> {
    let mut attrs = Attrs::default();
    for a in e.attributes() {
        let a = a.map_err(|err| {
            ParseError::new(ErrorCode::MalformedXml, format!("bad attribute: {err}"))
        })?;
        let slot = match a.key.local_name().as_ref() {
            "schemeID" => &mut attrs.scheme,
            "currencyID" => &mut attrs.currency,
            "format" => &mut attrs.format,
            "name" => &mut attrs.name,
            _ => continue,
        };
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| {
                ParseError::new(
                    ErrorCode::EntityForbidden,
                    format!("attribute value refers to an unknown entity: {err}"),
                )
            })?;
        let value = value.trim();
        if !value.is_empty() {
            *slot = Some(value.to_string());
        }
    }
    Ok(attrs)
}

fn resolve_ref(r: &quick_xml::events::BytesRef) -> Result<String, ParseError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => return Ok(c.to_string()),
        Ok(None) => {}
        Err(e) => {
            return Err(ParseError::new(
                ErrorCode::MalformedXml,
                format!("bad character reference: {e}"),
            ))
        }
    }
    let name: &str = r;
    match quick_xml::escape::resolve_predefined_entity(name) {
        Some(s) => Ok(s.to_string()),
        None => Err(ParseError::new(
            ErrorCode::EntityForbidden,
            format!("entity &{name}; is not one of the five predefined XML entities; entities are refused"),
        )),
    }
}

fn malformed_at(pos: u64, e: quick_xml::Error) -> ParseError {
    ParseError::new(
        ErrorCode::MalformedXml,
        format!("not well-formed XML after byte {pos}: {e}"),
    )
}

fn dtd() -> ParseError {
    ParseError::new(
        ErrorCode::DtdForbidden,
        "document type declarations (DTD) are refused: they allow entity expansion attacks",
    )
}

fn too_deep(max: usize) -> ParseError {
    ParseError::new(
        ErrorCode::TooDeep,
        format!("elements are nested deeper than {max} levels"),
    )
}

fn truncated() -> ParseError {
    ParseError::new(
        ErrorCode::MalformedXml,
        "the document ends before its root element is closed (truncated?)",
    )
}
