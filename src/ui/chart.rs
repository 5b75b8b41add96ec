//! The attempts-per-hour chart of an endpoint, drawn on the server as SVG: no script, no
//! library, readable by a screen reader through its title and table of figures.

use crate::model::EndpointStats;
use crate::model::time::format_rfc3339;

const HOUR_MS: i64 = 3_600_000;
pub const HOURS: i64 = 24;
const BAR_WIDTH: i64 = 16;
const GAP: i64 = 4;
/// The drawing area's height, in SVG units.
pub const HEIGHT: i64 = 100;

/// One hour's bar: successes stacked under failures.
pub struct Bar {
    pub x: i64,
    pub ok_y: i64,
    pub ok_height: i64,
    pub fail_y: i64,
    pub fail_height: i64,
    pub hour: String,
    pub ok: u64,
    pub fail: u64,
}

pub struct Chart {
    pub bars: Vec<Bar>,
    pub width: i64,
    pub success: u64,
    pub fail: u64,
}

impl Chart {
    /// The last 24 hours up to `now`, one bar per hour, scaled to the busiest hour.
    pub fn last_day(stats: &EndpointStats, now: i64) -> Self {
        let first = (now / HOUR_MS - (HOURS - 1)) * HOUR_MS;
        let count = |start: i64| {
            stats.hourly.iter().find(|h| h.start == start).map_or((0, 0), |h| (h.success, h.fail))
        };
        let busiest = (0..HOURS).map(|i| count(first + i * HOUR_MS)).map(|(a, b)| a + b).max();
        let scale = busiest.unwrap_or(0).max(1) as f64;
        let height = |n: u64| ((n as f64 / scale) * HEIGHT as f64).round() as i64;
        let bars = (0..HOURS)
            .map(|i| {
                let start = first + i * HOUR_MS;
                let (ok, fail) = count(start);
                let (ok_height, fail_height) = (height(ok), height(fail));
                Bar {
                    x: i * (BAR_WIDTH + GAP),
                    ok_y: HEIGHT - ok_height,
                    ok_height,
                    fail_y: HEIGHT - ok_height - fail_height,
                    fail_height,
                    hour: format_rfc3339(start),
                    ok,
                    fail,
                }
            })
            .collect();
        Self {
            bars,
            width: HOURS * (BAR_WIDTH + GAP),
            success: stats.hourly.iter().map(|h| h.success).sum(),
            fail: stats.hourly.iter().map(|h| h.fail).sum(),
        }
    }

    pub fn bar_width(&self) -> i64 {
        BAR_WIDTH
    }

    pub fn height(&self) -> i64 {
        HEIGHT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HourCount;

    #[test]
    fn bars_stack_and_scale_to_the_busiest_hour() {
        let now = 100 * HOUR_MS + 5;
        let stats = EndpointStats {
            hourly: vec![
                HourCount { start: 100 * HOUR_MS, success: 3, fail: 1 },
                HourCount { start: 90 * HOUR_MS, success: 0, fail: 2 },
                HourCount { start: 10 * HOUR_MS, success: 50, fail: 0 }, // outside the day
            ],
            ..Default::default()
        };
        let chart = Chart::last_day(&stats, now);
        assert_eq!(chart.bars.len(), 24);
        let last = chart.bars.last().unwrap();
        assert_eq!((last.ok, last.fail, last.ok_height, last.fail_height), (3, 1, 75, 25));
        assert_eq!((last.ok_y, last.fail_y), (25, 0));
        let earlier = &chart.bars[13];
        assert_eq!((earlier.fail, earlier.fail_height, earlier.ok_height), (2, 50, 0));
    }
}
