use hyper::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Api, TestApp};

#[tokio::test]
async fn every_route_but_health_needs_the_token() {
    let app = TestApp::spawn().await;
    let anonymous = Api::new(&app.base, None);
    let wrong = Api::new(&app.base, Some("wrong-token-wrong-token"));
    assert_eq!(anonymous.call(Method::GET, "/api/v1/health", None).await.0, StatusCode::NO_CONTENT);
    for path in [
        "/api/v1/app",
        "/api/v1/event-type",
        "/api/v1/app/x/msg",
        "/api/v1/app/x/endpoint/y/secret",
    ] {
        for client in [&anonymous, &wrong] {
            let (status, err) = client.call(Method::GET, path, None).await;
            assert_eq!(
                (status, err["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("unauthorized")),
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn malformed_and_invalid_bodies() {
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    let (status, err) =
        app.client.call(Method::POST, "/api/v1/app/a/msg", Some("{\"eventType\":".into())).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")));
    for (body, field) in [
        (json!({"eventType": "x", "payload": [1]}), "payload"),
        (json!({"eventType": "bad type!", "payload": {}}), "eventType"),
        (json!({"eventType": "x", "payload": {}, "eventId": ""}), "eventId"),
        (
            json!({"eventType": "x", "payload": {}, "channels": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]}),
            "channels",
        ),
    ] {
        let (status, err) = app.post("/api/v1/app/a/msg", body).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("validation"))
        );
        assert_eq!(err["detail"][0]["loc"], json!(["body", field]));
    }
    let (status, err) = app.post("/api/v1/app/a/msg", json!({"payload": {}})).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation"))
    );
    let (status, _) = app.post("/api/v1/app", json!({"name": 5})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.post("/api/v1/app", json!({"name": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/api/v1/app?limit=0").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/api/v1/app?limit=many").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = TestApp::spawn_with(|c| c.max_body_size = 1024).await;
    app.create_app("a").await;
    let big = json!({"eventType": "x", "payload": {"blob": "z".repeat(2048)}});
    let (status, err) = app.post("/api/v1/app/a/msg", big).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (_, list) = app.get("/api/v1/app/a/msg").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn unknown_routes_methods_and_trailing_slashes() {
    let app = TestApp::spawn().await;
    let (status, err) = app.get("/api/v1/nothing-here").await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, err) = app.delete("/api/v1/app").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    assert_eq!(app.get("/api/v1/app/").await.0, StatusCode::OK);
    assert_eq!(app.post("/api/v1/app/", json!({"name": "slash"})).await.0, StatusCode::CREATED);
}
