//! Fresh stores for the stories.

use std::sync::{Arc, OnceLock};

use hookd::security::sealing::Keyring;
use hookd::store::Store;

/// One key for every store of the run, so a store reopened on the same data opens it.
pub fn keys() -> Arc<Keyring> {
    static KEY: OnceLock<String> = OnceLock::new();
    let key = KEY.get_or_init(Keyring::generate_key);
    Arc::new(Keyring::parse(key).expect("a generated key parses"))
}

pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn sqlite() -> (Arc<dyn Store>, TempDir) {
    let dir = TempDir(std::env::temp_dir().join(hookd::model::ids::new_id("hookd-store-")));
    let store = hookd::store::sqlite::SqliteStore::open(&dir.0.join("hookd.db"), keys())
        .expect("open sqlite");
    (Arc::new(store), dir)
}

/// A store in a schema of its own, dropped afterwards.
pub struct PgDatabase {
    pub store: Arc<dyn Store>,
    _schema: crate::common::PgSchema,
}

/// `None` under the skip policy when `DATABASE_URL` is unset (the suite then runs on SQLite
/// only).
pub async fn postgres() -> Option<PgDatabase> {
    let schema = crate::common::pg_schema().await?;
    let store =
        hookd::store::postgres::PgStore::open(&schema.url, keys()).await.expect("open postgres");
    Some(PgDatabase { store: Arc::new(store), _schema: schema })
}

pub mod fixtures {
    use hookd::model::time::now_ms;
    use hookd::model::{Application, Endpoint, EventType, Message, Metadata, ids};
    use hookd::store::{ListQuery, NewMessage};

    pub fn app(uid: &str) -> Application {
        let now = now_ms();
        Application {
            id: ids::new_id(ids::APP),
            uid: Some(uid.into()),
            name: uid.into(),
            rate_limit: None,
            metadata: Metadata::new(),
            created_at: now,
            updated_at: now,
        }
    }

    pub fn event_type(name: &str) -> EventType {
        EventType {
            name: name.into(),
            description: format!("{name} happened"),
            archived: false,
            deprecated: false,
            schemas: None,
            feature_flag: None,
            group_name: None,
            created_at: now_ms(),
            updated_at: now_ms(),
        }
    }

    pub fn endpoint(app_id: &str, uid: &str) -> Endpoint {
        Endpoint {
            uid: Some(uid.into()),
            url: format!("https://example.com/{uid}"),
            secret: hookd::signing::generate_secret(),
            ..Endpoint::blank(ids::new_id(ids::ENDPOINT), app_id.into(), now_ms())
        }
    }

    pub fn message(app_id: &str, event_type: &str) -> NewMessage {
        NewMessage {
            message: Message {
                id: ids::new_id(ids::MESSAGE),
                app_id: app_id.into(),
                event_type: event_type.into(),
                event_id: None,
                channels: None,
                tags: None,
                payload: r#"{"n": 1}"#.into(),
                ordering_key: None,
                created_at: now_ms(),
            },
            idempotency_key: None,
            deliver_at: None,
            lease: None,
            busy: std::sync::Arc::from([]),
            only_endpoint: None,
        }
    }

    pub fn first(limit: u32) -> ListQuery {
        ListQuery { limit, cursor: Default::default() }
    }
}
