//! Dispatch: claim due deliveries under a lease, send each through its endpoint's gate, and
//! record the outcomes in batches.
//!
//! The loop sleeps until the next delivery is due or ingestion pushes a wake-up, so an idle
//! system delivers a new message within milliseconds and a busy one never polls in vain.

mod client;
mod gates;
mod handle;
mod pacing;
mod recorder;
pub mod schedule;
mod send;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::gates::{Gate, Gates};
pub use self::handle::DispatchHandle;
use self::recorder::Unrecorded;
use self::send::Sender;
pub use self::send::TestAnswer;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::delivery::{Claim, EndpointEffect, NextStep, Outcome};
use crate::model::time::{Clock, SystemClock};
use crate::operational::Events;
use crate::security::ssrf::Guard;
use crate::store::{Claiming, Store};

/// Claims per round trip to the store.
const CLAIM_BATCH: usize = 256;
/// Messages purged per maintenance round: small, so a purge (with its cascades) holds the
/// SQLite writer for milliseconds, not seconds; a large backlog drains over several rounds.
const PURGE_BATCH: usize = 1_000;
/// How long an over-full endpoint's extra claims wait before they are due again.
const BUSY_DELAY_MS: i64 = 250;
/// Longest idle sleep; also how often expired leases are looked for.
const IDLE_WAKE: Duration = Duration::from_secs(1);
/// A node not seen for this long no longer takes a share of each endpoint's window and rate.
const NODE_ALIVE_MS: i64 = 3_000;

/// The time and the chance delivery works from: the system's in production; in tests a
/// clock that can be moved forward and a fixed jitter, so retries are exact and instant.
#[derive(Clone)]
pub struct Timing {
    pub clock: Arc<dyn Clock>,
    /// A number in [0, 1), drawn for each retry's jitter.
    pub jitter: Arc<dyn Fn() -> f64 + Send + Sync>,
}

impl Timing {
    pub fn system() -> Self {
        Self { clock: Arc::new(SystemClock), jitter: Arc::new(crate::model::ids::random_unit) }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    sender: Arc<Sender>,
    gates: Arc<Gates>,
    handle: DispatchHandle,
    /// Deliveries ingestion leased to this node and handed over directly.
    handed_over: mpsc::UnboundedReceiver<Claim>,
    /// When to look for claims handed back because their endpoint was saturated.
    recheck_at: std::sync::Mutex<Option<Instant>>,
    retention_ms: i64,
    /// This node, as the other nodes on the database count it.
    node_id: String,
}

/// Shared by the loop and the tasks it spawns.
struct Running {
    slot_freed: Notify,
    outcomes: mpsc::UnboundedSender<Outcome>,
    unrecorded: Arc<Unrecorded>,
    shutdown: CancellationToken,
    /// How long requests in flight may go on after `shutdown`.
    grace: Duration,
    /// Where a pause an endpoint asked for is shared with the other nodes.
    store: Arc<dyn Store>,
}

impl Running {
    /// Hands a held claim's outcome to the recorder: counted as unrecorded before the claim
    /// stops being held, so [`DispatchHandle::settle`] never sees it as neither.
    fn report(&self, outcome: Outcome, held: &AtomicUsize) {
        self.unrecorded.add(1);
        held.fetch_sub(1, Ordering::AcqRel);
        if self.outcomes.send(outcome).is_err() {
            self.unrecorded.done(1);
        }
    }
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        server: &Config,
        timing: Timing,
        metrics: Arc<Metrics>,
        events: Events,
    ) -> (Self, DispatchHandle) {
        let config = &server.delivery;
        let guard = Guard::new(config.allowed_networks.clone());
        let sender = Sender {
            client: client::build(Arc::new(guard.clone()), config.max_in_flight),
            guard,
            schedule: config.retry_schedule.clone(),
            timeout: config.request_timeout,
            disable_after: config.disable_after,
            user_agent: format!("hookd/{}", env!("CARGO_PKG_VERSION")),
            default_headers: config.default_headers.clone(),
            max_body: server.max_body_size,
            timing,
            metrics,
            events,
        };
        let (hot, handed_over) = mpsc::unbounded_channel();
        let sender = Arc::new(sender);
        let handle = DispatchHandle {
            sender: sender.clone(),
            hot,
            work_available: Arc::new(Notify::new()),
            held: Arc::new(AtomicUsize::new(0)),
            max_in_flight: config.max_in_flight,
            lease_ms: 3 * config.request_timeout.as_millis() as i64 + 2_000,
            store: store.clone(),
            unrecorded: Arc::default(),
            claiming: Arc::default(),
            gates: Arc::new(Gates::new(config.endpoint_in_flight)),
        };
        let dispatcher = Self {
            store,
            sender,
            gates: handle.gates.clone(),
            handle: handle.clone(),
            handed_over,
            recheck_at: std::sync::Mutex::new(None),
            retention_ms: server.retention.as_millis() as i64,
            node_id: crate::model::ids::new_id("node_"),
        };
        (dispatcher, handle)
    }

    /// Delivers until `shutdown`; then hands back the claims that had not started, lets
    /// requests in flight finish within `grace` (handing back those that do not), and
    /// records every outcome before returning. A request cut short may have reached its
    /// receiver: it is sent again, as after a crash (delivery is at least once).
    ///
    /// The store is asked for due work only when there may be some: at start, on a wake-up,
    /// when the next known due time comes, and after a full batch. Deliveries handed over by
    /// ingestion start without any query.
    pub async fn run(mut self, shutdown: CancellationToken, grace: Duration) {
        let (outcomes, outcome_queue) = mpsc::unbounded_channel();
        let unrecorded = self.handle.unrecorded.clone();
        let timing = self.sender.timing.clone();
        let report = recorder::Report {
            metrics: self.sender.metrics.clone(),
            events: self.sender.events.clone(),
        };
        let work = self.handle.work_available.clone();
        let recorder = recorder::run(
            self.store.clone(),
            timing,
            report,
            unrecorded.clone(),
            work,
            outcome_queue,
        );
        let recorder = tokio::spawn(recorder);
        self.store.watch_for_work(self.handle.work_available.clone());
        let gates = self.gates.clone();
        self.store.watch_for_pauses(Arc::new(move |endpoint_id, pause| {
            gates.pause(endpoint_id, pause);
        }));
        let (slot_freed, store) = (Notify::new(), self.store.clone());
        let running =
            Arc::new(Running { slot_freed, outcomes, unrecorded, shutdown, grace, store });
        let tracker = TaskTracker::new();
        let (mut maintained, mut claim_now, mut next_look) = (0, true, Instant::now());
        while !running.shutdown.is_cancelled() {
            let now = self.now_ms();
            if now - maintained >= IDLE_WAKE.as_millis() as i64 {
                maintained = now;
                self.maintain(now).await;
            }
            let free =
                self.handle.max_in_flight.saturating_sub(self.handle.held.load(Ordering::Acquire));
            if claim_now && free > 0 {
                if self.claim_and_start(now, free.min(CLAIM_BATCH), &running, &tracker).await {
                    continue;
                }
                claim_now = false;
                next_look = Instant::now() + self.until_next_due().await;
            }
            let wake_at = self.wake_time(next_look);
            tokio::select! {
                Some(claim) = self.handed_over.recv() => self.start(claim, &running, &tracker),
                _ = self.handle.work_available.notified() => claim_now = true,
                _ = running.slot_freed.notified(), if free == 0 => {}
                _ = tokio::time::sleep_until(wake_at) => claim_now = true,
                _ = running.shutdown.cancelled() => {}
            }
        }
        self.handed_over.close();
        while let Ok(claim) = self.handed_over.try_recv() {
            running.report(release(&claim, self.now_ms()), &self.handle.held);
        }
        tracker.close();
        tracker.wait().await;
        drop(running);
        let _ = recorder.await;
    }

    /// Claims due deliveries; true if the batch was full (more may be due).
    async fn claim_and_start(
        &self,
        now: i64,
        limit: usize,
        running: &Arc<Running>,
        tracker: &TaskTracker,
    ) -> bool {
        let lease = now + self.handle.lease_ms;
        // Marked while the claim runs, so no moment shows leased rows that nobody holds; not
        // counted as held, so ingestion keeps leasing new deliveries meanwhile.
        self.handle.claiming.store(true, Ordering::Release);
        self.handle.unrecorded.progressed();
        let claiming = Claiming {
            per_endpoint: self.gates.room_per_claim(),
            skip: self.gates.busy(),
            ..Claiming::new(now, limit, lease)
        };
        let claimed = self.store.claim_due_deliveries(claiming).await;
        let claimed = claimed.unwrap_or_else(|e| {
            tracing::error!(error = %e, "claiming deliveries failed");
            Vec::new()
        });
        self.handle.held.fetch_add(claimed.len(), Ordering::AcqRel);
        self.handle.claiming.store(false, Ordering::Release);
        self.handle.unrecorded.progressed();
        let full_batch = claimed.len() == limit;
        for claim in claimed {
            self.start(claim, running, tracker);
        }
        full_batch
    }

    /// Starts a held claim, or hands it back for later if its endpoint is saturated.
    fn start(&self, claim: Claim, running: &Arc<Running>, tracker: &TaskTracker) {
        let Some(gate) = self.gates.admit(&claim.endpoint.id) else {
            // Written at once rather than through the recorder, so it is in the store before
            // the recheck below claims again.
            let (store, unrecorded, now) =
                (self.store.clone(), self.handle.unrecorded.clone(), self.now_ms());
            let handed_back = release(&claim, now + BUSY_DELAY_MS);
            self.sender.metrics.handed_back();
            unrecorded.add(1);
            self.handle.held.fetch_sub(1, Ordering::AcqRel);
            tokio::spawn(async move {
                if let Err(e) = store.record_outcomes(Arc::new([handed_back]), now).await {
                    tracing::error!(error = %e, "handing back a claim failed; its lease will expire");
                }
                unrecorded.done(1);
            });
            // Look again when it is due, not at the next idle wake-up.
            let recheck = Instant::now() + Duration::from_millis(BUSY_DELAY_MS as u64 + 10);
            let mut at = self.recheck_at.lock().unwrap_or_else(|p| p.into_inner());
            *at = Some(at.map_or(recheck, |t| t.min(recheck)));
            return;
        };
        let (sender, running, held) =
            (self.sender.clone(), running.clone(), self.handle.held.clone());
        let (gates, work) = (self.gates.clone(), self.handle.work_available.clone());
        tracker.spawn(async move {
            let outcome = deliver(&sender, &claim, &gate, &running).await;
            if gates.leave(&claim.endpoint.id, &gate) {
                work.notify_one(); // its deliveries left in the store are claimed now
            }
            running.report(outcome, &held);
            running.slot_freed.notify_one();
        });
    }

    /// The sooner of `next_look` and a recheck for claims handed back because their endpoint
    /// was busy. A recheck whose time has come is cleared, so it fires once.
    fn wake_time(&self, next_look: Instant) -> Instant {
        let mut recheck = self.recheck_at.lock().unwrap_or_else(|p| p.into_inner());
        let wake = recheck.map_or(next_look, |r| r.min(next_look));
        if recheck.is_some_and(|r| r <= Instant::now()) {
            *recheck = None;
        }
        wake
    }

    fn now_ms(&self) -> i64 {
        self.sender.timing.now_ms()
    }

    /// How long until the next pending delivery is due (at most [`IDLE_WAKE`]).
    async fn until_next_due(&self) -> Duration {
        // Busy endpoints' due deliveries wait for their room, which wakes the loop itself.
        match self.store.next_due_at(self.gates.busy()).await {
            Ok(Some(due)) => Duration::from_millis(
                (due - self.now_ms()).clamp(1, IDLE_WAKE.as_millis() as i64) as u64,
            ),
            _ => IDLE_WAKE,
        }
    }

    /// Once a second: count the nodes alive (each takes its share of every endpoint's window
    /// and rate), give expired leases back. Once a minute (on average, and on one
    /// PostgreSQL node at a time): purge messages past their retention.
    async fn maintain(&self, now: i64) {
        match self.store.count_nodes(&self.node_id, now, now - NODE_ALIVE_MS).await {
            Ok(nodes) => self.gates.set_nodes(nodes),
            Err(e) => tracing::warn!(error = %e, "counting the nodes alive failed"),
        }
        match self.store.expire_leases(now).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(count = n, "re-queued deliveries whose lease expired"),
            Err(e) => tracing::error!(error = %e, "expiring leases failed"),
        }
        if now % 60_000 < IDLE_WAKE.as_millis() as i64 {
            let cutoff = now - self.retention_ms;
            match self.store.purge_messages(cutoff, PURGE_BATCH).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "purged messages past their retention"),
                Err(e) => tracing::error!(error = %e, "purging old messages failed"),
            }
        }
    }
}

/// Waits for the endpoint's gate (giving the claim back on shutdown), then makes the attempt.
/// Once a request has started it runs to the end, bounded by the request timeout, or until
/// the grace period after shutdown is over; then the claim is given back.
async fn deliver(sender: &Sender, claim: &Claim, gate: &Gate, running: &Running) -> Outcome {
    let slot = tokio::select! {
        slot = gate.enter(claim.endpoint.throttle_rate) => slot,
        _ = running.shutdown.cancelled() => None,
    };
    let lease_left = claim.lease - sender.timing.now_ms();
    let grace_over = async {
        running.shutdown.cancelled().await;
        tokio::time::sleep(running.grace).await;
    };
    match slot {
        Some(slot) if lease_left > sender.timeout.as_millis() as i64 => tokio::select! {
            (outcome, signal) = sender.attempt(claim) => {
                if let Some(pause) = slot.finish(signal) {
                    running.store.share_pause(&claim.endpoint.id, pause);
                }
                outcome
            }
            () = grace_over => release(claim, sender.timing.now_ms()),
        },
        _ => release(claim, sender.timing.now_ms()),
    }
}

fn release(claim: &Claim, due: i64) -> Outcome {
    Outcome {
        delivery_id: claim.delivery_id,
        lease: claim.lease,
        endpoint_id: claim.endpoint.id.clone(),
        app_id: claim.endpoint.app_id.clone(),
        attempt: None,
        next: NextStep::Release(due),
        effect: EndpointEffect::None,
        lane: claim.lane(),
    }
}
