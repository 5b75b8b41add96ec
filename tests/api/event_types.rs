use hyper::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn event_type_crud_and_archive() {
    let app = TestApp::spawn().await;
    let (status, et) = app
        .post(
            "/api/v1/event-type",
            json!({"name": "user.created", "description": "A user signed up"}),
        )
        .await;
    assert_eq!((status, et["archived"].as_bool()), (StatusCode::CREATED, Some(false)));
    assert_eq!(
        app.post("/api/v1/event-type", json!({"name": "user.created", "description": ""})).await.0,
        StatusCode::CONFLICT
    );

    let (status, got) = app.get("/api/v1/event-type/user.created").await;
    assert_eq!((status, got["description"].as_str()), (StatusCode::OK, Some("A user signed up")));

    let (status, put) = app
        .put("/api/v1/event-type/user.created", json!({"description": "new", "deprecated": true}))
        .await;
    assert_eq!((status, put["deprecated"].as_bool()), (StatusCode::OK, Some(true)));
    let (status, patched) =
        app.patch("/api/v1/event-type/user.created", json!({"groupName": "users"})).await;
    assert_eq!(
        (status, patched["groupName"].as_str(), patched["description"].as_str()),
        (StatusCode::OK, Some("users"), Some("new"))
    );
    let (status, _) =
        app.put("/api/v1/event-type/user.deleted", json!({"description": "gone"})).await;
    assert_eq!(status, StatusCode::CREATED);

    assert_eq!(app.delete("/api/v1/event-type/user.created").await.0, StatusCode::NO_CONTENT);
    let (_, listed) = app.get("/api/v1/event-type").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "archived types are hidden");
    let (_, all) = app.get("/api/v1/event-type?include_archived=true").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(app.get("/api/v1/event-type/user.created").await.1["archived"], true);

    assert_eq!(
        app.delete("/api/v1/event-type/user.created?expunge=true").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get("/api/v1/event-type/user.created").await.0, StatusCode::NOT_FOUND);
}
