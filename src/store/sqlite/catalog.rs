//! Applications and event types.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use super::paging::paged;
use super::pool::internal;
use super::rows::{self, APP_COLUMNS, EVENT_TYPE_COLUMNS, opt_json, to_json};
use crate::model::{Application, EventType};
use crate::store::Order;
use crate::store::{ListQuery, Page, StoreError, StoreResult};

/// Maps a unique-constraint failure to a 409 with `detail`, anything else to a 500.
pub(super) fn unique_violation(detail: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |err| match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(detail.into()),
        _ => internal(err),
    }
}

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
    .map_err(unique_violation("an application with this uid already exists"))?;
    Ok(())
}

pub(super) fn find_app(conn: &Connection, id_or_uid: &str) -> StoreResult<Application> {
    let sql = format!(
        "SELECT {APP_COLUMNS} FROM applications WHERE id = ?1 OR uid = ?1 ORDER BY id = ?1 DESC LIMIT 1"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| stmt.query_row([id_or_uid], rows::app).optional())
        .map_err(internal)?
        .ok_or(StoreError::NotFound("application"))
}

pub(super) fn list_apps(conn: &Connection, query: &ListQuery) -> StoreResult<Page<Application>> {
    let select = format!("SELECT {APP_COLUMNS} FROM applications WHERE 1");
    let order = Order { key: "id", descending: false };
    paged(conn, &select, vec![], order, query, rows::app)
}

pub(super) fn search_apps(
    conn: &Connection,
    text: &str,
    limit: usize,
) -> StoreResult<Vec<Application>> {
    let sql = format!(
        "SELECT {APP_COLUMNS} FROM applications
         WHERE name LIKE ?1 ESCAPE '\\' OR uid LIKE ?1 ESCAPE '\\' OR id = ?2
         ORDER BY name, id LIMIT ?3"
    );
    let pattern = crate::store::columns::contains_pattern(text);
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(params![pattern, text, limit as i64], rows::app)?.collect()
        })
        .map_err(internal)
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
        .map_err(unique_violation("an application with this uid already exists"))?;
    found(changed, "application")
}

pub(super) fn delete_app(conn: &Connection, id: &str) -> StoreResult<()> {
    let changed = conn.execute("DELETE FROM applications WHERE id = ?", [id]).map_err(internal)?;
    found(changed, "application")
}

pub(super) fn found(changed: usize, what: &'static str) -> StoreResult<()> {
    if changed == 0 { Err(StoreError::NotFound(what)) } else { Ok(()) }
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
    .map_err(unique_violation("an event type with this name already exists"))?;
    Ok(())
}

pub(super) fn find_event_type(conn: &Connection, name: &str) -> StoreResult<EventType> {
    let sql = format!("SELECT {EVENT_TYPE_COLUMNS} FROM event_types WHERE name = ?");
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| stmt.query_row([name], rows::event_type).optional())
        .map_err(internal)?
        .ok_or(StoreError::NotFound("event type"))
}

pub(super) fn list_event_types(
    conn: &Connection,
    query: &ListQuery,
    include_archived: bool,
) -> StoreResult<Page<EventType>> {
    let select = format!("SELECT {EVENT_TYPE_COLUMNS} FROM event_types WHERE (? OR archived = 0)");
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

pub(super) fn expunge_event_type(conn: &Connection, name: &str) -> StoreResult<()> {
    let changed =
        conn.execute("DELETE FROM event_types WHERE name = ?", [name]).map_err(internal)?;
    found(changed, "event type")
}
