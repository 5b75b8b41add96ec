//! The rules for managing hookd's resources, shared by the API and the console: what makes an
//! application, an endpoint or an event type valid, how a secret rotates, what a test send,
//! a resend and a replay or recovery do. Both front ends parse their input, call one function here and
//! show the result, so a rule exists once and the console's errors are the API's 422s.
//!
//! Errors are [`DomainError`](crate::error::DomainError)s: the kind and field are what both
//! front ends show (the API as JSON with its code, the console next to the field).

pub mod applications;
pub mod deliveries;
pub mod endpoints;
pub mod event_types;
pub mod portal;
pub mod tasks;
