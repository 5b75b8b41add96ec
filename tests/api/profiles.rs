//! One end-to-end delivery per profile, checked the way that system's receivers check it;
//! templates; and test sends.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};
use crate::svix_sdk::python_check;

async fn setup(app: &TestApp, endpoint: Value) -> Receiver {
    let receiver = Receiver::start().await;
    app.create_app("a").await;
    let mut body = json!({"url": receiver.url, "uid": "r"});
    body.as_object_mut().unwrap().extend(endpoint.as_object().unwrap().clone());
    app.create_endpoint("a", body).await;
    receiver
}

#[tokio::test]
async fn misskey_receivers_see_the_secret_and_envelope() {
    let app = TestApp::spawn().await;
    let config = json!({"server": "https://mk.example:3000", "hookId": "9x0a1b2c3d4e5f6g"});
    let receiver =
        setup(&app, json!({"profile": "misskey", "secret": "s3cr3t", "profileConfig": config}))
            .await;
    let msg =
        app.send("a", json!({"eventType": "followed", "payload": {"user": {"id": "9v"}}})).await;
    let got = receiver.wait_for(1).await.remove(0);
    // What a Misskey receiver checks: the shared secret, verbatim.
    assert_eq!(got.header("x-misskey-hook-secret"), "s3cr3t");
    assert_eq!(got.header("x-misskey-host"), "mk.example:3000");
    assert_eq!(got.header("user-agent"), "Misskey-Hooks");
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["server", "hookId", "userId", "eventId", "createdAt", "type", "body"]);
    assert_eq!((body["type"].as_str(), body["userId"].as_str()), (Some("followed"), Some("a")));
    assert_eq!(body["body"], json!({"user": {"id": "9v"}}));
    app.delivery_becomes("a", &msg, "success").await;
}

#[tokio::test]
async fn mastodon_receivers_verify_the_hub_signature_with_a_template() {
    let app = TestApp::spawn().await;
    let secret = "0123456789abcdef0123456789abcdef01234567";
    let template = r#"{"hello":"{{event}}","who":{{object.account}}}"#;
    let endpoint = json!({"profile": "mastodon", "secret": secret, "template": template, "profileConfig": {"domain": "social.example"}});
    let receiver = setup(&app, endpoint).await;
    app.send("a", json!({"eventType": "report.created", "payload": {"account": {"id": "1"}}}))
        .await;
    let got = receiver.wait_for(1).await.remove(0);
    assert_eq!(
        String::from_utf8_lossy(&got.body),
        r#"{"hello":"report.created","who":{"id":"1"}}"#
    );
    assert!(got.header("user-agent").ends_with("+https://social.example/)"));
    let check = json!({
        "secret": secret,
        "body": String::from_utf8_lossy(&got.body),
        "signature": got.header("x-hub-signature"),
        "digest": got.header("digest"),
    });
    let verified = python_check("verify_hub_signature.py", check).await;
    assert_ne!(verified, Some(false), "the X-Hub-Signature verifies");
}

#[tokio::test]
async fn strapi_receivers_get_the_event_header_and_merged_authorization() {
    let app = TestApp::spawn_with(|c| {
        c.delivery.default_headers =
            vec![("Authorization".into(), "Bearer A".into()), ("X-Env".into(), "prod".into())];
    })
    .await;
    let receiver =
        setup(&app, json!({"profile": "strapi", "headers": {"Authorization": "Bearer B"}})).await;
    app.send(
        "a",
        json!({"eventType": "entry.publish", "payload": {"model": "article", "entry": {"id": 1}}}),
    )
    .await;
    let got = receiver.wait_for(1).await.remove(0);
    assert_eq!(got.header("x-strapi-event"), "entry.publish");
    assert_eq!(got.header("authorization"), "Bearer B", "the endpoint's header beats the default");
    assert_eq!(got.header("x-env"), "prod");
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["event", "createdAt", "model", "entry"]);
}

#[tokio::test]
async fn templates_are_validated_on_save_and_failures_are_logged_not_retried() {
    let app = TestApp::spawn().await;
    let receiver = setup(&app, json!({"template": "{\"a\":{{n.foo}}}"})).await;
    let (status, err) =
        app.patch("/api/v1/app/a/endpoint/r", json!({"template": "{{ event }}"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["detail"][0]["msg"].as_str().unwrap().contains("position"), "{err}");

    // The standard profile's template sees the payload; `n` is a string, so `n.foo` fails.
    let msg = app.send("a", json!({"eventType": "x", "payload": {"n": "text"}})).await;
    app.delivery_becomes("a", &msg, "fail").await;
    let attempts = app.attempts("a", &msg, 1).await;
    assert_eq!(attempts.len(), 1, "a template that cannot render is not retried");
    assert!(attempts[0]["response"].as_str().unwrap().starts_with("not sent"), "{}", attempts[0]);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn strapi_style_test_trigger_answers_with_the_receivers_status() {
    let app = TestApp::spawn().await;
    let receiver = setup(&app, json!({"profile": "strapi", "disabled": true})).await;
    let trigger = || app.client.call(Method::POST, "/api/v1/app/a/endpoint/r/test", None);

    receiver.script(vec![Reply::status(204), Reply::status(418).body("nope")], None);
    assert_eq!(
        trigger().await,
        (StatusCode::OK, json!({"data": {"statusCode": 204}})),
        "even when disabled"
    );
    assert_eq!(trigger().await.1, json!({"data": {"statusCode": 418, "message": "nope"}}));
    let got = receiver.wait_for(2).await.remove(0);
    assert_eq!(got.header("x-strapi-event"), "trigger-test");
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["event", "createdAt"]);

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    app.patch("/api/v1/app/a/endpoint/r", json!({"url": format!("http://127.0.0.1:{port}/")}))
        .await;
    let (_, answer) = trigger().await;
    assert_eq!(answer["data"]["statusCode"], 500);
    assert!(!answer["data"]["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn send_example_goes_to_that_endpoint_only() {
    let app = TestApp::spawn().await;
    let receiver = setup(&app, json!({"eventTypes": ["other.type"]})).await;
    let schemas = json!({"1": {"type": "object", "examples": [{"id": "example-1"}]}});
    app.post(
        "/api/v1/event-type",
        json!({"name": "user.created", "description": "", "schemas": schemas}),
    )
    .await;
    let (status, msg) = app
        .post("/api/v1/app/a/endpoint/r/send-example", json!({"eventType": "user.created"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(msg["payload"], json!({"id": "example-1"}));
    let got = receiver.wait_for(1).await.remove(0);
    assert_eq!(got.body, r#"{"id":"example-1"}"#.as_bytes());
}

#[tokio::test]
async fn catalogues_import_in_one_call() {
    let app = TestApp::spawn().await;
    let (status, list) = app.post("/api/v1/event-type/import/mastodon", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 7);
    assert_eq!(app.get("/api/v1/event-type/status.created").await.1["groupName"], "mastodon");
    assert_eq!(
        app.post("/api/v1/event-type/import/mastodon", json!({})).await.0,
        StatusCode::OK,
        "again is fine"
    );
    assert_eq!(
        app.post("/api/v1/event-type/import/wordpress", json!({})).await.0,
        StatusCode::NOT_FOUND
    );
}
