//! Parse e-invoice files and print a summary; used to measure peak RSS and CPU time
//! (`scripts/parse-rss.sh`, BENCHMARKS.md "Parsing (adapters)").
//!
//! ```sh
//! cargo run --release -p adapters --example parse_file -- FILE [--scan] [--max-bytes N]
//! cargo run --release -p adapters --example parse_file -- DIR... --repeat 200 --size 5120..20480
//! ```
//!
//! * one FILE: parse it once and print number, BT-115, BT-9 and the IBAN billbridge would pay;
//! * several files or folders (folders are walked for `*.xml`): parse every UBL and CII
//!   document (as the benchmark does) `--repeat` times and print documents/s, so that
//!   `/usr/bin/time` can relate the count to CPU time on a busy machine;
//! * `--size MIN..MAX` keeps only inputs of MIN..=MAX bytes; `--syntax ubl|cii` only UBL
//!   (Invoice and CreditNote) or only CII documents;
//! * `--scan` runs the bare quick-xml event scan over the same bytes instead of billbridge's parser
//!   (the floor of reading the bytes as XML);
//! * `--max-bytes N` raises the 10 MiB input cap.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use adapters::{ParseOptions, Syntax};
use quick_xml::events::Event;
use quick_xml::Reader;

struct Args {
    inputs: Vec<PathBuf>,
    scan: bool,
    repeat: u32,
    size: Option<(usize, usize)>,
    syntax: Option<String>,
    opts: ParseOptions,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        inputs: Vec::new(),
        scan: false,
        repeat: 1,
        size: None,
        syntax: None,
        opts: ParseOptions::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--scan" => a.scan = true,
            "--max-bytes" => {
                a.opts.max_bytes = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--max-bytes needs a number")?;
            }
            "--repeat" => {
                a.repeat = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--repeat needs a positive number")?;
            }
            "--size" => {
                let range = it.next().ok_or("--size needs MIN..MAX")?;
                let (lo, hi) = range.split_once("..").ok_or("--size needs MIN..MAX")?;
                let lo = lo.parse().map_err(|_| "--size: bad MIN")?;
                let hi = hi.parse().map_err(|_| "--size: bad MAX")?;
                a.size = Some((lo, hi));
            }
            "--syntax" => {
                let s = it.next().ok_or("--syntax needs ubl or cii")?;
                if s != "ubl" && s != "cii" {
                    return Err("--syntax needs ubl or cii".into());
                }
                a.syntax = Some(s);
            }
            _ if !arg.starts_with("--") => a.inputs.push(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    if a.inputs.is_empty() {
        return Err("no file given".into());
    }
    Ok(a)
}

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                walk(&e, out);
            } else if e.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml")) {
                out.push(e);
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
}

/// The bare quick-xml event scan; the number of events, or the error.
fn scan(bytes: &[u8]) -> Result<u64, String> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut reader = Reader::from_str(text);
    let mut events = 0u64;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return Ok(events),
            Ok(e) => {
                std::hint::black_box(&e);
                events += 1;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(problem) => {
            eprintln!(
                "{problem}\nusage: parse_file FILE|DIR... [--scan] [--repeat N] [--size MIN..MAX] \
                 [--syntax ubl|cii] [--max-bytes N]"
            );
            return ExitCode::from(2);
        }
    };
    let single = a.inputs.len() == 1 && a.inputs[0].is_file() && a.repeat == 1;
    let mut paths = Vec::new();
    for p in &a.inputs {
        walk(p, &mut paths);
    }
    let mut docs = Vec::new();
    for p in &paths {
        match std::fs::read(p) {
            Ok(b) if a.size.is_none_or(|(lo, hi)| (lo..=hi).contains(&b.len())) => {
                docs.push((p, b));
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("{}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        }
    }

    if single {
        let (path, bytes) = &docs[0];
        let started = Instant::now();
        if a.scan {
            return match scan(bytes) {
                Ok(events) => {
                    println!(
                        "{}: {} bytes, quick-xml scan: {events} events in {:?}",
                        path.display(),
                        bytes.len(),
                        started.elapsed()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    ExitCode::FAILURE
                }
            };
        }
        return match adapters::parse(bytes, &a.opts) {
            Ok(bill) => {
                println!(
                    "{}: {} bytes, {} {} payable={} due={} iban={} in {:?}",
                    path.display(),
                    bytes.len(),
                    bill.syntax.as_str(),
                    bill.number.as_deref().unwrap_or("-"),
                    bill.amounts
                        .payable
                        .map_or_else(|| "-".to_string(), |d| d.to_string()),
                    bill.due_date
                        .map_or_else(|| "-".to_string(), |d| d.to_string()),
                    bill.payee_iban().unwrap_or("-"),
                    started.elapsed()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                ExitCode::FAILURE
            }
        };
    }

    // Many documents: keep those that parse (and scan), then time `repeat` rounds.
    let docs: Vec<&[u8]> = docs
        .iter()
        .map(|(_, b)| b.as_slice())
        .filter(|b| {
            let wanted = match adapters::parse(b, &a.opts).map(|bill| bill.syntax) {
                Err(_) => false,
                Ok(s) => match a.syntax.as_deref() {
                    None => matches!(s, Syntax::UblInvoice | Syntax::UblCreditNote | Syntax::Cii),
                    Some("ubl") => matches!(s, Syntax::UblInvoice | Syntax::UblCreditNote),
                    Some(_) => s == Syntax::Cii,
                },
            };
            wanted && scan(b).is_ok()
        })
        .collect();
    let bytes: usize = docs.iter().map(|d| d.len()).sum();
    let started = Instant::now();
    for _ in 0..a.repeat {
        for d in &docs {
            if a.scan {
                std::hint::black_box(scan(std::hint::black_box(d)).ok());
            } else {
                std::hint::black_box(adapters::parse(std::hint::black_box(d), &a.opts).ok());
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = docs.len() as f64 * f64::from(a.repeat);
    println!(
        "{}: {} documents ({bytes} bytes) x {} rounds in {secs:.3} s wall: {:.0} documents/s, {:.1} MB/s",
        if a.scan { "quick-xml scan" } else { "billbridge parse" },
        docs.len(),
        a.repeat,
        n / secs,
        bytes as f64 * f64::from(a.repeat) / secs / 1e6
    );
    ExitCode::SUCCESS
}
