//! Placeholder replaced by the parsing benchmark.
fn main() {}
