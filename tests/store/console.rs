//! What the console reads and keeps: sessions, the application search, the dashboard.

use std::sync::Arc;

use hookd::model::delivery::{EndpointEffect, NextStep};
use hookd::model::time::now_ms;
use hookd::model::{HourCount, Overview, Session};
use hookd::store::{Claiming, Store, StoreError};

use crate::backends::fixtures::{app, endpoint, message};
use crate::delivery::outcome;

fn session(id: &str, app_id: Option<&str>, expires_at: i64) -> Session {
    let now = now_ms();
    Session {
        id: id.into(),
        app_id: app_id.map(str::to_owned),
        read_only: app_id.is_some(),
        created_at: now,
        expires_at,
    }
}

pub async fn sessions_expire_and_end(store: Arc<dyn Store>) {
    let now = now_ms();
    let a = store.insert_app(app("shop")).await.unwrap();
    let operator = session("s1", None, now + 60_000);
    let portal = session("s2", Some(&a.id), now + 60_000);
    store.insert_session(operator.clone()).await.unwrap();
    store.insert_session(portal.clone()).await.unwrap();
    store.insert_session(session("old", None, now - 1)).await.unwrap();
    assert_eq!(store.get_session("s1", now).await.unwrap(), operator);
    assert_eq!(store.get_session("s2", now).await.unwrap(), portal);
    assert_eq!(store.get_session("s1", now + 60_000).await, Err(StoreError::NotFound("session")));
    assert_eq!(store.get_session("old", now).await, Err(StoreError::NotFound("session")));
    store.delete_session("s1").await.unwrap();
    assert_eq!(store.get_session("s1", now).await, Err(StoreError::NotFound("session")));
    store.insert_session(session("s3", Some(&a.id), now + 60_000)).await.unwrap();
    assert_eq!(store.expire_app_sessions(&a.id, now - 1).await.unwrap(), 2);
    assert_eq!(store.get_session("s3", now).await, Err(StoreError::NotFound("session")));
    let b = store.insert_app(app("blog")).await.unwrap();
    store.insert_session(session("s4", Some(&b.id), now + 60_000)).await.unwrap();
    store.delete_app(&b.id).await.unwrap();
    assert_eq!(
        store.get_session("s4", now).await,
        Err(StoreError::NotFound("session")),
        "a portal session ends with its application"
    );
}

pub async fn applications_are_searched_by_name_or_uid(store: Arc<dyn Store>) {
    let mut shop = app("shop-eu");
    shop.name = "Shop Europe".into();
    let shop = store.insert_app(shop).await.unwrap();
    let mut blog = app("blog");
    blog.name = "100% Blog_Posts".into();
    store.insert_app(blog).await.unwrap();
    let names = |found: Vec<hookd::model::Application>| {
        found.into_iter().map(|a| a.name).collect::<Vec<_>>()
    };
    assert_eq!(names(store.search_apps("europe", 10).await.unwrap()), ["Shop Europe"]);
    assert_eq!(names(store.search_apps("SHOP-", 10).await.unwrap()), ["Shop Europe"]);
    assert_eq!(names(store.search_apps(&shop.id, 10).await.unwrap()), ["Shop Europe"]);
    assert_eq!(names(store.search_apps("%", 10).await.unwrap()), ["100% Blog_Posts"]);
    assert_eq!(names(store.search_apps("_", 10).await.unwrap()), ["100% Blog_Posts"]);
    assert!(store.search_apps("nothing", 10).await.unwrap().is_empty());
}

pub async fn overview_counts_the_last_day(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    let ep = store.insert_endpoint(endpoint(&a.id, "e")).await.unwrap();
    for _ in 0..3 {
        store.accept_message(message(&a.id, "x")).await.unwrap();
    }
    let now = now_ms();
    let claims = store.claim_due_deliveries(Claiming::new(now, 2, now + 60_000)).await.unwrap();
    let done = vec![
        outcome(&claims[0], NextStep::Succeeded, EndpointEffect::Healthy),
        outcome(&claims[1], NextStep::Failed, EndpointEffect::Failing { now, disable_before: 0 }),
    ];
    store.record_outcomes(done.into(), now_ms()).await.unwrap();
    let figures = store.overview(now - 60_000).await.unwrap();
    assert_eq!(figures, Overview { messages: 3, succeeded: 1, failed: 1, pending: 1 });
    assert_eq!(store.overview(now + 60_000).await.unwrap().messages, 0);
    let unhealthy = store.list_unhealthy_endpoints(10).await.unwrap();
    assert_eq!(unhealthy.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), [ep.id.as_str()]);

    let stats = store.endpoint_stats(&ep.id, now - 60_000, now + 60_000).await.unwrap();
    let hour = now / 3_600_000 * 3_600_000;
    assert_eq!(stats.hourly, [HourCount { start: hour, success: 1, fail: 1 }]);
    assert_eq!((stats.pending, stats.sending), (1, 0));
    let later = store.endpoint_stats(&ep.id, now + 60_000, now + 120_000).await.unwrap();
    assert!(later.hourly.is_empty());
}
