//! Portal tokens through the API, on SQLite and on PostgreSQL: one application's routes
//! only (others answer 404, operator routes 403), nothing changed by a read-only token,
//! nothing at all once expired.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::pg_schema;
use crate::helpers::{Api, TestApp};

#[tokio::test]
async fn portal_tokens_are_scoped_on_sqlite() {
    scoping(TestApp::spawn().await).await;
}

#[tokio::test]
async fn portal_tokens_are_scoped_on_postgres() {
    let Some(pg) = pg_schema().await else { return };
    let url = pg.url.clone();
    scoping(TestApp::spawn_with(|c| c.database_url = Some(url)).await).await;
}

async fn grant(app: &TestApp, app_id: &str, body: Value) -> Api {
    let (status, out) = app.post(&format!("/api/v1/auth/app-portal-access/{app_id}"), body).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let token = out["token"].as_str().expect("token");
    assert!(token.starts_with("hkp_"), "{token}");
    let url = out["url"].as_str().expect("url");
    assert!(url.ends_with(&format!("/portal#token={token}")), "{url}");
    Api::new(&app.base, Some(token))
}

async fn status(api: &Api, method: Method, path: &str, body: Option<Value>) -> StatusCode {
    api.call(method, path, body.map(|b| b.to_string())).await.0
}

async fn scoping(app: TestApp) {
    app.create_app("shop").await;
    app.create_app("blog").await;
    let blog_ep = app.create_endpoint("blog", json!({"url": "https://example.com/b"})).await;
    let shop = grant(&app, "shop", json!({})).await;
    let ep = json!({"url": "https://example.com/hook"});

    let (created, body) =
        shop.call(Method::POST, "/api/v1/app/shop/endpoint", Some(ep.to_string())).await;
    assert_eq!(created, StatusCode::CREATED, "its own application: {body}");
    let msg = json!({"eventType": "x.y", "payload": {}});
    assert_eq!(
        status(&shop, Method::POST, "/api/v1/app/shop/msg", Some(msg)).await,
        StatusCode::ACCEPTED
    );
    let shop_id = app.get("/api/v1/app/shop").await.1["id"].as_str().unwrap().to_owned();
    let by_id = format!("/api/v1/app/{shop_id}/endpoint");
    assert_eq!(status(&shop, Method::GET, &by_id, None).await, StatusCode::OK, "by id too");
    assert_eq!(status(&shop, Method::GET, "/api/v1/event-type", None).await, StatusCode::OK);

    for path in ["/api/v1/app/blog", "/api/v1/app/blog/endpoint", "/api/v1/app/nope/endpoint"] {
        assert_eq!(status(&shop, Method::GET, path, None).await, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(status(&shop, Method::GET, "/api/v1/app/shop", None).await, StatusCode::OK);
    let rename = Some(json!({"name": "Mine now"}));
    assert_eq!(
        status(&shop, Method::PATCH, "/api/v1/app/shop", rename).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&shop, Method::DELETE, "/api/v1/app/shop", None).await,
        StatusCode::FORBIDDEN
    );
    let other = format!("/api/v1/app/blog/endpoint/{blog_ep}");
    assert_eq!(status(&shop, Method::DELETE, &other, None).await, StatusCode::NOT_FOUND);
    let operator: [(Method, &str, Option<Value>); 5] = [
        (Method::GET, "/api/v1/app", None),
        (Method::POST, "/api/v1/app", Some(json!({"name": "x"}))),
        (Method::POST, "/api/v1/event-type", Some(json!({"name": "a.b"}))),
        (Method::POST, "/api/v1/event-type/import/strapi", None),
        (Method::POST, "/api/v1/auth/app-portal-access/shop", Some(json!({}))),
    ];
    for (method, path, body) in operator {
        let (code, out) = shop.call(method, path, body.map(|b| b.to_string())).await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(out["code"], "forbidden");
    }

    let reader = grant(&app, "shop", json!({"readOnly": true, "expiry": 60})).await;
    assert_eq!(
        status(&reader, Method::GET, "/api/v1/app/shop/endpoint", None).await,
        StatusCode::OK
    );
    let (code, out) =
        reader.call(Method::POST, "/api/v1/app/shop/endpoint", Some(ep.to_string())).await;
    assert_eq!((code, out["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let list = app.get("/api/v1/app/shop/endpoint").await.1;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "the read-only token added nothing");

    let (code, _) = app.post("/api/v1/auth/app-portal-access/shop", json!({"expiry": 0})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, _) = app.post("/api/v1/auth/app/shop/expire-all", json!({})).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    for token in [&shop, &reader] {
        let code = status(token, Method::GET, "/api/v1/app/shop/endpoint", None).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "revoked tokens open nothing");
    }
}
