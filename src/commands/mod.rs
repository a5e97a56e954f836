//! One module per group of subcommands.

pub mod ingest;
pub mod parse;
pub mod serve;
