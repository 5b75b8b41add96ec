//! Ordering keys: a lane (endpoint, key) has one delivery in front at a time, the rest wait in
//! the order they were accepted; a failure for good frees the lane or holds it.

use std::sync::Arc;

use hookd::model::delivery::{Claim, EndpointEffect, NextStep};
use hookd::model::task::Selection;
use hookd::model::time::now_ms;
use hookd::model::{DeliveryStatus, Endpoint};
use hookd::store::{Accepted, Claiming, NewMessage, Store};

use crate::backends::fixtures::{app, endpoint, message};
use crate::delivery::outcome;

fn keyed(app_id: &str, key: Option<&str>) -> NewMessage {
    let mut new = message(app_id, "x");
    new.message.ordering_key = key.map(str::to_owned);
    new
}

async fn accept(store: &Arc<dyn Store>, new: NewMessage) -> (String, usize) {
    match store.accept_message(new).await.unwrap() {
        Accepted::Created { message, leased, .. } => (message.id, leased.len()),
        Accepted::Replayed(_) => panic!("a new message was replayed"),
    }
}

/// Everything due now, by message id.
async fn claim_all(store: &Arc<dyn Store>) -> Vec<Claim> {
    let now = now_ms();
    let mut claims =
        store.claim_due_deliveries(Claiming::new(now, 100, now + 60_000)).await.unwrap();
    claims.sort_by(|a, b| a.message.id.cmp(&b.message.id));
    claims
}

fn ids(claims: &[Claim]) -> Vec<&str> {
    claims.iter().map(|c| c.message.id.as_str()).collect()
}

async fn finish(store: &Arc<dyn Store>, claim: &Claim, next: NextStep) {
    let done = outcome(claim, next, EndpointEffect::None);
    store.record_outcomes(Arc::new([done]), now_ms()).await.unwrap();
}

async fn status(store: &Arc<dyn Store>, msg_id: &str) -> DeliveryStatus {
    store.list_deliveries_of_message(msg_id).await.unwrap()[0].status
}

pub async fn a_lane_sends_one_at_a_time_in_order(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    store.insert_endpoint(endpoint(&a.id, "e")).await.unwrap();
    let (k1, _) = accept(&store, keyed(&a.id, Some("k"))).await;
    let (k2, _) = accept(&store, keyed(&a.id, Some("k"))).await;
    let (k3, _) = accept(&store, keyed(&a.id, Some("k"))).await;
    let (other, _) = accept(&store, keyed(&a.id, Some("j"))).await;
    let (unkeyed, _) = accept(&store, keyed(&a.id, None)).await;

    let claims = claim_all(&store).await;
    assert_eq!(ids(&claims), vec![&k1, &other, &unkeyed], "one per lane, and unkeyed ones");
    assert_eq!(status(&store, &k2).await, DeliveryStatus::Pending, "a waiting one reads pending");
    let now = now_ms();
    let mut leased_new = keyed(&a.id, Some("k"));
    leased_new.lease = Some(now + 60_000);
    assert_eq!(accept(&store, leased_new).await.1, 0, "no lease for one that waits");

    finish(&store, &claims[0], NextStep::RetryAt(now)).await;
    let retried = claim_all(&store).await;
    assert_eq!(ids(&retried), vec![&k1], "a retry stays in front");
    finish(&store, &retried[0], NextStep::Failed).await;
    let next = claim_all(&store).await;
    assert_eq!(ids(&next), vec![&k2], "a failure for good frees the lane");
    assert_eq!(status(&store, &k1).await, DeliveryStatus::Failed);
    finish(&store, &next[0], NextStep::Succeeded).await;
    assert_eq!(ids(&claim_all(&store).await), vec![&k3], "then the next in order");
}

pub async fn a_holding_endpoint_holds_the_key_until_resent(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    let ep = store.insert_endpoint(endpoint(&a.id, "e")).await.unwrap();
    let hold = Endpoint { hold_key_on_failure: true, ..ep.clone() };
    let ep = store.update_endpoint(hold, ep.updated_at).await.unwrap();
    assert!(ep.hold_key_on_failure, "the setting is stored");
    let (h1, _) = accept(&store, keyed(&a.id, Some("h"))).await;
    let (h2, _) = accept(&store, keyed(&a.id, Some("h"))).await;

    let first = claim_all(&store).await;
    assert_eq!(ids(&first), vec![&h1]);
    finish(&store, &first[0], NextStep::Failed).await;
    assert_eq!(status(&store, &h1).await, DeliveryStatus::Failed, "held reads as failed");
    let (h3, _) = accept(&store, keyed(&a.id, Some("h"))).await;
    assert!(claim_all(&store).await.is_empty(), "the held key's later messages wait");
    let (free, _) = accept(&store, keyed(&a.id, Some("free"))).await;
    assert_eq!(ids(&claim_all(&store).await), vec![&free], "other keys go on");

    store.resend(&h1, &ep.id, now_ms()).await.unwrap();
    let resent = claim_all(&store).await;
    assert_eq!(ids(&resent), vec![&h1], "a resend puts the held one in front again");
    assert!(resent[0].manual);
    finish(&store, &resent[0], NextStep::Succeeded).await;
    let second = claim_all(&store).await;
    assert_eq!(ids(&second), vec![&h2], "and its success frees the lane");

    finish(&store, &second[0], NextStep::Failed).await;
    let failed = Selection { failed_only: true, ..Selection::default() };
    assert_eq!(store.count_replay(&a.id, &failed).await.unwrap(), 1, "a held one is a failed one");
    let (queued, _) = store.replay_step(&a.id, &failed, 0, 10, now_ms()).await.unwrap();
    assert_eq!(queued, 1);
    let replayed = claim_all(&store).await;
    assert_eq!(ids(&replayed), vec![&h2], "a replay puts it in front again");
    finish(&store, &replayed[0], NextStep::Succeeded).await;
    assert_eq!(ids(&claim_all(&store).await), vec![&h3], "then the key goes on");
}

/// Messages of one key accepted at the same moment (one group commit on PostgreSQL) still
/// put one delivery in front, leased or due, and the rest behind it.
pub async fn a_key_accepted_at_once_has_one_in_front(store: Arc<dyn Store>) {
    let a = store.insert_app(app("a")).await.unwrap();
    store.insert_endpoint(endpoint(&a.id, "e")).await.unwrap();
    let lease = now_ms() + 60_000;
    let accepts = (0..20).map(|_| {
        let (store, mut new) = (store.clone(), keyed(&a.id, Some("k")));
        new.lease = Some(lease);
        tokio::spawn(async move { accept(&store, new).await })
    });
    let mut leased = 0;
    for accepted in accepts.collect::<Vec<_>>() {
        leased += accepted.await.unwrap().1;
    }
    let due = claim_all(&store).await.len();
    assert_eq!(leased + due, 1, "{leased} leased and {due} due of one key");
}
