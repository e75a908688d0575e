use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

/// Where time comes from, so handlers, schedulers and the connector's pacing can be driven by a
/// controllable clock.
pub trait Clock: Send + Sync {
    /// Wall-clock time: timestamps, schedules, token lifetimes.
    fn now(&self) -> DateTime<Utc>;

    /// Monotonic time, for pacing and waits: it never goes back, whatever the wall clock does.
    fn instant(&self) -> Instant;

    /// Begins a wait until `at` and says how long the caller must still sleep in real time. The
    /// system clock answers the time left; a manual clock jumps to `at` and answers zero, so hours
    /// of virtual waiting take no real time and every instant is exact.
    fn wait_until(&self, at: Instant) -> std::time::Duration;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }

    fn wait_until(&self, at: Instant) -> std::time::Duration {
        at.saturating_duration_since(Instant::now())
    }
}

/// A clock that moves only when told: for tests, simulations and benchmarks. Wall and monotonic
/// time move together; setting the wall clock back leaves monotonic time where it is.
#[derive(Debug)]
pub struct ManualClock(Mutex<Times>);

#[derive(Debug, Clone, Copy)]
struct Times {
    wall: DateTime<Utc>,
    monotonic: Instant,
}

impl Times {
    /// Moves both times by `by`; monotonic time only forwards.
    fn pass(&mut self, by: Duration) {
        if let Some(wall) = self.wall.checked_add_signed(by) {
            self.wall = wall;
        }
        if let Ok(forward) = by.to_std()
            && let Some(later) = self.monotonic.checked_add(forward)
        {
            self.monotonic = later;
        }
    }
}

impl ManualClock {
    /// A clock showing `start`; its monotonic time starts at the real `Instant::now()`.
    #[must_use]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(Times {
            wall: start,
            monotonic: Instant::now(),
        }))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        let mut times = self.lock();
        let by = now - times.wall;
        times.pass(by);
    }

    pub fn advance(&self, by: Duration) {
        self.lock().pass(by);
    }

    fn lock(&self) -> MutexGuard<'_, Times> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.lock().wall
    }

    fn instant(&self) -> Instant {
        self.lock().monotonic
    }

    fn wait_until(&self, at: Instant) -> std::time::Duration {
        let mut times = self.lock();
        let ahead = at.saturating_duration_since(times.monotonic);
        times.pass(Duration::from_std(ahead).unwrap_or(Duration::MAX));
        std::time::Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_manual_wait_takes_no_real_time_and_moves_both_times() {
        let clock = ManualClock::new(start());
        let t0 = clock.instant();
        let at = t0 + std::time::Duration::from_secs(3600);
        assert_eq!(clock.wait_until(at), std::time::Duration::ZERO);
        assert_eq!(clock.instant(), at);
        assert_eq!(clock.now(), start() + Duration::hours(1));
        // A wait for a time already passed moves nothing.
        assert_eq!(clock.wait_until(t0), std::time::Duration::ZERO);
        assert_eq!(clock.instant(), at);
    }

    #[test]
    fn monotonic_time_never_goes_back() {
        let clock = ManualClock::new(start());
        let t0 = clock.instant();
        clock.advance(Duration::seconds(5));
        assert_eq!(clock.instant(), t0 + std::time::Duration::from_secs(5));
        clock.set(start());
        assert_eq!(clock.now(), start());
        assert_eq!(clock.instant(), t0 + std::time::Duration::from_secs(5));
        clock.set(start() + Duration::seconds(7));
        assert_eq!(clock.instant(), t0 + std::time::Duration::from_secs(12));
    }

    #[test]
    fn the_system_clock_waits_for_what_is_left() {
        let clock = SystemClock;
        let at = clock.instant() + std::time::Duration::from_secs(60);
        let left = clock.wait_until(at);
        assert!(
            left > std::time::Duration::from_secs(59) && left <= std::time::Duration::from_secs(60)
        );
        assert_eq!(clock.wait_until(clock.instant()), std::time::Duration::ZERO);
    }
}
