//! The billbridge service: store, Qonto client, payment engine, callbacks and HTTP API.

pub mod config;
pub mod engine;
pub mod events;
pub mod http;
pub mod ids;
pub mod intake;
pub mod qonto;
pub mod secrets;
pub mod signing;
pub mod store;
pub mod telemetry;
pub mod webhooks;
