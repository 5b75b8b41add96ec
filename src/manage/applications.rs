//! Applications: what a valid one is.

use std::sync::Arc;

use serde::Deserialize;

use crate::error::DomainResult;
use crate::model::time::now_ms;
use crate::model::{Application, Metadata, ids};
use crate::store::{Store, StoreError};
use crate::validate;

/// An application as a user describes it (Svix's `ApplicationIn`).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ApplicationIn)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub name: String,
    pub uid: Option<String>,
    #[serde(alias = "rateLimit")]
    pub throttle_rate: Option<u32>,
    #[serde(default)]
    pub metadata: Metadata,
}

impl ApplicationSpec {
    /// The spec that describes `app` as it is, for a partial update to start from.
    pub fn of(app: &Application) -> Self {
        Self {
            name: app.name.clone(),
            uid: app.uid.clone(),
            throttle_rate: app.rate_limit,
            metadata: app.metadata.clone(),
        }
    }

    /// Validates the spec and applies it over `app` (a [`blank`] one, or the current one).
    pub fn apply(self, mut app: Application) -> DomainResult<Application> {
        validate::text("name", &self.name, 1, 256)?;
        if let Some(uid) = &self.uid {
            validate::key("uid", uid)?;
        }
        validate::rate("throttleRate", self.throttle_rate)?;
        validate::metadata(&self.metadata)?;
        app.name = self.name;
        app.uid = self.uid;
        app.rate_limit = self.throttle_rate;
        app.metadata = self.metadata;
        app.updated_at = now_ms();
        Ok(app)
    }
}

/// Creates an application from `spec`.
pub async fn create(store: &dyn Store, spec: ApplicationSpec) -> DomainResult<Application> {
    Ok(store.insert_app(spec.apply(blank())?).await?)
}

/// Replaces `current` by `spec`.
pub async fn update(
    store: &dyn Store,
    current: Application,
    spec: ApplicationSpec,
) -> DomainResult<Application> {
    Ok(store.update_app(spec.apply(current)?).await?)
}

/// Replaces the application found by `key` (an id or uid) by `spec`, or creates it with
/// `key` as its uid if the spec names none; true if it created one.
pub async fn upsert(
    store: &dyn Store,
    key: &str,
    mut spec: ApplicationSpec,
) -> DomainResult<(Application, bool)> {
    spec.uid.get_or_insert_with(|| key.to_owned());
    Ok(store.upsert_app(key, spec.apply(blank())?).await?)
}

/// A new application with a fresh id, to apply a spec over.
pub fn blank() -> Application {
    let now = now_ms();
    Application {
        id: ids::new_id(ids::APP),
        uid: None,
        name: String::new(),
        rate_limit: None,
        metadata: Metadata::new(),
        created_at: now,
        updated_at: now,
    }
}

/// Messages deleted per transaction when an application is deleted.
const DELETE_BATCH: usize = 1_000;

/// Deletes the application with everything it owns. Its messages go first, a thousand per
/// transaction, so other writes go on in between: one statement for all of them held every
/// write up for 0.3 s per 20 k messages (the hardening issue's defect 10).
///
/// The work runs on a task of its own and the caller waits for it: a client that gives up
/// waiting (a large application takes a while) does not stop the deletion half-way. A
/// failure part-way (or a crash) leaves the application, with fewer messages; deleting it
/// again goes on. Why not a tombstone and a background task: decision 0016.
pub async fn delete(store: Arc<dyn Store>, app_id: &str) -> DomainResult<()> {
    let app_id = app_id.to_owned();
    let work = tokio::spawn(async move {
        while store.delete_app_messages(&app_id, DELETE_BATCH).await? > 0 {}
        store.delete_app(&app_id).await
    });
    let done = work.await.map_err(|e| StoreError::Internal(format!("deleting stopped: {e}")))?;
    Ok(done?)
}
