//! Signed-in browsers (see [`Session`]).

use deadpool_postgres::GenericClient;

use super::rows;
use super::util::{Cached, first, internal};
use crate::model::Session;
use crate::store::rows::SESSION;
use crate::store::{StoreError, StoreResult};

pub(super) async fn insert(c: &impl GenericClient, session: &Session) -> StoreResult<()> {
    c.exec("DELETE FROM sessions WHERE expires_at <= $1", &[&session.created_at])
        .await
        .map_err(internal)?;
    c.exec(
        "INSERT INTO sessions (id, app_id, read_only, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &session.id,
            &session.app_id,
            &session.read_only,
            &session.created_at,
            &session.expires_at,
        ],
    )
    .await
    .map_err(internal)?;
    Ok(())
}

pub(super) async fn find(c: &impl GenericClient, id: &str, now: i64) -> StoreResult<Session> {
    let sql = format!("SELECT {SESSION} FROM sessions WHERE id = $1 AND expires_at > $2");
    first(c, &sql, &[&id, &now], rows::session).await?.ok_or(StoreError::NotFound("session"))
}

pub(super) async fn delete(c: &impl GenericClient, id: &str) -> StoreResult<()> {
    c.exec("DELETE FROM sessions WHERE id = $1", &[&id]).await.map_err(internal)?;
    Ok(())
}

pub(super) async fn expire_app(
    c: &impl GenericClient,
    app_id: &str,
    at: i64,
) -> StoreResult<usize> {
    let changed = c
        .exec(
            "UPDATE sessions SET expires_at = $2 WHERE app_id = $1 AND expires_at > $2",
            &[&app_id, &at],
        )
        .await
        .map_err(internal)?;
    Ok(changed as usize)
}
