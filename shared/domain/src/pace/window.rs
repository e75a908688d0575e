//! Sliding windows ("at most `limit` requests in any `period`"), the shape of Teams'
//! per-conversation limits (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>),
//! checked exactly over the recent requests, and [`ThreadLedger`], a conversation's windows in a
//! form small enough to keep in one shared item.

use std::collections::VecDeque;
use std::ops::Add;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// At most `limit` requests in any sliding `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub period: Duration,
    pub limit: u32,
}

impl Window {
    #[must_use]
    pub const fn new(limit: u32, period: Duration) -> Self {
        Self { period, limit }
    }
}

/// The earliest instant `>= at` at which one more request fits every window (each `margin`
/// longer), given the `grants` already made, earliest first. `at` may fall between grants (requests
/// admitted out of order): every run of `limit + 1` consecutive instants containing it must
/// then span a full period.
pub fn ready_at<T>(grants: &VecDeque<T>, windows: &[Window], margin: Duration, at: T) -> T
where
    T: Copy + Ord + Add<Duration, Output = T>,
{
    let i = grants.partition_point(|g| *g <= at);
    let with_at = |k: usize| match k.cmp(&i) {
        std::cmp::Ordering::Less => grants[k],
        std::cmp::Ordering::Equal => at,
        std::cmp::Ordering::Greater => grants[k - 1],
    };
    let count = grants.len() + 1;
    let mut ready = at;
    for window in windows {
        let limit = window.limit as usize;
        if limit == 0 || count <= limit {
            continue;
        }
        let period = window.period + margin;
        let crowded = (i.saturating_sub(limit)..=i.min(count - 1 - limit))
            .any(|start| with_at(start) + period > with_at(start + limit));
        if crowded {
            // The oldest of the newest `limit` grants leaves the window first; it is always
            // later than `at - period` when `at` is crowded, so this moves `ready` forward.
            ready = ready.max(grants[grants.len() - limit] + period);
        }
    }
    ready
}

/// Windows with at most this many requests are kept exactly; longer ones (Teams' 1,800 an hour)
/// would make the item too large and are paced by a conservative GCRA instead.
const EXACT_LIMIT: u32 = 64;

/// One conversation's windows as a shared item holds them: the latest requests (as many as the
/// largest exact window allows) and, per longer window, a theoretical arrival time whose
/// emission interval leaves room for a full burst of the exact windows. So no window ever holds
/// more than its limit, and the item stays under 1 KB (one write unit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadLedger {
    /// The latest requests, earliest first.
    pub grants: VecDeque<DateTime<Utc>>,
    /// Per long window (in the order given), its theoretical arrival time.
    pub long: Vec<DateTime<Utc>>,
}

/// `(limit, period)` of the long windows and the number of grants the exact ones need.
fn split(windows: &[Window]) -> (Vec<Window>, Vec<Window>, usize) {
    let (exact, long): (Vec<Window>, Vec<Window>) =
        windows.iter().partition(|w| w.limit <= EXACT_LIMIT);
    let keep = exact.iter().map(|w| w.limit as usize).max().unwrap_or(0);
    (exact, long, keep)
}

/// The emission interval and tolerance of a long window's GCRA: at most `keep` at once, and
/// `limit - keep` more spread over the period, so any period holds fewer than `limit`.
fn long_pace(window: &Window, margin: Duration, keep: usize) -> (Duration, Duration) {
    let spread = (window.limit as usize).saturating_sub(keep).max(1) as u32;
    let interval = (window.period + margin) / spread;
    (interval, interval * keep.saturating_sub(1) as u32)
}

impl ThreadLedger {
    /// The earliest instant `>= at` a request fits.
    #[must_use]
    pub fn ready(&self, windows: &[Window], margin: Duration, at: DateTime<Utc>) -> DateTime<Utc> {
        let (exact, long, keep) = split(windows);
        // Grants older than the kept ones are forgotten: an instant before them (an instance that
        // waited long to write) cannot be checked against them, so it is asked to come later.
        let checkable = match self.grants.front() {
            Some(oldest) if self.grants.len() >= keep && at < *oldest => *oldest,
            _ => at,
        };
        let mut ready = ready_at(&self.grants, &exact, margin, checkable);
        for (window, tat) in long.iter().zip(&self.long) {
            let (_, tolerance) = long_pace(window, margin, keep);
            ready = ready.max(*tat - tolerance);
        }
        ready
    }

    /// Records a request at `at` (which must be ready).
    pub fn record(&mut self, windows: &[Window], margin: Duration, at: DateTime<Utc>) {
        let (_, long, keep) = split(windows);
        let i = self.grants.partition_point(|g| *g <= at);
        self.grants.insert(i, at);
        while self.grants.len() > keep {
            self.grants.pop_front();
        }
        self.long.resize(long.len(), at);
        for (window, tat) in long.iter().zip(self.long.iter_mut()) {
            let (interval, _) = long_pace(window, margin, keep);
            *tat = (*tat).max(at) + interval;
        }
    }

    /// After this instant the ledger constrains nothing: it may be forgotten.
    #[must_use]
    pub fn expires(&self, windows: &[Window], margin: Duration) -> Option<DateTime<Utc>> {
        let longest = windows.iter().map(|w| w.period).max().unwrap_or_default() + margin;
        let last = self
            .grants
            .back()
            .copied()
            .into_iter()
            .chain(self.long.iter().copied());
        last.max().map(|t| t + longest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn teams() -> Vec<Window> {
        let s = Duration::from_secs;
        vec![
            Window::new(7, s(1)),
            Window::new(8, s(2)),
            Window::new(60, s(30)),
            Window::new(1800, s(3600)),
        ]
    }

    #[test]
    fn an_out_of_order_request_is_checked_against_the_windows_after_it() {
        let t0 = t0();
        let grants: VecDeque<_> = [t0 + ms(1200), t0 + ms(1300)].into();
        let two_a_second = [Window::new(2, ms(1000))];
        // 500 would crowd [500, 1500) with 1200 and 1300.
        assert_eq!(
            ready_at(&grants, &two_a_second, Duration::ZERO, t0 + ms(500)),
            t0 + ms(2200)
        );
        // 100 shares no second with 1200.
        assert_eq!(
            ready_at(&grants, &two_a_second, Duration::ZERO, t0 + ms(100)),
            t0 + ms(100)
        );
        // After the last, the oldest of the newest two must leave first, margin included.
        assert_eq!(
            ready_at(&grants, &two_a_second, ms(50), t0 + ms(1400)),
            t0 + ms(2250)
        );
    }

    #[test]
    fn an_instant_before_the_forgotten_grants_is_sent_later() {
        let windows = [Window::new(3, ms(300)), Window::new(4, ms(700))];
        let mut ledger = ThreadLedger::default();
        for at in [0, 10, 900, 950, 1000] {
            ledger.record(&windows, Duration::ZERO, t0() + ms(at));
        }
        // The ledger kept 10, 900, 950 and 1000 and forgot 0: 5 would be a fourth in 300 ms.
        assert_eq!(ledger.grants.len(), 4);
        assert!(ledger.ready(&windows, Duration::ZERO, t0() + ms(5)) > t0() + ms(5));
    }

    #[test]
    fn a_ledger_holds_every_window_and_stays_small() {
        let windows = teams();
        let mut ledger = ThreadLedger::default();
        let mut at = t0();
        let mut granted = Vec::new();
        // Ask as fast as allowed for two hours of virtual time.
        while at < t0() + Duration::from_secs(7200) {
            let ready = ledger.ready(&windows, Duration::ZERO, at);
            if ready > at {
                at = ready;
                continue;
            }
            ledger.record(&windows, Duration::ZERO, at);
            granted.push(at);
            assert!(ledger.grants.len() <= 60 && ledger.long.len() == 1);
        }
        for window in &windows {
            let mut start = 0;
            for (end, at) in granted.iter().enumerate() {
                while *at - granted[start] >= chrono::Duration::from_std(window.period).unwrap() {
                    start += 1;
                }
                assert!(end + 1 - start <= window.limit as usize, "{window:?}");
            }
        }
        // The hour window is paced conservatively, but not far below its limit.
        let last_hour = granted
            .iter()
            .filter(|t| **t >= t0() + Duration::from_secs(3600))
            .count();
        assert!(last_hour > 1700, "{last_hour}");
        assert!(
            ledger.expires(&windows, Duration::ZERO).unwrap()
                > *granted.last().unwrap() + Duration::from_secs(3599)
        );
    }
}
