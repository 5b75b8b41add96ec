//! Background tasks: work that outlives the request that asked for it, in Svix's shape
//! (`{id, status, task, data}`). A bulk replay or an endpoint's recovery may queue millions of
//! deliveries, so it runs in steps, a few at a time (paced), and remembers where it is: any
//! node picks it up again after a restart (see `src/tasks/`).

use serde::{Deserialize, Serialize};

/// What a task does, named as Svix's `BackgroundTaskType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// `POST /api/v1/app/{app_id}/replay`.
    Replay,
    /// `POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/recover`.
    Recover,
}

impl TaskKind {
    pub const ALL: [TaskKind; 2] = [TaskKind::Replay, TaskKind::Recover];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Replay => "endpoint.bulk-replay",
            TaskKind::Recover => "endpoint.recover",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Svix's `BackgroundTaskStatus`. A cancelled task is `Failed`, its error `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Running,
    Finished,
    Failed,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 3] =
        [TaskStatus::Running, TaskStatus::Finished, TaskStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Running => "running",
            TaskStatus::Finished => "finished",
            TaskStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Which deliveries of an application a replay queues again. Those pending or in flight are
/// queued already and never chosen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    pub endpoint_id: Option<String>,
    /// Only messages of these event types.
    pub event_types: Option<Vec<String>>,
    /// Only deliveries that failed for good; else those that succeeded too.
    pub failed_only: bool,
    /// Only messages created at or after this time (ms).
    pub since: Option<i64>,
    /// Only messages created before this time (ms).
    pub until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundTask {
    pub id: String,
    pub app_id: String,
    pub kind: TaskKind,
    pub status: TaskStatus,
    pub selection: Selection,
    /// Deliveries queued again so far.
    pub queued: u64,
    /// The store's key of the last delivery looked at: the next step starts after it.
    pub cursor: i64,
    /// Asked to stop; the runner stops at its next step.
    pub cancel_requested: bool,
    /// Why it failed (`cancelled` when it was).
    pub error: Option<String>,
    /// The node running it holds it until then; past it, another node may take it over.
    pub lease_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The error of a task stopped on request.
pub const CANCELLED: &str = "cancelled";

/// What the background-task list may be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub kind: Option<TaskKind>,
}
