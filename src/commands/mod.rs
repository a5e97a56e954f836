//! One module per group of subcommands.

pub mod parse;
pub mod serve;
