//! What the throttle observes, for the senders above it: how long Teams takes to answer, and so
//! how many of a tenant's sends must be in flight to keep it at its rate (Little's law: rate x
//! time each send is held), bounded ([`InFlight`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Smoothed latency and its mean deviation, as TCP estimates round trips (RFC 6298 gains).
#[derive(Debug, Default, Clone, Copy)]
struct Latency {
    mean: f64,
    deviation: f64,
    samples: u64,
}

impl Latency {
    fn add(&mut self, seconds: f64) {
        if self.samples == 0 {
            self.mean = seconds;
            self.deviation = seconds / 2.0;
        } else {
            self.deviation += ((seconds - self.mean).abs() - self.deviation) / 4.0;
            self.mean += (seconds - self.mean) / 8.0;
        }
        self.samples += 1;
    }

    /// A latency most requests stay under.
    fn high(&self) -> f64 {
        self.mean + 2.0 * self.deviation
    }
}

/// Counters of the pacing, for benchmarks, tests and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaceCounters {
    /// Requests let through.
    pub granted: u64,
    /// Blocks reserved from the tenant pace, and the slots in them.
    pub blocks: u64,
    pub block_slots: u64,
    /// Blocks that started at the earliest instant asked for: the tenant's pace had fallen
    /// behind (it was idle, or its reservations came late).
    pub behind: u64,
    /// Slots dropped unused because they could no longer start on time.
    pub expired_slots: u64,
    /// Requests that woke too late for their slot and took another.
    pub forfeits: u64,
    /// 429s answered despite the pacing.
    pub throttled: u64,
    /// Reservations or admissions the shared pace failed.
    pub pace_errors: u64,
}

/// The throttle's observations.
#[derive(Debug)]
pub struct PaceMeter {
    rate: Option<u32>,
    /// How far ahead of their start slots are handed out: the pace's lead plus a block.
    lookahead: Duration,
    latency: Mutex<Latency>,
    granted: AtomicU64,
    blocks: AtomicU64,
    block_slots: AtomicU64,
    behind: AtomicU64,
    expired_slots: AtomicU64,
    forfeits: AtomicU64,
    throttled: AtomicU64,
    pace_errors: AtomicU64,
}

impl PaceMeter {
    #[must_use]
    pub fn new(rate: Option<u32>, lookahead: Duration) -> Self {
        Self {
            rate,
            lookahead,
            latency: Mutex::default(),
            granted: AtomicU64::new(0),
            blocks: AtomicU64::new(0),
            block_slots: AtomicU64::new(0),
            behind: AtomicU64::new(0),
            expired_slots: AtomicU64::new(0),
            forfeits: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            pace_errors: AtomicU64::new(0),
        }
    }

    #[must_use]
    pub fn counters(&self) -> PaceCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PaceCounters {
            granted: get(&self.granted),
            blocks: get(&self.blocks),
            block_slots: get(&self.block_slots),
            behind: get(&self.behind),
            expired_slots: get(&self.expired_slots),
            forfeits: get(&self.forfeits),
            throttled: get(&self.throttled),
            pace_errors: get(&self.pace_errors),
        }
    }

    /// The smoothed latency of Teams' answers (`None` before the first).
    #[must_use]
    pub fn latency(&self) -> Option<Duration> {
        let latency = *self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        (latency.samples > 0).then(|| Duration::from_secs_f64(latency.mean))
    }

    /// Sends of one tenant in flight that keep it at its rate: rate x (latency + lookahead),
    /// with room for the store's work around each send. Per tenant, not per instance: a send
    /// that waits for a slot another instance holds also waits in flight, and a bound over every
    /// tenant would fill with the tenants most shared. `None` when the rate is unlimited.
    #[must_use]
    pub fn wanted_per_tenant(&self) -> Option<usize> {
        let rate = f64::from(self.rate?);
        let latency = self
            .latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .high();
        let held = latency + self.lookahead.as_secs_f64();
        Some((rate * held * 1.5).ceil() as usize + 2)
    }

    pub(crate) fn sent(&self, latency: Duration) {
        self.latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(latency.as_secs_f64());
    }

    pub(crate) fn granted(&self) {
        self.granted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reserved(&self, slots: u32, behind: bool) {
        self.blocks.fetch_add(1, Ordering::Relaxed);
        self.block_slots
            .fetch_add(u64::from(slots), Ordering::Relaxed);
        if behind {
            self.behind.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn expired(&self) {
        self.expired_slots.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn forfeit(&self) {
        self.forfeits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn pace_error(&self) {
        self.pace_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// How many deliveries a sender keeps in flight: at most `max` in all, and of one tenant what
/// the throttle's meter says keeps it at its rate (at least 2), or `max` when fixed.
#[derive(Debug, Clone)]
pub struct InFlight {
    meter: Option<Arc<PaceMeter>>,
    max: usize,
}

/// The fewest deliveries of one tenant an adaptive sender keeps in flight.
const MIN_PER_TENANT: usize = 2;

impl InFlight {
    /// Always `n` (tests, benchmarks that pin it).
    #[must_use]
    pub fn fixed(n: usize) -> Self {
        Self {
            meter: None,
            max: n.max(1),
        }
    }

    /// As the meter advises, at most `max`.
    #[must_use]
    pub fn adaptive(meter: Arc<PaceMeter>, max: usize) -> Self {
        Self {
            meter: Some(meter),
            max: max.max(1),
        }
    }

    /// The bound of one tenant's deliveries now.
    #[must_use]
    pub fn per_tenant(&self) -> usize {
        match &self.meter {
            None => self.max,
            Some(meter) => meter.wanted_per_tenant().map_or(self.max, |n| {
                n.clamp(MIN_PER_TENANT.min(self.max), self.max)
            }),
        }
    }

    /// The bound of every delivery together.
    #[must_use]
    pub fn max(&self) -> usize {
        self.max
    }

    /// The meter it follows, when adaptive.
    #[must_use]
    pub fn meter(&self) -> Option<&PaceMeter> {
        self.meter.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tenants_sends_in_flight_follow_rate_times_latency_within_bounds() {
        let meter = Arc::new(PaceMeter::new(Some(50), Duration::from_millis(100)));
        let adaptive = InFlight::adaptive(meter.clone(), 200);
        // Nothing observed yet: the lookahead only.
        assert_eq!(
            adaptive.per_tenant(),
            (50.0_f64 * 0.1 * 1.5).ceil() as usize + 2
        );
        for _ in 0..50 {
            meter.sent(Duration::from_millis(150));
        }
        // 50/s, each send held about 250 ms.
        let per_tenant = adaptive.per_tenant();
        assert!((19..=22).contains(&per_tenant), "{per_tenant}");
        assert_eq!(adaptive.max(), 200);
        assert_eq!(InFlight::adaptive(meter, 10).per_tenant(), 10);
        assert_eq!(InFlight::fixed(8).per_tenant(), 8);
        let unlimited = PaceMeter::new(None, Duration::ZERO);
        assert_eq!(unlimited.wanted_per_tenant(), None);
    }
}
