//! Migrations, applied in order at start. `PRAGMA user_version` records how many have run.
//! Append new steps; never edit a released one.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE applications (
    id          TEXT PRIMARY KEY,
    uid         TEXT UNIQUE,
    name        TEXT NOT NULL,
    rate_limit  INTEGER,
    metadata    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE event_types (
    name         TEXT PRIMARY KEY,
    description  TEXT NOT NULL,
    archived     INTEGER NOT NULL,
    deprecated   INTEGER NOT NULL,
    schemas      TEXT,
    feature_flag TEXT,
    group_name   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE endpoints (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    uid              TEXT,
    url              TEXT NOT NULL,
    description      TEXT NOT NULL,
    version          INTEGER NOT NULL,
    disabled         INTEGER NOT NULL,
    filter_types     TEXT,
    channels         TEXT,
    throttle_rate    INTEGER,
    metadata         TEXT NOT NULL,
    headers          TEXT NOT NULL,
    secret           TEXT NOT NULL,
    previous_secrets TEXT NOT NULL,
    failing_since    INTEGER,
    profile          TEXT NOT NULL,
    profile_config   TEXT NOT NULL,
    template         TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (app_id, uid)
);
CREATE INDEX endpoints_app ON endpoints(app_id, id);

CREATE TABLE messages (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    event_type  TEXT NOT NULL,
    event_id    TEXT,
    channels    TEXT,
    tags        TEXT,
    payload     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX messages_app ON messages(app_id, id);
CREATE UNIQUE INDEX messages_event_id ON messages(app_id, event_id) WHERE event_id IS NOT NULL;

CREATE TABLE idempotency_keys (
    app_id      TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    msg_id      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

-- One row per (message, endpoint). state is Svix's MessageStatus:
-- 0 success, 1 pending, 2 failed, 3 sending (leased by a dispatcher until lease_until).
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    msg_id           TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    state            INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    lease_until      INTEGER,
    manual           INTEGER NOT NULL DEFAULT 0,
    updated_at       INTEGER NOT NULL,
    UNIQUE (msg_id, endpoint_id)
);
-- Partial indexes: finding due work walks only what is pending or leased, so a claim costs
-- the same with a million finished rows as with none.
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 1;
CREATE INDEX deliveries_leased ON deliveries(lease_until) WHERE state = 3;
-- For the cascade when an endpoint is deleted (endpoint_id never changes, so this index is
-- written once per row), and for recovering an endpoint's failed deliveries.
CREATE INDEX deliveries_endpoint ON deliveries(endpoint_id);
CREATE INDEX deliveries_failed ON deliveries(endpoint_id, updated_at) WHERE state = 2;

CREATE TABLE attempts (
    id                    TEXT PRIMARY KEY,
    msg_id                TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    endpoint_id           TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    response              TEXT NOT NULL,
    response_status_code  INTEGER NOT NULL,
    response_duration_ms  INTEGER NOT NULL,
    status                INTEGER NOT NULL,
    trigger_type          INTEGER NOT NULL,
    created_at            INTEGER NOT NULL
);
CREATE INDEX attempts_msg ON attempts(msg_id, id);
CREATE INDEX attempts_endpoint ON attempts(endpoint_id, id);
"#,
    r#"
-- Signed-in browsers (the console and application portals). id is the SHA-256 of the
-- cookie's secret; app_id NULL is the operator.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    app_id      TEXT REFERENCES applications(id) ON DELETE CASCADE,
    read_only   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);
"#,
    r#"
-- One row, written by the health check: a write that commits proves the store is writable.
CREATE TABLE heartbeat (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    at  INTEGER NOT NULL
);
"#,
    r#"
-- An endpoint's payload filter (JSON; NULL: every message its event types and channels let in).
ALTER TABLE endpoints ADD COLUMN payload_filter TEXT;
"#,
    r#"
-- Background tasks (bulk replays, recoveries): run in steps by any node, from `cursor` on.
CREATE TABLE background_tasks (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    selection        TEXT NOT NULL,
    queued           INTEGER NOT NULL,
    cursor           INTEGER NOT NULL,
    cancel_requested INTEGER NOT NULL,
    error            TEXT,
    lease_until      INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX background_tasks_running ON background_tasks(lease_until) WHERE status = 'running';
CREATE INDEX background_tasks_app ON background_tasks(app_id);
"#,
    r#"
-- The health check's write carries this much filler, so it needs the room a message needs:
-- on a full disk a write of one small row may still fit where a message does not.
ALTER TABLE heartbeat ADD COLUMN room BLOB;
"#,
    r#"
-- Due work by time with its endpoint: a claim passes over the endpoints its node is busy
-- with by reading the index alone, not one row per delivery of theirs (fair sharing).
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries(next_attempt_at, endpoint_id) WHERE state = 1;
"#,
    r#"
-- Ordering keys: a message's key, copied to its deliveries. The deliveries of one endpoint
-- and key form a lane, sent one at a time: a delivery waiting for the one before it is
-- pending with no due time (so no claim sees it), and one that failed for good while its
-- endpoint holds keys on failure has state 5 (it reads as failed). The index finds a
-- lane's unfinished members.
ALTER TABLE messages ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE endpoints ADD COLUMN hold_key_on_failure INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_lanes ON deliveries(endpoint_id, ordering_key, id)
    WHERE ordering_key IS NOT NULL AND state IN (1, 3, 5);
"#,
];

pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
