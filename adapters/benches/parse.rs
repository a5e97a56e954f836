//! Parsing throughput over the public e-invoice corpus (`../shared/einvoice-corpus`, or
//! `$BILLBRIDGE_CORPUS`); see BENCHMARKS.md, section "Parsing (adapters)".
//!
//! Three sets of files, UBL (Invoice and CreditNote), CII, and "typical" invoices of 5–20 KiB
//! (either syntax), each benchmarked twice: in MB/s (`Throughput::Bytes`, group `<set>/bytes`) and
//! in invoices/s (`Throughput::Elements`, group `<set>/invoices`). One iteration reads every file
//! of the set once. Every group compares:
//!
//! * `billbridge`: `adapters::parse(bytes, &ParseOptions::default())` — decode, walk, build the
//!   bill and assess it, as `billbridge parse` does;
//! * `quick-xml-scan`: the floor — the same bytes made `&str` (BOM stripped, UTF-8 checked) and
//!   read by a bare `quick_xml::Reader::from_str` with `read_event` until `Eof`, building nothing;
//! * `quick-xml-ns-scan`: the same with `NsReader::read_resolved_event`, i.e. the floor plus the
//!   namespace resolution billbridge needs (it matches elements by namespace URI, never by prefix).
//!
//! ```sh
//! cargo bench -p adapters --bench parse -- --measurement-time 3 --warm-up-time 1
//! ```
//!
//! Without the corpus the benchmark says so and measures nothing.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use adapters::{ParseOptions, Syntax};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use quick_xml::events::Event;
use quick_xml::{NsReader, Reader};

/// "Typical" invoice sizes, in bytes (5–20 KiB).
const TYPICAL: std::ops::RangeInclusive<usize> = 5 * 1024..=20 * 1024;

fn corpus_dir() -> Result<PathBuf, PathBuf> {
    let dir = match std::env::var_os("BILLBRIDGE_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/einvoice-corpus"),
    };
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(dir)
    }
}

fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            xml_files(&p, out);
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml")) {
            out.push(p);
        }
    }
}

/// The UBL and CII documents of the corpus that billbridge reads, as bytes.
struct Corpus {
    ubl: Vec<Vec<u8>>,
    cii: Vec<Vec<u8>>,
}

fn load(dir: &Path) -> Corpus {
    let mut files = Vec::new();
    xml_files(dir, &mut files);
    files.sort();
    let opts = ParseOptions::default();
    let mut corpus = Corpus {
        ubl: Vec::new(),
        cii: Vec::new(),
    };
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        // Only documents both the parser and the scan accept are measured.
        if scan(&bytes).is_none() || ns_scan(&bytes).is_none() {
            continue;
        }
        match adapters::parse(&bytes, &opts).map(|b| b.syntax) {
            Ok(Syntax::UblInvoice | Syntax::UblCreditNote) => corpus.ubl.push(bytes),
            Ok(Syntax::Cii) => corpus.cii.push(bytes),
            _ => {} // ZUGFeRD 1.0 and non-invoices
        }
    }
    corpus
}

/// The bare quick-xml event scan: how many events the document has, `None` if it is not
/// well-formed UTF-8 XML.
fn scan(bytes: &[u8]) -> Option<usize> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = Reader::from_str(text);
    let mut events = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return Some(events),
            Ok(e) => {
                black_box(&e);
                events += 1;
            }
            Err(_) => return None,
        }
    }
}

/// The bare scan with namespace resolution: `NsReader` resolving every element's namespace.
fn ns_scan(bytes: &[u8]) -> Option<usize> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = NsReader::from_str(text);
    let mut events = 0usize;
    loop {
        match reader.read_resolved_event() {
            Ok((_, Event::Eof)) => return Some(events),
            Ok(e) => {
                black_box(&e);
                events += 1;
            }
            Err(_) => return None,
        }
    }
}

fn parse_all(docs: &[&[u8]], opts: &ParseOptions) -> usize {
    let mut ok = 0;
    for d in docs {
        if black_box(adapters::parse(black_box(d), opts)).is_ok() {
            ok += 1;
        }
    }
    ok
}

fn scan_all(docs: &[&[u8]]) -> usize {
    docs.iter().map(|d| scan(black_box(d)).unwrap_or(0)).sum()
}

fn bench_set(c: &mut Criterion, name: &str, docs: &[&[u8]]) {
    if docs.is_empty() {
        println!("{name}: no documents, not measured");
        return;
    }
    let bytes: u64 = docs.iter().map(|d| d.len() as u64).sum();
    println!(
        "{name}: {} documents, {bytes} bytes, mean {} bytes",
        docs.len(),
        bytes / docs.len() as u64
    );
    let opts = ParseOptions::default();
    for (unit, throughput) in [
        ("bytes", Throughput::Bytes(bytes)),
        ("invoices", Throughput::Elements(docs.len() as u64)),
    ] {
        let mut g = c.benchmark_group(format!("{name}/{unit}"));
        g.throughput(throughput);
        g.bench_function("billbridge", |b| b.iter(|| parse_all(docs, &opts)));
        g.bench_function("quick-xml-scan", |b| b.iter(|| scan_all(docs)));
        g.bench_function("quick-xml-ns-scan", |b| {
            b.iter(|| -> usize {
                docs.iter()
                    .map(|d| ns_scan(black_box(d)).unwrap_or(0))
                    .sum()
            })
        });
        g.finish();
    }
}

fn parsing(c: &mut Criterion) {
    let dir = match corpus_dir() {
        Ok(dir) => dir,
        Err(tried) => {
            println!(
                "SKIPPED: parse benchmark not run: the e-invoice corpus is absent ({} is not a \
                 folder; set BILLBRIDGE_CORPUS to run it)",
                tried.display()
            );
            return;
        }
    };
    let corpus = load(&dir);
    let ubl: Vec<&[u8]> = corpus.ubl.iter().map(Vec::as_slice).collect();
    let cii: Vec<&[u8]> = corpus.cii.iter().map(Vec::as_slice).collect();
    let typical: Vec<&[u8]> = ubl
        .iter()
        .chain(cii.iter())
        .copied()
        .filter(|d| TYPICAL.contains(&d.len()))
        .collect();
    bench_set(c, "ubl", &ubl);
    bench_set(c, "cii", &cii);
    bench_set(c, "typical-5-20KiB", &typical);
}

criterion_group!(benches, parsing);
criterion_main!(benches);
