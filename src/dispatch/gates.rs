//! Per-endpoint limits: requests in flight, and pacing to the endpoint's `throttleRate`.
//! One slow receiver fills its own gate, not the dispatcher.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

pub struct Gate {
    slots: Semaphore,
    /// Claims admitted to this gate and not finished: in flight plus waiting.
    admitted: AtomicUsize,
    /// The earliest time the next request may start, when the endpoint is throttled.
    next_start: Mutex<Option<Instant>>,
}

impl Gate {
    /// Waits for a free slot, then for the endpoint's pace (`rate` messages per second).
    pub async fn enter(&self, rate: Option<u32>) -> Option<SemaphorePermit<'_>> {
        let permit = self.slots.acquire().await.ok()?;
        if let Some(rate) = rate.filter(|r| *r > 0) {
            let start = {
                let mut next = self.next_start.lock().unwrap_or_else(|p| p.into_inner());
                let start = next.map_or_else(Instant::now, |n| n.max(Instant::now()));
                *next = Some(start + Duration::from_secs(1) / rate);
                start
            };
            tokio::time::sleep_until(start).await;
        }
        Some(permit)
    }

    pub fn leave(&self) {
        self.admitted.fetch_sub(1, Ordering::Relaxed);
    }
}

/// All endpoints' gates, created on first use.
pub struct Gates {
    per_endpoint: usize,
    /// Claims one endpoint may hold beyond those in flight (three times as many); more are
    /// handed back for later, so one endpoint cannot hold all of a node's claims.
    backlog: usize,
    gates: Mutex<HashMap<String, Arc<Gate>>>,
}

impl Gates {
    pub fn new(per_endpoint: usize) -> Self {
        Self { per_endpoint, backlog: 3 * per_endpoint, gates: Mutex::new(HashMap::new()) }
    }

    /// The endpoint's gate, if it can take one more claim now.
    pub fn admit(&self, endpoint_id: &str) -> Option<Arc<Gate>> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        let gate = gates
            .entry(endpoint_id.to_owned())
            .or_insert_with(|| {
                Arc::new(Gate {
                    slots: Semaphore::new(self.per_endpoint),
                    admitted: AtomicUsize::new(0),
                    next_start: Mutex::new(None),
                })
            })
            .clone();
        let admitted = gate.admitted.fetch_add(1, Ordering::Relaxed);
        if admitted >= self.per_endpoint + self.backlog {
            gate.admitted.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(gate)
    }
}
