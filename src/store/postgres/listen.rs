//! The node's LISTEN connection: another node's "work became due" (`hookd_work`) wakes the
//! local dispatcher, and "the catalog changed" (`hookd_catalog`) clears this node's copy of
//! it. Reconnects after a failure; meanwhile the dispatcher's periodic look (every second)
//! covers the wake-ups, and the copy of the catalog is not used.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use super::messages::WORK_CHANNEL;
use crate::store::catalog_cache::CatalogCache;

/// The channel every node LISTENs on for "the catalog changed".
pub(super) const CATALOG_CHANNEL: &str = "hookd_catalog";

/// Who is told of what the connection hears.
pub(super) struct Listeners {
    pub(super) cache: Arc<CatalogCache>,
    /// The dispatcher's wake-up, once it watches for work.
    pub(super) work: Mutex<Option<Arc<Notify>>>,
}

impl Listeners {
    fn wake(&self) {
        if let Some(work) = self.work.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            work.notify_one();
        }
    }
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
                            let _ = tx.send(n.channel() == CATALOG_CHANNEL);
                        }
                    }
                });
                let listen = format!("LISTEN {WORK_CHANNEL}; LISTEN {CATALOG_CHANNEL}");
                if client.batch_execute(&listen).await.is_ok() {
                    listeners.cache.set_live(true);
                    listeners.wake(); // work may have become due while nobody listened
                    loop {
                        tokio::select! {
                            catalog = heard.recv() => match catalog {
                                Some(true) => listeners.cache.clear(),
                                Some(false) => listeners.wake(),
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
