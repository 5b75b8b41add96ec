//! Payload filters: an endpoint with `filter` gets a delivery only for the messages it
//! matches; a filter that cannot work is refused on save, naming the part at fault.

use serde_json::json;

use crate::helpers::TestApp;
use crate::receiver::Receiver;

#[tokio::test]
async fn a_filtered_endpoint_gets_only_the_messages_its_filter_matches() {
    let (big, all) = (Receiver::start().await, Receiver::start().await);
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    let filter = json!({"payload": {"total": {"$gte": 100}}, "$not": {"channels": "test"}});
    let filtered = app.create_endpoint("shop", json!({"url": big.url, "filter": filter})).await;
    let unfiltered = app.create_endpoint("shop", json!({"url": all.url})).await;
    let small =
        app.send("shop", json!({"eventType": "order.paid", "payload": {"total": 50}})).await;
    app.send("shop", json!({"eventType": "order.paid", "payload": {"total": 150}})).await;
    let on_test =
        json!({"eventType": "order.paid", "channels": ["test"], "payload": {"total": 900}});
    app.send("shop", on_test).await;
    app.drain().await;

    let totals: Vec<String> =
        big.received().iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect();
    assert_eq!(totals, [r#"{"total":150}"#], "only the big order off the test channel");
    assert_eq!(all.received().len(), 3);
    // Filtered out at fan-out: the endpoint has no delivery of that message at all.
    let (_, destinations) = app.get(&format!("/api/v1/app/shop/msg/{small}/endpoint")).await;
    let endpoints: Vec<&str> = destinations["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["endpointId"].as_str().unwrap())
        .collect();
    assert_eq!(endpoints, [unfiltered.as_str()]);
    let (_, shown) = app.get(&format!("/api/v1/app/shop/endpoint/{filtered}")).await;
    assert_eq!(shown["filter"], filter);
}

#[tokio::test]
async fn a_bad_filter_is_refused_naming_the_part_and_null_removes_one() {
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    let bad = json!({"url": "https://shop.example/hook", "filter": {"payload": {"total": {"$like": "1%"}}}});
    let (status, body) = app.post("/api/v1/app/shop/endpoint", bad).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "filter"]));
    let msg = body["detail"][0]["msg"].as_str().unwrap();
    assert!(msg.starts_with("filter.payload.total.$like: unknown operator"), "{msg}");

    let good = json!({"url": "https://shop.example/hook", "filter": {"eventType": {"$startsWith": "order."}}});
    let ep = app.create_endpoint("shop", good).await;
    let path = format!("/api/v1/app/shop/endpoint/{ep}");
    let (status, patched) = app.patch(&path, json!({"filter": {"$or": "not a list"}})).await;
    assert_eq!((status.as_u16(), &patched["detail"][0]["loc"]), (422, &json!(["body", "filter"])));
    let (_, kept) = app.patch(&path, json!({"description": "orders"})).await;
    assert_eq!(kept["filter"], json!({"eventType": {"$startsWith": "order."}}), "a patch keeps it");
    let (_, removed) = app.patch(&path, json!({"filter": null})).await;
    assert!(removed["filter"].is_null(), "{removed}");
}
