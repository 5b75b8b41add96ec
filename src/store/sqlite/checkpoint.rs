//! Checkpoints beside the writer. In WAL mode every commit appends pages to the WAL, and a
//! checkpoint copies them back into the database file (and fsyncs both). Left to SQLite, the
//! writer does this itself every 1 000 pages, between two commits, so every client waiting
//! for the next group commit waits for the copy and its two fsyncs as well.
//!
//! This thread runs passive checkpoints on a connection of its own instead: they take no
//! write lock, so the writer goes on committing meanwhile (on the other core). A passive
//! checkpoint copies only what was committed when it began, and SQLite starts the WAL afresh
//! only when a writer finds everything copied; under a steady load that moment may not come.
//! So the writer keeps its own automatic checkpoint as a bound, at [`WRITER_BOUND`] pages:
//! past it, the writer finishes the little that is left, and the WAL starts again.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use super::pool::open_connection;

/// How often the thread looks: a checkpoint that finds nothing to copy costs a few µs. Every
/// 100 ms instead cost less CPU in one comparison out of three but raised the p99 latency at
/// full load by 3 to 6 ms in both that looked at it (each checkpoint copies and syncs more at
/// once, and its syncs compete with the WAL's; docs/benchmarks.md).
const EVERY: Duration = Duration::from_millis(20);

/// The writer's automatic checkpoint, as a bound on the WAL (pages of 4 KiB: 64 MiB). Under a
/// steady load the WAL reaches it (the passive checkpoints never find everything copied), and
/// then the writer copies the rest and syncs the database itself while every commit waits,
/// 4–5 ms here. At 16 MiB that happened every few thousand messages and raised the p99 at
/// full load (22 ms against 18 ms at 64 MiB, docs/benchmarks.md); a WAL of 64 MiB costs that
/// much disk and well under a second of recovery after a crash.
pub(super) const WRITER_BOUND: i64 = 16_384;

/// Ends the thread when dropped.
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(super) fn start(path: &Path) -> Result<Self, String> {
        let conn = open_connection(path, false).map_err(|e| e.to_string())?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("hookd-sqlite-checkpoint".into())
            .spawn(move || run(conn, stopped))
            .map_err(|e| format!("cannot start the checkpoint thread: {e}"))?;
        Ok(Self { _stop: stop })
    }
}

fn run(conn: Connection, stopped: mpsc::Receiver<()>) {
    // Until the store is dropped (then `recv_timeout` says Disconnected).
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        let checkpoint = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        if let Err(e) = checkpoint {
            // Not fatal: the writer's own checkpoint keeps the WAL bounded meanwhile.
            tracing::warn!(error = %e, "a background checkpoint failed");
        }
    }
}
