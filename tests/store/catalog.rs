use std::sync::Arc;

use hookd::model::{Application, Endpoint};
use hookd::store::{Accepted, Cursor, ListQuery, Store, StoreError};

use crate::backends::fixtures::{app, endpoint, event_type, first, message};

pub async fn applications(store: Arc<dyn Store>) {
    let a = store.insert_app(app("shop")).await.unwrap();
    assert_eq!(store.get_app("shop").await.unwrap(), a);
    assert_eq!(store.get_app(&a.id).await.unwrap(), a);
    assert!(matches!(store.insert_app(app("shop")).await, Err(StoreError::Conflict(_))));
    for i in 0..4 {
        store.insert_app(app(&format!("app-{i}"))).await.unwrap();
    }
    let page = store.list_apps(first(3)).await.unwrap();
    assert_eq!((page.items.len(), page.has_more), (3, true));
    let next = ListQuery { limit: 3, cursor: Cursor::After(page.items[2].id.clone()) };
    let rest = store.list_apps(next).await.unwrap();
    assert_eq!((rest.items.len(), rest.has_more), (2, false));
    let back = ListQuery { limit: 3, cursor: Cursor::Before(rest.items[0].id.clone()) };
    assert_eq!(store.list_apps(back).await.unwrap().items, page.items);

    let mut renamed = a.clone();
    renamed.name = "Shop".into();
    store.update_app(renamed.clone()).await.unwrap();
    assert_eq!(store.get_app("shop").await.unwrap().name, "Shop");
    store.delete_app(&a.id).await.unwrap();
    assert_eq!(store.get_app("shop").await, Err(StoreError::NotFound("application")));
    assert_eq!(store.delete_app(&a.id).await, Err(StoreError::NotFound("application")));
}

pub async fn event_types(store: Arc<dyn Store>) {
    store.insert_event_type(event_type("user.created")).await.unwrap();
    store.insert_event_type(event_type("user.deleted")).await.unwrap();
    assert!(matches!(
        store.insert_event_type(event_type("user.created")).await,
        Err(StoreError::Conflict(_))
    ));
    let mut archived = store.get_event_type("user.deleted").await.unwrap();
    archived.archived = true;
    store.update_event_type(archived).await.unwrap();
    assert_eq!(store.list_event_types(first(10), false).await.unwrap().items.len(), 1);
    assert_eq!(store.list_event_types(first(10), true).await.unwrap().items.len(), 2);
    store.expunge_event_type("user.deleted").await.unwrap();
    assert_eq!(store.get_event_type("user.deleted").await, Err(StoreError::NotFound("event type")));
}

pub async fn endpoints(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    let mut ep = endpoint(&a.id, "main");
    ep.filter_types = Some(vec!["x".into()]);
    ep.headers.insert("X-Token".into(), "t".into());
    ep.profile_config.insert("server".into(), "https://mk.example".into());
    let ep = store.insert_endpoint(ep).await.unwrap();
    assert_eq!(store.get_endpoint(&a.id, "main").await.unwrap(), ep);
    assert_eq!(store.get_endpoint(&a.id, &ep.id).await.unwrap(), ep);
    assert!(matches!(
        store.insert_endpoint(endpoint(&a.id, "main")).await,
        Err(StoreError::Conflict(_))
    ));
    let other = store.insert_app(app("b")).await.unwrap();
    store.insert_endpoint(endpoint(&other.id, "main")).await.unwrap(); // uids are per application

    let mut changed = ep.clone();
    changed.disabled = true;
    changed.template = Some("{{event}}".into());
    changed.filter = Some(serde_json::json!({"payload.total": {"$gte": 100}}));
    let changed = store.update_endpoint(changed, ep.updated_at).await.unwrap();
    assert_eq!(store.get_endpoint(&a.id, "main").await.unwrap(), changed);
    assert_eq!(store.list_endpoints(&a.id, first(10)).await.unwrap().items, vec![changed.clone()]);
    let mut stale = ep.clone();
    stale.description = "written from an old read".into();
    let refused = store.update_endpoint(stale, ep.updated_at).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "a stale edit is refused: {refused:?}"
    );
    store.delete_endpoint(&a.id, &ep.id).await.unwrap();
    assert_eq!(store.get_endpoint(&a.id, "main").await, Err(StoreError::NotFound("endpoint")));
}

/// PUT's contract: one call that replaces or inserts, atomic even when two first writes of
/// the same uid race (both succeed; one inserted, the other replaced).
pub async fn upserts(store: Arc<dyn Store>) {
    let (first_put, created) = store.upsert_app("shop", app("shop")).await.unwrap();
    assert!(created);
    let mut renamed = app("shop");
    renamed.name = "Shop".into();
    let (second, created) = store.upsert_app("shop", renamed.clone()).await.unwrap();
    assert!(!created);
    assert_eq!((second.id.as_str(), second.name.as_str()), (first_put.id.as_str(), "Shop"));
    assert_eq!(second.created_at, first_put.created_at);
    assert_eq!(store.get_app(&first_put.id).await.unwrap(), second);
    let (by_id, created) = store.upsert_app(&first_put.id, renamed).await.unwrap();
    assert!(!created && by_id.id == first_put.id);

    let racing = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.upsert_app("raced", app("raced")).await })
    });
    let results: Vec<_> = futures_join(racing).await;
    let created: Vec<bool> =
        results.into_iter().map(|r| r.expect("every PUT succeeds").1).collect();
    assert_eq!(created.iter().filter(|c| **c).count(), 1, "exactly one inserted: {created:?}");

    let (et, created) = store.upsert_event_type(event_type("user.created")).await.unwrap();
    assert!(created);
    let mut described = event_type("user.created");
    described.description = "A user signed up".into();
    let (again, created) = store.upsert_event_type(described).await.unwrap();
    assert!(!created);
    assert_eq!((again.created_at, again.description.as_str()), (et.created_at, "A user signed up"));
    assert_eq!(store.get_event_type("user.created").await.unwrap(), again);
}

async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.expect("task"));
    }
    out
}

/// The endpoints (by uid) a message for application `key` is delivered to, as the claims
/// handed over at acceptance carry them.
async fn targets_of(store: &dyn Store, key: &str) -> Result<Vec<String>, StoreError> {
    let mut new = message(key, "x");
    new.lease = Some(hookd::model::time::now_ms() + 60_000);
    match store.accept_message(new).await? {
        Accepted::Created { leased, .. } => {
            let mut uids: Vec<String> =
                leased.iter().filter_map(|c| c.endpoint.uid.clone()).collect();
            uids.sort();
            Ok(uids)
        }
        Accepted::Replayed(m) => panic!("unexpected replay of {}", m.id),
    }
}

/// Acceptance reads applications and endpoints from a copy kept in memory (both backends):
/// every change to them reaches the very next message accepted on the same store.
pub async fn catalog_changes_reach_the_next_message(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    assert_eq!(targets_of(&*store, "a").await.unwrap(), Vec::<String>::new());
    let one = store.insert_endpoint(endpoint(&a.id, "one")).await.unwrap();
    assert_eq!(targets_of(&*store, "a").await.unwrap(), ["one"], "a created endpoint");
    assert_eq!(targets_of(&*store, &a.id).await.unwrap(), ["one"], "by id as by uid");

    let read_at = one.updated_at;
    let off = Endpoint { disabled: true, ..one.clone() };
    let off = store.update_endpoint(off, read_at).await.unwrap();
    assert!(targets_of(&*store, "a").await.unwrap().is_empty(), "a disabled endpoint");
    let on = Endpoint { disabled: false, ..off.clone() };
    let on = store.update_endpoint(on, off.updated_at).await.unwrap();
    assert_eq!(targets_of(&*store, "a").await.unwrap(), ["one"], "enabled again");

    let two = store.insert_endpoint(endpoint(&a.id, "two")).await.unwrap();
    assert_eq!(targets_of(&*store, "a").await.unwrap(), ["one", "two"]);
    store.delete_endpoint(&a.id, &two.id).await.unwrap();
    assert_eq!(targets_of(&*store, "a").await.unwrap(), ["one"], "a deleted endpoint");
    // What the delivery carries is the endpoint as it is now, not as it was first read.
    let moved = Endpoint { url: "https://example.com/moved".into(), ..on.clone() };
    store.update_endpoint(moved, on.updated_at).await.unwrap();
    let mut new = message("a", "x");
    new.lease = Some(hookd::model::time::now_ms() + 60_000);
    let Accepted::Created { leased, .. } = store.accept_message(new).await.unwrap() else {
        panic!("expected a new message")
    };
    assert_eq!(leased[0].endpoint.url, "https://example.com/moved");

    let renamed = Application { uid: Some("b".into()), ..a.clone() };
    store.update_app(renamed).await.unwrap();
    assert!(matches!(targets_of(&*store, "a").await, Err(StoreError::NotFound(_))), "old uid");
    assert_eq!(targets_of(&*store, "b").await.unwrap(), ["one"], "new uid");
    store.delete_app(&a.id).await.unwrap();
    assert!(matches!(targets_of(&*store, "b").await, Err(StoreError::NotFound(_))), "deleted");
}
