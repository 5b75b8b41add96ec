//! Writing outcomes to the store in batches, and knowing when everything has been written
//! (what [`DispatchHandle::settle`](super::DispatchHandle::settle) waits for).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::Timing;
use crate::metrics::Metrics;
use crate::model::delivery::{EndpointEffect, Outcome};
use crate::operational::{Events, OpEvent};
use crate::store::{Store, StoreError};

/// Outcomes this node has made and not yet recorded, and a signal after each recording.
#[derive(Default)]
pub(super) struct Unrecorded {
    count: AtomicUsize,
    recorded: Notify,
    /// Bumped by every recording and claim, so a waiter can tell that what it read from the
    /// store may already be out of date.
    generation: AtomicU64,
}

impl Unrecorded {
    /// Counts an outcome about to be handed to the recorder (or written directly).
    pub(super) fn add(&self, n: usize) {
        self.count.fetch_add(n, Ordering::AcqRel);
    }

    /// `n` outcomes reached the store (or failed for good).
    pub(super) fn done(&self, n: usize) {
        self.count.fetch_sub(n, Ordering::AcqRel);
        self.progressed();
    }

    /// Something a waiter for quiet watches changed (a recording, a claim).
    pub(super) fn progressed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.recorded.notify_waiters();
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    pub(super) fn recorded(&self) -> &Notify {
        &self.recorded
    }
}

/// Where the recorder reports endpoints the store disabled: the metrics, the log and the
/// operational webhooks.
pub(super) struct Report {
    pub(super) metrics: Arc<Metrics>,
    pub(super) events: Events,
}

impl Report {
    fn disabled(&self, disabled: &[String], batch: &[Outcome]) {
        self.metrics.endpoints_disabled(disabled.len());
        for id in disabled {
            let mine = || batch.iter().filter(|o| &o.endpoint_id == id);
            let Some(o) = mine().next() else { continue };
            tracing::warn!(endpoint = %id, app = %o.app_id, "endpoint disabled");
            let gone = mine().any(|o| o.effect == EndpointEffect::Disable);
            let (app_id, endpoint_id) = (o.app_id.clone(), id.clone());
            self.events.report(OpEvent::EndpointDisabled {
                app_id,
                endpoint_id,
                manual: false,
                gone,
            });
        }
    }
}

/// Writes outcomes in batches: whatever arrived while the previous batch was committing.
/// A batch that frees ordering lanes wakes the claim (`work`): their next deliveries are due.
pub(super) async fn run(
    store: Arc<dyn Store>,
    timing: Timing,
    report: Report,
    unrecorded: Arc<Unrecorded>,
    work: Arc<Notify>,
    mut queue: mpsc::UnboundedReceiver<Outcome>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match queue.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        let size = batch.len();
        let batch: Arc<[Outcome]> = batch.into();
        match record_with_retries(store.as_ref(), &timing, batch.clone()).await {
            Ok(disabled) => {
                report.disabled(&disabled, &batch);
                if batch.iter().any(|o| o.frees().is_some()) {
                    work.notify_one();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "recording outcomes failed; their leases will expire and the deliveries repeat")
            }
        }
        unrecorded.done(size);
    }
}

/// Records a batch, trying again after a short pause if the store fails (a database that
/// restarts, say). Recording twice is harmless: an attempt is logged once, and a delivery
/// moves only while the claim's lease holds.
async fn record_with_retries(
    store: &dyn Store,
    timing: &Timing,
    batch: Arc<[Outcome]>,
) -> Result<Vec<String>, StoreError> {
    for pause_ms in [50, 500] {
        match store.record_outcomes(batch.clone(), timing.now_ms()).await {
            Ok(disabled) => return Ok(disabled),
            Err(e) => tracing::warn!(error = %e, "recording outcomes failed; trying again"),
        }
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
    }
    store.record_outcomes(batch, timing.now_ms()).await
}
