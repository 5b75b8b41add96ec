//! When to try again: pure functions over the retry schedule, with the randomness passed in.

use std::time::Duration;

/// `Retry-After` is honoured up to this; a receiver cannot park a delivery for longer.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What one response (or its absence) means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Success,
    /// Try again on the schedule.
    Retry,
    /// Stop: the profile treats this status as permanent.
    Final,
    /// 410 Gone: stop, and disable the endpoint.
    Gone,
}

/// `status` is `None` when no response came (timeout, refused, DNS, TLS, guard).
pub fn classify(status: Option<u16>, is_final_status: impl Fn(u16) -> bool) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Success,
        Some(410) => Verdict::Gone,
        Some(s) if is_final_status(s) => Verdict::Final,
        _ => Verdict::Retry,
    }
}

/// The wait before the next attempt after `attempts_made` attempts, or `None` when the
/// schedule is used up. Jitter is ±20 % (`unit_random` in [0, 1)); a `Retry-After` longer than
/// the scheduled wait replaces it.
pub fn next_delay(
    schedule: &[Duration],
    attempts_made: usize,
    retry_after: Option<Duration>,
    unit_random: f64,
) -> Option<Duration> {
    let base = *schedule.get(attempts_made.checked_sub(1)?)?;
    let jittered = base.mul_f64(0.8 + 0.4 * unit_random.clamp(0.0, 1.0));
    Some(match retry_after {
        Some(wait) => jittered.max(wait.min(MAX_RETRY_AFTER)),
        None => jittered,
    })
}

/// `Retry-After` in its delay-seconds form. (The HTTP-date form is rare from webhook
/// receivers and is ignored: the schedule applies.)
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|s| Duration::from_secs(*s)).collect()
    }

    #[test]
    fn delays_follow_the_schedule_with_jitter() {
        let schedule = secs(&[5, 300]);
        assert_eq!(next_delay(&schedule, 1, None, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(next_delay(&schedule, 1, None, 0.0), Some(Duration::from_secs(4)));
        assert_eq!(next_delay(&schedule, 2, None, 1.0), Some(Duration::from_secs(360)));
        assert_eq!(next_delay(&schedule, 3, None, 0.5), None, "schedule used up");
        assert_eq!(next_delay(&schedule, 0, None, 0.5), None);
    }

    #[test]
    fn retry_after_extends_but_is_clamped() {
        let schedule = secs(&[5]);
        assert_eq!(
            next_delay(&schedule, 1, Some(Duration::from_secs(60)), 0.5),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            next_delay(&schedule, 1, Some(Duration::from_secs(1)), 0.5),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            next_delay(&schedule, 1, Some(Duration::from_secs(10_000_000)), 0.5),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn classification() {
        let never = |_| false;
        assert_eq!(classify(Some(204), never), Verdict::Success);
        assert_eq!(classify(Some(410), never), Verdict::Gone);
        assert_eq!(classify(Some(301), never), Verdict::Retry);
        assert_eq!(classify(None, never), Verdict::Retry);
        assert_eq!(classify(Some(404), |s| s == 404), Verdict::Final);
    }
}
