use std::sync::Arc;

use hookd::model::delivery::{Claim, EndpointEffect, NextStep, Outcome};
use hookd::model::task::Selection;
use hookd::model::time::now_ms;
use hookd::model::{Attempt, DeliveryStatus, TriggerType, ids};
use hookd::store::{Accepted, Claiming, Store};

use crate::backends::fixtures::{app, endpoint, first, message};

async fn app_with_endpoint(store: &Arc<dyn Store>) -> (String, String) {
    let a = store.insert_app(app("a")).await.unwrap();
    let ep = store.insert_endpoint(endpoint(&a.id, "e")).await.unwrap();
    (a.id, ep.id)
}

pub fn outcome(claim: &Claim, next: NextStep, effect: EndpointEffect) -> Outcome {
    let ok = next == NextStep::Succeeded;
    Outcome {
        delivery_id: claim.delivery_id,
        lease: claim.lease,
        endpoint_id: claim.endpoint.id.clone(),
        app_id: claim.endpoint.app_id.clone(),
        attempt: Some(Attempt {
            id: ids::new_id(ids::ATTEMPT),
            msg_id: claim.message.id.clone(),
            endpoint_id: claim.endpoint.id.clone(),
            url: claim.endpoint.url.clone(),
            response: if ok { "ok".into() } else { "boom".into() },
            response_status_code: if ok { 200 } else { 500 },
            response_duration_ms: 3,
            status: if ok { DeliveryStatus::Success } else { DeliveryStatus::Failed },
            trigger_type: if claim.manual { TriggerType::Manual } else { TriggerType::Scheduled },
            created_at: now_ms(),
        }),
        next,
        effect,
        lane: claim.lane(),
    }
}

async fn status_of(store: &Arc<dyn Store>, msg_id: &str) -> DeliveryStatus {
    store.list_deliveries_of_message(msg_id).await.unwrap()[0].status
}

pub async fn claim_record_and_retry(store: Arc<dyn Store>) {
    let (app_id, ep_id) = app_with_endpoint(&store).await;
    for _ in 0..3 {
        store.accept_message(message(&app_id, "x")).await.unwrap();
    }
    let now = now_ms();
    assert!(store.next_due_at(Arc::from([])).await.unwrap().is_some_and(|due| due <= now));
    let lease = now + 60_000;
    let first_two = store.claim_due_deliveries(Claiming::new(now, 2, lease)).await.unwrap();
    let last = store.claim_due_deliveries(Claiming::new(now, 2, lease)).await.unwrap();
    assert_eq!((first_two.len(), last.len()), (2, 1));
    assert!(
        store.claim_due_deliveries(Claiming::new(now, 10, lease)).await.unwrap().is_empty(),
        "leased work is not claimed twice"
    );
    assert_eq!(status_of(&store, &last[0].message.id).await, DeliveryStatus::Sending);

    let retry_at = now + 1_000;
    let outcomes = vec![
        outcome(&first_two[0], NextStep::Succeeded, EndpointEffect::Healthy),
        outcome(&first_two[1], NextStep::Failed, EndpointEffect::None),
        outcome(&last[0], NextStep::RetryAt(retry_at), EndpointEffect::None),
    ];
    assert!(store.record_outcomes(outcomes.into(), now_ms()).await.unwrap().is_empty());
    assert_eq!(status_of(&store, &first_two[0].message.id).await, DeliveryStatus::Success);
    assert_eq!(status_of(&store, &first_two[1].message.id).await, DeliveryStatus::Failed);
    assert_eq!(status_of(&store, &last[0].message.id).await, DeliveryStatus::Pending);
    assert_eq!(store.next_due_at(Arc::from([])).await.unwrap(), Some(retry_at));
    assert!(
        store.claim_due_deliveries(Claiming::new(now, 10, lease)).await.unwrap().is_empty(),
        "not due yet"
    );
    let again =
        store.claim_due_deliveries(Claiming::new(retry_at, 10, retry_at + 60_000)).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));

    let by_msg = store.list_attempts_by_message(&last[0].message.id, first(10)).await.unwrap();
    assert_eq!(by_msg.items.len(), 1);
    assert_eq!(by_msg.items[0].response, "boom");
    assert_eq!(store.list_attempts_by_endpoint(&ep_id, first(10)).await.unwrap().items.len(), 3);
}

pub async fn leases_expire_and_stale_outcomes_are_ignored(store: Arc<dyn Store>) {
    let (app_id, _) = app_with_endpoint(&store).await;
    let (msg, _) = match store.accept_message(message(&app_id, "x")).await.unwrap() {
        Accepted::Created { message, deliveries, .. } => (message, deliveries),
        Accepted::Replayed(_) => unreachable!(),
    };
    let now = now_ms();
    let stale =
        store.claim_due_deliveries(Claiming::new(now, 10, now + 100)).await.unwrap().remove(0);
    assert_eq!(store.expire_leases(now + 50).await.unwrap(), 0);
    assert_eq!(store.expire_leases(now + 200).await.unwrap(), 1, "an expired lease comes back");
    assert_eq!(status_of(&store, &msg.id).await, DeliveryStatus::Pending);
    let fresh = store
        .claim_due_deliveries(Claiming::new(now + 200, 10, now + 60_000))
        .await
        .unwrap()
        .remove(0);
    assert_ne!(fresh.lease, stale.lease);

    store
        .record_outcomes(
            vec![outcome(&stale, NextStep::Succeeded, EndpointEffect::None)].into(),
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(
        status_of(&store, &msg.id).await,
        DeliveryStatus::Sending,
        "the stale claim changed nothing"
    );
    store
        .record_outcomes(
            vec![outcome(&fresh, NextStep::Succeeded, EndpointEffect::None)].into(),
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(status_of(&store, &msg.id).await, DeliveryStatus::Success);
}

pub async fn leased_on_accept_resend_and_recover(store: Arc<dyn Store>) {
    let (app_id, ep_id) = app_with_endpoint(&store).await;
    let mut new = message(&app_id, "x");
    let lease = now_ms() + 60_000;
    new.lease = Some(lease);
    let Accepted::Created { message: msg, leased, .. } = store.accept_message(new).await.unwrap()
    else {
        panic!("expected a new message")
    };
    assert_eq!(
        (leased.len(), leased[0].lease, leased[0].endpoint.id.as_str()),
        (1, lease, ep_id.as_str())
    );
    assert_eq!(status_of(&store, &msg.id).await, DeliveryStatus::Sending);
    assert!(
        store.claim_due_deliveries(Claiming::new(now_ms(), 10, lease)).await.unwrap().is_empty()
    );
    store
        .record_outcomes(
            vec![outcome(&leased[0], NextStep::Succeeded, EndpointEffect::None)].into(),
            now_ms(),
        )
        .await
        .unwrap();

    store.resend(&msg.id, &ep_id, now_ms()).await.unwrap();
    let manual = store
        .claim_due_deliveries(Claiming::new(now_ms(), 10, now_ms() + 60_000))
        .await
        .unwrap()
        .remove(0);
    assert!(manual.manual);
    store
        .record_outcomes(
            vec![outcome(&manual, NextStep::Failed, EndpointEffect::None)].into(),
            now_ms(),
        )
        .await
        .unwrap();
    let attempts = store.list_attempts_by_message(&msg.id, first(10)).await.unwrap().items;
    assert_eq!(attempts[0].trigger_type, TriggerType::Manual, "newest first");

    // A recovery, as a replay of the endpoint's failures: a step at a time, from a cursor.
    let failed = |since| Selection {
        endpoint_id: Some(ep_id.clone()),
        failed_only: true,
        since,
        ..Selection::default()
    };
    let later = failed(Some(now_ms() + 60_000));
    assert_eq!(store.count_replay(&app_id, &later).await.unwrap(), 0, "none since then");
    assert_eq!(store.replay_step(&app_id, &later, 0, 10, now_ms()).await.unwrap(), (0, None));
    assert_eq!(store.count_replay(&app_id, &failed(None)).await.unwrap(), 1);
    let (queued, cursor) =
        store.replay_step(&app_id, &failed(None), 0, 10, now_ms()).await.unwrap();
    assert_eq!((queued, cursor.is_some()), (1, true));
    let cursor = cursor.unwrap();
    assert_eq!(store.count_replay(&app_id, &failed(None)).await.unwrap(), 0, "queued: not failed");
    assert_eq!(
        store.replay_step(&app_id, &Selection::default(), cursor, 10, now_ms()).await.unwrap(),
        (0, None),
        "nothing after the cursor"
    );
    assert_eq!(
        store
            .claim_due_deliveries(Claiming::new(now_ms(), 10, now_ms() + 60_000))
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn endpoint_health(store: Arc<dyn Store>) {
    let (app_id, ep_id) = app_with_endpoint(&store).await;
    for _ in 0..4 {
        store.accept_message(message(&app_id, "x")).await.unwrap();
    }
    let now = now_ms();
    let claims = store.claim_due_deliveries(Claiming::new(now, 10, now + 60_000)).await.unwrap();
    let failing = |claim: &Claim, disable_before| {
        outcome(
            claim,
            NextStep::RetryAt(now + 5_000),
            EndpointEffect::Failing { now, disable_before },
        )
    };
    assert!(
        store
            .record_outcomes(vec![failing(&claims[0], now - 1)].into(), now_ms())
            .await
            .unwrap()
            .is_empty()
    );
    let ep = store.get_endpoint(&app_id, &ep_id).await.unwrap();
    assert_eq!((ep.failing_since, ep.disabled), (Some(now), false));
    assert_eq!(
        store.record_outcomes(vec![failing(&claims[1], now)].into(), now_ms()).await.unwrap(),
        vec![ep_id.clone()]
    );
    assert!(store.get_endpoint(&app_id, &ep_id).await.unwrap().disabled);

    let mut enabled = store.get_endpoint(&app_id, &ep_id).await.unwrap();
    assert!(enabled.updated_at > ep.updated_at, "disabling bumps updated_at, so stale edits fail");
    let read_at = enabled.updated_at;
    enabled.disabled = false;
    store.update_endpoint(enabled, read_at).await.unwrap();
    store
        .record_outcomes(
            vec![outcome(&claims[2], NextStep::Succeeded, EndpointEffect::Healthy)].into(),
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(store.get_endpoint(&app_id, &ep_id).await.unwrap().failing_since, None);
    let gone = outcome(&claims[3], NextStep::Failed, EndpointEffect::Disable);
    assert_eq!(
        store.record_outcomes(vec![gone].into(), now_ms()).await.unwrap(),
        vec![ep_id.clone()]
    );
}

pub async fn purge_keeps_what_is_pending_or_recent(store: Arc<dyn Store>) {
    let (app_id, _) = app_with_endpoint(&store).await;
    let mut ids = Vec::new();
    for created_at in [1_000, 2_000, now_ms()] {
        let mut new = message(&app_id, "x");
        new.message.created_at = created_at;
        // Ids carry their creation time; the purge reads it from them.
        if created_at < 10_000 {
            new.message.id = ids::lowest_id_at(ids::MESSAGE, created_at);
        }
        let Accepted::Created { message, .. } = store.accept_message(new).await.unwrap() else {
            unreachable!()
        };
        ids.push(message.id);
    }
    // Deliver the oldest; the second stays pending.
    let claim = store
        .claim_due_deliveries(Claiming::new(1_000, 1, now_ms() + 60_000))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(claim.message.id, ids[0]);
    store
        .record_outcomes(
            vec![outcome(&claim, NextStep::Succeeded, EndpointEffect::None)].into(),
            now_ms(),
        )
        .await
        .unwrap();

    assert_eq!(store.purge_messages(now_ms() - 60_000, 100).await.unwrap(), 1);
    assert!(store.get_message(&app_id, &ids[0]).await.is_err(), "delivered and old: purged");
    assert!(store.get_message(&app_id, &ids[1]).await.is_ok(), "still pending: kept");
    assert!(store.get_message(&app_id, &ids[2]).await.is_ok(), "recent: kept");
    assert!(store.list_attempts_by_message(&ids[0], first(10)).await.unwrap().items.is_empty());
}

/// Hardening defect 1: the outcome of a delivery whose endpoint (or application) was deleted
/// while it was in flight is dropped, and the rest of its batch is recorded.
pub async fn outcomes_of_deleted_endpoints_are_dropped(store: Arc<dyn Store>) {
    let (app_id, kept) = app_with_endpoint(&store).await;
    let gone = store.insert_endpoint(endpoint(&app_id, "gone")).await.unwrap().id;
    let other = store.insert_app(app("other")).await.unwrap();
    store.insert_endpoint(endpoint(&other.id, "e")).await.unwrap();
    store.accept_message(message(&app_id, "x")).await.unwrap();
    store.accept_message(message(&other.id, "x")).await.unwrap();
    let now = now_ms();
    let claims = store.claim_due_deliveries(Claiming::new(now, 10, now + 60_000)).await.unwrap();
    assert_eq!(claims.len(), 3);
    store.delete_endpoint(&app_id, &gone).await.unwrap();
    store.delete_app(&other.id).await.unwrap();

    let outcomes: Arc<[Outcome]> =
        claims.iter().map(|c| outcome(c, NextStep::Succeeded, EndpointEffect::Healthy)).collect();
    store.record_outcomes(outcomes, now_ms()).await.expect("the batch is recorded");
    let survivor = claims.iter().find(|c| c.endpoint.id == kept).unwrap();
    assert_eq!(status_of(&store, &survivor.message.id).await, DeliveryStatus::Success);
    let logged = store.list_attempts_by_endpoint(&kept, first(10)).await.unwrap().items;
    assert_eq!(logged.len(), 1, "the surviving endpoint's attempt is logged");
    assert!(store.list_attempts_by_endpoint(&gone, first(10)).await.unwrap().items.is_empty());
    assert!(
        store
            .claim_due_deliveries(Claiming::new(now_ms(), 10, now + 60_000))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn backlog_and_heartbeat(store: Arc<dyn Store>) {
    use hookd::store::Backlog;
    let (app_id, _) = app_with_endpoint(&store).await;
    let now = now_ms();
    assert_eq!(store.backlog(now).await.unwrap(), Backlog { due: 0, scheduled: 0 });
    for _ in 0..2 {
        store.accept_message(message(&app_id, "x")).await.unwrap();
    }
    let after = now_ms() + 1;
    assert_eq!(store.backlog(after).await.unwrap(), Backlog { due: 2, scheduled: 0 });
    // Seen from before they were accepted, the same deliveries are due later.
    assert_eq!(store.backlog(now - 10_000).await.unwrap(), Backlog { due: 0, scheduled: 2 });
    // A leased delivery is being sent: neither.
    store.claim_due_deliveries(Claiming::new(after, 1, after + 60_000)).await.unwrap();
    assert_eq!(store.backlog(after).await.unwrap(), Backlog { due: 1, scheduled: 0 });

    // The health check's write: the first inserts the row, the next ones update it.
    store.check_writable(now).await.unwrap();
    store.check_writable(now + 1).await.unwrap();
}

/// Background tasks: kept, listed, held by one runner at a time, saved step by step, and
/// cancelled by a flag a save does not undo; a replay picks by event type, state and time.
pub async fn background_tasks(store: Arc<dyn Store>) {
    use hookd::model::task::{BackgroundTask, TaskFilter, TaskKind, TaskStatus};
    let (app_id, ep_id) = app_with_endpoint(&store).await;
    let now = now_ms();
    let task = |kind| BackgroundTask {
        id: ids::new_id(ids::TASK),
        app_id: app_id.clone(),
        kind,
        status: TaskStatus::Running,
        selection: Selection { event_types: Some(vec!["x".into()]), ..Selection::default() },
        queued: 0,
        cursor: 0,
        cancel_requested: false,
        error: None,
        lease_until: None,
        created_at: now,
        updated_at: now,
    };
    let (replay, recover) = (task(TaskKind::Replay), task(TaskKind::Recover));
    store.insert_task(replay.clone()).await.unwrap();
    store.insert_task(recover.clone()).await.unwrap();
    assert_eq!(store.get_task(&replay.id).await.unwrap(), replay);
    let recovers = TaskFilter { kind: Some(TaskKind::Recover), ..TaskFilter::default() };
    let listed = store.list_tasks(recovers, first(10)).await.unwrap().items;
    assert_eq!(listed, std::slice::from_ref(&recover));

    let held = store.claim_task(now, now + 30_000).await.unwrap().expect("a task to take");
    assert_eq!((held.id.as_str(), held.lease_until), (replay.id.as_str(), Some(now + 30_000)));
    let other = store.claim_task(now, now + 30_000).await.unwrap().expect("the other task");
    assert_eq!(other.id, recover.id);
    assert_eq!(store.claim_task(now, now + 30_000).await.unwrap(), None, "both are held");
    let again = store.claim_task(now + 30_000, now + 60_000).await.unwrap();
    assert_eq!(again.map(|t| t.id), Some(replay.id.clone()), "a lapsed lease is taken over");

    let cancelled = store.cancel_task(&replay.id, now).await.unwrap();
    assert!(cancelled.cancel_requested);
    let saved =
        store.save_task(BackgroundTask { queued: 3, cursor: 7, ..held.clone() }).await.unwrap();
    assert_eq!((saved.queued, saved.cursor, saved.cancel_requested), (3, 7, true));
    let ended = BackgroundTask { status: TaskStatus::Finished, lease_until: None, ..saved };
    store.save_task(ended).await.unwrap();
    let after = store.cancel_task(&replay.id, now).await.unwrap();
    assert_eq!(after.status, TaskStatus::Finished, "an ended task is left as it is");
    let running = TaskFilter { status: Some(TaskStatus::Running), ..TaskFilter::default() };
    assert_eq!(store.list_tasks(running, first(10)).await.unwrap().items.len(), 1);
    assert!(matches!(
        store.get_task("qtask_nope").await,
        Err(hookd::store::StoreError::NotFound(_))
    ));

    // What a replay picks: failed deliveries of event type "x" (not "y", not a success).
    let mut deliveries = Vec::new();
    for event_type in ["x", "x", "y"] {
        let Accepted::Created { leased, .. } = store
            .accept_message(hookd::store::NewMessage {
                lease: Some(now_ms() + 60_000),
                ..message(&app_id, event_type)
            })
            .await
            .unwrap()
        else {
            panic!("expected a new message")
        };
        deliveries.extend(leased);
    }
    let outcomes: Vec<Outcome> = deliveries
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let next = if i == 0 { NextStep::Succeeded } else { NextStep::Failed };
            outcome(c, next, EndpointEffect::None)
        })
        .collect();
    store.record_outcomes(outcomes.into(), now_ms()).await.unwrap();
    let of_x = |failed_only| Selection {
        endpoint_id: Some(ep_id.clone()),
        event_types: Some(vec!["x".into()]),
        failed_only,
        ..Selection::default()
    };
    assert_eq!(store.count_replay(&app_id, &of_x(true)).await.unwrap(), 1);
    assert_eq!(store.count_replay(&app_id, &of_x(false)).await.unwrap(), 2, "and the success");
    assert_eq!(store.count_replay("app_other", &of_x(false)).await.unwrap(), 0, "another app");
    let (first_step, cursor) =
        store.replay_step(&app_id, &of_x(false), 0, 1, now_ms()).await.unwrap();
    assert_eq!(first_step, 1, "one at a time");
    let rest =
        store.replay_step(&app_id, &of_x(false), cursor.unwrap(), 1, now_ms()).await.unwrap();
    assert_eq!(rest.0, 1);
    assert_eq!(store.count_replay(&app_id, &of_x(false)).await.unwrap(), 0, "both queued");
}

/// Fair sharing: a delivery to an endpoint its node is busy with stays pending even with a
/// lease, and a claim passes over that endpoint's deliveries until it has room.
pub async fn busy_endpoints_stay_pending_and_are_passed_over(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    let busy = store.insert_endpoint(endpoint(&a.id, "busy")).await.unwrap();
    let free = store.insert_endpoint(endpoint(&a.id, "free")).await.unwrap();
    let skip: Arc<[String]> = Arc::from([busy.id.clone()]);
    let lease = now_ms() + 60_000;
    let new =
        hookd::store::NewMessage { lease: Some(lease), busy: skip.clone(), ..message(&a.id, "x") };
    let Accepted::Created { deliveries, leased, .. } = store.accept_message(new).await.unwrap()
    else {
        panic!("expected a new message")
    };
    assert_eq!(deliveries, 2);
    let leased: Vec<&str> = leased.iter().map(|c| c.endpoint.id.as_str()).collect();
    assert_eq!(leased, [free.id.as_str()], "only the endpoint with room is leased");

    // The same with an idempotency key (PostgreSQL's transactional path, not its group).
    let keyed = hookd::store::NewMessage {
        lease: Some(lease),
        busy: skip.clone(),
        idempotency_key: Some("k".into()),
        ..message(&a.id, "x")
    };
    let Accepted::Created { leased, .. } = store.accept_message(keyed).await.unwrap() else {
        panic!("expected a new message")
    };
    let leased: Vec<&str> = leased.iter().map(|c| c.endpoint.id.as_str()).collect();
    assert_eq!(leased, [free.id.as_str()], "keyed: only the endpoint with room is leased");

    let now = now_ms();
    let passed_over = store
        .claim_due_deliveries(Claiming { skip, ..Claiming::new(now, 10, lease) })
        .await
        .unwrap();
    assert!(passed_over.is_empty(), "the busy endpoint's delivery is passed over");
    let claimed = store.claim_due_deliveries(Claiming::new(now, 10, lease)).await.unwrap();
    let claimed: Vec<&str> = claimed.iter().map(|c| c.endpoint.id.as_str()).collect();
    assert_eq!(claimed, [busy.id.as_str(), busy.id.as_str()], "claimed once it has room");

    let mut accepted = Vec::new();
    for _ in 0..3 {
        let Accepted::Created { message: m, .. } =
            store.accept_message(message(&a.id, "x")).await.unwrap()
        else {
            panic!("expected a new message")
        };
        accepted.push(m.id);
        // Apart in time, so "oldest" has one answer on both backends.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let one_each = Claiming { per_endpoint: 1, ..Claiming::new(now_ms(), 10, lease) };
    let mut claimed: Vec<(String, String)> = store
        .claim_due_deliveries(one_each)
        .await
        .unwrap()
        .iter()
        .map(|c| (c.endpoint.id.clone(), c.message.id.clone()))
        .collect();
    claimed.sort();
    let mut oldest = vec![(busy.id.clone(), accepted[0].clone()), (free.id, accepted[0].clone())];
    oldest.sort();
    assert_eq!(claimed, oldest, "one delivery per endpoint, the oldest of each");

    let narrow = Claiming { per_endpoint: 1, ..Claiming::new(now_ms(), 1, lease) };
    let claimed = store.claim_due_deliveries(narrow).await.unwrap();
    let messages: Vec<&str> = claimed.iter().map(|c| c.message.id.as_str()).collect();
    assert_eq!(messages, [&accepted[1]], "at most `limit`, the oldest first");
}
