use std::sync::Arc;

use hookd::store::{Accepted, MessageFilter, Store, StoreError};

use crate::backends::fixtures::{app, endpoint, first, message};

fn created(accepted: Accepted) -> (hookd::model::Message, usize) {
    match accepted {
        Accepted::Created { message, deliveries, .. } => (message, deliveries),
        Accepted::Replayed(m) => panic!("expected a new message, got a replay of {}", m.id),
    }
}

pub async fn accept_fans_out_and_is_idempotent(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    let mut users = endpoint(&a.id, "users");
    users.filter_types = Some(vec!["user.created".into()]);
    let mut off = endpoint(&a.id, "off");
    off.disabled = true;
    for ep in [endpoint(&a.id, "all"), users, off] {
        store.insert_endpoint(ep).await.unwrap();
    }
    // The application may be named by uid; the store resolves it.
    let (msg, n) = created(store.accept_message(message("a", "user.created")).await.unwrap());
    assert_eq!((msg.app_id.as_str(), n), (a.id.as_str(), 2));
    assert_eq!(store.list_deliveries_of_message(&msg.id).await.unwrap().len(), 2);
    let (_, n) = created(store.accept_message(message(&a.id, "order.paid")).await.unwrap());
    assert_eq!(n, 1);
    assert!(matches!(
        store.accept_message(message("nope", "x")).await,
        Err(StoreError::NotFound(_))
    ));

    let mut keyed = message(&a.id, "x");
    keyed.idempotency_key = Some("k".into());
    let (first_msg, _) = created(store.accept_message(keyed.clone()).await.unwrap());
    keyed.message.id = hookd::model::ids::new_id("msg_");
    match store.accept_message(keyed).await.unwrap() {
        Accepted::Replayed(m) => assert_eq!(m.id, first_msg.id),
        Accepted::Created { .. } => panic!("the idempotency key was ignored"),
    }

    let mut with_event_id = message(&a.id, "x");
    with_event_id.message.event_id = Some("evt".into());
    created(store.accept_message(with_event_id.clone()).await.unwrap());
    with_event_id.message.id = hookd::model::ids::new_id("msg_");
    assert_eq!(
        store.accept_message(with_event_id).await.unwrap_err(),
        StoreError::DuplicateEventId("evt".into())
    );
    assert_eq!(store.get_message(&a.id, "evt").await.unwrap().event_id.as_deref(), Some("evt"));
}

pub async fn list_filters_and_pages(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    let mut on_eu = message(&a.id, "user.created");
    on_eu.message.channels = Some(vec!["eu".into(), "vip".into()]);
    on_eu.message.created_at = 1_000;
    on_eu.message.id = hookd::model::ids::lowest_id_at("msg_", 1_000);
    let (eu, _) = created(store.accept_message(on_eu).await.unwrap());
    let mut later = message(&a.id, "order.paid");
    later.message.created_at = 2_000;
    later.message.id = hookd::model::ids::lowest_id_at("msg_", 2_000);
    let (paid, _) = created(store.accept_message(later).await.unwrap());

    let ids = |f: MessageFilter| {
        let store = store.clone();
        let app_id = a.id.clone();
        async move {
            store
                .list_messages(&app_id, f, first(10))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(MessageFilter::default()).await,
        [paid.id.clone(), eu.id.clone()],
        "newest first"
    );
    let types = MessageFilter {
        event_types: vec!["user.created".into(), "z".into()],
        ..Default::default()
    };
    assert_eq!(ids(types).await, vec![eu.id.clone()]);
    assert_eq!(
        ids(MessageFilter { channel: Some("vip".into()), ..Default::default() }).await,
        vec![eu.id.clone()]
    );
    assert_eq!(
        ids(MessageFilter { before: Some(1_500), ..Default::default() }).await,
        vec![eu.id.clone()]
    );
    assert_eq!(
        ids(MessageFilter { after: Some(1_500), ..Default::default() }).await,
        vec![paid.id.clone()]
    );
    let page = store.list_messages(&a.id, MessageFilter::default(), first(1)).await.unwrap();
    assert!(page.has_more);
}

pub async fn only_endpoint_ignores_filters(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    let mut picky = endpoint(&a.id, "picky");
    picky.filter_types = Some(vec!["other".into()]);
    let picky = store.insert_endpoint(picky).await.unwrap();
    store.insert_endpoint(endpoint(&a.id, "all")).await.unwrap();
    let mut new = message(&a.id, "user.created");
    new.only_endpoint = Some(picky.id.clone());
    let (msg, n) = created(store.accept_message(new).await.unwrap());
    assert_eq!(n, 1);
    assert_eq!(store.list_deliveries_of_message(&msg.id).await.unwrap()[0].endpoint_id, picky.id);
}

/// A payload filter is applied at fan-out, by the group commit too: a filtered-out endpoint
/// gets no delivery row.
pub async fn payload_filters_apply_at_fan_out(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    let mut big = endpoint(&a.id, "big");
    big.filter = Some(serde_json::json!({"payload": {"total": {"$gt": 100}}}));
    let big = store.insert_endpoint(big).await.unwrap();
    store.insert_endpoint(endpoint(&a.id, "all")).await.unwrap();
    let mut small = message(&a.id, "order.paid");
    small.message.payload = r#"{"total": 5}"#.into();
    let mut large = message(&a.id, "order.paid");
    large.message.payload = r#"{"total": 500}"#.into();
    let (small, large) = tokio::join!(store.accept_message(small), store.accept_message(large));
    let ((small, n_small), (large, n_large)) = (created(small.unwrap()), created(large.unwrap()));
    assert_eq!((n_small, n_large), (1, 2));
    let to_big = |deliveries: Vec<hookd::model::DeliveryState>| {
        deliveries.iter().any(|d| d.endpoint_id == big.id)
    };
    assert!(!to_big(store.list_deliveries_of_message(&small.id).await.unwrap()));
    assert!(to_big(store.list_deliveries_of_message(&large.id).await.unwrap()));
}

/// Messages accepted at the same moment share a group commit on both backends: each still
/// gets its own answer (unknown application, repeated `eventId`, idempotency replay) and its
/// own deliveries, and a neighbour's failure (even one that fails the database statement
/// they share) changes nothing for it.
pub async fn concurrent_accepts_answer_each_message(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    // An application whose uid is `a`'s id: an id wins over another application's uid.
    let b = store.insert_app(app(&a.id)).await.unwrap();
    let mut users = endpoint(&a.id, "users");
    users.filter_types = Some(vec!["user.created".into()]);
    for ep in [endpoint(&a.id, "all"), users, endpoint(&b.id, "b")] {
        store.insert_endpoint(ep).await.unwrap();
    }
    let mut news = Vec::new();
    for i in 0..40 {
        let (key, kind) = [("a", "user.created"), (&a.id, "x"), (&b.id, "x"), ("nope", "x")][i % 4];
        let mut new = message(key, kind);
        new.lease = (i % 3 == 0).then(|| hookd::model::time::now_ms() + 60_000);
        if i % 10 == 1 {
            new.message.event_id = Some("dup".into());
        }
        if i % 10 == 5 {
            new.idempotency_key = Some("same".into());
        }
        if i == 6 {
            // PostgreSQL refuses a NUL in text: this message's failure must stay its own.
            new.message.payload = "{\"nul\": \"\0\"}".into();
        }
        news.push(new);
    }
    let tasks: Vec<_> = news
        .iter()
        .cloned()
        .map(|new| {
            let store = store.clone();
            tokio::spawn(async move { store.accept_message(new).await })
        })
        .collect();
    let (mut dups, mut keyed) = (0, Vec::new());
    for (i, (new, task)) in news.iter().zip(tasks).enumerate() {
        let answer = task.await.unwrap();
        let expected_app = [&a.id, &a.id, &b.id, &a.id][i % 4];
        match answer {
            Err(StoreError::NotFound(_)) => assert_eq!(i % 4, 3, "message {i}"),
            Err(StoreError::DuplicateEventId(id)) => {
                assert_eq!((id.as_str(), i % 10), ("dup", 1));
                dups += 1;
            }
            Err(StoreError::Internal(_)) if i == 6 => {}
            Err(e) => panic!("message {i}: {e}"),
            Ok(Accepted::Replayed(m)) => keyed.push(m.id),
            Ok(Accepted::Created { message, deliveries, leased }) => {
                assert_ne!(i % 4, 3, "message {i} names no application");
                assert_eq!(&message.app_id, expected_app, "message {i}");
                let want = [2, 1, 1, 0][i % 4];
                assert_eq!(deliveries, want, "message {i}");
                let stored = store.list_deliveries_of_message(&message.id).await.unwrap();
                assert_eq!(stored.len(), want, "message {i}");
                assert_eq!(leased.len(), if new.lease.is_some() { want } else { 0 });
                for claim in &leased {
                    assert_eq!(claim.message.id, message.id);
                    assert_eq!(claim.endpoint.app_id, *expected_app);
                }
                if new.idempotency_key.is_some() {
                    keyed.push(message.id);
                }
            }
        }
    }
    // "dup" went to application a twice (and twice to no application): one is taken.
    assert_eq!(dups, 1, "the first `dup` is taken, the second refused");
    keyed.dedup();
    assert_eq!(keyed.len(), 1, "one message for the idempotency key, the others replays");
}

/// Deleting an application's messages goes a batch at a time and touches no other
/// application's.
pub async fn app_messages_are_deleted_in_batches(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    let b = store.insert_app(app("b")).await.unwrap();
    store.insert_endpoint(endpoint(&a.id, "e")).await.unwrap();
    for _ in 0..5 {
        store.accept_message(message(&a.id, "x")).await.unwrap();
    }
    for _ in 0..2 {
        store.accept_message(message(&b.id, "x")).await.unwrap();
    }
    let batches: Vec<usize> = {
        let mut sizes = Vec::new();
        loop {
            let n = store.delete_app_messages(&a.id, 2).await.unwrap();
            sizes.push(n);
            if n == 0 {
                break sizes;
            }
        }
    };
    assert_eq!(batches, [2, 2, 1, 0]);
    let left = |id: String| {
        let store = store.clone();
        async move {
            store.list_messages(&id, MessageFilter::default(), first(10)).await.unwrap().items.len()
        }
    };
    assert_eq!((left(a.id.clone()).await, left(b.id.clone()).await), (0, 2));
    store.delete_app(&a.id).await.unwrap();
}
