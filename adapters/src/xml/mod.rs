//! The XML readers: one streaming walker over quick-xml's plain `Reader`, driven by a tree of
//! paths per syntax (UBL, CII D16B, ZUGFeRD 1.0).
//!
//! Elements are matched by (namespace URI, local name), never by prefix: namespace declarations
//! are resolved here (`Scopes`), only on the elements the walker looks at (the root and the
//! children of the containers it walks into), and each URI billbridge knows is mapped once, when
//! declared, to a small id (`tables::Ns`); an element is then found among its parent's children in
//! the syntax's table by (id, local name). Subtrees that hold nothing billbridge needs (invoice
//! lines, base64 attachments…) are skipped by a byte scan that builds no event and resolves no
//! name, yet applies the same checks (`Walker::skip_subtree`); that is what keeps parsing close to
//! the speed of a bare quick-xml event scan.
//!
//! Safety: a document type declaration is refused (no DTD ⇒ no entity can be declared, so billion
//! laughs and XXE are impossible), any entity reference other than the five predefined ones and
//! character references is refused, and nesting is capped.

mod build;
mod decode;
mod tables;

use quick_xml::errors::{IllFormedError, SyntaxError};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::NamespaceError;
use quick_xml::Reader;

use crate::error::{ErrorCode, ParseError};
use crate::model::{Bill, Syntax};
use crate::ParseOptions;
use build::Builder;
use tables::{Field, Node, NodeId, Ns, Table};

/// Read a UBL, CII or ZUGFeRD 1.0 document into a bill (not yet assessed).
pub(crate) fn read(bytes: &[u8], opts: &ParseOptions) -> Result<Bill, ParseError> {
    let text = decode::decode(bytes)?;
    let mut reader = Reader::from_str(&text);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.trim_markup_names_in_closing_tags = true;
    cfg.expand_empty_elements = false;
    let mut scopes = Scopes::default();

    // Prolog: up to the root element.
    let (syntax, table) = loop {
        match reader.read_event() {
            Err(e) => return Err(malformed_at(reader.buffer_position(), e)),
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                scopes.declare(&e, reader.buffer_position())?;
                break root_syntax(&scopes, &e)?;
            }
            Ok(Event::DocType(_)) => return Err(dtd()),
            Ok(Event::GeneralRef(_)) => {
                return Err(ParseError::new(
                    ErrorCode::MalformedXml,
                    "an entity reference appears before the root element",
                ))
            }
            Ok(Event::Text(t)) => {
                if !t.xml10_content().trim().is_empty() {
                    return Err(ParseError::new(
                        ErrorCode::MalformedXml,
                        "text appears before the root element",
                    ));
                }
            }
            Ok(Event::Eof) => {
                return Err(ParseError::new(
                    ErrorCode::MalformedXml,
                    "the document has no root element",
                ))
            }
            Ok(Event::End(_)) | Ok(Event::CData(_)) => {
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
        scopes,
        stack: Vec::with_capacity(32),
        capture: None,
        text: String::with_capacity(256),
        max_depth: opts.max_depth,
        builder: Builder::new(syntax),
        skip_names: Vec::new(),
    };
    // Outside leaves, text is not read: whitespace between tags is skipped without an event
    // (turned off while a leaf's text is read, see `Walker::run`).
    reader.config_mut().trim_text_start = true;
    walker.run(&text, &mut reader)?;
    Ok(walker.builder.finish())
}

fn root_syntax(scopes: &Scopes, e: &BytesStart) -> Result<(Syntax, &'static Table), ParseError> {
    let local = e.local_name();
    let local = local.as_ref();
    let uri = match scopes.resolve(e) {
        Resolved::Bound(uri, _) => uri,
        Resolved::Unbound => "",
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

/// The namespace URI of the reserved `xml` prefix.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace URI of the reserved `xmlns` prefix.
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";
/// At most this many namespace declarations are in scope at once (quick-xml's default limit):
/// it bounds the memory and the cost of resolving a prefix.
const MAX_BINDINGS: usize = quick_xml::name::DEFAULT_MAX_NAMESPACE_BINDINGS;

/// One `xmlns` / `xmlns:p` declaration in scope: its prefix (empty for the default namespace)
/// and URI are `Scopes::names[start..mid]` and `[mid..end]`.
struct Binding {
    start: u32,
    mid: u32,
    end: u32,
    ns: Ns,
}

enum Resolved<'s> {
    Bound(&'s str, Ns),
    /// No namespace, or a prefix that no declaration in scope binds.
    Unbound,
}

/// The namespace declarations in scope, innermost last.
///
/// Only the elements billbridge looks at (the root, and the children of the containers it walks
/// into) are examined; a declaration is recorded only when an element has one, and the element's
/// declarations are dropped when it closes (or right away when it is empty or skipped). Skipped
/// subtrees are not examined at all: nothing in them is matched.
#[derive(Default)]
struct Scopes {
    bindings: Vec<Binding>,
    /// Prefixes and URIs of `bindings`, back to back.
    names: String,
}

impl Scopes {
    fn prefix(&self, b: &Binding) -> &str {
        &self.names[b.start as usize..b.mid as usize]
    }

    fn uri(&self, b: &Binding) -> &str {
        &self.names[b.mid as usize..b.end as usize]
    }

    /// Drop the declarations made after the first `len`.
    #[inline]
    fn truncate(&mut self, len: usize) {
        if let Some(b) = self.bindings.get(len) {
            self.names.truncate(b.start as usize);
            self.bindings.truncate(len);
        }
    }

    /// Record the namespace declarations of `e`, an element about to be matched.
    #[inline]
    fn declare(&mut self, e: &BytesStart, pos: u64) -> Result<(), ParseError> {
        if !contains_xmlns(e.attributes_raw().as_bytes()) {
            return Ok(());
        }
        self.declare_slow(e, pos)
    }

    #[cold]
    fn declare_slow(&mut self, e: &BytesStart, pos: u64) -> Result<(), ParseError> {
        declarations(e, pos, |prefix, uri| {
            if self.bindings.len() >= MAX_BINDINGS {
                return Err(too_many_bindings(pos));
            }
            // Offsets fit in u32: the input is capped far below 4 GiB, and so is this text.
            let start = self.names.len();
            self.names.push_str(prefix);
            let mid = self.names.len();
            self.names.push_str(uri);
            let end = self.names.len();
            let (Ok(start), Ok(mid), Ok(end)) =
                (u32::try_from(start), u32::try_from(mid), u32::try_from(end))
            else {
                return Err(too_many_bindings(pos));
            };
            self.bindings.push(Binding {
                start,
                mid,
                end,
                ns: Ns::of_uri(uri),
            });
            Ok(())
        })
    }

    /// The namespace of the element name of `e`.
    #[inline]
    fn resolve(&self, e: &BytesStart) -> Resolved<'_> {
        let name = e.name();
        let prefix = match name.prefix() {
            None => "",
            Some(p) => match p.into_inner() {
                "xml" => return Resolved::Bound(XML_NS, Ns::Other),
                "xmlns" => return Resolved::Bound(XMLNS_NS, Ns::Other),
                p => p,
            },
        };
        match self
            .bindings
            .iter()
            .rev()
            .find(|b| self.prefix(b) == prefix)
        {
            // `xmlns=""` and `xmlns:p=""` reset the binding.
            Some(b) if b.end > b.mid => Resolved::Bound(self.uri(b), b.ns),
            _ => Resolved::Unbound,
        }
    }

    #[inline]
    fn ns(&self, e: &BytesStart) -> Ns {
        match self.resolve(e) {
            Resolved::Bound(_, ns) => ns,
            Resolved::Unbound => Ns::Other,
        }
    }
}

/// Call `f(prefix, uri)` for each namespace declaration of `e` (prefix empty for the default
/// namespace), after checking the reserved prefixes as quick-xml's resolver does: attributes are
/// read without duplicate checks, up to the first malformed one (the walker reports it if it reads
/// the attributes it needs), and the URI is taken as written.
fn declarations(
    e: &BytesStart,
    pos: u64,
    mut f: impl FnMut(&str, &str) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    for a in e.attributes().with_checks(false) {
        let Ok(Attribute { key, value }) = a else {
            break;
        };
        let Some(rest) = key.into_inner().strip_prefix("xmlns") else {
            continue;
        };
        let prefix = match rest.as_bytes().first() {
            None => "",
            Some(b':') => &rest[1..],
            Some(_) => continue,
        };
        let uri: &str = &value;
        let invalid = match prefix {
            "xml" if uri != XML_NS => NamespaceError::InvalidXmlPrefixBind(uri.to_string()),
            "xml" => continue, // the binding it always has
            "xmlns" => NamespaceError::InvalidXmlnsPrefixBind(uri.to_string()),
            "" => {
                f(prefix, uri)?;
                continue;
            }
            p if uri == XML_NS => NamespaceError::InvalidPrefixForXml(p.to_string()),
            p if uri == XMLNS_NS => NamespaceError::InvalidPrefixForXmlns(p.to_string()),
            _ => {
                f(prefix, uri)?;
                continue;
            }
        };
        return Err(namespace_error(pos, invalid));
    }
    Ok(())
}

/// The number of namespace declarations of `e`, an element that is not matched (checked as
/// [`declarations`] does, so that skipped subtrees are held to the same rules).
#[inline]
fn count_declarations(e: &BytesStart, pos: u64) -> Result<usize, ParseError> {
    if !contains_xmlns(e.attributes_raw().as_bytes()) {
        return Ok(0);
    }
    let mut n = 0;
    declarations(e, pos, |_, _| {
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

/// Refuse more than [`MAX_BINDINGS`] declarations in scope.
#[inline]
fn cap_bindings(in_scope: usize, pos: u64) -> Result<(), ParseError> {
    if in_scope > MAX_BINDINGS {
        return Err(too_many_bindings(pos));
    }
    Ok(())
}

fn too_many_bindings(pos: u64) -> ParseError {
    namespace_error(pos, NamespaceError::TooManyBindings(MAX_BINDINGS))
}

/// Whether an element's attribute text may hold a namespace declaration.
#[inline]
fn contains_xmlns(raw: &[u8]) -> bool {
    raw.len() >= 5 && raw.windows(5).any(|w| w == b"xmlns")
}

fn namespace_error(pos: u64, e: NamespaceError) -> ParseError {
    malformed_at(pos, quick_xml::Error::Namespace(e))
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
    attrs: Attrs,
}

enum Step {
    Entered,
    /// Skip the subtree; `in_scope` namespace declarations apply in it.
    Skip {
        in_scope: usize,
    },
}

struct Frame {
    node: NodeId,
    kind: Node,
    /// Namespace declarations in scope before this element's own.
    bindings: usize,
}

struct Walker {
    table: &'static Table,
    scopes: Scopes,
    /// One frame per open element below the root.
    stack: Vec<Frame>,
    capture: Option<Capture>,
    /// The text of the leaf being captured.
    text: String,
    max_depth: usize,
    builder: Builder,
    /// Scratch space of `skip_subtree`.
    skip_names: Vec<(usize, usize)>,
}

impl Walker {
    fn run<'a>(&mut self, doc: &'a str, reader: &mut Reader<&'a [u8]>) -> Result<(), ParseError> {
        loop {
            let pos = position(doc, reader);
            let event = reader.read_event().map_err(|e| malformed_at(pos, e))?;
            match event {
                Event::Start(e) => {
                    // As NsReader did: namespace declarations are checked first, then depth.
                    let depth = self.stack.len() + 2; // root is depth 1
                    let in_scope = if self.capture.is_some() {
                        // Child of a leaf: nothing in it is read.
                        let in_scope = self.unmatched(&e, pos)?;
                        check_depth(depth, self.max_depth)?;
                        in_scope
                    } else {
                        let before = self.scopes.bindings.len();
                        self.scopes.declare(&e, pos)?;
                        check_depth(depth, self.max_depth)?;
                        match self.enter(&e, before)? {
                            Step::Entered => {
                                if self.capture.is_some() {
                                    // A leaf: its text is read whole.
                                    reader.config_mut().trim_text_start = false;
                                }
                                continue;
                            }
                            Step::Skip { in_scope } => in_scope,
                        }
                    };
                    self.skip_subtree(doc, reader, depth, in_scope)?;
                }
                Event::Empty(e) => {
                    let depth = self.stack.len() + 2;
                    if self.capture.is_some() {
                        self.unmatched(&e, pos)?;
                        check_depth(depth, self.max_depth)?;
                    } else {
                        let before = self.scopes.bindings.len();
                        self.scopes.declare(&e, pos)?;
                        check_depth(depth, self.max_depth)?;
                        if let Step::Entered = self.enter(&e, before)? {
                            self.leave();
                        }
                    }
                }
                Event::End(_) => {
                    if self.stack.is_empty() {
                        return Ok(()); // the root closed: done, trailing content is not read
                    }
                    self.leave();
                    reader.config_mut().trim_text_start = true;
                }
                Event::Text(t) => {
                    if self.capture.is_some() {
                        self.text.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if self.capture.is_some() {
                        let raw = t.into_inner();
                        self.text.push_str(&raw);
                    }
                }
                Event::GeneralRef(r) => {
                    let out = self.capture.is_some().then_some(&mut self.text);
                    resolve_ref(&r, out)?;
                }
                Event::DocType(_) => return Err(dtd()),
                Event::Eof => return Err(truncated()),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            }
        }
    }

    /// Push an element whose namespace declarations (those after the first `before`) are
    /// recorded, or tell that its subtree is not needed (and push nothing).
    #[inline]
    fn enter(&mut self, e: &BytesStart, before: usize) -> Result<Step, ParseError> {
        let parent = self.stack.last().map_or(Table::ROOT, |f| f.node);
        let ns = self.scopes.ns(e);
        let local = e.local_name();
        let Some((node, kind)) = self.table.child(parent, ns, local.as_ref().as_bytes()) else {
            let in_scope = self.scopes.bindings.len();
            self.scopes.truncate(before);
            return Ok(Step::Skip { in_scope });
        };
        match kind {
            Node::Container(Some(m)) => self.builder.open(m),
            Node::Container(None) => {}
            Node::Leaf(field) => {
                self.text.clear();
                self.capture = Some(Capture {
                    field,
                    attrs: read_attrs(e)?,
                });
            }
        }
        self.stack.push(Frame {
            node,
            kind,
            bindings: before,
        });
        Ok(Step::Entered)
    }

    /// Check the namespace declarations of an element that is not matched (a child of a leaf);
    /// the number of declarations in scope inside it.
    fn unmatched(&self, e: &BytesStart, pos: u64) -> Result<usize, ParseError> {
        let in_scope = self.scopes.bindings.len() + count_declarations(e, pos)?;
        cap_bindings(in_scope, pos)?;
        Ok(in_scope)
    }

    fn leave(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        self.scopes.truncate(frame.bindings);
        match frame.kind {
            Node::Leaf(_) => {
                if let Some(c) = self.capture.take() {
                    self.builder.field(c.field, self.text.trim(), c.attrs);
                }
            }
            Node::Container(Some(m)) => self.builder.close(m),
            Node::Container(None) => {}
        }
    }
}

/// Bytes consumed by `reader`, which reads `doc`: the position of the next event.
#[inline]
fn position(doc: &str, reader: &Reader<&[u8]>) -> u64 {
    (doc.len() - reader.get_ref().len()) as u64
}

#[inline]
fn check_depth(depth: usize, max_depth: usize) -> Result<(), ParseError> {
    if depth > max_depth {
        return Err(too_deep(max_depth));
    }
    Ok(())
}

impl Walker {
    /// Read past the content and the end tag of the element whose start tag was just read (at
    /// `depth`).
    ///
    /// Start, end and empty tags and plain text are scanned here, straight over the bytes of
    /// `doc` (already valid UTF-8): no event is built, no name resolved, and attributes are read
    /// only on the rare tags that declare a namespace. Everything else — references, comments,
    /// CDATA, processing instructions, DOCTYPE — is handed to `reader`, one event at a time. The
    /// checks are those of the event loop this replaces: well-formed tags, end tags matching
    /// their start tags, the depth cap, references (only the predefined entities and character
    /// references), no DOCTYPE, and the namespace rules (`in_scope` declarations apply at the
    /// start).
    fn skip_subtree<'a>(
        &mut self,
        doc: &'a str,
        reader: &mut Reader<&'a [u8]>,
        depth: usize,
        mut in_scope: usize,
    ) -> Result<(), ParseError> {
        let bytes = doc.as_bytes();
        let max_depth = self.max_depth;
        // (start, length) in `doc` of the names of the elements opened inside the subtree.
        let names = &mut self.skip_names;
        names.clear();
        // (depth, how many) of the open elements with namespace declarations.
        let mut declared: Vec<(usize, usize)> = Vec::new();
        let mut at = doc.len() - reader.get_ref().len();
        loop {
            let Some(k) = find_byte(&bytes[at..], [b'<', b'&', b'<']) else {
                // Text up to the end of the document.
                return Err(truncated());
            };
            let lt = at + k;
            let kind = if bytes[lt] == b'&' {
                b'&'
            } else {
                match bytes.get(lt + 1) {
                    None => {
                        return Err(malformed_at(
                            lt as u64,
                            quick_xml::Error::Syntax(SyntaxError::UnclosedTag),
                        ))
                    }
                    Some(&b) => b,
                }
            };
            match kind {
                b'/' if names.is_empty() => {
                    // The end tag of the skipped element: the reader reads it and checks it
                    // against the start tag it read.
                    *reader.get_mut() = &bytes[lt..];
                    let pos = lt as u64;
                    return match reader.read_event().map_err(|e| malformed_at(pos, e))? {
                        Event::End(_) => Ok(()),
                        // Never produced at `</`.
                        _ => Err(ParseError::new(
                            ErrorCode::MalformedXml,
                            format!("not well-formed XML after byte {pos}"),
                        )),
                    };
                }
                b'/' => {
                    let gt = tag_end(bytes, lt)?;
                    let name = trim_end(&doc[lt + 2..gt]);
                    // `names` is not empty (checked above).
                    let (start, len) = names.pop().unwrap_or_default();
                    let expected = &doc[start..start + len];
                    if name != expected {
                        return Err(malformed_at(
                            lt as u64,
                            quick_xml::Error::IllFormed(IllFormedError::MismatchedEndTag {
                                expected: expected.to_string(),
                                found: name.to_string(),
                            }),
                        ));
                    }
                    let open = depth + names.len() + 1; // the depth of the element just closed
                    if let Some(&(d, n)) = declared.last() {
                        if d == open {
                            in_scope -= n;
                            declared.pop();
                        }
                    }
                    at = gt + 1;
                }
                b'&' | b'!' | b'?' => {
                    // A reference, comment, CDATA, DOCTYPE or processing instruction: the reader
                    // reads it as one event.
                    *reader.get_mut() = &bytes[lt..];
                    let pos = lt as u64;
                    match reader.read_event().map_err(|e| malformed_at(pos, e))? {
                        Event::GeneralRef(r) => resolve_ref(&r, None)?,
                        Event::DocType(_) => return Err(dtd()),
                        Event::Eof => return Err(truncated()),
                        Event::Comment(_) | Event::CData(_) | Event::PI(_) | Event::Decl(_) => {}
                        // Never produced at `<!`, `<?` or `&`.
                        Event::Start(_) | Event::Empty(_) | Event::End(_) | Event::Text(_) => {
                            return Err(ParseError::new(
                                ErrorCode::MalformedXml,
                                format!("not well-formed XML after byte {pos}"),
                            ))
                        }
                    }
                    at = doc.len() - reader.get_ref().len();
                }
                _ => {
                    let gt = tag_end(bytes, lt)?;
                    let (content, empty) = match doc[lt + 1..gt].strip_suffix('/') {
                        Some(c) => (c, true),
                        None => (&doc[lt + 1..gt], false),
                    };
                    let name_len = content
                        .bytes()
                        .position(is_xml_whitespace)
                        .unwrap_or(content.len());
                    let n = if contains_xmlns(&content.as_bytes()[name_len..]) {
                        count_declarations(&BytesStart::from_content(content, name_len), lt as u64)?
                    } else {
                        0
                    };
                    if empty {
                        cap_bindings(in_scope + n, lt as u64)?;
                    } else {
                        let open = depth + names.len() + 1;
                        if n > 0 {
                            in_scope += n;
                            cap_bindings(in_scope, lt as u64)?;
                            declared.push((open, n));
                        }
                        check_depth(open, max_depth)?;
                        names.push((lt + 1, name_len));
                    }
                    at = gt + 1;
                }
            }
        }
    }
}

/// The index of the `>` that closes the tag starting at `bytes[lt]` (`<`), skipping quoted
/// attribute values, as quick-xml's element parser does.
#[inline]
fn tag_end(bytes: &[u8], lt: usize) -> Result<usize, ParseError> {
    let mut quote = 0u8;
    let mut at = lt;
    loop {
        let found = if quote == 0 {
            find_byte(&bytes[at..], [b'>', b'\'', b'"'])
        } else {
            find_byte(&bytes[at..], [quote; 3])
        };
        let Some(k) = found else {
            break;
        };
        at += k;
        match bytes[at] {
            b'>' if quote == 0 => return Ok(at),
            b if quote == 0 => quote = b,
            _ => quote = 0,
        }
        at += 1;
    }
    let e = match quote {
        0 => SyntaxError::UnclosedTag,
        b'\'' => SyntaxError::UnclosedSingleQuotedAttributeValue,
        _ => SyntaxError::UnclosedDoubleQuotedAttributeValue,
    };
    Err(malformed_at(lt as u64, quick_xml::Error::Syntax(e)))
}

/// The index of the first byte of `hay` equal to one of `needles`: a word at a time (the corpus
/// has short text and tags, where this beats a call to a vectorised search).
#[inline]
fn find_byte(hay: &[u8], needles: [u8; 3]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Bytes of `x` that are zero have their high bit set in the result. Bits above the first
    // zero byte may be set spuriously (borrows), never below it: the lowest set bit is exact.
    #[inline]
    fn zero_bytes(x: u64) -> u64 {
        x.wrapping_sub(LO) & !x & HI
    }
    let [a, b, c] = needles.map(|n| LO * u64::from(n));
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let m = zero_bytes(w ^ a) | zero_bytes(w ^ b) | zero_bytes(w ^ c);
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|x| needles.contains(x))
        .map(|k| base + k)
}

#[inline]
fn is_xml_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\r' | b'\n' | b'\t')
}

/// `s` without trailing XML whitespace.
#[inline]
fn trim_end(s: &str) -> &str {
    s.trim_end_matches([' ', '\r', '\n', '\t'])
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

/// Check a character or entity reference; append what it stands for to `out`, if given.
fn resolve_ref(
    r: &quick_xml::events::BytesRef,
    out: Option<&mut String>,
) -> Result<(), ParseError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => {
            if let Some(out) = out {
                out.push(c);
            }
            return Ok(());
        }
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
        Some(s) => {
            if let Some(out) = out {
                out.push_str(s);
            }
            Ok(())
        }
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

#[cfg(test)]
mod tests {
    use super::find_byte;

    #[test]
    fn find_byte_agrees_with_a_plain_search() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let alphabet = b"<&>'\"a \x80\xff\x00\x01";
        for len in 0..40 {
            for _ in 0..200 {
                let hay: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        alphabet[(seed % alphabet.len() as u64) as usize]
                    })
                    .collect();
                for needles in [[b'<', b'&', b'<'], [b'>', b'\'', b'"'], [b'"'; 3]] {
                    let plain = hay.iter().position(|x| needles.contains(x));
                    assert_eq!(find_byte(&hay, needles), plain, "{hay:?} {needles:?}");
                }
            }
        }
    }
}
