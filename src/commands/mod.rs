//! One module per group of subcommands.

pub mod audit;
pub mod bills;
pub mod deliveries;
pub mod demo;
pub mod ingest;
pub mod parse;
pub mod qonto;
pub mod runs;
pub mod serve;
pub mod sources;
pub mod tokens;
