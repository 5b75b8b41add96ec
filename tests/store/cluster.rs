//! Two PostgreSQL nodes on one database: each keeps a copy of the catalog for ingestion, and
//! a change made on either reaches the other's copy.

use std::time::{Duration, Instant};

use hookd::store::postgres::PgStore;
use hookd::store::{Accepted, Store};

use crate::backends::fixtures::{app, endpoint, message};

/// The endpoints (by uid) a message accepted on `store` for application "a" is delivered to,
/// and the endpoints as the claims handed over carry them.
async fn targets(store: &PgStore) -> Vec<String> {
    let mut new = message("a", "x");
    new.lease = Some(hookd::model::time::now_ms() + 60_000);
    match store.accept_message(new).await.expect("accepting never fails here") {
        Accepted::Created { leased, .. } => {
            let mut uids: Vec<String> =
                leased.iter().filter_map(|c| c.endpoint.uid.clone()).collect();
            uids.sort();
            uids
        }
        Accepted::Replayed(m) => panic!("unexpected replay of {}", m.id),
    }
}

/// Accepts on `store` until its messages go to `want`, for at most ten seconds.
async fn converges(store: &PgStore, want: &[&str], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = targets(store).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still delivered to {got:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn each_node_sees_the_others_catalog_changes() {
    let Some(schema) = crate::common::pg_schema().await else { return };
    let a = PgStore::open(&schema.url, crate::backends::keys()).await.expect("open node A");
    let b = PgStore::open(&schema.url, crate::backends::keys()).await.expect("open node B");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(a.caches_catalog() && b.caches_catalog()) {
        assert!(Instant::now() < deadline, "the catalog LISTEN connections never came up");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let application = a.insert_app(app("a")).await.unwrap();
    a.insert_endpoint(endpoint(&application.id, "one")).await.unwrap();
    assert_eq!(targets(&a).await, ["one"]);
    assert_eq!(targets(&a).await, ["one"], "served from A's copy now");

    // A change on the node itself is seen by its very next message.
    let two = a.insert_endpoint(endpoint(&application.id, "two")).await.unwrap();
    assert_eq!(targets(&a).await, ["one", "two"]);

    // A change on another node reaches A's copy within a notification's delay.
    let one = b.get_endpoint(&application.id, "one").await.unwrap();
    let read_at = one.updated_at;
    b.update_endpoint(hookd::model::Endpoint { disabled: true, ..one }, read_at).await.unwrap();
    converges(&a, &["two"], "endpoint one disabled on B").await;

    // A deleted endpoint is never delivered to, even from a copy that still holds it: its
    // delivery row would break the foreign key, and the batch is accepted again afresh.
    b.delete_endpoint(&application.id, &two.id).await.unwrap();
    converges(&a, &[], "endpoint two deleted on B").await;
    b.insert_endpoint(endpoint(&application.id, "three")).await.unwrap();
    converges(&a, &["three"], "endpoint three created on B").await;
}

/// The nodes alive on one database, as each dispatcher counts them (SQLite: always one).
#[tokio::test]
async fn nodes_are_counted_while_they_are_seen() {
    let Some(schema) = crate::common::pg_schema().await else { return };
    let store = PgStore::open(&schema.url, crate::backends::keys()).await.expect("open");
    let now = hookd::model::time::now_ms();
    assert_eq!(store.count_nodes("node_a", now, now - 3_000).await.unwrap(), 1, "alone");
    assert_eq!(store.count_nodes("node_b", now, now - 3_000).await.unwrap(), 2);
    let later = now + 5_000;
    assert_eq!(
        store.count_nodes("node_a", later, later - 3_000).await.unwrap(),
        1,
        "node_b was not seen for 5 s"
    );
}
