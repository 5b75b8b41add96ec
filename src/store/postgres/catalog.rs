//! Applications, event types and endpoints.

use deadpool_postgres::GenericClient;

use super::rows;
use tokio_postgres::types::ToSql;

use super::util::{Cached, Param, conflict_or_internal, found, internal, opt_i64, paged, refs};
use crate::model::{Application, Endpoint, EventType};
use crate::store::Order;
use crate::store::columns;
use crate::store::columns::{opt_json, to_json};
use crate::store::{ENDPOINT_CHANGED, ListQuery, Page, StoreError, StoreResult};

const APP_UID_TAKEN: &str = "an application with this uid already exists";
const ENDPOINT_UID_TAKEN: &str = "an endpoint with this uid already exists in this application";

pub(super) async fn insert_app(c: &impl GenericClient, app: &Application) -> StoreResult<()> {
    c.exec(
        "INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &app.id,
            &app.uid,
            &app.name,
            &opt_i64(app.rate_limit),
            &to_json(&app.metadata),
            &app.created_at,
            &app.updated_at,
        ],
    )
    .await
    .map_err(conflict_or_internal(APP_UID_TAKEN))?;
    Ok(())
}

pub(super) async fn find_app(c: &impl GenericClient, id_or_uid: &str) -> StoreResult<Application> {
    let sql = format!(
        "SELECT {} FROM applications WHERE id = $1 OR uid = $1 ORDER BY id = $1 DESC LIMIT 1",
        columns::APP
    );
    let row = c.opt_row(&sql, &[&id_or_uid]).await.map_err(internal)?;
    row.as_ref()
        .map(rows::app)
        .transpose()
        .map_err(internal)?
        .ok_or(StoreError::NotFound("application"))
}

pub(super) async fn list_apps(
    c: &impl GenericClient,
    query: &ListQuery,
) -> StoreResult<Page<Application>> {
    let select = format!("SELECT {} FROM applications WHERE TRUE", columns::APP);
    paged(c, &select, vec![], Order { key: "id", descending: false }, query, rows::app).await
}

pub(super) async fn search_apps(
    c: &impl GenericClient,
    text: &str,
    limit: usize,
) -> StoreResult<Vec<Application>> {
    let sql = format!(
        "SELECT {} FROM applications
         WHERE name ILIKE $1 ESCAPE '\\' OR uid ILIKE $1 ESCAPE '\\' OR id = $2
         ORDER BY name, id LIMIT $3",
        columns::APP
    );
    let pattern = crate::store::columns::contains_pattern(text);
    let found = c.rows(&sql, &[&pattern, &text, &(limit as i64)]).await.map_err(internal)?;
    found.iter().map(rows::app).collect::<Result<_, _>>().map_err(internal)
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

pub(super) async fn delete_app(c: &impl GenericClient, id: &str) -> StoreResult<()> {
    found(
        c.exec("DELETE FROM applications WHERE id = $1", &[&id]).await.map_err(internal)?,
        "application",
    )
}

/// Inserts the event type, or (`insert` false) updates the one with its name.
pub(super) async fn save_event_type(
    c: &impl GenericClient,
    et: &EventType,
    insert: bool,
) -> StoreResult<()> {
    let params: [&(dyn ToSql + Sync); 9] = [
        &et.description,
        &et.archived,
        &et.deprecated,
        &opt_json(&et.schemas),
        &et.feature_flag,
        &et.group_name,
        &et.updated_at,
        &et.name,
        &et.created_at,
    ];
    let result = if insert {
        c.exec(
            "INSERT INTO event_types (description, archived, deprecated, schemas, feature_flag,
             group_name, updated_at, name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &params,
        )
        .await
    } else {
        c.exec(
            "UPDATE event_types SET description = $1, archived = $2, deprecated = $3, schemas = $4,
             feature_flag = $5, group_name = $6, updated_at = $7 WHERE name = $8",
            &params[..8],
        )
        .await
    };
    found(
        result.map_err(conflict_or_internal("an event type with this name already exists"))?,
        "event type",
    )
}

pub(super) async fn find_event_type(c: &impl GenericClient, name: &str) -> StoreResult<EventType> {
    let sql = format!("SELECT {} FROM event_types WHERE name = $1", columns::EVENT_TYPE);
    let row = c.opt_row(&sql, &[&name]).await.map_err(internal)?;
    row.as_ref()
        .map(rows::event_type)
        .transpose()
        .map_err(internal)?
        .ok_or(StoreError::NotFound("event type"))
}

pub(super) async fn list_event_types(
    c: &impl GenericClient,
    query: &ListQuery,
    include_archived: bool,
) -> StoreResult<Page<EventType>> {
    let select =
        format!("SELECT {} FROM event_types WHERE ($1 OR NOT archived)", columns::EVENT_TYPE);
    let params: Vec<Param> = vec![Box::new(include_archived)];
    paged(c, &select, params, Order { key: "name", descending: false }, query, rows::event_type)
        .await
}

pub(super) async fn expunge_event_type(c: &impl GenericClient, name: &str) -> StoreResult<()> {
    found(
        c.exec("DELETE FROM event_types WHERE name = $1", &[&name]).await.map_err(internal)?,
        "event type",
    )
}

pub(super) async fn insert_endpoint(c: &impl GenericClient, ep: &Endpoint) -> StoreResult<()> {
    c.exec(
        "INSERT INTO endpoints (uid, url, description, version, disabled, filter_types, channels,
         throttle_rate, metadata, headers, secret, previous_secrets, failing_since, profile,
         profile_config, template, updated_at, id, app_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        &refs(&endpoint_params(ep)),
    )
    .await
    .map_err(conflict_or_internal(ENDPOINT_UID_TAKEN))?;
    Ok(())
}

pub(super) async fn update_endpoint(
    c: &impl GenericClient,
    ep: &Endpoint,
    read_at: i64,
) -> StoreResult<()> {
    let params = endpoint_params(ep);
    let mut refs = refs(&params)[..19].to_vec();
    refs.push(&read_at);
    let changed = c
        .exec(
            "UPDATE endpoints SET uid = $1, url = $2, description = $3, version = $4, disabled = $5,
             filter_types = $6, channels = $7, throttle_rate = $8, metadata = $9, headers = $10,
             secret = $11, previous_secrets = $12, failing_since = $13, profile = $14,
             profile_config = $15, template = $16, updated_at = $17
             WHERE id = $18 AND app_id = $19 AND updated_at = $20",
            &refs,
        )
        .await
        .map_err(conflict_or_internal(ENDPOINT_UID_TAKEN))?;
    if changed > 0 {
        return Ok(());
    }
    // Nothing matched: gone, or changed since it was read.
    find_endpoint(c, &ep.app_id, &ep.id)
        .await
        .and(Err(StoreError::Conflict(ENDPOINT_CHANGED.into())))
}

/// The endpoint's columns in the order both statements above use (the update leaves out the
/// last, `created_at`).
fn endpoint_params(ep: &Endpoint) -> Vec<Param> {
    vec![
        Box::new(ep.uid.clone()),
        Box::new(ep.url.clone()),
        Box::new(ep.description.clone()),
        Box::new(ep.version),
        Box::new(ep.disabled),
        Box::new(opt_json(&ep.filter_types)),
        Box::new(opt_json(&ep.channels)),
        Box::new(opt_i64(ep.throttle_rate)),
        Box::new(to_json(&ep.metadata)),
        Box::new(to_json(&ep.headers)),
        Box::new(ep.secret.clone()),
        Box::new(to_json(&ep.previous_secrets)),
        Box::new(ep.failing_since),
        Box::new(ep.profile.clone()),
        Box::new(to_json(&ep.profile_config)),
        Box::new(ep.template.clone()),
        Box::new(ep.updated_at),
        Box::new(ep.id.clone()),
        Box::new(ep.app_id.clone()),
        Box::new(ep.created_at),
    ]
}

pub(super) async fn find_endpoint(
    c: &impl GenericClient,
    app_id: &str,
    key: &str,
) -> StoreResult<Endpoint> {
    let sql = format!(
        "SELECT {} FROM endpoints WHERE app_id = $1 AND (id = $2 OR uid = $2)
         ORDER BY id = $2 DESC LIMIT 1",
        columns::ENDPOINT
    );
    let row = c.opt_row(&sql, &[&app_id, &key]).await.map_err(internal)?;
    row.as_ref()
        .map(rows::endpoint)
        .transpose()
        .map_err(internal)?
        .ok_or(StoreError::NotFound("endpoint"))
}

pub(super) async fn list_endpoints(
    c: &impl GenericClient,
    app_id: &str,
    query: &ListQuery,
) -> StoreResult<Page<Endpoint>> {
    let select = format!("SELECT {} FROM endpoints WHERE app_id = $1", columns::ENDPOINT);
    let params: Vec<Param> = vec![Box::new(app_id.to_owned())];
    paged(c, &select, params, Order { key: "id", descending: false }, query, rows::endpoint).await
}

pub(super) async fn delete_endpoint(
    c: &impl GenericClient,
    app_id: &str,
    id: &str,
) -> StoreResult<()> {
    let changed = c
        .exec("DELETE FROM endpoints WHERE app_id = $1 AND id = $2", &[&app_id, &id])
        .await
        .map_err(internal)?;
    found(changed, "endpoint")
}
