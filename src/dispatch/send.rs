//! One attempt: render the claim through its endpoint's profile, send it, and decide what
//! happens next. Never panics on anything the receiver or the network does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use super::Timing;
use super::client::{self, HttpClient};
use super::pacing::Signal;
use super::schedule::{self, Verdict};
use crate::metrics::{Metrics, StatusClass};
use crate::model::delivery::{Claim, EndpointEffect, NextStep, Outcome};
use crate::model::ids;
use crate::model::{Attempt, DeliveryStatus, TriggerType};
use crate::operational::{AttemptEvent, Events, FAILING_AFTER, LastAttempt, OpEvent};
use crate::profile::{self, Delivery, Rendered};
use crate::security::ssrf::Guard;

/// Response bodies are read up to this, and this much is kept in the attempt log.
const READ_CAP: usize = 64 * 1024;
const LOG_CAP: usize = 4 * 1024;

/// Everything an attempt needs besides the claim.
pub struct Sender {
    pub client: HttpClient,
    pub guard: Guard,
    pub schedule: Vec<Duration>,
    pub timeout: Duration,
    pub disable_after: Duration,
    pub user_agent: String,
    /// The server's `[delivery] default_headers`, beneath every endpoint's own.
    pub default_headers: Vec<(String, String)>,
    /// The largest body a template may render (the server's `max_body_size`).
    pub max_body: usize,
    pub timing: Timing,
    pub metrics: Arc<Metrics>,
    /// Where `message.attempt.*` operational events go.
    pub events: Events,
}

/// What came back: a status with (part of) the body, or the failure in words.
struct Response {
    status: Option<u16>,
    text: String,
    retry_after: Option<Duration>,
    /// What kind of answer this was; [`StatusClass::Refused`] when nothing went on the wire,
    /// for a reason retrying cannot change (bad template, address refused by the guard,
    /// disabled endpoint): the delivery fails at once.
    class: StatusClass,
}

/// The answer to a test send: the receiver's status, and its text unless it was a 2xx.
pub struct TestAnswer {
    /// `None` when no response came; the text then says why.
    pub status: Option<u16>,
    pub text: String,
}

impl Sender {
    /// Sends `message` to `endpoint` once, now, whatever the endpoint's state; nothing is
    /// stored or retried. For test sends.
    pub async fn send_once(
        &self,
        message: &crate::model::Message,
        endpoint: &crate::model::Endpoint,
    ) -> TestAnswer {
        let delivery = Delivery { message, endpoint, now_ms: self.timing.now_ms() };
        let response = self.render_and_send(&delivery).await;
        TestAnswer { status: response.status, text: response.text }
    }

    /// The request a delivery would send, without sending it (previews, the attempt log).
    pub fn render(&self, delivery: &Delivery<'_>) -> Result<profile::Rendered, String> {
        profile::render(delivery, self.base_headers(), &self.default_headers, self.max_body)
    }

    /// Makes the attempt; answers its outcome and what the answer says about the receiver's
    /// load (for the endpoint's pacing).
    pub async fn attempt(&self, claim: &Claim) -> (Outcome, Signal) {
        let started = Instant::now();
        let now = self.timing.now_ms();
        let ep = &claim.endpoint;
        let response = if ep.disabled && !claim.manual {
            Response::not_sent("the endpoint is disabled".into())
        } else {
            let delivery = Delivery { message: &claim.message, endpoint: ep, now_ms: now };
            self.render_and_send(&delivery).await
        };
        let verdict = match response.class {
            StatusClass::Refused => Verdict::Final,
            _ => schedule::classify(response.status, |s| profile::is_final_status(ep, s)),
        };
        let (class, took) = (response.class, started.elapsed());
        let signal = Signal::of(response.status, class, response.retry_after, took);
        let outcome = self.outcome(claim, now, took, response, verdict);
        self.count(claim, &outcome, class, now);
        (outcome, signal)
    }

    /// The attempt in the metrics, and in the log when it failed.
    fn count(&self, claim: &Claim, outcome: &Outcome, class: StatusClass, now: i64) {
        let Some(attempt) = &outcome.attempt else { return };
        let success = attempt.status == DeliveryStatus::Success;
        let took = Duration::from_millis(attempt.response_duration_ms.max(0) as u64);
        self.metrics.attempted(success, class, took);
        if claim.attempts == 0 && !claim.manual {
            let lag = (now - claim.message.created_at).max(0) as u64;
            self.metrics.first_attempt_after(Duration::from_millis(lag));
        }
        if outcome.next == NextStep::Failed && !claim.manual {
            self.metrics.exhausted();
        }
        if let Some(kind) = self.attempt_event(claim, success, &outcome.next) {
            let last = LastAttempt {
                id: attempt.id.clone(),
                msg_id: claim.message.id.clone(),
                msg_event_id: claim.message.event_id.clone(),
                endpoint_id: claim.endpoint.id.clone(),
                status_code: attempt.response_status_code,
                at: attempt.created_at,
                manual: claim.manual,
            };
            let app_id = claim.endpoint.app_id.clone();
            self.events.report(OpEvent::Attempt { kind, app_id, attempt: last });
        }
        if !success {
            tracing::warn!(
                app = %claim.message.app_id,
                endpoint = %claim.endpoint.id,
                msg = %claim.message.id,
                status = attempt.response_status_code,
                reason = ?short(&attempt.response),
                final = outcome.next == NextStep::Failed,
                "delivery attempt failed"
            );
        }
    }

    fn outcome(
        &self,
        claim: &Claim,
        now: i64,
        took: Duration,
        response: Response,
        verdict: Verdict,
    ) -> Outcome {
        let attempts_made = claim.attempts as usize + 1;
        let retry_after =
            response.retry_after.filter(|_| matches!(response.status, Some(429 | 503)));
        let next = match verdict {
            Verdict::Success => NextStep::Succeeded,
            Verdict::Final | Verdict::Gone => NextStep::Failed,
            Verdict::Retry if claim.manual => NextStep::Failed,
            Verdict::Retry => {
                let unit_random = (self.timing.jitter)();
                match schedule::next_delay(&self.schedule, attempts_made, retry_after, unit_random)
                {
                    Some(wait) => NextStep::RetryAt(now + wait.as_millis() as i64),
                    None => NextStep::Failed,
                }
            }
        };
        let effect = match verdict {
            Verdict::Success => EndpointEffect::Healthy,
            Verdict::Gone => EndpointEffect::Disable,
            _ => EndpointEffect::Failing {
                now,
                disable_before: now - self.disable_after.as_millis() as i64,
            },
        };
        let attempt = Attempt {
            id: ids::new_id(ids::ATTEMPT),
            msg_id: claim.message.id.clone(),
            endpoint_id: claim.endpoint.id.clone(),
            url: claim.endpoint.url.clone(),
            response: response.text,
            response_status_code: response.status.map_or(0, i32::from),
            response_duration_ms: took.as_millis() as i64,
            status: if verdict == Verdict::Success {
                DeliveryStatus::Success
            } else {
                DeliveryStatus::Failed
            },
            trigger_type: if claim.manual { TriggerType::Manual } else { TriggerType::Scheduled },
            created_at: now,
        };
        Outcome {
            delivery_id: claim.delivery_id,
            lease: claim.lease,
            endpoint_id: claim.endpoint.id.clone(),
            app_id: claim.endpoint.app_id.clone(),
            attempt: Some(attempt),
            next,
            effect,
            lane: claim.lane(),
        }
    }

    /// Which operational event an attempt makes, if any: `failing` once, on the failure that
    /// makes [`FAILING_AFTER`] (fewer when the schedule has fewer retries), `exhausted` on the
    /// last, `recovered` on a success after `failing` was sent.
    fn attempt_event(&self, claim: &Claim, success: bool, next: &NextStep) -> Option<AttemptEvent> {
        let failing_at = FAILING_AFTER.min(self.schedule.len() as i64).max(1);
        let made = claim.attempts + 1;
        match (success, next) {
            (true, _) if claim.attempts >= failing_at => Some(AttemptEvent::Recovered),
            (true, _) => None,
            (false, NextStep::Failed) => Some(AttemptEvent::Exhausted),
            (false, _) if made == failing_at && !claim.manual => Some(AttemptEvent::Failing),
            _ => None,
        }
    }

    fn base_headers(&self) -> Vec<(String, String)> {
        vec![
            ("Content-Type".into(), "application/json".into()),
            ("User-Agent".into(), self.user_agent.clone()),
        ]
    }

    /// Checks the URL first, so nothing is rendered for an address the guard refuses.
    async fn render_and_send(&self, delivery: &Delivery<'_>) -> Response {
        let prepared = self
            .target(&delivery.endpoint.url)
            .and_then(|uri| request(uri, self.render(delivery)?));
        match prepared {
            Ok(request) => self.send(request).await,
            Err(why) => Response::not_sent(why),
        }
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Response {
        let exchange = async {
            let resp = self.client.request(request).await.map_err(|e| client::describe(&e))?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(schedule::parse_retry_after);
            let body = client::read_capped(resp.into_body(), READ_CAP).await;
            Ok::<_, String>(Response {
                status: Some(status),
                text: truncate(&body),
                retry_after,
                class: StatusClass::of_status(status),
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(response)) => response,
            Ok(Err(why)) => Response::failed(why, StatusClass::Network),
            Err(_) => Response::failed(
                format!("timed out after {} ms", self.timeout.as_millis()),
                StatusClass::Timeout,
            ),
        }
    }

    /// The endpoint's URL, unless it is invalid or names an address the guard refuses.
    fn target(&self, url: &str) -> Result<hyper::Uri, String> {
        let uri: hyper::Uri = url.parse().map_err(|_| format!("invalid URL {url:?}"))?;
        client::check_literal_host(&self.guard, uri.host().unwrap_or_default())?;
        Ok(uri)
    }
}

fn request(uri: hyper::Uri, rendered: Rendered) -> Result<Request<Full<Bytes>>, String> {
    let mut builder = Request::post(uri);
    for (name, value) in rendered.headers {
        builder = builder.header(name, value);
    }
    builder.body(Full::new(Bytes::from(rendered.body))).map_err(|e| format!("invalid header: {e}"))
}

impl Response {
    fn failed(text: String, class: StatusClass) -> Self {
        Self { status: None, text, retry_after: None, class }
    }

    fn not_sent(why: String) -> Self {
        let text = format!("not sent: {why}");
        Self { status: None, text, retry_after: None, class: StatusClass::Refused }
    }
}

/// The first line of a response or failure, at most 200 bytes: enough for a log line.
fn short(text: &str) -> &str {
    let line = text.lines().next().unwrap_or_default();
    let mut end = line.len().min(200);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// Keeps the first [`LOG_CAP`] bytes, cut at a character boundary.
fn truncate(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(LOG_CAP + 4)]);
    let mut end = text.len().min(LOG_CAP);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
