//! Per-endpoint limits: requests in flight within the endpoint's adaptive window, its pause
//! after an overload ([`super::pacing`]), and pacing to its `throttleRate`. One slow or
//! overloaded receiver fills its own gate, not the dispatcher.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::pacing::{Pacing, Signal, Wait};

pub struct Gate {
    pacing: Mutex<Pacing>,
    /// The nodes sharing the database, among which the window's top and the rate are shared.
    nodes: Arc<AtomicUsize>,
    /// Told when a request finishes, so a waiting claim looks again (a pause's end wakes
    /// the claims that wait for it by their own timers).
    changed: Notify,
    /// Claims admitted to this gate and not finished: in flight plus waiting.
    admitted: AtomicUsize,
    /// The earliest time the next request may start, when the endpoint is throttled.
    next_start: Mutex<Option<Instant>>,
}

/// A request's place in its endpoint's window, held while it is in flight.
pub struct Slot<'a> {
    gate: &'a Gate,
    epoch: u64,
    finished: bool,
}

impl Slot<'_> {
    /// The request is over; `signal` is what its answer says about the receiver's load.
    /// Answers the pause it began, if any, for the other nodes to take too.
    pub fn finish(mut self, signal: Signal) -> Option<Duration> {
        self.finished = true;
        self.gate.finished(self.epoch, signal)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.gate.finished(self.epoch, Signal::Neutral);
        }
    }
}

impl Gate {
    fn new(per_endpoint: usize, nodes: Arc<AtomicUsize>) -> Self {
        Self {
            pacing: Mutex::new(Pacing::new(per_endpoint)),
            nodes,
            changed: Notify::new(),
            admitted: AtomicUsize::new(0),
            next_start: Mutex::new(None),
        }
    }

    /// Waits for room in the window and the end of any pause, then for the endpoint's pace
    /// (`rate` messages per second). With N nodes alive, this node takes 1/N of the window's
    /// top and of the rate, so the nodes together stay within both (decision 0014).
    pub async fn enter(&self, rate: Option<u32>) -> Option<Slot<'_>> {
        let nodes = self.nodes.load(Ordering::Relaxed).max(1);
        let epoch = loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable(); // registered before looking, so no wake-up is missed
            let started = self.pacing().try_start(Instant::now(), nodes);
            match started {
                Ok(epoch) => break epoch,
                Err(Wait::Until(until)) => tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    () = changed => {}
                },
                Err(Wait::Slot) => changed.await,
            }
        };
        let slot = Slot { gate: self, epoch, finished: false };
        if let Some(rate) = rate.filter(|r| *r > 0) {
            let start = {
                let mut next = self.next_start.lock().unwrap_or_else(|p| p.into_inner());
                let start = next.map_or_else(Instant::now, |n| n.max(Instant::now()));
                *next = Some(start + Duration::from_secs(nodes as u64) / rate);
                start
            };
            tokio::time::sleep_until(start).await;
        }
        Some(slot)
    }

    /// Frees the slot: one waiting claim may take it (two if the window grew meanwhile).
    fn finished(&self, epoch: u64, signal: Signal) -> Option<Duration> {
        let (grew, paused) = {
            let mut pacing = self.pacing();
            let before = pacing.window();
            let paused = pacing.finished(epoch, signal, Instant::now());
            (pacing.window() > before, paused)
        };
        self.changed.notify_one();
        if grew {
            self.changed.notify_one();
        }
        paused
    }

    fn pacing(&self) -> MutexGuard<'_, Pacing> {
        self.pacing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether nothing holds or awaits this gate and no pacing is pending, so forgetting it
    /// changes nothing.
    fn is_idle(&self) -> bool {
        let paced = self.next_start.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        self.admitted.load(Ordering::Relaxed) == 0
            && paced.is_none_or(|at| at <= now)
            && self.pacing().is_idle(now)
    }
}

/// All endpoints' gates, created on first use.
pub struct Gates {
    per_endpoint: usize,
    /// Nodes alive, as the dispatcher last counted them (1 on SQLite).
    nodes: Arc<AtomicUsize>,
    /// Claims one endpoint may hold: those in flight and three times as many waiting; more
    /// are handed back. An endpoint holding three quarters of that is *busy*: its further
    /// deliveries stay in the store until it has drained to half, so one endpoint can neither hold
    /// all of a node's claims nor push the others' back in the queue.
    full: usize,
    gates: Mutex<HashMap<String, Arc<Gate>>>,
    /// The busy endpoints, as a list ingestion and the claim pass over (copied on change,
    /// which is rare, so reading it is one lock and one reference count).
    busy: Mutex<Arc<[String]>>,
}

impl Gates {
    pub fn new(per_endpoint: usize) -> Self {
        let nodes = Arc::new(AtomicUsize::new(1));
        let (gates, busy) = (Mutex::new(HashMap::new()), Mutex::new(Arc::from([])));
        Self { per_endpoint, nodes, full: 4 * per_endpoint, gates, busy }
    }

    /// The endpoint's gate, if it can take one more claim now. The claim that fills it to
    /// three quarters marks the endpoint busy.
    pub fn admit(&self, endpoint_id: &str) -> Option<Arc<Gate>> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        let gate = gates
            .entry(endpoint_id.to_owned())
            .or_insert_with(|| Arc::new(Gate::new(self.per_endpoint, self.nodes.clone())))
            .clone();
        let admitted = gate.admitted.fetch_add(1, Ordering::Relaxed) + 1;
        drop(gates);
        if admitted >= self.full * 3 / 4 {
            self.mark_busy(endpoint_id, true);
        }
        if admitted > self.full {
            gate.admitted.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(gate)
    }

    /// A claim admitted to the endpoint's gate is done; true if a busy endpoint has just
    /// drained to half full and is busy no more, so its waiting deliveries should be
    /// claimed. The last one out forgets an idle gate, so the map holds the endpoints in
    /// use, not every endpoint ever delivered to. Admission counts under the same lock, so a
    /// gate in use is never forgotten.
    pub fn leave(&self, endpoint_id: &str, gate: &Gate) -> bool {
        let left = gate.admitted.fetch_sub(1, Ordering::Relaxed) - 1;
        if left == 0 {
            let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            if gates.get(endpoint_id).is_some_and(|g| g.is_idle()) {
                gates.remove(endpoint_id);
            }
        }
        left <= self.full / 2 && self.mark_busy(endpoint_id, false)
    }

    /// How many deliveries of one endpoint a claim may take: an endpoint is claimed for
    /// while it holds less than three quarters of what it may, so a quarter more never
    /// overfills it.
    pub fn room_per_claim(&self) -> usize {
        (self.full / 4).max(1)
    }

    /// The busy endpoints (three quarters full, until drained to half): their new deliveries
    /// stay pending and claims pass over them.
    pub fn busy(&self) -> Arc<[String]> {
        self.busy.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Marks or clears an endpoint as busy; true if that changed anything.
    fn mark_busy(&self, endpoint_id: &str, busy: bool) -> bool {
        let mut list = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        if list.iter().any(|b| b == endpoint_id) == busy {
            return false;
        }
        let others = list.iter().filter(|b| *b != endpoint_id).cloned();
        *list =
            if busy { others.chain([endpoint_id.to_owned()]).collect() } else { others.collect() };
        true
    }

    /// Pauses the endpoint for `pause` from now, as another node was asked to (decision
    /// 0014): requests in flight go on, none starts meanwhile.
    pub fn pause(&self, endpoint_id: &str, pause: Duration) {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        let gate = gates
            .entry(endpoint_id.to_owned())
            .or_insert_with(|| Arc::new(Gate::new(self.per_endpoint, self.nodes.clone())));
        gate.pacing().pause_until(Instant::now() + pause);
    }

    /// The nodes alive now (at least 1), which share every endpoint's window and rate.
    pub fn set_nodes(&self, nodes: usize) {
        self.nodes.store(nodes.max(1), Ordering::Relaxed);
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

    #[test]
    fn an_endpoint_is_busy_from_three_quarters_full_until_drained_to_half() {
        let gates = Gates::new(1); // 1 in flight, 4 held at most
        let held: Vec<_> = (0..3).map(|_| gates.admit("ep").unwrap()).collect();
        assert_eq!(&*gates.busy(), ["ep".to_owned()], "busy at three of four");
        assert_eq!(gates.room_per_claim(), 1);
        let fourth = gates.admit("ep").unwrap();
        assert!(gates.admit("ep").is_none(), "a fifth is handed back");
        assert!(!gates.leave("ep", &fourth), "three left: still busy");
        assert!(gates.leave("ep", &held[0]), "two left: busy no more, claim again");
        assert!(gates.busy().is_empty());
        assert!(!gates.leave("ep", &held[1]), "told once");
    }
}
