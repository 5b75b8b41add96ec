//! Applications, event types and endpoints.

use std::collections::HashMap;

use deadpool_postgres::{GenericClient, Transaction};

use super::rows;
use super::util::{Cached, Param, all, conflict_or_internal, first, found, internal, opt_i64};
use super::util::{paged, refs};
use crate::model::ids::RESERVED_APP;
use crate::model::{Application, EventType};
use crate::store::StoreResult;
use crate::store::rows::{APP, EVENT_TYPE, contains_pattern, opt_json, to_json};
use crate::store::{APP_UID_TAKEN, EVENT_TYPE_TAKEN, ListQuery, Order, Page, StoreError};

pub(super) async fn insert_app(c: &impl GenericClient, app: &Application) -> StoreResult<()> {
    c.exec(
        "INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &refs(&app_params(app)),
    )
    .await
    .map_err(conflict_or_internal(APP_UID_TAKEN))?;
    Ok(())
}

/// The application's columns in the order both inserts use.
fn app_params(app: &Application) -> Vec<Param> {
    vec![
        Box::new(app.id.clone()),
        Box::new(app.uid.clone()),
        Box::new(app.name.clone()),
        Box::new(opt_i64(app.rate_limit)),
        Box::new(to_json(&app.metadata)),
        Box::new(app.created_at),
        Box::new(app.updated_at),
    ]
}

pub(super) async fn find_app(c: &impl GenericClient, id_or_uid: &str) -> StoreResult<Application> {
    let sql = format!(
        "SELECT {APP} FROM applications WHERE id = $1 OR uid = $1 ORDER BY id = $1 DESC LIMIT 1"
    );
    first(c, &sql, &[&id_or_uid], rows::app).await?.ok_or(StoreError::NotFound("application"))
}

/// The ids of the applications `keys` name (each an id or a uid; an id wins), in one
/// statement. A key that names none is missing from the map.
pub(super) async fn app_ids_of(
    c: &impl GenericClient,
    keys: &[&str],
) -> StoreResult<HashMap<String, String>> {
    let rows = c
        .rows("SELECT id, uid FROM applications WHERE id = ANY($1) OR uid = ANY($1)", &[&keys])
        .await
        .map_err(internal)?;
    let mut ids = HashMap::new();
    for row in &rows {
        let (id, uid): (String, Option<String>) = (row.get(0), row.get(1));
        if let Some(uid) = uid.filter(|uid| keys.contains(&uid.as_str())) {
            ids.entry(uid).or_insert_with(|| id.clone());
        }
        ids.insert(id.clone(), id); // an id wins over another application's uid
    }
    Ok(ids)
}

pub(super) async fn list_apps(
    c: &impl GenericClient,
    query: &ListQuery,
) -> StoreResult<Page<Application>> {
    let select = format!("SELECT {APP} FROM applications WHERE id <> '{RESERVED_APP}'");
    let order = Order { key: "id", descending: false };
    paged(c, &select, vec![], order, query, rows::app).await
}

pub(super) async fn search_apps(
    c: &impl GenericClient,
    text: &str,
    limit: usize,
) -> StoreResult<Vec<Application>> {
    let sql = format!(
        "SELECT {APP} FROM applications
         WHERE (name ILIKE $1 ESCAPE '\\' OR uid ILIKE $1 ESCAPE '\\' OR id = $2)
           AND id <> '{RESERVED_APP}'
         ORDER BY name, id LIMIT $3"
    );
    all(c, &sql, &[&contains_pattern(text), &text, &(limit as i64)], rows::app).await
}

pub(super) async fn update_app(c: &impl GenericClient, app: &Application) -> StoreResult<()> {
    let changed = c
        .exec(
            "UPDATE applications SET uid = $1, name = $2, rate_limit = $3, metadata = $4, updated_at = $5
             WHERE id = $6",
            &[&app.uid, &app.name, &opt_i64(app.rate_limit), &to_json(&app.metadata), &app.updated_at, &app.id],
        )
        .await
        .map_err(conflict_or_internal(APP_UID_TAKEN))?;
    found(changed, "application")
}

/// Updates first; when there is nothing to update, inserts, and a concurrent insert of the
/// same uid (which the insert waits for) turns this one into the update after all.
pub(super) async fn upsert_app(
    tx: &Transaction<'_>,
    key: &str,
    app: &Application,
) -> StoreResult<(Application, bool)> {
    if let Some(replaced) = replace_app(tx, key, app).await? {
        return Ok((replaced, false));
    }
    let inserted = tx
        .exec(
            "INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (uid) DO NOTHING",
            &refs(&app_params(app)),
        )
        .await
        .map_err(internal)?;
    if inserted > 0 {
        return Ok((app.clone(), true));
    }
    let uid = app.uid.as_deref().unwrap_or(key);
    let replaced = replace_app(tx, uid, app).await?;
    replaced.map(|r| (r, false)).ok_or(StoreError::NotFound("application"))
}

/// Writes `app`'s fields over the application found by `key`, if there is one.
async fn replace_app(
    tx: &Transaction<'_>,
    key: &str,
    app: &Application,
) -> StoreResult<Option<Application>> {
    let row = tx
        .opt_row(
            "UPDATE applications SET uid = $2, name = $3, rate_limit = $4, metadata = $5,
                 updated_at = $6
             WHERE id = (SELECT id FROM applications WHERE id = $1 OR uid = $1
                         ORDER BY id = $1 DESC LIMIT 1)
             RETURNING id, created_at",
            &[
                &key,
                &app.uid,
                &app.name,
                &opt_i64(app.rate_limit),
                &to_json(&app.metadata),
                &app.updated_at,
            ],
        )
        .await
        .map_err(conflict_or_internal(APP_UID_TAKEN))?;
    Ok(row.map(|r| Application { id: r.get("id"), created_at: r.get("created_at"), ..app.clone() }))
}

pub(super) async fn delete_app(c: &impl GenericClient, id: &str) -> StoreResult<()> {
    found(
        c.exec("DELETE FROM applications WHERE id = $1", &[&id]).await.map_err(internal)?,
        "application",
    )
}

pub(super) async fn insert_event_type(c: &impl GenericClient, et: &EventType) -> StoreResult<()> {
    c.exec(
        "INSERT INTO event_types (description, archived, deprecated, schemas, feature_flag,
         group_name, updated_at, name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &refs(&event_type_params(et)),
    )
    .await
    .map_err(conflict_or_internal(EVENT_TYPE_TAKEN))?;
    Ok(())
}

pub(super) async fn update_event_type(c: &impl GenericClient, et: &EventType) -> StoreResult<()> {
    let changed = c
        .exec(
            "UPDATE event_types SET description = $1, archived = $2, deprecated = $3, schemas = $4,
             feature_flag = $5, group_name = $6, updated_at = $7 WHERE name = $8",
            &refs(&event_type_params(et))[..8],
        )
        .await
        .map_err(internal)?;
    found(changed, "event type")
}

/// One statement: a concurrent insert of the same name turns this one into the update.
pub(super) async fn upsert_event_type(
    c: &impl GenericClient,
    et: &EventType,
) -> StoreResult<(EventType, bool)> {
    let row = c
        .row(
            "INSERT INTO event_types (description, archived, deprecated, schemas, feature_flag,
             group_name, updated_at, name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (name) DO UPDATE SET description = $1, archived = $2, deprecated = $3,
                 schemas = $4, feature_flag = $5, group_name = $6, updated_at = $7
             RETURNING created_at, xmax = 0 AS inserted",
            &refs(&event_type_params(et)),
        )
        .await
        .map_err(internal)?;
    let saved = EventType { created_at: row.get("created_at"), ..et.clone() };
    Ok((saved, row.get("inserted")))
}

/// The event type's columns in the order the statements above use (the update leaves out
/// the last, `created_at`).
fn event_type_params(et: &EventType) -> Vec<Param> {
    vec![
        Box::new(et.description.clone()),
        Box::new(et.archived),
        Box::new(et.deprecated),
        Box::new(opt_json(&et.schemas)),
        Box::new(et.feature_flag.clone()),
        Box::new(et.group_name.clone()),
        Box::new(et.updated_at),
        Box::new(et.name.clone()),
        Box::new(et.created_at),
    ]
}

pub(super) async fn find_event_type(c: &impl GenericClient, name: &str) -> StoreResult<EventType> {
    let sql = format!("SELECT {EVENT_TYPE} FROM event_types WHERE name = $1");
    first(c, &sql, &[&name], rows::event_type).await?.ok_or(StoreError::NotFound("event type"))
}

pub(super) async fn list_event_types(
    c: &impl GenericClient,
    query: &ListQuery,
    include_archived: bool,
) -> StoreResult<Page<EventType>> {
    let select = format!("SELECT {EVENT_TYPE} FROM event_types WHERE ($1 OR NOT archived)");
    let params: Vec<Param> = vec![Box::new(include_archived)];
    let order = Order { key: "name", descending: false };
    paged(c, &select, params, order, query, rows::event_type).await
}

pub(super) async fn expunge_event_type(c: &impl GenericClient, name: &str) -> StoreResult<()> {
    found(
        c.exec("DELETE FROM event_types WHERE name = $1", &[&name]).await.map_err(internal)?,
        "event type",
    )
}
