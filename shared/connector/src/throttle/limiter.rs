//! Teams' published limits as data ([`Limits`]) and the in-process state that keeps them
//! ([`Limiter`]): sliding windows per conversation (per rate class) and, per tenant, an even
//! pacer and the pause a 429 asks for. Synchronous and clock-free (time is an argument) so it
//! can be checked exhaustively. Limits: <https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

pub use herald_domain::pace::Window;
use herald_domain::pace::ready_at;
use tokio::time::Instant;

use crate::connector::{Deadline, RateClass};

/// The limits to pace to. Data, so tests and benchmarks can scale them.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Per conversation: send, reply, update, delete, create conversation.
    pub write: Vec<Window>,
    /// Per conversation (or team): members, team details, channels.
    pub read: Vec<Window>,
    /// Requests per second for a whole tenant, paced evenly (no bursts); `None` = unlimited.
    pub tenant_rate: Option<u32>,
    /// Pause after a 429 that carried no `Retry-After`.
    pub default_pause: Duration,
    /// Added to every conversation window: requests reach Teams with varying latency, so a
    /// request sent exactly as an old one leaves the window may arrive while Teams still counts it.
    pub safety_margin: Duration,
}

impl Limits {
    /// Teams' published per-bot, per-thread limits with the current 50/s tenant rate: writes
    /// 7/1 s, 8/2 s, 60/30 s, 1800/h; reads twice that.
    #[must_use]
    pub fn teams() -> Self {
        let s = Duration::from_secs;
        Self {
            write: vec![
                Window::new(7, s(1)),
                Window::new(8, s(2)),
                Window::new(60, s(30)),
                Window::new(1800, s(3600)),
            ],
            read: vec![
                Window::new(14, s(1)),
                Window::new(16, s(2)),
                Window::new(120, s(30)),
                Window::new(3600, s(3600)),
            ],
            tenant_rate: Some(50),
            default_pause: s(1),
            safety_margin: Duration::from_millis(50),
        }
    }

    /// No pacing at all (a layer that only reacts to 429s).
    #[must_use]
    pub fn unlimited() -> Self {
        Self {
            write: Vec::new(),
            read: Vec::new(),
            tenant_rate: None,
            default_pause: Duration::from_secs(1),
            safety_margin: Duration::ZERO,
        }
    }

    /// Replaces the tenant rate (older docs say 30/s; benchmarks use more).
    #[must_use]
    pub fn tenant_rate(mut self, per_second: Option<u32>) -> Self {
        self.tenant_rate = per_second.filter(|r| *r > 0);
        self
    }

    /// The per-conversation windows of a rate class.
    #[must_use]
    pub fn windows(&self, class: RateClass) -> &[Window] {
        match class {
            RateClass::Write => &self.write,
            RateClass::Read => &self.read,
        }
    }

    /// The gap between two tenant requests, rounded up so no 1 s window ever holds more than the rate.
    fn tenant_interval(&self) -> Duration {
        self.tenant_rate.map_or(Duration::ZERO, |r| {
            Duration::from_nanos(1_000_000_000_u64.div_ceil(u64::from(r)))
        })
    }

    /// The gap between two slots of a tenant when every window of the rate's second must also
    /// absorb `margin` of jitter between the slot and the request's arrival at Teams: no second
    /// measured where Teams receives the requests then holds more than the rate. `None` when the
    /// tenant rate is unlimited.
    #[must_use]
    pub fn tenant_slot_interval(&self, margin: Duration) -> Option<Duration> {
        self.tenant_rate.map(|r| {
            let span = Duration::from_secs(1) + margin;
            Duration::from_nanos((span.as_nanos() as u64).div_ceil(u64::from(r)))
        })
    }

    /// After this long without a request, a conversation's history cannot matter any more.
    fn horizon(&self) -> Duration {
        self.write
            .iter()
            .chain(&self.read)
            .map(|w| w.period)
            .max()
            .map_or(Duration::ZERO, |p| p + self.safety_margin)
    }
}

/// The limiter's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A slot is reserved at `at` (now or later): start the request then.
    Granted { at: Instant },
    /// Some conversation window is full until `until`; nothing was reserved, ask again then.
    Wait { until: Instant },
    /// The earliest possible slot lies past the deadline; nothing was reserved.
    TooLate { earliest: Instant },
}

#[derive(Debug)]
struct TenantState {
    /// The earliest instant the next request may start (pacing and 429 pauses folded in).
    next_free: Instant,
}

type BucketKey = (RateClass, Box<str>, Box<str>);

/// The pacing state: sliding windows per conversation, an even pacer per tenant. Synchronous and
/// clock-free (time is an argument) so it can be checked exhaustively.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    interval: Duration,
    horizon: Duration,
    /// Grant instants per conversation, oldest first, at most the largest window limit long.
    conversations: HashMap<BucketKey, VecDeque<Instant>>,
    tenants: HashMap<Box<str>, TenantState>,
    since_sweep: usize,
}

/// Sweep idle buckets after this many grants (amortised O(1) per request).
const SWEEP_EVERY: usize = 4096;

impl Limiter {
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            interval: limits.tenant_interval(),
            horizon: limits.horizon(),
            limits,
            conversations: HashMap::new(),
            tenants: HashMap::new(),
            since_sweep: 0,
        }
    }

    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Buckets currently held (for the memory-bound test and metrics).
    #[must_use]
    pub fn tracked(&self) -> (usize, usize) {
        (self.conversations.len(), self.tenants.len())
    }

    /// Asks for a slot for one request of `class` in conversation `key` of `tenant`.
    pub fn acquire(
        &mut self,
        tenant: &str,
        class: RateClass,
        key: &str,
        now: Instant,
        deadline: Deadline,
    ) -> Decision {
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.sweep(now);
        }
        let slot = self
            .tenants
            .get(tenant)
            .map_or(now, |t| t.next_free.max(now));
        let ready = self.conversation_ready(tenant, class, key, slot);
        if !deadline.allows(ready) {
            return Decision::TooLate { earliest: ready };
        }
        if ready > slot {
            return Decision::Wait { until: ready };
        }
        self.tenants
            .entry(tenant.into())
            .or_insert(TenantState { next_free: now })
            .next_free = slot + self.interval;
        self.record(tenant, class, key, slot);
        Decision::Granted { at: slot }
    }

    /// When a request of `class` in conversation `key` of `tenant` could start, from `now` on:
    /// after the tenant's pause, with room in every window of the conversation (this process's
    /// requests). Nothing is recorded.
    pub fn ready(&mut self, tenant: &str, class: RateClass, key: &str, now: Instant) -> Instant {
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.sweep(now);
        }
        self.ready_at(tenant, class, key, now)
    }

    fn ready_at(&self, tenant: &str, class: RateClass, key: &str, at: Instant) -> Instant {
        let after_pause = self.tenants.get(tenant).map_or(at, |t| t.next_free.max(at));
        self.conversation_ready(tenant, class, key, after_pause)
    }

    /// Records a request starting at `at` (a tenant slot found elsewhere) when [`Self::ready`]
    /// allows it then; otherwise records nothing and says when it would.
    pub fn admit(
        &mut self,
        tenant: &str,
        class: RateClass,
        key: &str,
        at: Instant,
    ) -> Result<(), Instant> {
        let ready = self.ready_at(tenant, class, key, at);
        if ready > at {
            return Err(ready);
        }
        self.record(tenant, class, key, at);
        Ok(())
    }

    /// Takes back a request recorded at `at` that will not be sent after all.
    pub fn forget(&mut self, tenant: &str, class: RateClass, key: &str, at: Instant) {
        let bucket_key: BucketKey = (class, tenant.into(), key.into());
        if let Some(grants) = self.conversations.get_mut(&bucket_key)
            && let Some(i) = grants.iter().rposition(|g| *g == at)
        {
            grants.remove(i);
        }
    }

    fn conversation_ready(
        &self,
        tenant: &str,
        class: RateClass,
        key: &str,
        at: Instant,
    ) -> Instant {
        let bucket_key: BucketKey = (class, tenant.into(), key.into());
        self.conversations.get(&bucket_key).map_or(at, |grants| {
            ready_at(
                grants,
                self.limits.windows(class),
                self.limits.safety_margin,
                at,
            )
        })
    }

    /// Adds a grant at `at` to the conversation's windows, in time order.
    fn record(&mut self, tenant: &str, class: RateClass, key: &str, at: Instant) {
        let keep = self
            .limits
            .windows(class)
            .iter()
            .map(|w| w.limit as usize)
            .max()
            .unwrap_or(0);
        if keep == 0 {
            return;
        }
        let grants = self
            .conversations
            .entry((class, tenant.into(), key.into()))
            .or_default();
        let i = grants.partition_point(|g| *g <= at);
        grants.insert(i, at);
        while grants.len() > keep {
            grants.pop_front();
        }
    }

    /// Holds every request of `tenant` until `until` (after a 429).
    pub fn pause(&mut self, tenant: &str, until: Instant) {
        let state = self
            .tenants
            .entry(tenant.into())
            .or_insert(TenantState { next_free: until });
        state.next_free = state.next_free.max(until);
    }

    /// Forgets conversations idle for longer than the longest window, and tenants with no
    /// reservation or pause pending: their state no longer constrains anything.
    pub fn sweep(&mut self, now: Instant) {
        self.since_sweep = 0;
        let horizon = self.horizon;
        self.conversations.retain(|_, grants| {
            grants
                .back()
                .is_some_and(|last| now.saturating_duration_since(*last) < horizon)
        });
        self.tenants.retain(|_, t| t.next_free > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_conversation_waits_for_its_one_second_window() {
        let exact = Limits {
            safety_margin: Duration::ZERO,
            ..Limits::teams()
        };
        let mut limiter = Limiter::new(exact.tenant_rate(None));
        let t0 = Instant::now();
        for _ in 0..7 {
            assert_eq!(
                limiter.acquire("t", RateClass::Write, "c", t0, Deadline::NONE),
                Decision::Granted { at: t0 }
            );
        }
        assert_eq!(
            limiter.acquire("t", RateClass::Write, "c", t0, Deadline::NONE),
            Decision::Wait {
                until: t0 + ms(1000)
            }
        );
        // Another conversation and the read class are separate buckets.
        assert!(matches!(
            limiter.acquire("t", RateClass::Write, "d", t0, Deadline::NONE),
            Decision::Granted { .. }
        ));
        assert!(matches!(
            limiter.acquire("t", RateClass::Read, "c", t0, Deadline::NONE),
            Decision::Granted { .. }
        ));
        // The 8/2s window binds next.
        let t1 = t0 + ms(1000);
        assert!(matches!(
            limiter.acquire("t", RateClass::Write, "c", t1, Deadline::NONE),
            Decision::Granted { .. }
        ));
        assert_eq!(
            limiter.acquire("t", RateClass::Write, "c", t1, Deadline::NONE),
            Decision::Wait {
                until: t0 + ms(2000)
            }
        );
    }

    #[test]
    fn tenant_pacing_is_even_and_pauses_hold_it() {
        let mut limiter = Limiter::new(Limits::unlimited().tenant_rate(Some(50)));
        let t0 = Instant::now();
        let slots: Vec<_> = (0..5)
            .map(|i| limiter.acquire("t", RateClass::Write, &format!("c{i}"), t0, Deadline::NONE))
            .collect();
        assert_eq!(slots[4], Decision::Granted { at: t0 + ms(80) });
        limiter.pause("t", t0 + ms(5000));
        assert_eq!(
            limiter.acquire("t", RateClass::Write, "x", t0, Deadline::NONE),
            Decision::Granted { at: t0 + ms(5000) }
        );
        assert_eq!(
            limiter.acquire("u", RateClass::Write, "x", t0, Deadline::NONE),
            Decision::Granted { at: t0 }
        );
        assert_eq!(
            limiter.acquire("t", RateClass::Write, "y", t0, Deadline::at(t0 + ms(100))),
            Decision::TooLate {
                earliest: t0 + ms(5020)
            }
        );
    }

    #[test]
    fn idle_buckets_are_evicted() {
        let mut limiter = Limiter::new(Limits::teams());
        let t0 = Instant::now();
        for i in 0..1000 {
            limiter.acquire("t", RateClass::Write, &format!("c{i}"), t0, Deadline::NONE);
        }
        assert_eq!(limiter.tracked().0, 1000);
        // The tenant pacer spread the 1000 grants over 20 s (50/s).
        limiter.sweep(t0 + Duration::from_secs(3610));
        // The horizon is the hour plus the 50 ms safety margin.
        assert_eq!(limiter.tracked().0, 502);
        limiter.sweep(t0 + Duration::from_secs(3621));
        assert_eq!(limiter.tracked(), (0, 0));
    }
}
