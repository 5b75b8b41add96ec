//! Defects 6, 7 and 10 of the hardening issue: rotated secrets that piled up, URLs taken and
//! then sent elsewhere, a case-sensitive `Bearer`, and a 405 that told strangers which routes
//! exist.

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Api, TOKEN, TestApp};
use crate::receiver::Receiver;

#[tokio::test]
async fn urls_with_an_impossible_port_or_credentials_are_refused() {
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    for bad in [
        "https://example.com:70000/hook",
        "https://example.com:0/hook",
        "https://user:pass@example.com/hook",
        "https://token@example.com/hook",
    ] {
        let (status, body) = app.post("/api/v1/app/a/endpoint", json!({"url": bad})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "url"]), "{bad}");
    }
    for good in ["https://example.com:8443/hook", "https://[2606:4700::1111]:443/x"] {
        let (status, body) = app.post("/api/v1/app/a/endpoint", json!({"url": good})).await;
        assert_eq!(status, StatusCode::CREATED, "{good}: {body}");
    }
}

#[tokio::test]
async fn rotations_keep_a_few_secrets_and_a_bounded_grace() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    let ep = app.create_endpoint("a", json!({"url": receiver.url})).await;
    let rotate = format!("/api/v1/app/a/endpoint/{ep}/secret/rotate");
    for _ in 0..12 {
        assert_eq!(app.post(&rotate, json!({})).await.0, StatusCode::OK);
    }
    app.send("a", json!({"eventType": "t", "payload": {}})).await;
    let got = receiver.wait_for(1).await;
    let signatures = got[0].header("webhook-signature").split(' ').count();
    assert_eq!(signatures, 6, "the current secret and the five newest rotated out");

    let (status, body) = app.post(&rotate, json!({"gracePeriodSeconds": 30 * 86_400})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "gracePeriodSeconds"]));
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case() {
    let app = TestApp::spawn().await;
    let anonymous = Api::new(&app.base, None);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let auth = format!("{scheme} {TOKEN}");
        let (status, _) = anonymous
            .call_with(Method::GET, "/api/v1/app", None, &[("authorization", &auth)])
            .await;
        assert_eq!(status, StatusCode::OK, "{scheme}");
    }
    let (status, _) = anonymous
        .call_with(
            Method::GET,
            "/api/v1/app",
            None,
            &[("authorization", &format!("Basic {TOKEN}"))],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_wrong_method_is_405_only_to_a_caller_who_is_signed_in() {
    let app = TestApp::spawn().await;
    let anonymous = Api::new(&app.base, None);
    let (status, body) = anonymous.call(Method::DELETE, "/api/v1/app", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let stranger = Api::new(&app.base, Some("not-the-token-0123456789"));
    assert_eq!(stranger.call(Method::DELETE, "/api/v1/app", None).await.0, 401);
    let (status, body) = app.client.call(Method::DELETE, "/api/v1/app", None).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::METHOD_NOT_ALLOWED, &json!("method_not_allowed"))
    );
}

#[tokio::test]
async fn every_error_is_json_even_an_extractors() {
    let app = TestApp::spawn().await;
    for path in ["/api/v1/app/%FF", "/api/v1/app/%FF/endpoint/%FE"] {
        let (status, _, body) = app.client.raw(Method::GET, path, None, &[]).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("{path}: not JSON: {}", String::from_utf8_lossy(&body)));
        assert_eq!(
            (status, &body["code"]),
            (StatusCode::BAD_REQUEST, &json!("bad_request")),
            "{path}"
        );
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    }
}

#[tokio::test]
async fn unknown_fields_are_refused_by_name_and_the_aliases_still_work() {
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    let misspelt = json!({"url": "https://shop.example/hook", "filter_types": ["order.paid"]});
    let (status, body) = app.post("/api/v1/app/a/endpoint", misspelt).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "filter_types"]));
    assert!(body["detail"][0]["msg"].as_str().unwrap().contains("unknown field"), "{body}");
    let svix =
        json!({"url": "https://shop.example/hook", "filterTypes": ["order.paid"], "rateLimit": 5});
    assert_eq!(app.post("/api/v1/app/a/endpoint", svix).await.0, StatusCode::CREATED);
    let (status, body) =
        app.post("/api/v1/app/a/msg", json!({"eventType": "t", "payload": {}, "prio": 1})).await;
    assert_eq!(
        (status, &body["detail"][0]["loc"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!(["body", "prio"]))
    );
}
