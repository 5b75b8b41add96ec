//! Signed-in browsers (see [`Session`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::pool::internal;
use crate::model::Session;
use crate::store::{StoreError, StoreResult};

pub(super) fn insert(conn: &Connection, session: &Session) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE expires_at <= ?")
        .and_then(|mut stmt| stmt.execute([session.created_at]))
        .map_err(internal)?;
    conn.prepare_cached(
        "INSERT INTO sessions (id, app_id, read_only, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            session.id,
            session.app_id,
            session.read_only,
            session.created_at,
            session.expires_at
        ])
    })
    .map_err(internal)?;
    Ok(())
}

pub(super) fn find(conn: &Connection, id: &str, now: i64) -> StoreResult<Session> {
    conn.prepare_cached(
        "SELECT id, app_id, read_only, created_at, expires_at FROM sessions
         WHERE id = ? AND expires_at > ?",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![id, now], |row| {
            Ok(Session {
                id: row.get(0)?,
                app_id: row.get(1)?,
                read_only: row.get(2)?,
                created_at: row.get(3)?,
                expires_at: row.get(4)?,
            })
        })
        .optional()
    })
    .map_err(internal)?
    .ok_or(StoreError::NotFound("session"))
}

pub(super) fn delete(conn: &Connection, id: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE id = ?")
        .and_then(|mut stmt| stmt.execute([id]))
        .map_err(internal)?;
    Ok(())
}

pub(super) fn expire_app(conn: &Connection, app_id: &str, at: i64) -> StoreResult<usize> {
    conn.prepare_cached("UPDATE sessions SET expires_at = ?2 WHERE app_id = ?1 AND expires_at > ?2")
        .and_then(|mut stmt| stmt.execute(params![app_id, at]))
        .map_err(internal)
}
