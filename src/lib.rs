//! hookd: a self-hosted webhook delivery service.
//!
//! The flow of an event, and where each step lives:
//! - [`api`]: where a request enters (axum routes, auth, JSON errors);
//! - [`ingest`]: validation, idempotency and fan-out of a new message;
//! - [`store`]: where messages, deliveries and attempts are kept (the `Store` trait, SQLite);
//! - [`dispatch`]: where a delivery is sent from (claims, HTTP client, retries);
//! - [`manage`]: the rules for managing resources, shared by the API and the console;
//! - [`profile`]: how a delivery becomes a request (envelope, headers, signature);
//! - [`model`]: the domain types and ids; [`signing`]: secrets and signatures;
//! - [`security`]: the SSRF guard and the API token; [`config`]: layered configuration;
//! - [`ui`]: the console and the application portal (server-rendered pages);
//! - [`app`]: wiring and lifecycle; [`cli`]: the command line; [`bench`]: the load benchmark.

pub mod api;
pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod ingest;
pub mod logs;
pub mod manage;
pub mod metrics;
pub mod model;
pub mod operational;
pub mod profile;
pub mod security;
pub mod signing;
pub mod store;
pub mod tasks;
pub mod template;
pub mod ui;
pub mod validate;
pub mod verify;
