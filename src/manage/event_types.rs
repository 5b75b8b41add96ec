//! The event-type catalogue: what a valid entry is, archiving, and importing a shipped
//! catalogue.

use serde::Deserialize;

use crate::error::{DomainError, DomainResult};
use crate::model::EventType;
use crate::model::time::now_ms;
use crate::profile::catalogues;
use crate::store::Store;
use crate::validate;

/// An event type as a user describes it (Svix's `EventTypeIn`).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = EventTypeIn)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventTypeSpec {
    /// Absent in PUT bodies, where the path names the type.
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub deprecated: bool,
    pub schemas: Option<serde_json::Value>,
    pub feature_flag: Option<String>,
    pub group_name: Option<String>,
}

impl EventTypeSpec {
    /// A plain entry: a name's description in a group.
    pub fn described(description: String, group_name: Option<String>) -> Self {
        Self {
            name: None,
            description,
            archived: false,
            deprecated: false,
            schemas: None,
            feature_flag: None,
            group_name,
        }
    }

    /// The spec that describes `et` as it is, for a partial update to start from.
    pub fn of(et: &EventType) -> Self {
        Self {
            name: None,
            description: et.description.clone(),
            archived: et.archived,
            deprecated: et.deprecated,
            schemas: et.schemas.clone(),
            feature_flag: et.feature_flag.clone(),
            group_name: et.group_name.clone(),
        }
    }

    /// Validates the spec into the event type `name`, first created at `created_at`.
    pub fn into_event_type(self, name: String, created_at: i64) -> DomainResult<EventType> {
        validate::key("name", &name)?;
        validate::text("description", &self.description, 0, 4096)?;
        if self.schemas.as_ref().is_some_and(|s| !s.is_object()) {
            return Err(DomainError::invalid("schemas", "schemas must be an object"));
        }
        Ok(EventType {
            name,
            description: self.description,
            archived: self.archived,
            deprecated: self.deprecated,
            schemas: self.schemas,
            feature_flag: self.feature_flag,
            group_name: self.group_name,
            created_at,
            updated_at: now_ms(),
        })
    }
}

/// Creates the event type `name` from `spec`.
pub async fn create(
    store: &dyn Store,
    name: String,
    spec: EventTypeSpec,
) -> DomainResult<EventType> {
    Ok(store.insert_event_type(spec.into_event_type(name, now_ms())?).await?)
}

/// Replaces the event type `name` by `spec`, or creates it; true if it created one.
pub async fn upsert(
    store: &dyn Store,
    name: String,
    spec: EventTypeSpec,
) -> DomainResult<(EventType, bool)> {
    Ok(store.upsert_event_type(spec.into_event_type(name, now_ms())?).await?)
}

/// Archives the type (it stays usable and can be restored) or restores it.
pub async fn set_archived(store: &dyn Store, name: &str, archived: bool) -> DomainResult<()> {
    let mut current = store.get_event_type(name).await?;
    current.archived = archived;
    current.updated_at = now_ms();
    store.update_event_type(current).await?;
    Ok(())
}

/// Adds a shipped catalogue's event types (misskey, mastodon, strapi); types that exist
/// already are left as they are. Returns the catalogue's types.
pub async fn import(store: &dyn Store, catalogue: &str) -> DomainResult<Vec<EventType>> {
    let entries = catalogues::by_name(catalogue).ok_or_else(|| {
        DomainError::not_found(format!(
            "catalogue {catalogue:?} (there are: {})",
            catalogues::NAMES.join(", ")
        ))
    })?;
    let mut saved = Vec::with_capacity(entries.len());
    for (name, description) in entries {
        let spec = EventTypeSpec::described((*description).into(), Some(catalogue.to_owned()));
        let entry = match create(store, (*name).into(), spec).await {
            Err(DomainError::Conflict(_)) => store.get_event_type(name).await?,
            other => other?,
        };
        saved.push(entry);
    }
    Ok(saved)
}
