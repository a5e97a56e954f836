//! The `billbridge` command line: wiring only; the work lives in the library crates.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// billbridge pays supplier bills from your ERP through the Qonto Business API.
#[derive(Debug, Parser)]
#[command(name = "billbridge", version, about, long_about = None)]
struct Cli {
    /// Configuration file (default: ./billbridge.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
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
    /// Run the HTTP API (and apply pending migrations first, unless configured otherwise).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage organizations.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Manage sources (where bills come from).
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// Read a backlog of bills (files or folders of .xml, .pdf, .json) into a source, with a
    /// progress bar and a summary of what was accepted, held and rejected.
    ///
    /// Exit status: 0 when every file was accepted (new or already known), 1 otherwise.
    Ingest {
        /// Files or folders.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// The source the bills come from (src_…).
        #[arg(long)]
        source: String,
    },
    /// Outcome webhooks to the ERPs: list, show (with every attempt) and replay deliveries.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Bills: list with filters, show with history and transfers, hold, release, cancel, retry.
    #[command(subcommand)]
    Bills(BillsCommand),
    /// The organization's audit log, newest first.
    Audit(AuditArgs),
    /// An organization's API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Payment runs: create one from ready bills, review its preview, confirm or cancel it (a
    /// running `billbridge serve` does the work with Qonto).
    #[command(subcommand)]
    Runs(RunsCommand),
    /// The whole walk in one process, in under a minute: the service on SQLite, the built-in
    /// Qonto sandbox and a demo ERP; sample invoices in, a payment with SCA, settlement, and
    /// signed `bill.paid` events back to the ERP. Exit status 0 when every bill paid.
    Demo {
        /// Database file (default: a fresh one in the temporary directory).
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// Folder of invoices to send (default: demo/invoices of the repository).
        #[arg(long, value_name = "DIR")]
        invoices: Option<PathBuf>,
    },
    /// Create an admin token (manages organizations over the API).
    AdminToken {
        /// A name to recognise the token by.
        #[arg(long, default_value = "admin")]
        name: String,
    },
    /// Connect an organization to Qonto with OAuth 2.0 (`[qonto.oauth]`), and see how it is
    /// connected.
    #[command(subcommand)]
    Qonto(QontoCommand),
    /// Run the offline Qonto sandbox (an in-memory simulator of the Qonto Business API).
    Sandbox {
        /// Port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 8089)]
        port: u16,
    },
}

#[derive(Debug, Subcommand)]
enum QontoCommand {
    /// Print the Qonto authorize URL for the organization; after consent, Qonto redirects to
    /// the callback of a running `billbridge serve`, which stores the tokens.
    Connect {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// Qonto organization id (UUID) to pre-select on Qonto's consent page.
        #[arg(long)]
        qonto_organization_id: Option<String>,
    },
    /// How the organization reaches Qonto: auth kind, environment, connection time, token
    /// expiry (never a token).
    Status {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
enum OrgsCommand {
    /// Create an organization and print its first API token.
    Create {
        /// The organization's name.
        name: String,
    },
    /// List organizations.
    List,
}

#[derive(Debug, Subcommand)]
enum SourcesCommand {
    /// Create a source and print its signing secret.
    Create {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The source's name.
        name: String,
        /// What it is (`erp`, `upload`, `email`…).
        #[arg(long, default_value = "erp")]
        kind: String,
    },
    /// List sources: live signing secrets, callback, mapping (never a secret).
    List {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
    },
    /// Make a new signing secret and print it once; the current one is accepted too for the
    /// grace period.
    RotateSecret {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The source (src_…).
        source: String,
        /// How long the current secret stays valid beside the new one (0 to 720).
        #[arg(long, default_value_t = 24)]
        grace_hours: u32,
    },
    /// Send the source's outcome events to URL; prints the new callback secret once.
    SetCallback {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The source (src_…).
        source: String,
        /// An absolute http(s) URL.
        url: String,
    },
    /// Read the source's JSON bills through a mapping (a JSON file, validated first), or
    /// --clear it.
    SetMapping {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The source (src_…).
        source: String,
        /// The mapping: {"fields": {"number": "/doc/no", …}}.
        #[arg(
            value_name = "FILE.json",
            required_unless_present = "clear",
            conflicts_with = "clear"
        )]
        file: Option<PathBuf>,
        /// Remove the mapping (JSON bills are then read as canonical JSON).
        #[arg(long)]
        clear: bool,
    },
    /// Print the source's JSON mapping.
    ShowMapping {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The source (src_…).
        source: String,
    },
}

#[derive(Debug, Subcommand)]
enum BillsCommand {
    /// List bills, newest first: a table (IBANs masked), or --json for one object per line.
    /// When there are more, the next page's --cursor is printed on stderr.
    List {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// Only this status: ready, held, in_run, submitted, paid, failed, canceled.
        #[arg(long)]
        status: Option<String>,
        /// Only this supplier's bills (sup_…).
        #[arg(long)]
        supplier: Option<String>,
        /// Only bills due on or before this date (YYYY-MM-DD).
        #[arg(long)]
        due_before: Option<chrono::NaiveDate>,
        /// Only bills from this source (src_…).
        #[arg(long)]
        source: Option<String>,
        /// At most this many (1 to 500).
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Start after this bill (the cursor a previous page printed).
        #[arg(long)]
        cursor: Option<String>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a bill: its fields, history and transfers.
    Show {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The bill (bill_…).
        bill: String,
        /// One JSON object (bill, history, transfers) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Hold a ready bill (adds the `manual` hold reason).
    Hold {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The bill (bill_…).
        bill: String,
        /// Why (kept in the bill's history and the audit log).
        #[arg(long)]
        note: Option<String>,
    },
    /// Release a held bill (approves a changed IBAN); hard holds cannot be released.
    Release {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The bill (bill_…).
        bill: String,
        /// Why (kept in the bill's history and the audit log).
        #[arg(long)]
        note: Option<String>,
    },
    /// Cancel a ready or held bill: it will not be paid.
    Cancel {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The bill (bill_…).
        bill: String,
        /// Why (kept in the bill's history and the audit log).
        #[arg(long)]
        note: Option<String>,
    },
    /// Send a failed bill (declined or canceled at Qonto) back to ready.
    Retry {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The bill (bill_…).
        bill: String,
    },
}

#[derive(Debug, clap::Args)]
struct AuditArgs {
    /// The organization (org_…).
    #[arg(long)]
    org: String,
    /// Entries at or after this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_parser = commands::audit::parse_time)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Entries before this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_parser = commands::audit::parse_time)]
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Only this bill's entries (bill_…).
    #[arg(long)]
    bill: Option<String>,
    /// Only this payment run's entries (run_…).
    #[arg(long)]
    run: Option<String>,
    /// Only entries older than this entry id (the next page).
    #[arg(long, value_name = "ID")]
    before: Option<i64>,
    /// At most this many (1 to 1000).
    #[arg(long, default_value_t = 100)]
    limit: u64,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Create an API token for the organization and print it once.
    Create {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
    },
    /// List the organization's tokens (never their values).
    List {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
    },
    /// Revoke a token: it stops authenticating at once.
    Revoke {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The token (tok_…).
        token: String,
    },
}

#[derive(Debug, Subcommand)]
enum DeliveriesCommand {
    /// List deliveries, newest first.
    List {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// Only this status: pending, delivered, dead, canceled.
        #[arg(long)]
        status: Option<String>,
        /// Only this bill's (bill_…).
        #[arg(long)]
        bill: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Show a delivery, its event and every attempt.
    Show {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The delivery (dlv_…).
        id: String,
    },
    /// Send a delivery again now, with the same webhook-id (a running `serve` sends it).
    Replay {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The delivery (dlv_…).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// Create a run from ready bills: explicit --bill ids, or every ready bill matching the
    /// filters (earliest due first).
    Create {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// A bill to pay (bill_…); repeat for several. Without it, the filters choose.
        #[arg(long = "bill", value_name = "BILL")]
        bills: Vec<String>,
        /// Only bills due on or before this date (YYYY-MM-DD).
        #[arg(long)]
        due_before: Option<chrono::NaiveDate>,
        /// Only this supplier's bills (sup_…).
        #[arg(long)]
        supplier: Option<String>,
        /// Stop before the total passes this amount (EUR).
        #[arg(long)]
        max_total: Option<rust_decimal::Decimal>,
        /// Pay each bill on its due date (Qonto scheduled transfers) instead of now.
        #[arg(long)]
        on_due_date: bool,
        /// SCA method: paired-device (default), passkey, or mock (sandbox).
        #[arg(long)]
        sca_method: Option<String>,
    },
    /// List runs, newest first.
    List {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// Only runs in this status.
        #[arg(long)]
        status: Option<String>,
    },
    /// Show a run: preview, warnings, and every transfer with its payee check.
    Show {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The run (run_…).
        id: String,
    },
    /// Confirm a previewed run. Payee checks that did not match need --accept or --exclude.
    Confirm {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The run (run_…).
        id: String,
        /// Accept this transfer's payee as it is (trf_…); repeat for several.
        #[arg(long = "accept", value_name = "TRANSFER")]
        accept: Vec<String>,
        /// Take this transfer out of the run (trf_…); repeat for several.
        #[arg(long = "exclude", value_name = "TRANSFER")]
        exclude: Vec<String>,
    },
    /// Cancel a run not yet sent to Qonto; its bills are ready again.
    Cancel {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// The run (run_…).
        id: String,
    },
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
    let config = cli.config.as_deref();
    let result = match cli.command {
        Command::Parse(args) => {
            return commands::parse::run(
                &args.files,
                commands::parse::Options {
                    max_bytes: args.max_bytes,
                    accept_any_specification: args.accept_any_specification,
                    mapping: args.mapping,
                },
            )
        }
        Command::Serve => run_async(commands::serve::serve(config)),
        Command::Migrate => run_async(commands::serve::migrate(config)),
        Command::Orgs(OrgsCommand::Create { name }) => {
            run_async(commands::serve::orgs_create(config, &name))
        }
        Command::Orgs(OrgsCommand::List) => run_async(commands::serve::orgs_list(config)),
        Command::Sources(SourcesCommand::Create { org, name, kind }) => {
            run_async(commands::ingest::sources_create(config, &org, &name, &kind))
        }
        Command::Sources(SourcesCommand::List { org }) => {
            run_async(commands::sources::list(config, &org))
        }
        Command::Sources(SourcesCommand::RotateSecret {
            org,
            source,
            grace_hours,
        }) => run_async(commands::sources::rotate_secret(
            config,
            &org,
            &source,
            grace_hours,
        )),
        Command::Sources(SourcesCommand::SetCallback { org, source, url }) => {
            run_async(commands::sources::set_callback(config, &org, &source, &url))
        }
        Command::Sources(SourcesCommand::SetMapping {
            org,
            source,
            file,
            clear: _,
        }) => run_async(commands::sources::set_mapping(
            config,
            &org,
            &source,
            file.as_deref(),
        )),
        Command::Sources(SourcesCommand::ShowMapping { org, source }) => {
            run_async(commands::sources::show_mapping(config, &org, &source))
        }
        Command::Bills(cmd) => match cmd {
            BillsCommand::List {
                org,
                status,
                supplier,
                due_before,
                source,
                limit,
                cursor,
                json,
            } => run_async(commands::bills::list(
                config,
                &org,
                commands::bills::ListArgs {
                    status,
                    supplier,
                    due_before,
                    source,
                    limit,
                    cursor,
                    json,
                },
            )),
            BillsCommand::Show { org, bill, json } => {
                run_async(commands::bills::show(config, &org, &bill, json))
            }
            BillsCommand::Hold { org, bill, note } => run_async(commands::bills::act(
                config,
                &org,
                &bill,
                connector::store::bills::BillAction::Hold,
                note,
            )),
            BillsCommand::Release { org, bill, note } => run_async(commands::bills::act(
                config,
                &org,
                &bill,
                connector::store::bills::BillAction::Release,
                note,
            )),
            BillsCommand::Cancel { org, bill, note } => run_async(commands::bills::act(
                config,
                &org,
                &bill,
                connector::store::bills::BillAction::Cancel,
                note,
            )),
            BillsCommand::Retry { org, bill } => {
                run_async(commands::bills::retry(config, &org, &bill))
            }
        },
        Command::Audit(a) => run_async(commands::audit::run(
            config,
            &a.org,
            commands::audit::AuditArgs {
                from: a.from,
                to: a.to,
                bill: a.bill,
                run: a.run,
                before: a.before,
                limit: a.limit,
                json: a.json,
            },
        )),
        Command::Tokens(cmd) => match cmd {
            TokensCommand::Create { org, name } => {
                run_async(commands::tokens::create(config, &org, &name))
            }
            TokensCommand::List { org } => run_async(commands::tokens::list(config, &org)),
            TokensCommand::Revoke { org, token } => {
                run_async(commands::tokens::revoke(config, &org, &token))
            }
        },
        Command::Ingest { paths, source } => {
            match run_async(commands::ingest::ingest(config, &paths, &source)) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(1),
                Err(e) => Err(e),
            }
        }
        Command::Deliveries(DeliveriesCommand::List {
            org,
            status,
            bill,
            limit,
        }) => run_async(commands::deliveries::list(
            config, &org, status, bill, limit,
        )),
        Command::Deliveries(DeliveriesCommand::Show { org, id }) => {
            run_async(commands::deliveries::show(config, &org, &id))
        }
        Command::Deliveries(DeliveriesCommand::Replay { org, id }) => {
            run_async(commands::deliveries::replay(config, &org, &id))
        }
        Command::Runs(cmd) => match cmd {
            RunsCommand::Create {
                org,
                bills,
                due_before,
                supplier,
                max_total,
                on_due_date,
                sca_method,
            } => run_async(commands::runs::create(
                config,
                &org,
                commands::runs::CreateArgs {
                    bills,
                    due_before,
                    supplier,
                    max_total,
                    on_due_date,
                    sca_method,
                },
            )),
            RunsCommand::List { org, status } => {
                run_async(commands::runs::list(config, &org, status))
            }
            RunsCommand::Show { org, id } => run_async(commands::runs::show(config, &org, &id)),
            RunsCommand::Confirm {
                org,
                id,
                accept,
                exclude,
            } => run_async(commands::runs::confirm(
                config, &org, &id, &accept, &exclude,
            )),
            RunsCommand::Cancel { org, id } => run_async(commands::runs::cancel(config, &org, &id)),
        },
        Command::Demo { db, invoices } => {
            match run_async(commands::demo::run(commands::demo::DemoArgs {
                db,
                invoices,
            })) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(1),
                Err(e) => Err(e),
            }
        }
        Command::AdminToken { name } => run_async(commands::serve::admin_token(config, &name)),
        Command::Qonto(QontoCommand::Connect {
            org,
            qonto_organization_id,
        }) => run_async(commands::qonto::connect(
            config,
            &org,
            qonto_organization_id.as_deref(),
        )),
        Command::Qonto(QontoCommand::Status { org }) => {
            run_async(commands::qonto::status(config, &org))
        }
        Command::Sandbox { port } => run_async(commands::serve::sandbox(port)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("billbridge: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run_async<T, F: std::future::Future<Output = anyhow::Result<T>>>(f: F) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
}
