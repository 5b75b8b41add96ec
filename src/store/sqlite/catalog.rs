//! Applications and event types.

use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::rows;
use super::util::{all, by_id_or_key, conflict_or_internal, first, found, internal, paged};
use crate::model::ids::RESERVED_APP;
use crate::model::{Application, EventType};
use crate::store::StoreResult;
use crate::store::rows::{APP, EVENT_TYPE, contains_pattern, opt_json, to_json};
use crate::store::{APP_UID_TAKEN, EVENT_TYPE_TAKEN, ListQuery, Order, Page, StoreError};

pub(super) fn insert_app(conn: &Connection, app: &Application) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            app.id,
            app.uid,
            app.name,
            app.rate_limit,
            to_json(&app.metadata),
            app.created_at,
            app.updated_at
        ])
    })
    .map_err(conflict_or_internal(APP_UID_TAKEN))?;
    Ok(())
}

pub(super) fn find_app(conn: &Connection, id_or_uid: &str) -> StoreResult<Application> {
    let select = format!("SELECT {APP} FROM applications WHERE 1");
    by_id_or_key(conn, &select, "uid", &[id_or_uid], rows::app)?
        .ok_or(StoreError::NotFound("application"))
}

pub(super) fn list_apps(conn: &Connection, query: &ListQuery) -> StoreResult<Page<Application>> {
    let select = format!("SELECT {APP} FROM applications WHERE id <> '{RESERVED_APP}'");
    let order = Order { key: "id", descending: false };
    paged(conn, &select, vec![], order, query, rows::app)
}

pub(super) fn search_apps(
    conn: &Connection,
    text: &str,
    limit: usize,
) -> StoreResult<Vec<Application>> {
    let sql = format!(
        "SELECT {APP} FROM applications
         WHERE (name LIKE ?1 ESCAPE '\\' OR uid LIKE ?1 ESCAPE '\\' OR id = ?2)
           AND id <> '{RESERVED_APP}'
         ORDER BY name, id LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    all(&mut stmt, params![contains_pattern(text), text, limit as i64], rows::app)
}

pub(super) fn update_app(conn: &Connection, app: &Application) -> StoreResult<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE applications SET uid = ?, name = ?, rate_limit = ?, metadata = ?,
             updated_at = ? WHERE id = ?",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                app.uid,
                app.name,
                app.rate_limit,
                to_json(&app.metadata),
                app.updated_at,
                app.id
            ])
        })
        .map_err(conflict_or_internal(APP_UID_TAKEN))?;
    found(changed, "application")
}

/// The one writer makes find-then-write atomic: no other job runs in between.
pub(super) fn upsert_app(
    conn: &Connection,
    key: &str,
    app: &Application,
) -> StoreResult<(Application, bool)> {
    match find_app(conn, key) {
        Ok(current) => {
            let replaced =
                Application { id: current.id, created_at: current.created_at, ..app.clone() };
            update_app(conn, &replaced)?;
            Ok((replaced, false))
        }
        Err(StoreError::NotFound(_)) => insert_app(conn, app).map(|()| (app.clone(), true)),
        Err(e) => Err(e),
    }
}

pub(super) fn delete_app(conn: &Connection, id: &str) -> StoreResult<()> {
    let changed = conn.execute("DELETE FROM applications WHERE id = ?", [id]).map_err(internal)?;
    found(changed, "application")
}

pub(super) fn insert_event_type(conn: &Connection, et: &EventType) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO event_types (name, description, archived, deprecated, schemas,
         feature_flag, group_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            et.name,
            et.description,
            et.archived,
            et.deprecated,
            opt_json(&et.schemas),
            et.feature_flag,
            et.group_name,
            et.created_at,
            et.updated_at
        ])
    })
    .map_err(conflict_or_internal(EVENT_TYPE_TAKEN))?;
    Ok(())
}

pub(super) fn find_event_type(conn: &Connection, name: &str) -> StoreResult<EventType> {
    let sql = format!("SELECT {EVENT_TYPE} FROM event_types WHERE name = ?");
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    first(&mut stmt, [name], rows::event_type)?.ok_or(StoreError::NotFound("event type"))
}

pub(super) fn list_event_types(
    conn: &Connection,
    query: &ListQuery,
    include_archived: bool,
) -> StoreResult<Page<EventType>> {
    let select = format!("SELECT {EVENT_TYPE} FROM event_types WHERE (? OR archived = 0)");
    let order = Order { key: "name", descending: false };
    let params = vec![Value::Integer(include_archived.into())];
    paged(conn, &select, params, order, query, rows::event_type)
}

pub(super) fn update_event_type(conn: &Connection, et: &EventType) -> StoreResult<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE event_types SET description = ?, archived = ?, deprecated = ?, schemas = ?,
             feature_flag = ?, group_name = ?, updated_at = ? WHERE name = ?",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                et.description,
                et.archived,
                et.deprecated,
                opt_json(&et.schemas),
                et.feature_flag,
                et.group_name,
                et.updated_at,
                et.name
            ])
        })
        .map_err(internal)?;
    found(changed, "event type")
}

/// Atomic for the same reason as [`upsert_app`].
pub(super) fn upsert_event_type(
    conn: &Connection,
    et: &EventType,
) -> StoreResult<(EventType, bool)> {
    match find_event_type(conn, &et.name) {
        Ok(current) => {
            let replaced = EventType { created_at: current.created_at, ..et.clone() };
            update_event_type(conn, &replaced)?;
            Ok((replaced, false))
        }
        Err(StoreError::NotFound(_)) => insert_event_type(conn, et).map(|()| (et.clone(), true)),
        Err(e) => Err(e),
    }
}

pub(super) fn expunge_event_type(conn: &Connection, name: &str) -> StoreResult<()> {
    let changed =
        conn.execute("DELETE FROM event_types WHERE name = ?", [name]).map_err(internal)?;
    found(changed, "event type")
}
