//! Bulk replay and endpoint recovery, started as background tasks for `src/tasks/` to run.
//! The API and the console call these; a dry run only counts.

use crate::error::{DomainError, DomainResult};
use crate::ingest::Ingest;
use crate::model::task::{BackgroundTask, Selection, TaskKind, TaskStatus};
use crate::model::time::now_ms;
use crate::model::{Endpoint, ids};
use crate::store::{Store, StoreError};

/// What a replay request led to.
pub enum Replay {
    /// A dry run: how many deliveries it would queue again, now.
    Count(u64),
    Started(Box<BackgroundTask>),
}

/// Replays the deliveries of the application that `selection` picks; its `endpoint_id` may
/// be the endpoint's uid.
pub async fn replay(
    store: &dyn Store,
    ingest: &Ingest,
    app_id_or_uid: &str,
    mut selection: Selection,
    dry_run: bool,
) -> DomainResult<Replay> {
    let app = store.get_app(app_id_or_uid).await?;
    if let Some(key) = &selection.endpoint_id {
        // A field of the body, not the resource the path names: a 422 that names it.
        let endpoint = store.get_endpoint(&app.id, key).await.map_err(|e| match e {
            StoreError::NotFound(_) => {
                DomainError::invalid("endpointId", "names no endpoint of this application")
            }
            other => other.into(),
        })?;
        selection.endpoint_id = Some(endpoint.id);
    }
    if dry_run {
        return Ok(Replay::Count(store.count_replay(&app.id, &selection).await?));
    }
    let task = start(store, ingest, &app.id, TaskKind::Replay, selection).await?;
    Ok(Replay::Started(Box::new(task)))
}

/// Queues again the endpoint's failed deliveries of messages created in `[since, until)`
/// (Svix's recover).
pub async fn recover(
    store: &dyn Store,
    ingest: &Ingest,
    endpoint: &Endpoint,
    since: i64,
    until: Option<i64>,
) -> DomainResult<BackgroundTask> {
    let selection = Selection {
        endpoint_id: Some(endpoint.id.clone()),
        event_types: None,
        failed_only: true,
        since: Some(since),
        until,
    };
    start(store, ingest, &endpoint.app_id, TaskKind::Recover, selection).await
}

/// Asks a running task to stop at its next step.
pub async fn cancel(store: &dyn Store, id: &str) -> DomainResult<BackgroundTask> {
    Ok(store.cancel_task(id, now_ms()).await?)
}

async fn start(
    store: &dyn Store,
    ingest: &Ingest,
    app_id: &str,
    kind: TaskKind,
    selection: Selection,
) -> DomainResult<BackgroundTask> {
    let now = now_ms();
    let task = BackgroundTask {
        id: ids::new_id(ids::TASK),
        app_id: app_id.to_owned(),
        kind,
        status: TaskStatus::Running,
        selection,
        queued: 0,
        cursor: 0,
        cancel_requested: false,
        error: None,
        lease_until: None,
        created_at: now,
        updated_at: now,
    };
    store.insert_task(task.clone()).await?;
    tracing::info!(task = %task.id, kind = kind.as_str(), app = %app_id, "background task started");
    ingest.wake_tasks();
    Ok(task)
}
