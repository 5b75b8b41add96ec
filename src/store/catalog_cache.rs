//! A node's copy of the catalog the hot path reads: which application a key (id or uid)
//! names and its enabled endpoints. Acceptance reads it instead of asking the database for
//! every message (on PostgreSQL a quarter more messages a second, on SQLite two reads and
//! the parsing of every endpoint row less in the writer thread, measured).
//!
//! It is only used while it is known to be current. Every write to applications or
//! endpoints clears the copy; on PostgreSQL each write also sends `NOTIFY hookd_catalog`, on
//! which every other node clears its own, and a node whose LISTEN connection is down does not
//! use its copy at all. So another node's change reaches this node within a notification's
//! delay: a message accepted in that moment is sent as configured before the change, as one
//! accepted a moment earlier would be (a delivery always carries the endpoint as it was at
//! acceptance). A read that a clearing overtook is not kept (the generation check in
//! [`CatalogCache::fill`]). SQLite has one process and one writer, so its copy is always live
//! and is cleared on the writer thread, inside the write (see `store/sqlite/mod.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::model::Endpoint;

/// An application as the hot path needs it.
pub(crate) struct AppEntry {
    pub(crate) app_id: String,
    pub(crate) enabled: Vec<Arc<Endpoint>>,
}

#[derive(Default)]
pub(crate) struct CatalogCache {
    /// By the key messages name their application with (id or uid).
    entries: Mutex<HashMap<String, Arc<AppEntry>>>,
    /// Bumped by every clearing, so a read that started before one is not kept.
    generation: AtomicU64,
    /// The LISTEN connection is up: only then can the copy be trusted.
    live: AtomicBool,
}

impl CatalogCache {
    /// The generation a read starts at, to pass to [`CatalogCache::fill`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<AppEntry>> {
        if !self.is_live() {
            return None;
        }
        self.lock().get(key).cloned()
    }

    /// Keeps what a read that started at `generation` found, unless the catalog changed since.
    pub(crate) fn fill(
        &self,
        generation: u64,
        found: impl IntoIterator<Item = (String, Arc<AppEntry>)>,
    ) {
        let mut entries = self.lock();
        if self.is_live() && self.generation() == generation {
            entries.extend(found);
        }
    }

    pub(crate) fn clear(&self) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<AppEntry>>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The LISTEN connection came up or went down: either way, what was missed meanwhile
    /// (or is about to be) is dropped.
    pub(crate) fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
        self.clear();
    }
}
