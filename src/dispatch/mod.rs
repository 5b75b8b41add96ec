//! Dispatch: claim due deliveries under a lease, send each through its endpoint's gate, and
//! record the outcomes in batches.
//!
//! The loop sleeps until the next delivery is due or ingestion pushes a wake-up, so an idle
//! system delivers a new message within milliseconds and a busy one never polls in vain.

mod client;
mod gates;
pub mod schedule;
mod send;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::gates::{Gate, Gates};
use self::send::Sender;
use crate::config::DeliveryConfig;
use crate::model::time::now_ms;
use crate::security::ssrf::Guard;
use crate::store::{Claim, EndpointEffect, NextStep, Outcome, Store};

/// Claims per round trip to the store.
const CLAIM_BATCH: usize = 256;
/// How long an over-full endpoint's extra claims wait before they are due again.
const BUSY_DELAY_MS: i64 = 250;
/// Longest idle sleep; also how often expired leases are looked for.
const IDLE_WAKE: Duration = Duration::from_secs(1);

pub struct Dispatcher {
    store: Arc<dyn Store>,
    work_available: Arc<Notify>,
    sender: Arc<Sender>,
    gates: Arc<Gates>,
    max_in_flight: usize,
    /// Covers waiting at the gate and the request itself, so a live claim never expires.
    lease_ms: i64,
}

/// Shared by the loop and the tasks it spawns.
struct Running {
    in_flight: AtomicUsize,
    slot_freed: Notify,
    outcomes: mpsc::UnboundedSender<Outcome>,
    shutdown: CancellationToken,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        work_available: Arc<Notify>,
        config: &DeliveryConfig,
    ) -> Self {
        let guard = Guard::new(config.allowed_networks.clone());
        let sender = Sender {
            client: client::build(Arc::new(guard.clone()), config.endpoint_in_flight),
            guard,
            schedule: config.retry_schedule.clone(),
            timeout: config.request_timeout,
            disable_after: config.disable_after,
            user_agent: format!("hookd/{}", env!("CARGO_PKG_VERSION")),
        };
        Self {
            store,
            work_available,
            sender: Arc::new(sender),
            gates: Arc::new(Gates::new(config.endpoint_in_flight)),
            max_in_flight: config.max_in_flight,
            lease_ms: 3 * config.request_timeout.as_millis() as i64 + 2_000,
        }
    }

    /// Delivers until `shutdown`; then lets requests in flight finish, hands back the claims
    /// that had not started, and records every outcome before returning.
    pub async fn run(self, shutdown: CancellationToken) {
        let (outcomes, outcome_queue) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(record_outcomes(self.store.clone(), outcome_queue));
        let running = Arc::new(Running {
            in_flight: AtomicUsize::new(0),
            slot_freed: Notify::new(),
            outcomes,
            shutdown,
        });
        let tracker = TaskTracker::new();
        let mut leases_checked = 0;
        while !running.shutdown.is_cancelled() {
            let now = now_ms();
            if now - leases_checked >= IDLE_WAKE.as_millis() as i64 {
                leases_checked = now;
                self.expire_leases(now).await;
            }
            let free = self.max_in_flight.saturating_sub(running.in_flight.load(Ordering::Acquire));
            if free == 0 {
                tokio::select! {
                    _ = running.slot_freed.notified() => {}
                    _ = running.shutdown.cancelled() => {}
                }
                continue;
            }
            let limit = free.min(CLAIM_BATCH);
            let claimed =
                match self.store.claim_due_deliveries(now, limit, now + self.lease_ms).await {
                    Ok(claims) => claims,
                    Err(e) => {
                        tracing::error!(error = %e, "claiming deliveries failed");
                        Vec::new()
                    }
                };
            let full_batch = claimed.len() == limit;
            for claim in claimed {
                self.start(claim, &running, &tracker);
            }
            if !full_batch {
                self.sleep_until_due(&running.shutdown).await;
            }
        }
        tracker.close();
        tracker.wait().await;
        drop(running);
        let _ = recorder.await;
    }

    fn start(&self, claim: Claim, running: &Arc<Running>, tracker: &TaskTracker) {
        let Some(gate) = self.gates.admit(&claim.endpoint.id) else {
            let _ = running.outcomes.send(release(&claim, now_ms() + BUSY_DELAY_MS));
            return;
        };
        running.in_flight.fetch_add(1, Ordering::AcqRel);
        let (sender, running) = (self.sender.clone(), running.clone());
        tracker.spawn(async move {
            let outcome = deliver(&sender, &claim, &gate, &running.shutdown).await;
            gate.leave();
            let _ = running.outcomes.send(outcome);
            running.in_flight.fetch_sub(1, Ordering::AcqRel);
            running.slot_freed.notify_one();
        });
    }

    async fn sleep_until_due(&self, shutdown: &CancellationToken) {
        let wait = match self.store.next_due_at().await {
            Ok(Some(due)) => {
                Duration::from_millis((due - now_ms()).clamp(1, IDLE_WAKE.as_millis() as i64) as u64)
            }
            _ => IDLE_WAKE,
        };
        tokio::select! {
            _ = self.work_available.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => {}
        }
    }

    async fn expire_leases(&self, now: i64) {
        match self.store.expire_leases(now).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(count = n, "re-queued deliveries whose lease expired"),
            Err(e) => tracing::error!(error = %e, "expiring leases failed"),
        }
    }
}

/// Waits for the endpoint's gate (giving the claim back on shutdown), then makes the attempt.
/// Once a request has started it runs to the end, bounded by the request timeout.
async fn deliver(
    sender: &Sender,
    claim: &Claim,
    gate: &Gate,
    shutdown: &CancellationToken,
) -> Outcome {
    let permit = tokio::select! {
        permit = gate.enter(claim.endpoint.throttle_rate) => permit,
        _ = shutdown.cancelled() => None,
    };
    let lease_left = claim.lease - now_ms();
    match permit {
        Some(_permit) if lease_left > sender.timeout.as_millis() as i64 => {
            sender.attempt(claim).await
        }
        _ => release(claim, now_ms()),
    }
}

fn release(claim: &Claim, due: i64) -> Outcome {
    Outcome {
        delivery_id: claim.delivery_id,
        lease: claim.lease,
        endpoint_id: claim.endpoint.id.clone(),
        attempt: None,
        next: NextStep::Release(due),
        effect: EndpointEffect::None,
    }
}

/// Writes outcomes in batches: whatever arrived while the previous batch was committing.
async fn record_outcomes(store: Arc<dyn Store>, mut queue: mpsc::UnboundedReceiver<Outcome>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match queue.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        match store.record_outcomes(batch).await {
            Ok(disabled) => {
                disabled.iter().for_each(|id| tracing::warn!(endpoint = %id, "endpoint disabled"))
            }
            Err(e) => {
                tracing::error!(error = %e, "recording outcomes failed; their leases will expire and the deliveries repeat")
            }
        }
    }
}
