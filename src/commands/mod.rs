//! One module per group of subcommands.

pub mod deliveries;
pub mod ingest;
pub mod parse;
pub mod serve;
