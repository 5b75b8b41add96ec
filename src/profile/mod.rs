//! Profiles: how one delivery becomes one HTTP request. Each profile is a file of the same
//! shape; it decides the body envelope, its identity and signature headers, and which failed
//! statuses its sender treats as final.

mod standard;

use crate::model::{Endpoint, Message};

pub use standard::{Standard, Svix};

/// What a profile puts on the wire. The dispatcher adds `Content-Type`, a `User-Agent` and
/// the endpoint's custom headers beneath these (a profile's own headers win).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One delivery attempt's inputs. `now_ms` is passed in so signing is a pure function.
pub struct Delivery<'a> {
    pub message: &'a Message,
    pub endpoint: &'a Endpoint,
    pub now_ms: i64,
}

pub trait Profile: Send + Sync {
    fn name(&self) -> &'static str;

    /// Renders the request, or says why it cannot be rendered (a final failure).
    fn render(&self, delivery: &Delivery<'_>) -> Result<Rendered, String>;

    /// Whether a non-2xx status ends the delivery without retries.
    fn is_final_status(&self, _status: u16) -> bool {
        false
    }
}

/// The profiles an endpoint may choose, by name.
pub const NAMES: &[&str] = &["standard", "svix"];

/// The profile called `name`; the standard one for anything unknown.
pub fn by_name(name: &str) -> &'static dyn Profile {
    match name {
        "svix" => &Svix,
        _ => &Standard,
    }
}
