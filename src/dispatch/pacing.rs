//! Adaptive pacing per endpoint: how many requests may be in flight to it (its window, 1 to
//! `delivery.endpoint_in_flight`), and whether it is paused.
//!
//! A receiver that says it is overloaded (429, 502, 503, 504) or does not answer in time
//! halves the window and pauses the whole endpoint, not only the delivery that got the
//! answer: for the `Retry-After` it gave (at most [`MAX_PAUSE`]) or a short back-off. The
//! window shrinks at most once per round trip: only a request started after the last
//! decrease can decrease it again, so the thirty answers of one overloaded burst halve it
//! once, not thirty times.
//!
//! Successes grow it again by one per window's worth of successes (one more request in
//! flight per round trip, as TCP's congestion avoidance), up to just below the window that
//! last overloaded the receiver; above that, it probes only after [`PROBE_AFTER`] windows'
//! worth, so a receiver with a fixed capacity sees one refusal every few hundred requests, not
//! one in every few. A response slower than [`SLOW`] stops the growth.
//!
//! Compared with a fixed limit (what Svix, Hook0 and Convoy do): a fixed limit either wastes a
//! fast receiver or overloads a slow one. With a token bucket on errors: it needs a rate to be
//! configured per receiver. AIMD needs nothing configured and settles near the capacity.

use std::time::Duration;

use tokio::time::Instant;

use crate::metrics::StatusClass;

/// The longest pause a `Retry-After` may ask for.
pub const MAX_PAUSE: Duration = Duration::from_secs(60);
/// The pause after an overload that gave no `Retry-After`.
pub const BACK_OFF: Duration = Duration::from_millis(100);
/// A response slower than this stops the window growing.
pub const SLOW: Duration = Duration::from_secs(1);
/// Windows' worth of successes before probing above the window that last overloaded.
pub const PROBE_AFTER: usize = 20;

/// What an attempt says about the receiver's load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// 429, 502, 503, 504 or a timeout, with the `Retry-After` it gave.
    Overloaded { retry_after: Option<Duration> },
    /// A success, and how long it took.
    Answered { took: Duration },
    /// Anything else (another failure, or not sent): says nothing about load.
    Neutral,
}

impl Signal {
    pub fn of(
        status: Option<u16>,
        class: StatusClass,
        retry_after: Option<Duration>,
        took: Duration,
    ) -> Self {
        match (status, class) {
            (Some(429 | 502 | 503 | 504), _) | (_, StatusClass::Timeout) => {
                Signal::Overloaded { retry_after }
            }
            (_, StatusClass::S2xx) => Signal::Answered { took },
            _ => Signal::Neutral,
        }
    }
}

/// Why a request may not start yet.
#[derive(Debug, PartialEq)]
pub enum Wait {
    /// The endpoint is paused until then.
    Until(Instant),
    /// The window is full: wait for a request to finish.
    Slot,
}

/// An endpoint's window and pause on this node; the window's top is shared among the nodes
/// alive (see decision 0014).
#[derive(Debug)]
pub struct Pacing {
    max: usize,
    window: usize,
    in_flight: usize,
    paused_until: Option<Instant>,
    /// Decreases so far; a request remembers the count it started under.
    epoch: u64,
    /// The window that last overloaded the receiver.
    overloaded_at: Option<usize>,
    /// Successes since the window last changed.
    successes: usize,
}

impl Pacing {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            max,
            window: max,
            in_flight: 0,
            paused_until: None,
            epoch: 0,
            overloaded_at: None,
            successes: 0,
        }
    }

    /// Starts a request if the endpoint is not paused and its window has room, the window's
    /// top being shared among `nodes`; answers the epoch to pass to [`Pacing::finished`].
    pub fn try_start(&mut self, now: Instant, nodes: usize) -> Result<u64, Wait> {
        if let Some(until) = self.paused_until.filter(|until| *until > now) {
            return Err(Wait::Until(until));
        }
        let share = (self.max / nodes.max(1)).max(1);
        if self.in_flight >= self.window.min(share) {
            return Err(Wait::Slot);
        }
        self.in_flight += 1;
        Ok(self.epoch)
    }

    /// A request started at `epoch` finished with `signal`. Answers the pause it began, for
    /// the other nodes to take too: one that ends well past the pause already running (by
    /// more than half its length), so a burst of refusals is one pause, not one each.
    pub fn finished(&mut self, epoch: u64, signal: Signal, now: Instant) -> Option<Duration> {
        self.in_flight = self.in_flight.saturating_sub(1);
        let mut began = None;
        match signal {
            Signal::Overloaded { retry_after } => {
                let pause = retry_after.unwrap_or(BACK_OFF).min(MAX_PAUSE);
                let until = now + pause;
                if self.paused_until.is_none_or(|p| p + pause / 2 < until) {
                    began = Some(pause);
                }
                self.pause_until(until);
                if epoch == self.epoch {
                    self.overloaded_at = Some(self.window);
                    self.window = (self.window / 2).max(1);
                    self.epoch += 1;
                    self.successes = 0;
                }
            }
            Signal::Answered { took } if took < SLOW => self.grow(),
            Signal::Answered { .. } | Signal::Neutral => {}
        }
        began
    }

    /// Pauses the endpoint until `until` (or later, if it already is): another node's pause,
    /// or this node's own.
    pub fn pause_until(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
    }

    fn grow(&mut self) {
        if self.window >= self.max {
            return;
        }
        self.successes += 1;
        let below_the_last_overload = self.overloaded_at.is_none_or(|w| self.window + 1 < w);
        let needed = if below_the_last_overload { self.window } else { self.window * PROBE_AFTER };
        if self.successes >= needed {
            self.window += 1;
            self.successes = 0;
        }
    }

    /// Whether forgetting this endpoint's pacing changes nothing: nothing in flight, no
    /// pause pending, and the window back at its maximum.
    pub fn is_idle(&self, now: Instant) -> bool {
        self.in_flight == 0
            && self.paused_until.is_none_or(|until| until <= now)
            && self.window == self.max
    }

    pub fn window(&self) -> usize {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OVERLOADED: Signal = Signal::Overloaded { retry_after: None };
    const FAST: Signal = Signal::Answered { took: Duration::from_millis(5) };

    #[test]
    fn a_burst_of_refusals_halves_the_window_once_and_pauses() {
        let now = Instant::now();
        let mut p = Pacing::new(32);
        let epochs: Vec<u64> = (0..32).map(|_| p.try_start(now, 1).unwrap()).collect();
        assert_eq!(p.try_start(now, 1), Err(Wait::Slot), "the window is full");
        let shared: Vec<_> =
            epochs.into_iter().filter_map(|e| p.finished(e, OVERLOADED, now)).collect();
        assert_eq!(shared, vec![BACK_OFF], "one pause for the other nodes, not one each");
        assert_eq!(p.window(), 16, "halved once for the whole burst");
        assert_eq!(p.try_start(now, 1), Err(Wait::Until(now + BACK_OFF)));
        assert!(p.try_start(now + BACK_OFF, 1).is_ok(), "the pause is over");
    }

    #[test]
    fn retry_after_pauses_for_as_long_as_asked_within_the_bound() {
        let now = Instant::now();
        let mut p = Pacing::new(4);
        let e = p.try_start(now, 1).unwrap();
        p.finished(e, Signal::Overloaded { retry_after: Some(Duration::from_secs(2)) }, now);
        assert_eq!(p.try_start(now, 1), Err(Wait::Until(now + Duration::from_secs(2))));
        let e = p.try_start(now + Duration::from_secs(2), 1).unwrap();
        let later = now + Duration::from_secs(2);
        p.finished(e, Signal::Overloaded { retry_after: Some(Duration::from_secs(3600)) }, later);
        assert_eq!(p.try_start(later, 1), Err(Wait::Until(later + MAX_PAUSE)));
    }

    #[test]
    fn successes_grow_the_window_to_just_below_the_overload_then_probe_rarely() {
        let later = Instant::now() + MAX_PAUSE;
        let mut p = Pacing::new(32);
        p.window = 8;
        let e = p.try_start(later, 1).unwrap();
        p.finished(e, OVERLOADED, Instant::now());
        assert_eq!(p.window(), 4, "overloaded at 8");
        let succeed_until = |p: &mut Pacing, window: usize| {
            let mut n = 0;
            while p.window() < window {
                let e = p.try_start(later, 1).unwrap();
                p.finished(e, FAST, later);
                n += 1;
            }
            n
        };
        assert_eq!(succeed_until(&mut p, 7), 4 + 5 + 6, "a window's worth of successes each");
        assert_eq!(succeed_until(&mut p, 8), 7 * PROBE_AFTER, "probing the overload is rare");
        let e = p.try_start(later, 1).unwrap();
        p.finished(e, Signal::Answered { took: SLOW }, later);
        assert_eq!(p.successes, 0, "a slow answer does not count");
    }

    #[test]
    fn signals_read_from_the_answer() {
        let took = Duration::from_millis(3);
        let after = Some(Duration::from_secs(2));
        assert_eq!(
            Signal::of(Some(429), StatusClass::S4xx, after, took),
            Signal::Overloaded { retry_after: after }
        );
        assert_eq!(Signal::of(None, StatusClass::Timeout, None, took), OVERLOADED);
        assert_eq!(Signal::of(Some(200), StatusClass::S2xx, None, took), Signal::Answered { took });
        assert_eq!(Signal::of(Some(500), StatusClass::S5xx, None, took), Signal::Neutral);
        assert_eq!(Signal::of(None, StatusClass::Network, None, took), Signal::Neutral);
    }
}
