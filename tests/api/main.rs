//! hookd's integration tests: one binary, the real server on port 0, a fresh SQLite file per
//! test, real HTTP.

mod applications;
mod bench;
mod browser;
mod cli;
mod cluster;
#[path = "../common/mod.rs"]
mod common;
mod console;
mod crash;
mod delivery;
mod delivery_failures;
mod disk_full;
mod ed25519;
mod endpoints;
mod errors;
mod event_types;
mod fairness;
mod filters;
mod hardening;
mod hardening_input;
mod helpers;
mod lifecycle;
mod messages;
mod openapi;
mod operational;
mod operations;
mod ordering;
mod pacing;
mod pg_restart;
mod portal;
mod profiles;
mod receiver;
mod svix_sdk;
mod tasks;
