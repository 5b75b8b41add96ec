//! Endpoints.

use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::rows;
use super::util::{all, by_id_or_key, conflict_or_internal, found, internal, paged};
use crate::model::Endpoint;
use crate::security::sealing::Keyring;
use crate::store::StoreResult;
use crate::store::rows::{ENDPOINT, Sealed, opt_json, to_json};
use crate::store::{ENDPOINT_CHANGED, ENDPOINT_UID_TAKEN, ListQuery, Order, Page, StoreError};

pub(super) fn insert(conn: &Connection, keys: &Keyring, ep: &Endpoint) -> StoreResult<()> {
    let sealed = Sealed::of(ep, keys);
    conn.prepare_cached(
        "INSERT INTO endpoints (id, app_id, uid, url, description, version, disabled,
         filter_types, channels, throttle_rate, metadata, headers, secret, previous_secrets,
         failing_since, profile, profile_config, template, payload_filter, hold_key_on_failure,
         created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            ep.id,
            ep.app_id,
            ep.uid,
            ep.url,
            ep.description,
            ep.version,
            ep.disabled,
            opt_json(&ep.filter_types),
            opt_json(&ep.channels),
            ep.throttle_rate,
            to_json(&ep.metadata),
            sealed.headers,
            sealed.secret,
            sealed.previous_secrets,
            ep.failing_since,
            ep.profile,
            to_json(&ep.profile_config),
            ep.template,
            opt_json(&ep.filter),
            ep.hold_key_on_failure,
            ep.created_at,
            ep.updated_at
        ])
    })
    .map_err(conflict_or_internal(ENDPOINT_UID_TAKEN))?;
    Ok(())
}

pub(super) fn find(
    conn: &Connection,
    keys: &Keyring,
    app_id: &str,
    id_or_uid: &str,
) -> StoreResult<Endpoint> {
    let select = format!("SELECT {ENDPOINT} FROM endpoints WHERE app_id = ?1");
    by_id_or_key(conn, &select, "uid", &[app_id, id_or_uid], rows::endpoint(keys))?
        .ok_or(StoreError::NotFound("endpoint"))
}

pub(super) fn list(
    conn: &Connection,
    keys: &Keyring,
    app_id: &str,
    query: &ListQuery,
) -> StoreResult<Page<Endpoint>> {
    let select = format!("SELECT {ENDPOINT} FROM endpoints WHERE app_id = ?");
    let order = Order { key: "id", descending: false };
    paged(conn, &select, vec![Value::Text(app_id.into())], order, query, rows::endpoint(keys))
}

/// The endpoints of an application that could receive messages, for fan-out.
pub(super) fn enabled_of_app(
    conn: &Connection,
    keys: &Keyring,
    app_id: &str,
) -> StoreResult<Vec<Arc<Endpoint>>> {
    let sql = format!("SELECT {ENDPOINT} FROM endpoints WHERE app_id = ? AND disabled = 0");
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let enabled = all(&mut stmt, [app_id], rows::endpoint(keys))?;
    Ok(enabled.into_iter().map(Arc::new).collect())
}

pub(super) fn update(
    conn: &Connection,
    keys: &Keyring,
    ep: &Endpoint,
    read_at: i64,
) -> StoreResult<()> {
    let sealed = Sealed::of(ep, keys);
    let changed = conn
        .prepare_cached(
            "UPDATE endpoints SET uid = ?, url = ?, description = ?, version = ?, disabled = ?,
             filter_types = ?, channels = ?, throttle_rate = ?, metadata = ?, headers = ?,
             secret = ?, previous_secrets = ?, failing_since = ?, profile = ?,
             profile_config = ?, template = ?, payload_filter = ?, hold_key_on_failure = ?,
             updated_at = ?
             WHERE id = ? AND app_id = ? AND updated_at = ?",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                ep.uid,
                ep.url,
                ep.description,
                ep.version,
                ep.disabled,
                opt_json(&ep.filter_types),
                opt_json(&ep.channels),
                ep.throttle_rate,
                to_json(&ep.metadata),
                sealed.headers,
                sealed.secret,
                sealed.previous_secrets,
                ep.failing_since,
                ep.profile,
                to_json(&ep.profile_config),
                ep.template,
                opt_json(&ep.filter),
                ep.hold_key_on_failure,
                ep.updated_at,
                ep.id,
                ep.app_id,
                read_at
            ])
        })
        .map_err(conflict_or_internal(ENDPOINT_UID_TAKEN))?;
    if changed > 0 {
        return Ok(());
    }
    // Nothing matched: gone, or changed since it was read.
    find(conn, keys, &ep.app_id, &ep.id).and(Err(StoreError::Conflict(ENDPOINT_CHANGED.into())))
}

pub(super) fn delete(conn: &Connection, app_id: &str, id: &str) -> StoreResult<()> {
    let changed = conn
        .execute("DELETE FROM endpoints WHERE app_id = ? AND id = ?", [app_id, id])
        .map_err(internal)?;
    found(changed, "endpoint")
}

/// Seals again with the current key what another key sealed; returns how many endpoints
/// changed.
pub(super) fn reseal_all(conn: &Connection, keys: &Keyring) -> StoreResult<usize> {
    let mut count = 0;
    for (id, old) in sealed_columns(conn)? {
        if let Some(new) = old.resealed(&id, keys)? {
            reseal(conn, &id, &old, &new)?;
            count += 1;
        }
    }
    Ok(count)
}

/// Every endpoint's sealed columns as they are stored, with its id.
fn sealed_columns(conn: &Connection) -> StoreResult<Vec<(String, Sealed)>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, secret, previous_secrets, headers FROM endpoints ORDER BY id")
        .map_err(internal)?;
    all(&mut stmt, [], |r| {
        let sealed = Sealed {
            secret: r.get(1).map_err(internal)?,
            previous_secrets: r.get(2).map_err(internal)?,
            headers: r.get(3).map_err(internal)?,
        };
        Ok((r.get(0).map_err(internal)?, sealed))
    })
}

/// Replaces an endpoint's sealed columns `old` with `new` (the same plain text, sealed with
/// the current key) unless the endpoint was written since they were read: a write meanwhile
/// sealed its own values with the current key already, and must not be undone.
fn reseal(conn: &Connection, id: &str, old: &Sealed, new: &Sealed) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE endpoints SET secret = ?, previous_secrets = ?, headers = ?
         WHERE id = ? AND secret = ? AND previous_secrets = ? AND headers = ?",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            new.secret,
            new.previous_secrets,
            new.headers,
            id,
            old.secret,
            old.previous_secrets,
            old.headers
        ])
    })
    .map_err(internal)?;
    Ok(())
}
