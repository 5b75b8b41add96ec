//! A delivery's life between the store and the dispatcher: which endpoints a message goes to,
//! the claim a dispatcher holds while it sends, and what it reports back.
//!
//! ```text
//! accepted ─▶ pending ─claim─▶ sending ─outcome─▶ succeeded | pending (retry) | failed
//! ```
//!
//! A message with an ordering key goes to each endpoint in a *lane* (the endpoint and the
//! key): one of its deliveries at a time is due, sending or retrying, the others wait, pending
//! with no due time, in the order they were accepted. When the one in front succeeds or fails
//! for good, the store makes the next due in the same transaction; if it failed and its
//! endpoint holds keys on failure, it is *held* ([`HELD`]) and the lane waits until it is
//! resent.

use std::sync::Arc;

use super::{Attempt, DeliveryStatus, Endpoint, HELD, Message, filter};

/// The fan-out rule over an application's enabled endpoints: those subscribed to the
/// message whose payload filter (if any) it passes, or just the one named in `only_endpoint`.
/// The payload is parsed only when an endpoint has a filter, once per message.
pub fn select_targets(
    enabled: &[Arc<Endpoint>],
    msg: &Message,
    only_endpoint: Option<&str>,
) -> Vec<Arc<Endpoint>> {
    let mut document = None;
    let mut passes = |f: &serde_json::Value| {
        let doc = document.get_or_insert_with(|| {
            filter::document(&msg.event_type, msg.channels.as_deref(), &msg.payload)
        });
        filter::matches(f, doc)
    };
    enabled
        .iter()
        .filter(|ep| match only_endpoint {
            Some(only) => ep.id == only,
            None => {
                ep.subscribes_to(&msg.event_type, msg.channels.as_deref())
                    && ep.filter.as_ref().is_none_or(&mut passes)
            }
        })
        .cloned()
        .collect()
}

/// A delivery leased to one dispatcher until `lease`; `lease` also identifies the claim, so a
/// late answer to an expired claim cannot overwrite the work of the claim that followed it.
#[derive(Debug, Clone)]
pub struct Claim {
    pub delivery_id: i64,
    pub lease: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    /// A resend asked for by a user: one attempt, logged as manual.
    pub manual: bool,
    pub message: Arc<Message>,
    pub endpoint: Arc<Endpoint>,
}

impl Claim {
    /// The lane the delivery is in, if its message has an ordering key.
    pub fn lane(&self) -> Option<Lane> {
        let key = self.message.ordering_key.clone()?;
        Some(Lane { key, hold: self.endpoint.hold_key_on_failure })
    }
}

/// A keyed delivery's lane, as its outcome needs it: the key, and whether a failure for good
/// holds the key's later messages back.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub key: String,
    pub hold: bool,
}

/// What happens to a delivery after an attempt (or without one).
#[derive(Debug, Clone, PartialEq)]
pub enum NextStep {
    Succeeded,
    RetryAt(i64),
    Failed,
    /// Give the lease back unattempted (shutdown, endpoint busy): due again at this time.
    Release(i64),
}

impl NextStep {
    /// The state the delivery moves to, and when it is due again if it is.
    pub fn state(&self) -> (DeliveryStatus, Option<i64>) {
        match *self {
            Self::Succeeded => (DeliveryStatus::Success, None),
            Self::Failed => (DeliveryStatus::Failed, None),
            Self::RetryAt(at) | Self::Release(at) => (DeliveryStatus::Pending, Some(at)),
        }
    }

    /// A lease given back unattempted keeps a resend's manual mark for the attempt to come;
    /// any attempt uses it up.
    pub fn keeps_manual(&self) -> bool {
        matches!(self, Self::Release(_))
    }
}

/// How an attempt bears on its endpoint's health.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointEffect {
    None,
    /// A success: the endpoint is healthy again.
    Healthy,
    /// A failure at `now`: disable the endpoint if it has failed since `disable_before` or earlier.
    Failing {
        now: i64,
        disable_before: i64,
    },
    /// The receiver asked to stop (410 Gone).
    Disable,
}

/// The result of one claim, to be recorded.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub delivery_id: i64,
    pub lease: i64,
    pub endpoint_id: String,
    /// The endpoint's application, for what the recorder reports (a disabled endpoint).
    pub app_id: String,
    pub attempt: Option<Attempt>,
    pub next: NextStep,
    pub effect: EndpointEffect,
    /// The delivery's lane, if its message has an ordering key.
    pub lane: Option<Lane>,
}

impl Outcome {
    /// The state code the delivery moves to (Svix's, or [`HELD`]), and when it is due again.
    pub fn state(&self) -> (i64, Option<i64>) {
        let (status, at) = self.next.state();
        let holds = status == DeliveryStatus::Failed && self.lane.as_ref().is_some_and(|l| l.hold);
        (if holds { HELD } else { status as i64 }, at)
    }

    /// The key whose next message may go, when this one is done with: it succeeded, or it
    /// failed for good without holding its lane.
    pub fn frees(&self) -> Option<&str> {
        let lane = self.lane.as_ref()?;
        let done = match self.next {
            NextStep::Succeeded => true,
            NextStep::Failed => !lane.hold,
            NextStep::RetryAt(_) | NextStep::Release(_) => false,
        };
        done.then_some(lane.key.as_str())
    }
}

/// The lanes (endpoint, key) whose next delivery may go after these outcomes.
pub fn freed_lanes(outcomes: &[Outcome]) -> Vec<(&str, &str)> {
    distinct_lanes(outcomes.iter().filter_map(|o| Some((o.endpoint_id.as_str(), o.frees()?))))
}

/// Lanes (endpoint, key), each once: a batch touches a lane once however many of its
/// deliveries are in it.
pub fn distinct_lanes<'a>(
    lanes: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    let mut lanes: Vec<_> = lanes.collect();
    lanes.sort_unstable();
    lanes.dedup();
    lanes
}

/// One effect per run of equal effects on an endpoint: a batch of a thousand successes to one
/// endpoint is one update, not a thousand. A run of failures keeps its first time (when the
/// failing began) and its last deadline.
pub fn collapse_effects(outcomes: &[Outcome]) -> Vec<(&str, EndpointEffect)> {
    let mut runs: Vec<(&str, EndpointEffect)> = Vec::new();
    for o in outcomes.iter().filter(|o| o.effect != EndpointEffect::None) {
        let last = runs.iter_mut().rev().find(|(id, _)| *id == o.endpoint_id);
        match (last, &o.effect) {
            (
                Some((_, EndpointEffect::Failing { disable_before, .. })),
                EndpointEffect::Failing { disable_before: later, .. },
            ) => {
                *disable_before = (*disable_before).max(*later);
            }
            (Some((_, previous)), effect) if previous == effect => {}
            _ => runs.push((&o.endpoint_id, o.effect.clone())),
        }
    }
    // One order for every node (a stable sort keeps each endpoint's own sequence), so two
    // nodes updating the same endpoints cannot lock them in opposite orders and deadlock.
    runs.sort_by(|a, b| a.0.cmp(b.0));
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(endpoint: &str, effect: EndpointEffect) -> Outcome {
        Outcome {
            delivery_id: 1,
            lease: 1,
            endpoint_id: endpoint.into(),
            app_id: "app_1".into(),
            attempt: None,
            next: NextStep::Failed,
            effect,
            lane: None,
        }
    }

    #[test]
    fn effects_collapse_per_run() {
        let failing = |now, disable_before| EndpointEffect::Failing { now, disable_before };
        let outcomes = vec![
            outcome("a", EndpointEffect::Healthy),
            outcome("a", EndpointEffect::Healthy),
            outcome("b", failing(10, 1)),
            outcome("b", failing(20, 5)),
            outcome("a", EndpointEffect::None),
            outcome("a", failing(30, 7)),
        ];
        let runs = collapse_effects(&outcomes);
        assert_eq!(
            runs,
            vec![("a", EndpointEffect::Healthy), ("a", failing(30, 7)), ("b", failing(10, 5))],
            "runs in endpoint order, each endpoint's own order kept"
        );
    }

    #[test]
    fn next_steps_map_to_states() {
        assert_eq!(NextStep::Succeeded.state(), (DeliveryStatus::Success, None));
        assert_eq!(NextStep::RetryAt(5).state(), (DeliveryStatus::Pending, Some(5)));
        assert_eq!(NextStep::Release(7).state(), (DeliveryStatus::Pending, Some(7)));
        assert_eq!(NextStep::Failed.state(), (DeliveryStatus::Failed, None));
        assert!(NextStep::Release(7).keeps_manual() && !NextStep::RetryAt(5).keeps_manual());
    }

    #[test]
    fn a_lane_is_freed_by_its_end_and_held_by_a_holding_failure() {
        let keyed = |endpoint: &str, key: &str, hold, next| Outcome {
            next,
            lane: Some(Lane { key: key.into(), hold }),
            ..outcome(endpoint, EndpointEffect::None)
        };
        let outcomes = vec![
            keyed("b", "k", false, NextStep::Succeeded),
            keyed("a", "k", false, NextStep::Failed),
            keyed("a", "r", false, NextStep::RetryAt(5)),
            keyed("a", "h", true, NextStep::Failed),
            keyed("a", "s", true, NextStep::Succeeded),
            keyed("b", "k", false, NextStep::Succeeded),
            outcome("c", EndpointEffect::None),
        ];
        assert_eq!(freed_lanes(&outcomes), vec![("a", "k"), ("a", "s"), ("b", "k")]);
        assert_eq!(outcomes[3].state(), (HELD, None), "a holding failure is held");
        assert_eq!(outcomes[1].state(), (DeliveryStatus::Failed as i64, None));
        assert_eq!(outcomes[2].state(), (DeliveryStatus::Pending as i64, Some(5)));
    }
}
