use hyper::StatusCode;
use serde_json::json;

use crate::common::pg_schema;
use crate::helpers::TestApp;

#[tokio::test]
async fn application_crud_by_id_and_uid() {
    let app = TestApp::spawn().await;
    let (status, created) = app
        .post("/api/v1/app", json!({"name": "Shop", "uid": "shop", "metadata": {"team": "a"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("app_"));
    assert_eq!(created["metadata"]["team"], "a");
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));

    for key in [id, "shop"] {
        let (status, got) = app.get(&format!("/api/v1/app/{key}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["id"], id);
    }

    let (status, put) = app.put("/api/v1/app/shop", json!({"name": "Shop 2", "uid": "shop"})).await;
    assert_eq!((status, put["name"].as_str()), (StatusCode::OK, Some("Shop 2")));
    let (status, patched) =
        app.patch(&format!("/api/v1/app/{id}/"), json!({"throttleRate": 5})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (patched["name"].as_str(), patched["throttleRate"].as_u64()),
        (Some("Shop 2"), Some(5))
    );

    let (status, upserted) = app.put("/api/v1/app/new-one", json!({"name": "New"})).await;
    assert_eq!((status, upserted["uid"].as_str()), (StatusCode::CREATED, Some("new-one")));

    assert_eq!(app.delete("/api/v1/app/shop").await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/v1/app/{id}")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn duplicate_uid_is_a_conflict_and_get_if_exists_returns_it() {
    let app = TestApp::spawn().await;
    app.create_app("dup").await;
    let (status, err) = app.post("/api/v1/app", json!({"name": "x", "uid": "dup"})).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let (status, got) =
        app.post("/api/v1/app?get_if_exists=true", json!({"name": "x", "uid": "dup"})).await;
    assert_eq!((status, got["uid"].as_str()), (StatusCode::OK, Some("dup")));
}

#[tokio::test]
async fn pagination_walks_forwards_and_back() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.create_app(&format!("app-{i}")).await;
    }
    let (_, first) = app.get("/api/v1/app?limit=2").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(first["done"], false);
    let names = |page: &serde_json::Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["uid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&first), ["app-0", "app-1"]);

    let (_, second) = app
        .get(&format!("/api/v1/app?limit=2&iterator={}", first["iterator"].as_str().unwrap()))
        .await;
    assert_eq!(names(&second), ["app-2", "app-3"]);
    let (_, third) = app
        .get(&format!("/api/v1/app?limit=2&iterator={}", second["iterator"].as_str().unwrap()))
        .await;
    assert_eq!((names(&third), third["done"].as_bool()), (vec!["app-4".to_owned()], Some(true)));

    let prev = second["prevIterator"].as_str().unwrap();
    let (_, back) = app.get(&format!("/api/v1/app?limit=2&iterator={prev}")).await;
    assert_eq!(names(&back), ["app-0", "app-1"]);

    let (_, empty) =
        app.get(&format!("/api/v1/app?iterator={}", third["iterator"].as_str().unwrap())).await;
    assert_eq!(empty["data"].as_array().unwrap().len(), 0);
    assert!(empty["iterator"].is_null() && empty["done"] == true);
}

/// Two clients creating the same application (or event type) with PUT at the same moment
/// both succeed: one creates it, the other replaces it. It was one 201 and one 409.
async fn concurrent_first_puts(app: TestApp) {
    // Each kind with its own fields: an unknown one is refused.
    for (path, field) in
        [("/api/v1/app/raced", "name"), ("/api/v1/event-type/raced.type", "description")]
    {
        let puts = (0..8).map(|i| {
            let (client, path) = (app.client.clone(), path.to_owned());
            let body = json!({field: format!("Raced {i}")}).to_string();
            tokio::spawn(async move { client.call(hyper::Method::PUT, &path, Some(body)).await })
        });
        let mut statuses = Vec::new();
        for put in puts.collect::<Vec<_>>() {
            statuses.push(put.await.expect("task").0);
        }
        let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
        assert!(statuses.iter().all(|s| s.is_success()), "{path}: {statuses:?}");
        assert_eq!(created, 1, "{path}: {statuses:?}");
    }
}

#[tokio::test]
async fn concurrent_first_puts_all_succeed() {
    concurrent_first_puts(TestApp::spawn().await).await;
}

#[tokio::test]
async fn concurrent_first_puts_all_succeed_on_postgres() {
    let Some(pg) = pg_schema().await else { return };
    let url = pg.url.clone();
    concurrent_first_puts(TestApp::spawn_with(|c| c.database_url = Some(url)).await).await;
}

/// A client that stops waiting for the DELETE of a large application (it closes the
/// connection) does not stop the deletion half-way: the application is gone soon after.
#[tokio::test]
async fn a_delete_the_client_gives_up_on_still_finishes() {
    let app = TestApp::spawn().await;
    let receiver = crate::receiver::Receiver::start().await;
    receiver.hold(); // deliveries stay pending: each message keeps its rows
    app.create_app("big").await;
    for _ in 0..3 {
        app.create_endpoint("big", json!({"url": receiver.url})).await;
    }
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let api = app.client.clone();
        sends.spawn(async move {
            for _ in 0..150 {
                let body = json!({"eventType": "t", "payload": {"pad": "x".repeat(500)}});
                let (status, _) = api
                    .call(hyper::Method::POST, "/api/v1/app/big/msg", Some(body.to_string()))
                    .await;
                assert_eq!(status, StatusCode::ACCEPTED);
            }
        });
    }
    sends.join_all().await;
    let gave_up = tokio::time::timeout(
        std::time::Duration::from_millis(5),
        app.client.raw(hyper::Method::DELETE, "/api/v1/app/big", None, &[]),
    )
    .await;
    assert!(gave_up.is_err(), "the delete answered within 5 ms: too small to test this");
    crate::helpers::eventually("the application deleted", || async {
        (app.get("/api/v1/app/big").await.0 == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
}
