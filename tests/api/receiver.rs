//! A real HTTP receiver on port 0 that records what it gets and answers as scripted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    /// The request's path and query.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: &'static str,
    pub delay: Duration,
    pub headers: Vec<(&'static str, &'static str)>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self { status, body: "", delay: Duration::ZERO, headers: Vec::new() }
    }

    pub fn body(mut self, body: &'static str) -> Self {
        self.body = body;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    otherwise: Mutex<Option<Reply>>,
    arrived: Notify,
    /// While true, requests are recorded but not answered.
    held: tokio::sync::watch::Sender<bool>,
    /// A receiver of fixed capacity: above this many requests at once it answers 503.
    capacity: Mutex<Option<(usize, Duration)>>,
    in_flight: std::sync::atomic::AtomicUsize,
    /// Each request's status, in the order they were answered.
    answered: Mutex<Vec<u16>>,
    /// Answers chosen by the request's body, before the script.
    by_body: Mutex<Option<ByBody>>,
}

type ByBody = Arc<dyn Fn(&[u8]) -> Option<Reply> + Send + Sync>;

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
}

impl Receiver {
    /// Answers 200 unless scripted otherwise.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let router = axum::Router::new().fallback(record).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().expect("addr").port());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, inner }
    }

    /// These replies first, in order; then `otherwise` (200 if `None`).
    pub fn script(&self, replies: Vec<Reply>, otherwise: Option<Reply>) {
        *self.inner.script.lock().unwrap() = replies.into();
        *self.inner.otherwise.lock().unwrap() = otherwise;
    }

    /// Answers by the request's body where `answer` says (`None`: as scripted).
    pub fn answer_by(&self, answer: impl Fn(&[u8]) -> Option<Reply> + Send + Sync + 'static) {
        *self.inner.by_body.lock().unwrap() = Some(Arc::new(answer));
    }

    /// Holds every request (recorded, unanswered) until [`Receiver::release`].
    pub fn hold(&self) {
        self.inner.held.send_replace(true);
    }

    pub fn release(&self) {
        self.inner.held.send_replace(false);
    }

    /// Takes `max` requests at once, each for `work`; above that answers 503 at once (as a
    /// receiver behind a small worker pool does). Replaces the script.
    pub fn capacity(&self, max: usize, work: Duration) {
        *self.inner.capacity.lock().unwrap() = Some((max, work));
    }

    /// The status of every request answered so far, in order.
    pub fn answered(&self) -> Vec<u16> {
        self.inner.answered.lock().unwrap().clone()
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Waits (up to 20 s) until at least `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.inner.arrived.notified();
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("receiver got {} requests, expected {n}", got.len());
            }
        }
    }
}

async fn record(
    State(inner): State<Arc<Inner>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use std::sync::atomic::Ordering;
    let capacity = *inner.capacity.lock().unwrap();
    if let Some((max, work)) = capacity {
        inner.received.lock().unwrap().push(Received {
            uri: uri.to_string(),
            headers,
            body,
            at: Instant::now(),
        });
        inner.arrived.notify_waiters();
        let busy = inner.in_flight.fetch_add(1, Ordering::SeqCst) >= max;
        let status = if busy { 503 } else { 200 };
        if !busy {
            tokio::time::sleep(work).await;
        }
        inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        inner.answered.lock().unwrap().push(status);
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    let mut held = inner.held.subscribe();
    let reply = {
        let uri = uri.to_string();
        let by_body = inner.by_body.lock().unwrap().clone().and_then(|answer| answer(&body));
        inner.received.lock().unwrap().push(Received { uri, headers, body, at: Instant::now() });
        inner.arrived.notify_waiters();
        let next = by_body.or_else(|| inner.script.lock().unwrap().pop_front());
        next.or_else(|| inner.otherwise.lock().unwrap().clone()).unwrap_or(Reply::status(200))
    };
    let _ = held.wait_for(|held| !held).await;
    tokio::time::sleep(reply.delay).await;
    let status = StatusCode::from_u16(reply.status).unwrap();
    let mut response = (status, reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}
