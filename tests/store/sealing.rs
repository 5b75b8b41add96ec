//! Secrets at rest, on both backends: what the database holds is sealed, a rotated key seals
//! everything again at the next start, and a node without the key is told which key it
//! lacks. (Not conformance stories: each needs to reopen its store with other keys.)

use std::sync::Arc;

use hookd::model::Endpoint;
use hookd::security::sealing::Keyring;
use hookd::store::Store;

use crate::backends::TempDir;
use crate::backends::fixtures::{app, endpoint};

const BEARER: &str = "Bearer do-not-store-me-in-clear";

fn ring(text: &str) -> Arc<Keyring> {
    Arc::new(Keyring::parse(text).expect("keys parse"))
}

/// An endpoint whose secret and header must never be stored in clear.
async fn with_secrets(store: &dyn Store) -> Endpoint {
    let application = store.insert_app(app("sealed")).await.expect("app");
    let mut ep = endpoint(&application.id, "sealed");
    ep.headers.insert("Authorization".into(), BEARER.into());
    ep.previous_secrets.push(hookd::model::ExpiringSecret {
        secret: hookd::signing::generate_secret(),
        expires_at: i64::MAX,
    });
    store.insert_endpoint(ep).await.expect("endpoint")
}

type Opening = std::pin::Pin<Box<dyn Future<Output = Result<Arc<dyn Store>, String>>>>;
/// Opens a store on the same data with the given keys.
type Open = Box<dyn Fn(Arc<Keyring>) -> Opening>;

/// Key A seals; "B,A" opens what A sealed and seals it again with B at the reseal; B alone
/// then opens everything; a node with only C is refused, naming the key it lacks.
async fn rotation(open: Open) {
    let (a, b, c) = (Keyring::generate_key(), Keyring::generate_key(), Keyring::generate_key());
    let first = open(ring(&a)).await.expect("open with A");
    let ep = with_secrets(first.as_ref()).await;
    assert_eq!(first.reseal_secrets().await.expect("reseal"), 0, "all sealed with A already");
    drop(first);

    let both = open(ring(&format!("{b},{a}"))).await.expect("open with B,A");
    let read = both.get_endpoint(&ep.app_id, &ep.id).await.expect("A opens");
    assert_eq!((read.secret.as_str(), &read.headers), (ep.secret.as_str(), &ep.headers));
    assert_eq!(both.reseal_secrets().await.expect("reseal"), 1, "sealed again with B");
    assert_eq!(both.reseal_secrets().await.expect("reseal"), 0, "nothing left under A");
    drop(both);

    let only_b = open(ring(&b)).await.expect("open with B");
    let read = only_b.get_endpoint(&ep.app_id, &ep.id).await.expect("B opens");
    assert_eq!(read.previous_secrets[0].secret, ep.previous_secrets[0].secret);
    drop(only_b);

    let stranger = open(ring(&c)).await.expect("open with C");
    let refused = stranger.reseal_secrets().await.expect_err("C opens nothing");
    let b_id = Keyring::parse(&b).expect("b").current_id().to_owned();
    assert!(refused.to_string().contains(&b_id), "names the missing key: {refused}");
}

#[tokio::test]
async fn sqlite_keys_rotate() {
    let dir = TempDir(std::env::temp_dir().join(hookd::model::ids::new_id("hookd-seal-")));
    let path = dir.0.join("hookd.db");
    rotation(Box::new(move |keys| {
        let path = path.clone();
        Box::pin(async move {
            let store = hookd::store::sqlite::SqliteStore::open(&path, keys)?;
            Ok(Arc::new(store) as Arc<dyn Store>)
        })
    }))
    .await;
}

#[tokio::test]
async fn postgres_keys_rotate() {
    let Some(schema) = crate::common::pg_schema().await else { return };
    let url = schema.url.clone();
    rotation(Box::new(move |keys| {
        let url = url.clone();
        Box::pin(async move {
            let store = hookd::store::postgres::PgStore::open(&url, keys).await?;
            Ok(Arc::new(store) as Arc<dyn Store>)
        })
    }))
    .await;
}

/// Neither the database file (with its write-ahead log) nor PostgreSQL's rows hold the
/// secret or the header value in clear.
#[tokio::test]
async fn sqlite_holds_no_secret_in_clear() {
    let dir = TempDir(std::env::temp_dir().join(hookd::model::ids::new_id("hookd-seal-")));
    let path = dir.0.join("hookd.db");
    let store = hookd::store::sqlite::SqliteStore::open(&path, crate::backends::keys())
        .expect("open sqlite");
    let ep = with_secrets(&store).await;
    let mut bytes = Vec::new();
    for name in ["hookd.db", "hookd.db-wal"] {
        bytes.extend(std::fs::read(dir.0.join(name)).unwrap_or_default());
    }
    assert!(!bytes.is_empty());
    for secret in [ep.secret.as_str(), BEARER, ep.previous_secrets[0].secret.as_str()] {
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "{secret:?} is in the database file in clear");
    }
}

#[tokio::test]
async fn postgres_holds_no_secret_in_clear() {
    let Some(schema) = crate::common::pg_schema().await else { return };
    let store = hookd::store::postgres::PgStore::open(&schema.url, crate::backends::keys())
        .await
        .expect("open postgres");
    let ep = with_secrets(&store).await;
    let (client, connection) =
        tokio_postgres::connect(&schema.url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    let row = client
        .query_one("SELECT secret, previous_secrets, headers FROM endpoints", &[])
        .await
        .expect("the row");
    let stored: Vec<String> = (0..3).map(|i| row.get(i)).collect();
    for (column, value) in stored.iter().enumerate() {
        assert!(value.starts_with("sealed1:"), "column {column} is not sealed: {value}");
        for secret in [ep.secret.as_str(), BEARER, ep.previous_secrets[0].secret.as_str()] {
            assert!(!value.contains(secret), "{secret:?} stored in clear");
        }
    }
}
