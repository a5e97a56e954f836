//! One module per group of subcommands.

pub mod deliveries;
pub mod demo;
pub mod ingest;
pub mod parse;
pub mod qonto;
pub mod runs;
pub mod serve;
