//! Namespace scoping: elements are matched by (namespace URI, local name), declarations apply to
//! the element that makes them and its descendants only, and the namespace rules (reserved `xml`
//! and `xmlns` prefixes, at most 128 declarations in scope) hold in read and skipped subtrees
//! alike. The expected results are those of quick-xml's `NsReader`, which the walker used before
//! it resolved namespaces itself.

mod common;

use adapters::ErrorCode as E;
use common::{edit, parse, parse_bytes, UBL};

const CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
const ORDER: &str = "<cac:OrderReference><cbc:ID>PO-991</cbc:ID></cac:OrderReference>";

fn decls(n: usize, prefix: &str) -> String {
    (0..n)
        .map(|i| format!(" xmlns:{prefix}{i}=\"urn:x{i}\""))
        .collect()
}

fn code(doc: &str) -> E {
    match parse_bytes(doc.as_bytes()) {
        Ok(b) => panic!("expected an error, got bill {:?}", b.number),
        Err(e) => e.code,
    }
}

#[test]
fn declarations_are_scoped_to_their_element() {
    // A default namespace declared on the element itself.
    let doc = edit(
        UBL,
        "<cbc:ID>FA-2026-0042</cbc:ID>",
        &format!("<ID xmlns=\"{CBC}\">FA-7</ID>"),
    );
    assert_eq!(parse(&doc).number.as_deref(), Some("FA-7"));
    // ... reset by xmlns="" (and an unprefixed ID in the root's namespace is not cbc:ID).
    let doc = edit(
        UBL,
        "<cbc:ID>FA-2026-0042</cbc:ID>",
        "<ID xmlns=\"\">FA-7</ID>",
    );
    assert_eq!(parse(&doc).number, None);
    // Declared on a container, it applies to its children, not after it closes.
    let doc = edit(
        UBL,
        ORDER,
        &format!(
            "<cac:OrderReference xmlns=\"{CBC}\"><ID>PO-1</ID><x xmlns=\"\"><ID>no</ID></x>\
             </cac:OrderReference><ID>not the number</ID>"
        ),
    );
    let b = parse(&doc);
    assert_eq!(b.purchase_order.as_deref(), Some("PO-1"));
    assert_eq!(b.number.as_deref(), Some("FA-2026-0042"));
    // A prefix rebound on a container: its cbc children are something else.
    let doc = edit(
        UBL,
        "<cac:PaymentMeans>",
        "<cac:PaymentMeans xmlns:cbc=\"urn:other\">",
    );
    assert_eq!(parse(&doc).payee_iban(), None);
    assert_eq!(parse(&doc).number.as_deref(), Some("FA-2026-0042"));
    // An element's own declaration applies to its own name.
    let doc = edit(
        UBL,
        "<cac:OrderReference>",
        "<cac:OrderReference xmlns:cac=\"urn:other\">",
    );
    assert_eq!(parse(&doc).purchase_order, None);
    // xmlns:cbc="" unbinds the prefix.
    let doc = edit(
        UBL,
        "<cac:OrderReference>",
        "<cac:OrderReference xmlns:cbc=\"\">",
    );
    assert_eq!(parse(&doc).purchase_order, None);
    // Attributes that merely look like declarations change nothing.
    let doc = edit(
        UBL,
        "<cac:OrderReference>",
        "<cac:OrderReference xmlnsfoo=\"x\" name=\"xmlns\">",
    );
    assert_eq!(parse(&doc).purchase_order.as_deref(), Some("PO-991"));
    // The reserved xml prefix, declared correctly, inside a leaf.
    let doc = edit(
        UBL,
        "<cbc:ID>FA-2026-0042</cbc:ID>",
        "<cbc:ID xmlns:xml=\"http://www.w3.org/XML/1998/namespace\">A<xml:x/>B</cbc:ID>",
    );
    assert_eq!(parse(&doc).number.as_deref(), Some("AB"));
}

#[test]
fn reserved_prefixes_are_enforced_everywhere() {
    // Inside a leaf (a child that is not read).
    let doc = edit(
        UBL,
        "<cbc:ID>FA-2026-0042</cbc:ID>",
        "<cbc:ID>A<x xmlns:xml=\"foo\"/>B</cbc:ID>",
    );
    assert_eq!(code(&doc), E::MalformedXml);
    // On a container that is walked.
    let doc = edit(
        UBL,
        "<cac:OrderReference>",
        "<cac:OrderReference xmlns:q=\"http://www.w3.org/2000/xmlns/\">",
    );
    assert_eq!(code(&doc), E::MalformedXml);
    // Inside a skipped subtree (invoice lines), on a start tag and on an empty one.
    let doc = edit(
        UBL,
        "<cac:InvoiceLine>",
        "<cac:InvoiceLine><a><b xmlns:xmlns=\"x\"/></a>",
    );
    assert_eq!(code(&doc), E::MalformedXml);
    let doc = edit(
        UBL,
        "<cac:InvoiceLine>",
        "<cac:InvoiceLine><a xmlns:q=\"http://www.w3.org/XML/1998/namespace\"></a>",
    );
    assert_eq!(code(&doc), E::MalformedXml);
}

#[test]
fn declarations_in_scope_are_capped() {
    // 3 on the root + 125 = 128: accepted; 129: refused, wherever they are.
    for (at, to) in [
        ("<Invoice ", "<Invoice{} "),
        ("<cac:InvoiceLine>", "<cac:InvoiceLine{}>"),
        ("<cac:OrderReference>", "<cac:OrderReference{}>"),
    ] {
        let ok = edit(UBL, at, &to.replace("{}", &decls(125, "p")));
        assert!(parse_bytes(ok.as_bytes()).is_ok(), "{at}");
        let too_many = edit(UBL, at, &to.replace("{}", &decls(126, "p")));
        assert_eq!(code(&too_many), E::MalformedXml, "{at}");
    }
    // Nested in a skipped subtree: siblings' declarations go out of scope, ancestors' do not.
    let root = edit(UBL, "<Invoice ", &format!("<Invoice{} ", decls(100, "p")));
    let siblings = edit(
        &root,
        "<cac:InvoiceLine>",
        &format!(
            "<cac:InvoiceLine{}><a{}/><b{}></b>",
            decls(20, "q"),
            decls(5, "r"),
            decls(5, "s")
        ),
    );
    assert!(parse_bytes(siblings.as_bytes()).is_ok());
    let nested = edit(
        &root,
        "<cac:InvoiceLine>",
        &format!(
            "<cac:InvoiceLine{}><a{}><b{}/></a>",
            decls(20, "q"),
            decls(5, "r"),
            decls(5, "s")
        ),
    );
    assert_eq!(code(&nested), E::MalformedXml);
    // Inside a leaf.
    let doc = edit(
        UBL,
        "<cbc:ID>FA-2026-0042</cbc:ID>",
        &format!(
            "<cbc:ID>FA<x{}><y xmlns:z=\"a\"/></x>-1</cbc:ID>",
            decls(124, "p")
        ),
    );
    assert_eq!(parse(&doc).number.as_deref(), Some("FA-1"));
    let doc = edit(
        UBL,
        "<cbc:ID>FA-2026-0042</cbc:ID>",
        &format!(
            "<cbc:ID>FA<x{}><y xmlns:z=\"a\"/></x>-1</cbc:ID>",
            decls(125, "p")
        ),
    );
    assert_eq!(code(&doc), E::MalformedXml);
}
