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

    /// Whether nothing holds or awaits this gate and no pacing is pending, so forgetting it
    /// changes nothing.
    fn is_idle(&self) -> bool {
        let paced = self.next_start.lock().unwrap_or_else(|p| p.into_inner());
        self.admitted.load(Ordering::Relaxed) == 0 && paced.is_none_or(|at| at <= Instant::now())
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

    /// A claim admitted to the endpoint's gate is done. The last one out forgets an idle gate,
    /// so the map holds the endpoints in use, not every endpoint ever delivered to. Admission
    /// counts under the same lock, so a gate in use is never forgotten.
    pub fn leave(&self, endpoint_id: &str, gate: &Gate) {
        if gate.admitted.fetch_sub(1, Ordering::Relaxed) == 1 {
            let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            if gates.get(endpoint_id).is_some_and(|g| g.is_idle()) {
                gates.remove(endpoint_id);
            }
        }
    }

    /// How many endpoints have a gate now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.gates.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_gates_are_forgotten_and_busy_ones_kept() {
        let gates = Gates::new(2);
        let (a, b) = (gates.admit("ep_a").unwrap(), gates.admit("ep_b").unwrap());
        let a2 = gates.admit("ep_a").unwrap();
        assert_eq!(gates.len(), 2);
        gates.leave("ep_a", &a);
        assert_eq!(gates.len(), 2, "ep_a still has a claim");
        gates.leave("ep_a", &a2);
        gates.leave("ep_b", &b);
        assert_eq!(gates.len(), 0, "every gate is idle");

        let paced = gates.admit("ep_c").unwrap();
        drop(paced.enter(Some(1)).await); // the next request may start in a second
        gates.leave("ep_c", &paced);
        assert_eq!(gates.len(), 1, "a paced gate keeps its pace");
    }
}
