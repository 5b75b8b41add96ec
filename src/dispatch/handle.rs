//! What the rest of hookd holds of the dispatcher: a handle to hand over freshly leased
//! deliveries, wake it, send once outside the queue, and wait until delivery has come to rest.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::{Notify, mpsc};

use super::gates::Gates;
use super::recorder::Unrecorded;
use super::send::{Sender, TestAnswer};
use crate::model::delivery::Claim;
use crate::model::{Endpoint, Message};
use crate::store::{Store, StoreResult};

/// What ingestion (and the API) hold of the dispatcher: a way to hand over freshly leased
/// deliveries, and to wake it when work became due by other means.
#[derive(Clone)]
pub struct DispatchHandle {
    pub(super) hot: mpsc::UnboundedSender<Claim>,
    pub(super) work_available: Arc<Notify>,
    /// Claims this node holds and has not finished: handed over, waiting, or in flight.
    pub(super) held: Arc<AtomicUsize>,
    pub(super) max_in_flight: usize,
    /// Covers waiting at the gate and the request itself, so a live claim never expires.
    pub(super) lease_ms: i64,
    pub(super) sender: Arc<Sender>,
    pub(super) store: Arc<dyn Store>,
    pub(super) unrecorded: Arc<Unrecorded>,
    /// The loop is claiming (one claim at a time).
    pub(super) claiming: Arc<AtomicBool>,
    pub(super) gates: Arc<Gates>,
}

impl DispatchHandle {
    /// Sends a message to an endpoint once, right away, outside the queue (a test send).
    pub async fn send_once(&self, message: &Message, endpoint: &Endpoint) -> TestAnswer {
        self.sender.send_once(message, endpoint).await
    }

    /// The request `message` would be sent to `endpoint` as at `now_ms`, unsent.
    pub fn render(
        &self,
        message: &Message,
        endpoint: &Endpoint,
        now_ms: i64,
    ) -> Result<crate::profile::Rendered, String> {
        self.sender.render(&crate::profile::Delivery { message, endpoint, now_ms })
    }

    /// A lease for the deliveries of a message accepted now, if this node has room to send
    /// them at once (`None` leaves them pending for whichever node claims them); and the
    /// endpoints it holds enough of already, whose deliveries stay pending even so.
    pub fn lease_for_new_deliveries(&self) -> (Option<i64>, Arc<[String]>) {
        let room = self.held.load(Ordering::Acquire) < self.max_in_flight;
        (room.then(|| self.sender.timing.now_ms() + self.lease_ms), self.gates.busy())
    }

    /// Gives committed, leased deliveries to the dispatcher. If it has stopped, their leases
    /// expire and they are claimed again: nothing is lost.
    pub fn hand_over(&self, claims: Vec<Claim>) {
        self.held.fetch_add(claims.len(), Ordering::AcqRel);
        for claim in claims {
            if self.hot.send(claim).is_err() {
                self.held.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    pub fn wake(&self) {
        self.work_available.notify_one();
    }

    /// Waits until this node holds no claim, every outcome it made is recorded, and no
    /// delivery is due; then says when the next pending one is due, if any is. For tests and
    /// tools that must know delivery has come to rest, without polling or sleeping. A
    /// message whose acceptance has not been answered yet is not waited for.
    pub async fn settle(&self) -> StoreResult<Option<i64>> {
        loop {
            let recorded = self.unrecorded.recorded().notified();
            tokio::pin!(recorded);
            recorded.as_mut().enable();
            if self.is_quiet() {
                let before = self.unrecorded.generation();
                let next = self.store.next_due_at(Arc::from([])).await?;
                if !self.is_quiet() || self.unrecorded.generation() != before {
                    continue; // the answer may predate a claim or a recording: ask again
                }
                match next {
                    Some(at) if at <= self.sender.timing.now_ms() => self.wake(),
                    next => return Ok(next),
                }
            }
            recorded.await;
        }
    }

    /// No claim running, none held, every outcome recorded.
    fn is_quiet(&self) -> bool {
        !self.claiming.load(Ordering::Acquire)
            && self.held.load(Ordering::Acquire) == 0
            && self.unrecorded.is_empty()
    }
}
