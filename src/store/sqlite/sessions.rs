//! Signed-in browsers (see [`Session`]).

use rusqlite::{Connection, params};

use super::rows;
use super::util::{first, internal};
use crate::model::Session;
use crate::store::rows::SESSION;
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
    let sql = format!("SELECT {SESSION} FROM sessions WHERE id = ? AND expires_at > ?");
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    first(&mut stmt, params![id, now], rows::session)?.ok_or(StoreError::NotFound("session"))
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
