use hyper::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn endpoint_crud_secret_and_headers() {
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    let (status, ep) = app
        .post("/api/v1/app/a/endpoint", json!({"url": "https://example.com/h", "uid": "main", "filterTypes": ["x.y"], "channels": ["eu"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ep}");
    let id = ep["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ep_"));
    assert_eq!((ep["eventTypes"].clone(), ep["description"].as_str()), (json!(["x.y"]), Some("")));

    let base = "/api/v1/app/a/endpoint/main";
    assert_eq!(app.get(base).await.1["id"], id.as_str());
    let (_, list) = app.get("/api/v1/app/a/endpoint").await;
    assert_eq!(list["data"][0]["id"], id.as_str());

    let (status, put) = app
        .put(base, json!({"url": "https://example.com/2", "uid": "main", "eventTypes": ["a.b"]}))
        .await;
    assert_eq!((status, put["url"].as_str()), (StatusCode::OK, Some("https://example.com/2")));
    let (status, patched) = app.patch(base, json!({"disabled": true, "channels": null})).await;
    assert_eq!(
        (status, patched["disabled"].as_bool(), patched["eventTypes"].clone()),
        (StatusCode::OK, Some(true), json!(["a.b"]))
    );
    assert!(patched["channels"].is_null());

    let (_, secret) = app.get(&format!("{base}/secret")).await;
    let old = secret["key"].as_str().unwrap().to_owned();
    assert!(old.starts_with("whsec_"));
    let (status, rotated) = app.post(&format!("{base}/secret/rotate"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(rotated["key"].as_str().unwrap(), old);
    assert_eq!(app.get(&format!("{base}/secret")).await.1["key"], rotated["key"]);

    let (status, _) = app
        .put(&format!("{base}/headers"), json!({"headers": {"X-Token": "t", "X-Env": "prod"}}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .patch(&format!("{base}/headers"), json!({"headers": {"X-Env": null, "X-New": "1"}}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, headers) = app.get(&format!("{base}/headers")).await;
    assert_eq!(headers["headers"], json!({"X-New": "1", "X-Token": "t"}));
    assert_eq!(headers["sensitive"], json!([]));
    let (status, err) =
        app.put(&format!("{base}/headers"), json!({"headers": {"Host": "evil"}})).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation"))
    );

    assert_eq!(app.delete(base).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(base).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn endpoint_validation() {
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    for (body, field) in [
        (json!({"url": "ftp://example.com"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "https://example.com", "secret": "whsec_short"}), "secret"),
        (json!({"url": "https://example.com", "uid": "has space"}), "uid"),
        (json!({"url": "https://example.com", "throttleRate": 0}), "throttleRate"),
        (json!({"url": "https://example.com", "channels": []}), "channels"),
    ] {
        let (status, err) = app.post("/api/v1/app/a/endpoint", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["code"], "validation");
        assert_eq!(err["detail"][0]["loc"], json!(["body", field]));
    }
    let (status, err) = app.post("/api/v1/app/a/endpoint", json!({"description": "no url"})).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation"))
    );
    assert_eq!(
        app.post("/api/v1/app/missing/endpoint", json!({"url": "https://e.com"})).await.0,
        StatusCode::NOT_FOUND
    );
}
