//! Group commit for PostgreSQL ingestion: messages that arrive together on this node are
//! written by one statement, so one WAL flush and one round trip (two when this node's copy
//! of the catalog lacks their applications) serve them all, as SQLite's writer does
//! (`store/sqlite/pool.rs`). Before, each message was a transaction of its own:
//! six round trips and a flush, which held PostgreSQL to a fifth of SQLite's rate.
//!
//! A few batches run at once: while one waits for its flush, the next gathers what arrived
//! meanwhile. A batch whose statement fails (a lost connection, an endpoint deleted under it)
//! leaves nothing behind, and its messages are then accepted one by one, so a failure
//! answers only the message that causes it. Messages with an idempotency key take the
//! one-by-one path from the start: their key must be looked up and claimed in a transaction.
//! A batch with messages that have an ordering key is one transaction: it locks their lanes
//! and looks at them before it writes (`lanes.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::{GenericClient, Pool};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::lanes::{self, Waiting};
use super::util::{Cached, internal, notify};
use super::{catalog, endpoints, messages};
use crate::model::delivery::select_targets;
use crate::model::{Endpoint, Message};
use crate::security::sealing::Keyring;
use crate::store::catalog_cache::{AppEntry, CatalogCache};
use crate::store::rows::opt_json;
use crate::store::{
    Accepted, CommitObserver, Inserted, NewMessage, StoreError, StoreResult, created,
};

/// Messages per transaction at most: bounds the latency a burst adds to its first message.
const MAX_BATCH: usize = 256;
/// Transactions in flight at once. Two measured best (`hookd bench --database`, one node):
/// one leaves the node idle during each flush, four or more split the same messages into
/// smaller transactions that queue for the same WAL flush.
const CONCURRENT: usize = 2;

struct Job {
    new: NewMessage,
    reply: oneshot::Sender<StoreResult<Accepted>>,
}

/// The queue into the group commit. Dropping it ends the loop once the queue is empty.
pub(super) struct Group {
    jobs: mpsc::UnboundedSender<Job>,
    keyring: Arc<Keyring>,
}

impl Group {
    pub(super) fn start(
        pool: Pool,
        cache: Arc<CatalogCache>,
        keyring: Arc<Keyring>,
        observer: Arc<dyn CommitObserver>,
    ) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, cache, keyring.clone(), observer, queue));
        Self { jobs, keyring }
    }

    /// Accepts the message in the next batch; answers once it is committed.
    pub(super) async fn accept(&self, pool: &Pool, new: NewMessage) -> StoreResult<Accepted> {
        // A keyed message whose eventId may be taken goes alone too: if the batch refused it
        // after giving it the front of its lane, the messages behind it would wait for nothing.
        let keyed_event = new.message.ordering_key.is_some() && new.message.event_id.is_some();
        if new.idempotency_key.is_some() || keyed_event {
            return accept_one(pool, &self.keyring, &new).await;
        }
        let (reply, answer) = oneshot::channel();
        let stopped = || internal("the group commit has stopped");
        self.jobs.send(Job { new, reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(
    pool: Pool,
    cache: Arc<CatalogCache>,
    keyring: Arc<Keyring>,
    observer: Arc<dyn CommitObserver>,
    mut queue: mpsc::UnboundedReceiver<Job>,
) {
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    while let Some(first) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        // Whatever queued while a slot was taken joins this batch.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (pool, cache, observer) = (pool.clone(), cache.clone(), observer.clone());
        let keyring = keyring.clone();
        tokio::spawn(async move {
            let (jobs, started) = (batch.len(), std::time::Instant::now());
            commit(&pool, &cache, &keyring, batch).await;
            observer.committed(started.elapsed(), jobs);
            drop(slot);
        });
    }
}

/// Writes the batch and answers every message; if its statement fails, accepts each message
/// alone.
async fn commit(pool: &Pool, cache: &CatalogCache, keyring: &Keyring, batch: Vec<Job>) {
    let (news, replies): (Vec<NewMessage>, Vec<_>) =
        batch.into_iter().map(|job| (job.new, job.reply)).unzip();
    match write(pool, cache, keyring, &news).await {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        }
        Err(why) => {
            if news.len() > 1 {
                tracing::warn!(error = %why, messages = news.len(), "a group commit failed; its messages are accepted one by one");
            }
            for (reply, new) in replies.into_iter().zip(&news) {
                let _ = reply.send(accept_one(pool, keyring, new).await);
            }
        }
    }
}

/// The batch on a pooled connection, given back before any retry one by one: one statement,
/// or a transaction when the batch has messages with an ordering key (the lanes' locks last
/// until it commits).
async fn write(
    pool: &Pool,
    cache: &CatalogCache,
    keyring: &Keyring,
    news: &[NewMessage],
) -> StoreResult<Vec<StoreResult<Accepted>>> {
    let mut client = pool.get().await.map_err(internal)?;
    if news.iter().all(|new| new.message.ordering_key.is_none()) {
        return accept_many(&client, cache, keyring, news).await;
    }
    let tx = client.transaction().await.map_err(internal)?;
    let answers = accept_many(&tx, cache, keyring, news).await?;
    tx.commit().await.map_err(internal)?;
    Ok(answers)
}

/// One message in a transaction of its own, idempotency key included.
pub(super) async fn accept_one(
    pool: &Pool,
    keyring: &Keyring,
    new: &NewMessage,
) -> StoreResult<Accepted> {
    let mut client = pool.get().await.map_err(internal)?;
    let tx = client.transaction().await.map_err(internal)?;
    match messages::accept(&tx, keyring, new).await? {
        Some(accepted) => {
            tx.commit().await.map_err(internal)?;
            Ok(accepted)
        }
        // Another node committed this idempotency key meanwhile: answer with its message.
        None => {
            drop(tx);
            let key = new.idempotency_key.as_deref().unwrap_or_default();
            messages::replayed(&client, &new.message.app_id, key).await
        }
    }
}

/// Accepts several messages, as [`messages::accept`] does one, whatever their number in one
/// statement that writes the messages and their deliveries (its own transaction, one WAL
/// flush), after one pipelined read of their applications and endpoints when this node's
/// copy of the catalog lacks them. For messages without an idempotency key (those with one
/// go through [`messages::accept`]). An unknown application or a repeated `eventId` fails its
/// message alone; a failed statement fails them all and leaves nothing behind.
///
/// An endpoint deleted between the read and the write fails the statement (its foreign key),
/// and the group commit then accepts each message alone; one created meanwhile is missed, as
/// it would be by a message accepted a moment earlier.
async fn accept_many(
    c: &impl GenericClient,
    cache: &CatalogCache,
    keyring: &Keyring,
    news: &[NewMessage],
) -> StoreResult<Vec<StoreResult<Accepted>>> {
    let keys: Vec<&str> = news.iter().map(|new| new.message.app_id.as_str()).collect();
    let apps = apps_of(c, cache, keyring, keys).await?;
    let mut answers: Vec<StoreResult<Accepted>> =
        news.iter().map(|_| Err(StoreError::NotFound("application"))).collect();
    let mut fanned = Vec::with_capacity(news.len());
    for (i, new) in news.iter().enumerate() {
        let Some(app) = apps.get(&new.message.app_id) else { continue };
        let msg = Message { app_id: app.app_id.clone(), ..new.message.clone() };
        let targets = select_targets(&app.enabled, &msg, new.only_endpoint.as_deref());
        fanned.push((i, msg, targets));
    }
    let waiting = lanes::waiting_in_batch(c, &fanned).await?;
    let (inserted, mut delivery_ids) = insert_many(c, news, &fanned, &waiting).await?;
    let mut left_pending = false;
    for (i, msg, targets) in fanned {
        if !inserted.contains(&msg.id) {
            let event_id = msg.event_id.clone().unwrap_or_default();
            answers[i] = Err(StoreError::DuplicateEventId(event_id));
            continue;
        }
        left_pending |= news[i].leaves_pending(targets.iter().map(|ep| ep.id.as_str()));
        let inserted = |endpoint: Arc<Endpoint>| {
            let lease = waiting.lease(&news[i], &msg, &endpoint);
            let delivery_id = delivery_ids.remove(&(msg.id.clone(), endpoint.id.clone()))?;
            Some(Inserted { delivery_id, lease, endpoint })
        };
        let targets = targets.into_iter().filter_map(inserted).collect();
        answers[i] = Ok(created(msg, targets));
    }
    // After the commit: failing here must not fail messages that are stored. A node that
    // misses the wake-up finds the work at its next look, within a second.
    if left_pending {
        if let Err(e) = notify(c, messages::WORK_CHANNEL).await {
            tracing::warn!(error = %e, "waking the other nodes failed");
        }
    }
    Ok(answers)
}

/// The applications `keys` name with their enabled endpoints: from this node's copy, and
/// what it lacks in one pipelined round trip (kept for the next batches). A key that names
/// no application is missing from the map.
async fn apps_of(
    c: &impl GenericClient,
    cache: &CatalogCache,
    keyring: &Keyring,
    mut keys: Vec<&str>,
) -> StoreResult<HashMap<String, Arc<AppEntry>>> {
    keys.sort_unstable();
    keys.dedup();
    let (mut apps, mut missing) = (HashMap::new(), Vec::new());
    for key in keys {
        match cache.get(key) {
            Some(app) => {
                apps.insert(key.to_owned(), app);
            }
            None => missing.push(key),
        }
    }
    if missing.is_empty() {
        return Ok(apps);
    }
    let generation = cache.generation();
    let (app_ids, enabled) = tokio::try_join!(
        catalog::app_ids_of(c, &missing),
        endpoints::enabled_of_apps(c, keyring, &missing)
    )?;
    let mut found = Vec::with_capacity(app_ids.len());
    for (key, app_id) in app_ids {
        let enabled = enabled.get(&app_id).cloned().unwrap_or_default();
        found.push((key, Arc::new(AppEntry { app_id, enabled })));
    }
    apps.extend(found.iter().cloned());
    cache.fill(generation, found);
    Ok(apps)
}

/// Inserts the messages and, for those inserted, their deliveries, in one statement. Says
/// which messages were inserted (not those whose `eventId` the application already has, or
/// another of the batch took first) and the deliveries' ids by message and endpoint.
async fn insert_many(
    c: &impl GenericClient,
    news: &[NewMessage],
    fanned: &[(usize, Message, Vec<Arc<Endpoint>>)],
    waiting: &Waiting,
) -> StoreResult<(HashSet<String>, HashMap<(String, String), i64>)> {
    let (mut m, mut d) = (MessageColumns::default(), DeliveryColumns::default());
    for (i, msg, targets) in fanned {
        m.push(msg);
        let due = news[*i].due();
        for ep in targets {
            let lease = waiting.lease(&news[*i], msg, ep);
            let state = messages::state_of(lease);
            d.msg_id.push(&msg.id);
            d.endpoint_id.push(&ep.id);
            d.state.push(state as i16);
            d.due.push((!waiting.has(msg, ep)).then_some(due));
            d.lease.push(lease);
            d.updated_at.push(msg.created_at);
            d.ordering_key.push(msg.ordering_key.as_deref());
        }
    }
    let rows = c
        .rows(
            "WITH m AS (
                 INSERT INTO messages (id, app_id, event_type, event_id, channels, tags, payload,
                     created_at, ordering_key)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::int8[], $15::text[])
                 ON CONFLICT (app_id, event_id) WHERE event_id IS NOT NULL DO NOTHING
                 RETURNING id
             ), d AS (
                 INSERT INTO deliveries (msg_id, endpoint_id, state, attempts, next_attempt_at,
                     lease_until, updated_at, ordering_key)
                 SELECT t.m, t.e, t.s, 0, t.d, t.l, t.u, t.k
                 FROM UNNEST($9::text[], $10::text[], $11::int2[], $12::int8[], $13::int8[],
                     $14::int8[], $16::text[]) WITH ORDINALITY AS t(m, e, s, d, l, u, k, n)
                 WHERE t.m IN (SELECT id FROM m)
                 -- In the batch's order: a lane's deliveries go in the order of their ids.
                 ORDER BY t.n
                 RETURNING msg_id, endpoint_id, id
             )
             SELECT id, NULL, NULL FROM m UNION ALL SELECT msg_id, endpoint_id, id FROM d",
            &[
                &m.id,
                &m.app_id,
                &m.event_type,
                &m.event_id,
                &m.channels,
                &m.tags,
                &m.payload,
                &m.created_at,
                &d.msg_id,
                &d.endpoint_id,
                &d.state,
                &d.due,
                &d.lease,
                &d.updated_at,
                &m.ordering_key,
                &d.ordering_key,
            ],
        )
        .await
        .map_err(internal)?;
    let (mut inserted, mut deliveries) = (HashSet::new(), HashMap::new());
    for row in &rows {
        match row.get::<_, Option<i64>>(2) {
            None => {
                inserted.insert(row.get::<_, String>(0));
            }
            Some(id) => {
                deliveries.insert((row.get(0), row.get(1)), id);
            }
        }
    }
    Ok((inserted, deliveries))
}

/// Messages as one array per column, for `UNNEST`.
#[derive(Default)]
struct MessageColumns<'a> {
    id: Vec<&'a str>,
    app_id: Vec<&'a str>,
    event_type: Vec<&'a str>,
    event_id: Vec<Option<&'a str>>,
    channels: Vec<Option<String>>,
    tags: Vec<Option<String>>,
    payload: Vec<&'a str>,
    created_at: Vec<i64>,
    ordering_key: Vec<Option<&'a str>>,
}

impl<'a> MessageColumns<'a> {
    fn push(&mut self, msg: &'a Message) {
        self.id.push(&msg.id);
        self.app_id.push(&msg.app_id);
        self.event_type.push(&msg.event_type);
        self.event_id.push(msg.event_id.as_deref());
        self.channels.push(opt_json(&msg.channels));
        self.tags.push(opt_json(&msg.tags));
        self.payload.push(&msg.payload);
        self.created_at.push(msg.created_at);
        self.ordering_key.push(msg.ordering_key.as_deref());
    }
}

/// Deliveries as one array per column, for `UNNEST`.
#[derive(Default)]
struct DeliveryColumns<'a> {
    msg_id: Vec<&'a str>,
    endpoint_id: Vec<&'a str>,
    state: Vec<i16>,
    due: Vec<Option<i64>>,
    lease: Vec<Option<i64>>,
    updated_at: Vec<i64>,
    ordering_key: Vec<Option<&'a str>>,
}
