//! The background-task runner: bulk replays and endpoint recoveries (see `model::task`), run
//! in steps by whichever node holds the task.
//!
//! A step queues again at most a tenth of `delivery.replay_rate` deliveries and the next step
//! waits 100 ms, so a task puts at most `replay_rate` deliveries a second into the queue, where
//! they wait their turn like any retry: a replay of a million neither floods a receiver nor
//! holds up new messages (those are handed to the dispatcher at acceptance, not queued
//! behind). A node runs one task at a time, so the cap holds per node.
//!
//! Each step saves the task's progress and renews its lease (30 s). A node that stops, or is
//! killed, leaves the lease to run out; then any node takes the task again from its cursor.
//! A cancellation is a flag on the task, seen at the next step.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::ingest::Ingest;
use crate::model::task::{BackgroundTask, CANCELLED, TaskStatus};
use crate::model::time::Clock;
use crate::store::Store;

/// How long a node holds a task without saving a step.
const LEASE: Duration = Duration::from_secs(30);
/// Between two steps of a task.
const STEP: Duration = Duration::from_millis(100);
/// How often the runner looks for a task no node holds, besides being woken.
const LOOK: Duration = Duration::from_secs(1);

pub struct TaskRunner {
    store: Arc<dyn Store>,
    ingest: Arc<Ingest>,
    clock: Arc<dyn Clock>,
    wake_ups: Arc<Notify>,
    /// Deliveries queued per step.
    per_step: usize,
}

impl TaskRunner {
    pub fn new(
        store: Arc<dyn Store>,
        ingest: Arc<Ingest>,
        clock: Arc<dyn Clock>,
        replay_rate: usize,
    ) -> Self {
        let wake_ups = ingest.task_wake_ups();
        Self { store, ingest, clock, wake_ups, per_step: (replay_rate / 10).max(1) }
    }

    /// Runs tasks until `shutdown`; a task under way keeps its cursor for whoever goes on.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            loop {
                let now = self.clock.now_ms();
                match self.store.claim_task(now, now + LEASE.as_millis() as i64).await {
                    Ok(Some(task)) => self.work_on(task, &shutdown).await,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "looking for background tasks failed");
                        break;
                    }
                }
                if shutdown.is_cancelled() {
                    return;
                }
            }
            tokio::select! {
                _ = self.wake_ups.notified() => {}
                _ = tokio::time::sleep(LOOK) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    async fn work_on(&self, mut task: BackgroundTask, shutdown: &CancellationToken) {
        loop {
            self.step(&mut task).await;
            task = match self.store.save_task(task).await {
                Ok(saved) => saved,
                Err(e) => {
                    // Left to its lease: this node or another takes it again.
                    tracing::warn!(error = %e, "saving a background task's progress failed");
                    return;
                }
            };
            if task.status != TaskStatus::Running {
                tracing::info!(task = %task.id, status = task.status.as_str(), queued = task.queued, "background task ended");
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(STEP) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// One step: stops a cancelled task, else queues the next deliveries.
    async fn step(&self, task: &mut BackgroundTask) {
        let now = self.clock.now_ms();
        task.updated_at = now;
        task.lease_until = Some(now + LEASE.as_millis() as i64);
        if task.cancel_requested {
            task.status = TaskStatus::Failed;
            task.error = Some(CANCELLED.into());
            return;
        }
        let step =
            self.store.replay_step(&task.app_id, &task.selection, task.cursor, self.per_step, now);
        match step.await {
            Ok((queued, last)) => {
                task.queued += queued as u64;
                task.cursor = last.unwrap_or(task.cursor);
                if queued > 0 {
                    self.ingest.wake_dispatcher();
                }
                if queued < self.per_step {
                    task.status = TaskStatus::Finished;
                }
            }
            Err(e) => {
                task.status = TaskStatus::Failed;
                task.error = Some(e.to_string());
            }
        }
        if task.status != TaskStatus::Running {
            task.lease_until = None;
        }
    }
}
