//! The node's LISTEN connection: another node's "work became due" (`hookd_work`) wakes the
//! local dispatcher, "the catalog changed" (`hookd_catalog`) clears this node's copy of it,
//! and "this endpoint asked for a pause" (`hookd_pause`) pauses it here too. Reconnects after
//! a failure; meanwhile the dispatcher's periodic look (every second) covers the wake-ups,
//! the copy of the catalog is not used, and each node pauses on its own refusals only.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use super::messages::WORK_CHANNEL;
use super::util::{internal, notify_with};
use crate::store::PauseListener;
use crate::store::catalog_cache::CatalogCache;

/// The channel every node LISTENs on for "the catalog changed".
pub(super) const CATALOG_CHANNEL: &str = "hookd_catalog";

/// The channel a node NOTIFYs on when an endpoint asked it to pause: the payload is the
/// pause in milliseconds and the endpoint's id (`"2000 ep_…"`). A length, not a time, so the
/// nodes' clocks need not agree.
pub(super) const PAUSE_CHANNEL: &str = "hookd_pause";

/// What a notification says.
enum Heard {
    Work,
    Catalog,
    Pause(String),
}

/// Who is told of what the connection hears.
#[derive(Default)]
pub(super) struct Listeners {
    pub(super) cache: Arc<CatalogCache>,
    /// The dispatcher's wake-up, once it watches for work.
    pub(super) work: Mutex<Option<Arc<Notify>>>,
    /// The dispatcher's gates, once it watches for pauses.
    pub(super) pauses: Mutex<Option<PauseListener>>,
}

impl Listeners {
    fn wake(&self) {
        if let Some(work) = self.work.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            work.notify_one();
        }
    }

    /// Pauses the endpoint a `hookd_pause` payload names (this node's own come back too, and
    /// extend its pause by the milliseconds the notification took).
    fn pause(&self, payload: &str) {
        let Some((ms, endpoint_id)) = payload.split_once(' ') else { return };
        let Ok(ms) = ms.parse::<u64>() else { return };
        if let Some(pause) = self.pauses.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            pause(endpoint_id, Duration::from_millis(ms));
        }
    }
}

/// Tells every node, this one too, that the endpoint asked for `pause`: on a connection of
/// the pool, in the background, so the request that was refused does not wait for it.
pub(super) fn share_pause(pool: Pool, endpoint_id: &str, pause: Duration) {
    let payload = format!("{} {endpoint_id}", pause.as_millis());
    tokio::spawn(async move {
        let notified = match pool.get().await {
            Ok(c) => notify_with(&c, PAUSE_CHANNEL, &payload).await,
            Err(e) => Err(internal(e)),
        };
        if let Err(e) = notified {
            tracing::warn!(error = %e, "sharing a pause with the other nodes failed");
        }
    });
}

/// Keeps the LISTEN connection until `stop`.
pub(super) async fn run(
    config: tokio_postgres::Config,
    listeners: Arc<Listeners>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    while let Some(Ok(message)) =
                        std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        if let AsyncMessage::Notification(n) = message {
                            let heard = match n.channel() {
                                CATALOG_CHANNEL => Heard::Catalog,
                                PAUSE_CHANNEL => Heard::Pause(n.payload().to_owned()),
                                _ => Heard::Work,
                            };
                            let _ = tx.send(heard);
                        }
                    }
                });
                let listen = format!(
                    "LISTEN {WORK_CHANNEL}; LISTEN {CATALOG_CHANNEL}; LISTEN {PAUSE_CHANNEL}"
                );
                if client.batch_execute(&listen).await.is_ok() {
                    listeners.cache.set_live(true);
                    listeners.wake(); // work may have become due while nobody listened
                    loop {
                        tokio::select! {
                            heard = heard.recv() => match heard {
                                Some(Heard::Catalog) => listeners.cache.clear(),
                                Some(Heard::Work) => listeners.wake(),
                                Some(Heard::Pause(payload)) => listeners.pause(&payload),
                                None => break,
                            },
                            _ = stop.cancelled() => break,
                        }
                    }
                    listeners.cache.set_live(false);
                }
                driver.abort();
            }
            Err(e) => tracing::warn!(error = %e, "LISTEN connection failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.cancelled() => {}
        }
    }
}
