//! What hookd counts, and `GET /metrics` in Prometheus's text format.
//!
//! One [`Metrics`] per running hookd, passed to the parts that count (ingestion, the
//! dispatcher, the store's group commit, the HTTP layer) rather than kept in a global, so
//! several servers in one test process each count their own. Every update is an atomic add
//! or a short uncontended lock: counting costs nothing the benchmark can see.
//!
//! The names are stable; docs/operations.md says what each one means.

mod process;

pub use process::open_file_limit;

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::store::CommitObserver;

/// How an attempt ended, for `hookd_attempts_total{outcome}`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum AttemptOutcome {
    Success,
    Failure,
}

/// What came back, for `hookd_attempts_total{status_class}`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum StatusClass {
    S2xx,
    S3xx,
    S4xx,
    S5xx,
    /// No answer within the request timeout.
    Timeout,
    /// The connection failed (refused, reset, DNS, TLS).
    Network,
    /// Nothing was sent: the address was refused by the SSRF guard, the template failed, or
    /// the endpoint is disabled.
    Refused,
}

impl StatusClass {
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::S2xx,
            300..=399 => Self::S3xx,
            400..=499 => Self::S4xx,
            _ => Self::S5xx,
        }
    }

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::S2xx => "2xx",
            Self::S3xx => "3xx",
            Self::S4xx => "4xx",
            Self::S5xx => "5xx",
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::Refused => "refused",
        }
    }
}

impl EncodeLabelValue for StatusClass {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

impl EncodeLabelValue for AttemptOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Self::Success => "success",
            Self::Failure => "failure",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    outcome: AttemptOutcome,
    status_class: StatusClass,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    /// The route's template (`/api/v1/app/{app_id}`), never the raw path: ids in labels
    /// would make a new series per application.
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// Every metric hookd exposes.
pub struct Metrics {
    registry: Registry,
    messages_accepted: Counter,
    deliveries_created: Counter,
    attempts: Family<AttemptLabels, Counter>,
    attempt_duration: Histogram,
    delivery_lag: Histogram,
    deliveries_due: Gauge,
    deliveries_scheduled: Gauge,
    endpoints_disabled: Counter,
    messages_exhausted: Counter,
    claims_handed_back: Counter,
    commit_seconds: Histogram,
    commit_batch: Histogram,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
}

/// Seconds, from 1 ms to about 16 s: attempts and lags.
fn seconds_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 15)
}

fn http_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let m = Self {
            registry: Registry::default(),
            messages_accepted: Counter::default(),
            deliveries_created: Counter::default(),
            attempts: Family::default(),
            attempt_duration: Histogram::new(seconds_buckets()),
            delivery_lag: Histogram::new(seconds_buckets()),
            deliveries_due: Gauge::default(),
            deliveries_scheduled: Gauge::default(),
            endpoints_disabled: Counter::default(),
            messages_exhausted: Counter::default(),
            claims_handed_back: Counter::default(),
            // 100 µs to about 1.6 s; and 1 to 1024 jobs.
            commit_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 15)),
            commit_batch: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(http_histogram),
        };
        Arc::new(m.registered())
    }

    fn registered(mut self) -> Self {
        let r = &mut self.registry;
        let version = vec![("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned())];
        r.register("hookd_build", "hookd's version", Info::new(version));
        r.register(
            "hookd_messages_accepted",
            "Messages accepted (answered 202), not counting idempotent replays",
            self.messages_accepted.clone(),
        );
        r.register(
            "hookd_deliveries_created",
            "Deliveries created by fan-out: one per accepted message and endpoint",
            self.deliveries_created.clone(),
        );
        r.register(
            "hookd_attempts",
            "Delivery attempts, by outcome and what came back",
            self.attempts.clone(),
        );
        r.register(
            "hookd_attempt_duration_seconds",
            "Time from sending a delivery request to its last response byte",
            self.attempt_duration.clone(),
        );
        r.register(
            "hookd_delivery_lag_seconds",
            "Time from a message's acceptance to its delivery's first attempt",
            self.delivery_lag.clone(),
        );
        r.register(
            "hookd_deliveries_due",
            "Pending deliveries whose time has come (the backlog), read from the store at scrape",
            self.deliveries_due.clone(),
        );
        r.register(
            "hookd_deliveries_scheduled",
            "Pending deliveries due later (retries, deliverAt), read from the store at scrape",
            self.deliveries_scheduled.clone(),
        );
        r.register(
            "hookd_endpoints_disabled",
            "Endpoints disabled by hookd (410 Gone, or failing for delivery.disable_after)",
            self.endpoints_disabled.clone(),
        );
        r.register(
            "hookd_messages_exhausted",
            "Deliveries that failed for good: the last retry failed, or the status was final",
            self.messages_exhausted.clone(),
        );
        r.register(
            "hookd_claims_handed_back",
            "Deliveries claimed and given back unsent because their endpoint held all it may \
             (a steady rise means one endpoint's backlog churns through the store)",
            self.claims_handed_back.clone(),
        );
        r.register(
            "hookd_store_commit_seconds",
            "Time of one group commit (one transaction for every write queued meanwhile)",
            self.commit_seconds.clone(),
        );
        r.register(
            "hookd_store_commit_batch_size",
            "Jobs committed together in one group commit",
            self.commit_batch.clone(),
        );
        r.register(
            "hookd_http_requests",
            "HTTP requests answered, by method, route template and status",
            self.http_requests.clone(),
        );
        r.register(
            "hookd_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            self.http_duration.clone(),
        );
        process::register(r);
        self
    }

    /// A message was accepted with this many deliveries.
    pub fn accepted(&self, deliveries: usize) {
        self.messages_accepted.inc();
        self.deliveries_created.inc_by(deliveries as u64);
    }

    /// An attempt was made (or refused before sending); `lag` for a delivery's first attempt.
    pub fn attempted(&self, success: bool, class: StatusClass, took: Duration) {
        let outcome = if success { AttemptOutcome::Success } else { AttemptOutcome::Failure };
        self.attempts.get_or_create(&AttemptLabels { outcome, status_class: class }).inc();
        self.attempt_duration.observe(took.as_secs_f64());
    }

    /// A delivery's first attempt came `lag` after its message was accepted.
    pub fn first_attempt_after(&self, lag: Duration) {
        self.delivery_lag.observe(lag.as_secs_f64());
    }

    /// A delivery failed for good.
    pub fn exhausted(&self) {
        self.messages_exhausted.inc();
    }

    /// A claim was given back unsent: its endpoint held all it may.
    pub fn handed_back(&self) {
        self.claims_handed_back.inc();
    }

    pub fn endpoints_disabled(&self, count: usize) {
        self.endpoints_disabled.inc_by(count as u64);
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.http_duration
            .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
            .observe(took.as_secs_f64());
        self.http_requests.get_or_create(&RequestLabels { method, route, status }).inc();
    }

    /// The text exposition, with the backlog gauges set to what the store said.
    pub fn render(&self, due: u64, scheduled: u64) -> String {
        self.deliveries_due.set(due as i64);
        self.deliveries_scheduled.set(scheduled as i64);
        let mut text = String::with_capacity(8 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl CommitObserver for Metrics {
    fn committed(&self, took: Duration, jobs: usize) {
        self.commit_seconds.observe(took.as_secs_f64());
        self.commit_batch.observe(jobs as f64);
    }
}

/// The content type of [`Metrics::render`]'s text (OpenMetrics, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_stable_names() {
        let m = Metrics::new();
        m.accepted(3);
        m.attempted(false, StatusClass::S5xx, Duration::from_millis(5));
        m.attempted(true, StatusClass::of_status(204), Duration::from_millis(2));
        m.http_request("POST", "/api/v1/app/{app_id}/msg", 202, Duration::from_micros(300));
        m.committed(Duration::from_micros(250), 4);
        let text = m.render(7, 2);
        for line in [
            "hookd_messages_accepted_total 1",
            "hookd_deliveries_created_total 3",
            "hookd_attempts_total{outcome=\"failure\",status_class=\"5xx\"} 1",
            "hookd_attempts_total{outcome=\"success\",status_class=\"2xx\"} 1",
            "hookd_deliveries_due 7",
            "hookd_deliveries_scheduled 2",
            "hookd_store_commit_batch_size_count 1",
            "hookd_http_requests_total{method=\"POST\",route=\"/api/v1/app/{app_id}/msg\",status=\"202\"} 1",
            "hookd_build_info{version=",
            "process_resident_memory_bytes ",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
    }
}
