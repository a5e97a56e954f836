//! The billbridge service: store, Qonto client, payment engine, callbacks and HTTP API.

pub mod qonto;
pub mod secrets;
pub mod signing;
