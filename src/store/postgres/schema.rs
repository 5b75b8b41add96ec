//! Migrations, applied at start under an advisory lock, so several nodes starting at once
//! apply each step exactly once. Append new steps; never edit a released one.

use tokio_postgres::Client;

/// Arbitrary, fixed: the advisory lock that serialises migrations across nodes.
const MIGRATION_LOCK: i64 = 0x686f_6f6b_6400_0001;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE applications (
    id          TEXT PRIMARY KEY,
    uid         TEXT UNIQUE,
    name        TEXT NOT NULL,
    rate_limit  BIGINT,
    metadata    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE event_types (
    name         TEXT PRIMARY KEY,
    description  TEXT NOT NULL,
    archived     BOOLEAN NOT NULL,
    deprecated   BOOLEAN NOT NULL,
    schemas      TEXT,
    feature_flag TEXT,
    group_name   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE endpoints (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    uid              TEXT,
    url              TEXT NOT NULL,
    description      TEXT NOT NULL,
    version          INTEGER NOT NULL,
    disabled         BOOLEAN NOT NULL,
    filter_types     TEXT,
    channels         TEXT,
    throttle_rate    BIGINT,
    metadata         TEXT NOT NULL,
    headers          TEXT NOT NULL,
    secret           TEXT NOT NULL,
    previous_secrets TEXT NOT NULL,
    failing_since    BIGINT,
    profile          TEXT NOT NULL,
    profile_config   TEXT NOT NULL,
    template         TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
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
    created_at  BIGINT NOT NULL
);
CREATE INDEX messages_app ON messages(app_id, id);
CREATE UNIQUE INDEX messages_event_id ON messages(app_id, event_id) WHERE event_id IS NOT NULL;

CREATE TABLE idempotency_keys (
    app_id      TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    msg_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

-- state is Svix's MessageStatus: 0 success, 1 pending, 2 failed, 3 sending (leased).
CREATE TABLE deliveries (
    id               BIGSERIAL PRIMARY KEY,
    msg_id           TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    state            SMALLINT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT,
    lease_until      BIGINT,
    manual           BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at       BIGINT NOT NULL,
    UNIQUE (msg_id, endpoint_id)
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 1;
CREATE INDEX deliveries_leased ON deliveries(lease_until) WHERE state = 3;
CREATE INDEX deliveries_endpoint ON deliveries(endpoint_id);
CREATE INDEX deliveries_failed ON deliveries(endpoint_id, updated_at) WHERE state = 2;

CREATE TABLE attempts (
    id                    TEXT PRIMARY KEY,
    msg_id                TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    endpoint_id           TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    response              TEXT NOT NULL,
    response_status_code  INTEGER NOT NULL,
    response_duration_ms  BIGINT NOT NULL,
    status                SMALLINT NOT NULL,
    trigger_type          SMALLINT NOT NULL,
    created_at            BIGINT NOT NULL
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
    read_only   BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);
"#,
    r#"
-- One row, written by the health check: a write that commits proves the store is writable.
CREATE TABLE heartbeat (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    at  BIGINT NOT NULL
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
    queued           BIGINT NOT NULL,
    cursor           BIGINT NOT NULL,
    cancel_requested BOOLEAN NOT NULL,
    error            TEXT,
    lease_until      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX background_tasks_running ON background_tasks(lease_until) WHERE status = 'running';
CREATE INDEX background_tasks_app ON background_tasks(app_id);
"#,
    r#"
-- The nodes sharing this database, each marked alive once a second by its dispatcher: every
-- endpoint's window and rate are shared among those alive.
CREATE TABLE nodes (
    id       TEXT PRIMARY KEY,
    seen_at  BIGINT NOT NULL
);
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
ALTER TABLE endpoints ADD COLUMN hold_key_on_failure BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX deliveries_lanes ON deliveries(endpoint_id, ordering_key, id)
    WHERE ordering_key IS NOT NULL AND state IN (1, 3, 5);
"#,
];

pub(super) async fn migrate(client: &mut Client) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS hookd_migrations (version INTEGER PRIMARY KEY)")
        .await?;
    let row = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM hookd_migrations", &[]).await?;
    let done: i32 = row.get(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO hookd_migrations (version) VALUES ($1)", &[&(i as i32 + 1)])
            .await?;
    }
    tx.commit().await
}
