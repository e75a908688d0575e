//! Proactive pacing to Teams' published limits
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>), so a fan-out
//! sees no 429 in steady state. Twilight style: a call first acquires a permit (waiting until every window allows it),
//! then runs. Buckets are keyed by what Teams limits: the conversation (per rate class) and the
//! tenant. A 429 that still gets through pauses its tenant for the `Retry-After`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use herald_domain::{Clock, SystemClock};
use tokio::time::Instant;

use crate::connector::{Call, Connector, Deadline, Operation, RateClass, Response};
use crate::error::ConnectorError;

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

    fn windows(&self, class: RateClass) -> &[Window] {
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
        let windows = self.limits.windows(class);
        let bucket_key: BucketKey = (class, tenant.into(), key.into());
        let ready = self.conversations.get(&bucket_key).map_or(slot, |grants| {
            ready_at(grants, windows, self.limits.safety_margin, slot)
        });
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
        let keep = windows.iter().map(|w| w.limit as usize).max().unwrap_or(0);
        if keep > 0 {
            let grants = self.conversations.entry(bucket_key).or_default();
            grants.push_back(slot);
            while grants.len() > keep {
                grants.pop_front();
            }
        }
        Decision::Granted { at: slot }
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

/// The earliest instant `>= at` when every window has room for one more grant. Grants only ever
/// leave a window as time passes, so the maximum over windows satisfies all of them.
fn ready_at(
    grants: &VecDeque<Instant>,
    windows: &[Window],
    margin: Duration,
    at: Instant,
) -> Instant {
    let mut ready = at;
    for window in windows {
        let period = window.period + margin;
        let limit = window.limit as usize;
        if limit == 0 {
            continue;
        }
        let in_window = grants
            .iter()
            .rev()
            .take_while(|g| {
                at.checked_duration_since(**g)
                    .is_none_or(|age| age < period)
            })
            .count();
        if in_window >= limit {
            // The oldest of the newest `limit` grants must leave the window first.
            let oldest = grants[grants.len() - limit];
            ready = ready.max(oldest + period);
        }
    }
    ready
}

/// The throttle layer. Its clock is the real one unless a test drives a
/// `herald_domain::ManualClock`, on which permit waits take no real time.
pub struct Throttle<C> {
    inner: C,
    clock: Arc<dyn Clock>,
    limiter: Arc<Mutex<Limiter>>,
}

impl<C: std::fmt::Debug> std::fmt::Debug for Throttle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<C> Throttle<C> {
    pub fn new(inner: C, limits: Limits) -> Self {
        Self::with_clock(inner, limits, Arc::new(SystemClock))
    }

    pub fn with_clock(inner: C, limits: Limits, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            clock,
            limiter: Arc::new(Mutex::new(Limiter::new(limits))),
        }
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> Instant {
        Instant::from_std(self.clock.instant())
    }

    async fn sleep_until(&self, at: Instant) {
        let real = self.clock.wait_until(at.into_std());
        if !real.is_zero() {
            tokio::time::sleep(real).await;
        }
    }

    /// Buckets currently held: (conversations, tenants).
    #[must_use]
    pub fn tracked(&self) -> (usize, usize) {
        self.limiter().tracked()
    }

    /// Waits until a request may start; `DeadlineExceeded` (nothing reserved) if that is too late.
    pub async fn acquire(
        &self,
        tenant: &str,
        class: RateClass,
        key: &str,
        deadline: Deadline,
    ) -> Result<(), ConnectorError> {
        loop {
            let now = self.now();
            let decision = self.limiter().acquire(tenant, class, key, now, deadline);
            match decision {
                Decision::Granted { at } => {
                    if at > now {
                        self.sleep_until(at).await;
                    }
                    return Ok(());
                }
                Decision::Wait { until } => self.sleep_until(until).await,
                Decision::TooLate { earliest } => {
                    return Err(ConnectorError::DeadlineExceeded {
                        needed: earliest.saturating_duration_since(now),
                    });
                }
            }
        }
    }

    /// Pauses `tenant` for `retry_after` (or the default pause) from now.
    pub fn pause_tenant(&self, tenant: &str, retry_after: Option<Duration>) {
        let mut limiter = self.limiter();
        let wait = retry_after.unwrap_or(limiter.limits().default_pause);
        let until = self.now() + wait;
        limiter.pause(tenant, until);
    }
}

#[async_trait]
impl<C: Connector> Connector for Throttle<C> {
    async fn execute(
        &self,
        call: Call<'_>,
        operation: Operation<'_>,
    ) -> Result<Response, ConnectorError> {
        let tenant = call.tenant_id.as_str();
        self.acquire(
            tenant,
            operation.rate_class(),
            &operation.rate_key(),
            call.deadline,
        )
        .await?;
        let result = self.inner.execute(call, operation).await;
        if let Err(ConnectorError::Throttled { retry_after, .. }) = &result {
            tracing::warn!(
                tenant,
                ?retry_after,
                "429 from the connector: pausing the tenant"
            );
            self.pause_tenant(tenant, *retry_after);
        }
        result
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
