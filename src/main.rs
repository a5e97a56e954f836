//! The `billbridge` command line: wiring only; the work lives in the library crates.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// billbridge pays supplier bills from your ERP through the Qonto Business API.
#[derive(Debug, Parser)]
#[command(name = "billbridge", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read e-invoices (UBL, CII, ZUGFeRD 1.0, Factur-X PDF, JSON) and print one JSON object per
    /// file and per line: the bill's key fields, whether it can be paid, and why not.
    ///
    /// Exit status: 0 when every file was read, 1 when at least one could not be read, 2 for
    /// usage errors.
    Parse(ParseArgs),
}

#[derive(Debug, clap::Args)]
struct ParseArgs {
    /// Files to read.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Refuse inputs larger than this many bytes.
    #[arg(long, default_value_t = adapters::DEFAULT_MAX_BYTES)]
    max_bytes: usize,
    /// Accept documents whose specification identifier (BT-24) is not a known EN 16931 one.
    #[arg(long)]
    accept_any_specification: bool,
    /// Read JSON files through this mapping (a JSON file: {"fields": {"number": "/no", …}}).
    #[arg(long, value_name = "MAPPING.json")]
    mapping: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => commands::parse::run(
            &args.files,
            commands::parse::Options {
                max_bytes: args.max_bytes,
                accept_any_specification: args.accept_any_specification,
                mapping: args.mapping,
            },
        ),
    }
}
