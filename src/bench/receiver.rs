//! The benchmark's receiver: a fast loopback server that counts deliveries and measures, from
//! the send time each payload carries, how long each took from the client's send to receipt.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

/// Shared with the load generator: both measure time from the same `epoch`.
pub struct Receipts {
    pub epoch: Instant,
    pub count: AtomicUsize,
    latencies_us: Mutex<Vec<u64>>,
    last_at_us: AtomicUsize,
}

#[derive(Deserialize)]
struct Stamp {
    sent_us: u64,
}

impl Receipts {
    pub fn new(epoch: Instant) -> Arc<Self> {
        Arc::new(Self {
            epoch,
            count: AtomicUsize::new(0),
            latencies_us: Mutex::new(Vec::new()),
            last_at_us: AtomicUsize::new(0),
        })
    }

    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// Forgets what was received (between a baseline run and a hookd run).
    pub fn reset(&self) {
        self.count.store(0, Ordering::SeqCst);
        self.latencies_us.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn take_latencies(&self) -> Vec<u64> {
        std::mem::take(&mut *self.latencies_us.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// When the latest delivery arrived, µs after the epoch.
    pub fn last_at_us(&self) -> u64 {
        self.last_at_us.load(Ordering::SeqCst) as u64
    }
}

async fn receive(State(receipts): State<Arc<Receipts>>, body: Bytes) -> StatusCode {
    let now = receipts.now_us();
    if let Ok(stamp) = serde_json::from_slice::<Stamp>(&body) {
        receipts
            .latencies_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(now.saturating_sub(stamp.sent_us));
    }
    receipts.last_at_us.fetch_max(now as usize, Ordering::SeqCst);
    receipts.count.fetch_add(1, Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

/// Starts the receiver on a loopback port; returns its base URL.
pub async fn start(receipts: Arc<Receipts>) -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let router = axum::Router::new().fallback(receive).with_state(receipts);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://127.0.0.1:{port}"))
}

/// Starts a receiver that reads each request and never answers (a hanging endpoint), on a
/// loopback port; returns its base URL.
pub async fn start_hanging() -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let router = axum::Router::new().fallback(std::future::pending::<StatusCode>);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://127.0.0.1:{port}"))
}
