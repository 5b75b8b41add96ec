//! Endpoints.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::GenericClient;

use super::rows;
use super::util::{Cached, Param, all, conflict_or_internal, first, found, internal, opt_i64};
use super::util::{paged, refs};
use crate::model::Endpoint;
use crate::security::sealing::Keyring;
use crate::store::StoreResult;
use crate::store::rows::{ENDPOINT, Sealed, opt_json, to_json};
use crate::store::{ENDPOINT_CHANGED, ENDPOINT_UID_TAKEN, ListQuery, Order, Page, StoreError};

pub(super) async fn insert(
    c: &impl GenericClient,
    keys: &Keyring,
    ep: &Endpoint,
) -> StoreResult<()> {
    c.exec(
        "INSERT INTO endpoints (uid, url, description, version, disabled, filter_types, channels,
         throttle_rate, metadata, headers, secret, previous_secrets, failing_since, profile,
         profile_config, template, payload_filter, hold_key_on_failure, updated_at, id, app_id,
         created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19, $20, $21, $22)",
        &refs(&endpoint_params(ep, keys)),
    )
    .await
    .map_err(conflict_or_internal(ENDPOINT_UID_TAKEN))?;
    Ok(())
}

pub(super) async fn update(
    c: &impl GenericClient,
    keys: &Keyring,
    ep: &Endpoint,
    read_at: i64,
) -> StoreResult<()> {
    let params = endpoint_params(ep, keys);
    let mut refs = refs(&params)[..21].to_vec();
    refs.push(&read_at);
    let changed = c
        .exec(
            "UPDATE endpoints SET uid = $1, url = $2, description = $3, version = $4, disabled = $5,
             filter_types = $6, channels = $7, throttle_rate = $8, metadata = $9, headers = $10,
             secret = $11, previous_secrets = $12, failing_since = $13, profile = $14,
             profile_config = $15, template = $16, payload_filter = $17,
             hold_key_on_failure = $18, updated_at = $19
             WHERE id = $20 AND app_id = $21 AND updated_at = $22",
            &refs,
        )
        .await
        .map_err(conflict_or_internal(ENDPOINT_UID_TAKEN))?;
    if changed > 0 {
        return Ok(());
    }
    // Nothing matched: gone, or changed since it was read.
    find(c, keys, &ep.app_id, &ep.id).await.and(Err(StoreError::Conflict(ENDPOINT_CHANGED.into())))
}

/// The endpoint's columns in the order both statements above use (the update leaves out the
/// last, `created_at`).
fn endpoint_params(ep: &Endpoint, keys: &Keyring) -> Vec<Param> {
    let sealed = Sealed::of(ep, keys);
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
        Box::new(sealed.headers),
        Box::new(sealed.secret),
        Box::new(sealed.previous_secrets),
        Box::new(ep.failing_since),
        Box::new(ep.profile.clone()),
        Box::new(to_json(&ep.profile_config)),
        Box::new(ep.template.clone()),
        Box::new(opt_json(&ep.filter)),
        Box::new(ep.hold_key_on_failure),
        Box::new(ep.updated_at),
        Box::new(ep.id.clone()),
        Box::new(ep.app_id.clone()),
        Box::new(ep.created_at),
    ]
}

pub(super) async fn find(
    c: &impl GenericClient,
    keys: &Keyring,
    app_id: &str,
    key: &str,
) -> StoreResult<Endpoint> {
    let sql = format!(
        "SELECT {ENDPOINT} FROM endpoints WHERE app_id = $1 AND (id = $2 OR uid = $2)
         ORDER BY id = $2 DESC LIMIT 1"
    );
    first(c, &sql, &[&app_id, &key], rows::endpoint(keys))
        .await?
        .ok_or(StoreError::NotFound("endpoint"))
}

pub(super) async fn list(
    c: &impl GenericClient,
    keys: &Keyring,
    app_id: &str,
    query: &ListQuery,
) -> StoreResult<Page<Endpoint>> {
    let select = format!("SELECT {ENDPOINT} FROM endpoints WHERE app_id = $1");
    let params: Vec<Param> = vec![Box::new(app_id.to_owned())];
    let order = Order { key: "id", descending: false };
    paged(c, &select, params, order, query, rows::endpoint(keys)).await
}

/// The endpoints of an application that could receive messages, for fan-out.
pub(super) async fn enabled_of_app(
    c: &impl GenericClient,
    keys: &Keyring,
    app_id: &str,
) -> StoreResult<Vec<Arc<Endpoint>>> {
    let sql = format!("SELECT {ENDPOINT} FROM endpoints WHERE app_id = $1 AND NOT disabled");
    let enabled = all(c, &sql, &[&app_id], rows::endpoint(keys)).await?;
    Ok(enabled.into_iter().map(Arc::new).collect())
}

/// The enabled endpoints of the applications `apps` names (ids or uids), by application id,
/// in one statement.
pub(super) async fn enabled_of_apps(
    c: &impl GenericClient,
    keys: &Keyring,
    apps: &[&str],
) -> StoreResult<HashMap<String, Vec<Arc<Endpoint>>>> {
    let sql = format!(
        "SELECT {ENDPOINT} FROM endpoints WHERE NOT disabled AND app_id IN
         (SELECT id FROM applications WHERE id = ANY($1) OR uid = ANY($1))"
    );
    let mut of_app: HashMap<String, Vec<Arc<Endpoint>>> = HashMap::new();
    for endpoint in all(c, &sql, &[&apps], rows::endpoint(keys)).await? {
        of_app.entry(endpoint.app_id.clone()).or_default().push(Arc::new(endpoint));
    }
    Ok(of_app)
}

pub(super) async fn delete(c: &impl GenericClient, app_id: &str, id: &str) -> StoreResult<()> {
    let changed = c
        .exec("DELETE FROM endpoints WHERE app_id = $1 AND id = $2", &[&app_id, &id])
        .await
        .map_err(internal)?;
    found(changed, "endpoint")
}

/// Seals again with the current key what another key sealed; returns how many endpoints
/// changed.
pub(super) async fn reseal_all(c: &impl GenericClient, keys: &Keyring) -> StoreResult<usize> {
    let mut count = 0;
    for (id, old) in sealed_columns(c).await? {
        if let Some(new) = old.resealed(&id, keys)? {
            reseal(c, &id, &old, &new).await?;
            count += 1;
        }
    }
    Ok(count)
}

/// Every endpoint's sealed columns as they are stored, with its id.
async fn sealed_columns(c: &impl GenericClient) -> StoreResult<Vec<(String, Sealed)>> {
    let sql = "SELECT id, secret, previous_secrets, headers FROM endpoints ORDER BY id";
    all(c, sql, &[], |r| {
        let sealed = Sealed {
            secret: r.try_get(1).map_err(internal)?,
            previous_secrets: r.try_get(2).map_err(internal)?,
            headers: r.try_get(3).map_err(internal)?,
        };
        Ok((r.try_get(0).map_err(internal)?, sealed))
    })
    .await
}

/// Replaces an endpoint's sealed columns `old` with `new` (the same plain text, sealed with
/// the current key) unless the endpoint was written since they were read: a write meanwhile
/// sealed its own values with the current key already, and must not be undone.
async fn reseal(c: &impl GenericClient, id: &str, old: &Sealed, new: &Sealed) -> StoreResult<()> {
    c.exec(
        "UPDATE endpoints SET secret = $1, previous_secrets = $2, headers = $3
         WHERE id = $4 AND secret = $5 AND previous_secrets = $6 AND headers = $7",
        &[
            &new.secret,
            &new.previous_secrets,
            &new.headers,
            &id,
            &old.secret,
            &old.previous_secrets,
            &old.headers,
        ],
    )
    .await
    .map_err(internal)?;
    Ok(())
}
