//! Sliding windows over the instants a limit counted: "no window of `span` may hold more than
//! `limit` counted requests", checked exactly even when a request is counted after later ones
//! (counted at arrival, it may reach the limiter after requests that arrived after it).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// How late a request may be counted (behind requests that arrived after it, e.g. held by an
/// injected `Fault::Delay`) and still be checked exactly against every window.
const LATE_ARRIVALS: Duration = Duration::from_secs(60);

/// The instants one window set counted, oldest first.
#[derive(Debug, Default)]
pub(super) struct Arrivals(VecDeque<Instant>);

impl Arrivals {
    /// `Some(wait)` when counting a request at `at` would put more than `limit` counted requests
    /// in some window of `span` (`wait`: until the newest `limit` leave the window); `None` when
    /// it fits. A `limit` of 0 means no limit.
    pub fn refusal(&self, at: Instant, limit: u32, span: Duration) -> Option<Duration> {
        let limit = limit as usize;
        let counted = &self.0;
        if limit == 0 || counted.len() < limit {
            return None;
        }
        // `at` takes position `i` among the counted instants; every run of `limit + 1`
        // consecutive instants that contains it must span at least `span`.
        let i = counted.partition_point(|a| *a <= at);
        let with_at = |k: usize| match k.cmp(&i) {
            std::cmp::Ordering::Less => counted[k],
            std::cmp::Ordering::Equal => at,
            std::cmp::Ordering::Greater => counted[k - 1],
        };
        let last_start = counted.len() - limit;
        let crowded = (i.saturating_sub(limit)..=i.min(last_start))
            .any(|start| with_at(start + limit).duration_since(with_at(start)) < span);
        crowded.then(|| (counted[last_start] + span).saturating_duration_since(at))
    }

    /// Counts `at`, forgetting instants no window of `longest` can hold together with a new one.
    pub fn record(&mut self, at: Instant, longest: Duration) {
        let i = self.0.partition_point(|a| *a <= at);
        self.0.insert(i, at);
        if let Some(&newest) = self.0.back() {
            let horizon = longest + LATE_ARRIVALS;
            while self
                .0
                .front()
                .is_some_and(|a| newest.duration_since(*a) > horizon)
            {
                self.0.pop_front();
            }
        }
    }
}

/// The most instants of `arrivals` that any window of `period` holds (half-open windows: two
/// instants exactly `period` apart are never in one). Order does not matter.
#[must_use]
pub fn busiest_window(arrivals: &[Instant], period: Duration) -> usize {
    let mut sorted = arrivals.to_vec();
    sorted.sort_unstable();
    let mut start = 0;
    let mut busiest = 0;
    for (end, at) in sorted.iter().enumerate() {
        while at.duration_since(sorted[start]) >= period {
            start += 1;
        }
        busiest = busiest.max(end + 1 - start);
    }
    busiest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn in_order_arrivals_wait_for_the_oldest_of_the_last_limit() {
        let t0 = Instant::now();
        let mut arrivals = Arrivals::default();
        for k in 0..3 {
            assert_eq!(arrivals.refusal(t0 + ms(k * 100), 3, ms(1000)), None);
            arrivals.record(t0 + ms(k * 100), ms(1000));
        }
        assert_eq!(arrivals.refusal(t0 + ms(500), 3, ms(1000)), Some(ms(500)));
        // Exactly one period after the oldest: half-open windows, so it fits.
        assert_eq!(arrivals.refusal(t0 + ms(1000), 3, ms(1000)), None);
    }

    #[test]
    fn a_late_counted_arrival_is_checked_against_the_windows_after_it() {
        let t0 = Instant::now();
        let mut arrivals = Arrivals::default();
        for at in [1200, 1300] {
            arrivals.record(t0 + ms(at), ms(1000));
        }
        // 500 arrived before both but is counted after them: [500, 1500) would hold three.
        assert!(arrivals.refusal(t0 + ms(500), 2, ms(1000)).is_some());
        // 100 shares no window of a second with 1200.
        assert_eq!(arrivals.refusal(t0 + ms(100), 2, ms(1000)), None);
        arrivals.record(t0 + ms(100), ms(1000));
        // Between 100 and 1200, 700 would crowd [700, 1700) (700, 1200, 1300).
        assert!(arrivals.refusal(t0 + ms(700), 2, ms(1000)).is_some());
    }

    #[test]
    fn the_busiest_window_is_half_open() {
        let t0 = Instant::now();
        let at = |list: &[u64]| list.iter().map(|m| t0 + ms(*m)).collect::<Vec<_>>();
        assert_eq!(busiest_window(&[], ms(1000)), 0);
        assert_eq!(busiest_window(&at(&[0, 999, 1000, 1999]), ms(1000)), 2);
        assert_eq!(busiest_window(&at(&[1000, 0, 500, 999]), ms(1000)), 3);
    }
}
