//! Proactive pacing to Teams' published limits
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>), so a fan-out
//! sees no 429 in steady state, whether one process sends or many. A call first acquires a
//! permit, then runs:
//!
//! 1. the conversation's sliding windows and the tenant's pause, in this process ([`Limiter`]);
//! 2. a tenant slot, drawn in blocks from the tenant's pace shared by every instance
//!    ([`herald_domain::pace::TenantPace`]; one process's [`MemoryPace`] unless given another),
//!    spaced so that no second *measured where Teams receives the requests* holds more than the
//!    rate even when arrivals jitter by [`EdgePacing::margin`];
//! 3. the conversation's windows shared between instances, when the pace keeps them
//!    ([`herald_domain::pace::ThreadWindows`]);
//! 4. the start at the slot: a request whose slot passed more than [`EdgePacing::late_start`] ago
//!    takes another rather than crowd Teams' window.
//!
//! A 429 that still gets through pauses its tenant for the `Retry-After`, here and in the shared
//! pace. [`PaceMeter`] tells the senders above how many sends to keep in flight.

mod limiter;
mod meter;
mod slots;
mod timeline;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use herald_domain::pace::{Admission, MemoryPace, PaceError, TenantPace};
use herald_domain::{Clock, SystemClock};
use tokio::time::Instant;

pub use limiter::{Decision, Limiter, Limits, Window};
pub use meter::{InFlight, PaceCounters, PaceMeter};
use slots::{SlotError, Slots, Want};
use timeline::Timeline;

use crate::connector::{Call, Connector, Deadline, Executed, Operation, RateClass};
use crate::error::{ConnectorError, ServiceError};

/// The most a slot is taken ahead for the shared windows' write (a slow store delays sends
/// rather than skip them).
const MAX_WINDOW_LEAD: Duration = Duration::from_millis(500);

/// How tenant slots are laid out so that Teams' own count, where the requests arrive, stays
/// within the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgePacing {
    /// Added to the rate's one-second window: the jitter between a slot and its request's
    /// arrival at Teams that the pacing absorbs (throughput is rate x 1 s / (1 s + margin)).
    pub margin: Duration,
    /// A request starting this much after its slot takes another slot instead; part of `margin`
    /// (half by default: the rest is for the requests' transit and the instances' clocks). A
    /// slot given up is lost to every instance, so a tighter bound costs throughput wherever
    /// the CPU wakes senders late: at 5 ms, 2% of slots on a loaded 2-core host.
    pub late_start: Duration,
    /// Slots reserved from the tenant pace at once, as time: at most rate x this per block.
    pub block: Duration,
}

impl Default for EdgePacing {
    fn default() -> Self {
        Self {
            margin: Duration::from_millis(20),
            late_start: Duration::from_millis(10),
            block: Duration::from_millis(250),
        }
    }
}

/// The throttle layer. Its clock is the real one unless a test drives a
/// `herald_domain::ManualClock`, on which permit waits take no real time.
pub struct Throttle<C> {
    inner: C,
    clock: Arc<dyn Clock>,
    limiter: Arc<Mutex<Limiter>>,
    slots: Arc<Slots>,
    meter: Arc<PaceMeter>,
    edge: EdgePacing,
    /// Between two slots of a tenant; `None` when the tenant rate is unlimited.
    interval: Option<Duration>,
    /// How long recording a send in the shared conversation windows takes (rising fast, falling
    /// slowly): a slot is taken at least twice that far ahead, so the write is done before it
    /// comes and the request starts on time instead of forfeiting it.
    window_write: Arc<Mutex<Duration>>,
}

impl<C: std::fmt::Debug> std::fmt::Debug for Throttle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("inner", &self.inner)
            .field("edge", &self.edge)
            .finish_non_exhaustive()
    }
}

impl<C> Throttle<C> {
    pub fn new(inner: C, limits: Limits) -> Self {
        Self::with_clock(inner, limits, Arc::new(SystemClock))
    }

    /// Paced in this process only ([`MemoryPace`]).
    pub fn with_clock(inner: C, limits: Limits, clock: Arc<dyn Clock>) -> Self {
        Self::with_pace(inner, limits, Arc::new(MemoryPace::new()), clock)
    }

    /// Paced with every process sharing `pace`.
    pub fn with_pace(
        inner: C,
        limits: Limits,
        pace: Arc<dyn TenantPace>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let edge = EdgePacing::default();
        Self {
            inner,
            clock,
            meter: Arc::new(meter_for(&limits, &edge, &*pace)),
            interval: limits.tenant_slot_interval(edge.margin),
            limiter: Arc::new(Mutex::new(Limiter::new(limits))),
            slots: Arc::new(Slots::new(pace)),
            edge,
            window_write: Arc::default(),
        }
    }

    /// Lays tenant slots out as `edge` says.
    #[must_use]
    pub fn edge(self, edge: EdgePacing) -> Self {
        let limits = self.limiter().limits().clone();
        Self {
            meter: Arc::new(meter_for(&limits, &edge, self.slots.pace())),
            interval: limits.tenant_slot_interval(edge.margin),
            edge,
            ..self
        }
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// What the throttle observes (latency, active tenants, counters), shared with the senders.
    #[must_use]
    pub fn meter(&self) -> Arc<PaceMeter> {
        self.meter.clone()
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn time(&self) -> Timeline<'_> {
        Timeline(&*self.clock)
    }

    fn now(&self) -> Instant {
        self.time().now()
    }

    async fn sleep_until(&self, at: Instant) {
        let real = self.clock.wait_until(at.into_std());
        if !real.is_zero() {
            tokio::time::sleep(real).await;
        }
    }

    /// Waits until `at`, unless that passes the deadline.
    async fn wait(&self, at: Instant, deadline: Deadline) -> Result<(), ConnectorError> {
        if !deadline.allows(at) {
            return Err(too_late(at, self.now()));
        }
        self.sleep_until(at).await;
        Ok(())
    }

    /// Buckets currently held: (conversations, tenants).
    #[must_use]
    pub fn tracked(&self) -> (usize, usize) {
        self.limiter().tracked()
    }

    /// Waits until a request may start; `DeadlineExceeded` (nothing reserved) if that is too
    /// late, a transient error when the shared pace cannot answer.
    pub async fn acquire(
        &self,
        tenant: &str,
        class: RateClass,
        key: &str,
        deadline: Deadline,
    ) -> Result<(), ConnectorError> {
        // No slot before this: the windows said so for an earlier one.
        let mut earliest = self.now();
        loop {
            let now = self.now();
            let ready = self.limiter().ready(tenant, class, key, now).max(earliest);
            if ready > now {
                self.wait(ready, deadline).await?;
                continue;
            }
            let slot = self
                .tenant_slot(tenant, ready.max(now + self.window_lead()), deadline)
                .await?;
            let admitted = self.limiter().admit(tenant, class, key, slot);
            if let Err(later) = admitted {
                self.give_back(tenant, slot);
                earliest = later;
                continue;
            }
            if let Some(later) = self.shared_windows(tenant, class, key, slot).await? {
                self.limiter().forget(tenant, class, key, slot);
                self.give_back(tenant, slot);
                earliest = later;
                continue;
            }
            if slot > self.now() {
                self.sleep_until(slot).await;
            }
            if self.now().saturating_duration_since(slot) > self.edge.late_start {
                // Started late, it could crowd Teams' window with the requests a second later:
                // take another slot. The windows keep this one recorded, which only errs on the
                // safe side.
                self.meter.forfeit();
                continue;
            }
            self.meter.granted();
            return Ok(());
        }
    }

    /// The next tenant slot from `from` on (`from` itself when the tenant rate is unlimited).
    async fn tenant_slot(
        &self,
        tenant: &str,
        from: Instant,
        deadline: Deadline,
    ) -> Result<Instant, ConnectorError> {
        let Some(interval) = self.interval else {
            return Ok(from);
        };
        let per_block = self.edge.block.as_secs_f64() / interval.as_secs_f64();
        let want = Want {
            interval,
            max_block: (per_block.floor() as u32).max(1),
            not_before: from,
            late: self.edge.late_start,
            deadline,
        };
        match self
            .slots
            .take(&*self.clock, &self.meter, tenant, want)
            .await
        {
            Ok(slot) => Ok(slot),
            Err(SlotError::TooLate(earliest)) => Err(too_late(earliest, self.now())),
            Err(SlotError::Pace(e)) => Err(self.pace_failed(&e)),
        }
    }

    /// The conversation's windows kept by the shared pace, if it keeps them: `Some(instant)`
    /// when they are full at `slot` (nothing recorded).
    async fn shared_windows(
        &self,
        tenant: &str,
        class: RateClass,
        key: &str,
        slot: Instant,
    ) -> Result<Option<Instant>, ConnectorError> {
        let Some(threads) = self.slots.pace().threads() else {
            return Ok(None);
        };
        let (windows, margin) = {
            let limiter = self.limiter();
            let limits = limiter.limits();
            (limits.windows(class).to_vec(), limits.safety_margin)
        };
        let thread = format!("{tenant}|{}|{key}", class_tag(class));
        let started = self.now();
        let admission = threads
            .admit(&thread, &windows, margin, self.time().wall(slot))
            .await;
        self.window_written(self.now().saturating_duration_since(started));
        match admission {
            Ok(Admission::Admitted) => Ok(None),
            Ok(Admission::NotBefore(at)) => Ok(Some(self.time().instant(at))),
            Err(e) => {
                self.limiter().forget(tenant, class, key, slot);
                self.give_back(tenant, slot);
                Err(self.pace_failed(&e))
            }
        }
    }

    /// How far ahead of now a slot must be for the shared windows' write to finish before it.
    fn window_lead(&self) -> Duration {
        let write = *self
            .window_write
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (write * 2).min(MAX_WINDOW_LEAD)
    }

    fn window_written(&self, took: Duration) {
        let mut write = self
            .window_write
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *write = if took > *write {
            *write + took.saturating_sub(*write) / 2
        } else {
            write.saturating_sub(write.saturating_sub(took) / 8)
        };
    }

    fn give_back(&self, tenant: &str, slot: Instant) {
        if self.interval.is_some() {
            self.slots.give_back(tenant, slot);
        }
    }

    fn pace_failed(&self, error: &PaceError) -> ConnectorError {
        self.meter.pace_error();
        tracing::warn!(error = %error, "the shared pace failed; the call is retried later");
        ConnectorError::Transient {
            retry_after: Some(Duration::from_millis(500)),
            detail: ServiceError {
                status: None,
                code: Some("PaceUnavailable".to_owned()),
                message: Some(error.to_string()),
            },
        }
    }

    /// Pauses `tenant` for `retry_after` (or the default pause) from now, in this process and
    /// in the shared pace (a failure to write it there is logged: this process still waits).
    pub async fn pause_tenant(&self, tenant: &str, retry_after: Option<Duration>) {
        let until = {
            let mut limiter = self.limiter();
            let until = self.now() + retry_after.unwrap_or(limiter.limits().default_pause);
            limiter.pause(tenant, until);
            until
        };
        self.slots.clear(tenant);
        if let Err(e) = self
            .slots
            .pace()
            .pause(tenant, self.time().wall(until))
            .await
        {
            self.meter.pace_error();
            tracing::warn!(tenant, error = %e, "cannot pause the tenant in the shared pace");
        }
    }
}

fn meter_for(limits: &Limits, edge: &EdgePacing, pace: &dyn TenantPace) -> PaceMeter {
    PaceMeter::new(limits.tenant_rate, pace.lead() + edge.block)
}

fn class_tag(class: RateClass) -> &'static str {
    match class {
        RateClass::Write => "w",
        RateClass::Read => "r",
    }
}

fn too_late(earliest: Instant, now: Instant) -> ConnectorError {
    ConnectorError::DeadlineExceeded {
        needed: earliest.saturating_duration_since(now),
    }
}

#[async_trait]
impl<C: Connector> Connector for Throttle<C> {
    async fn execute(&self, call: Call<'_>, operation: Operation<'_>) -> Executed {
        let tenant = call.tenant_id.as_str();
        self.acquire(
            tenant,
            operation.rate_class(),
            &operation.rate_key(),
            call.deadline,
        )
        .await?;
        let started = std::time::Instant::now();
        let result = self.inner.execute(call, operation).await;
        self.meter.sent(started.elapsed());
        if let Err(ConnectorError::Throttled { retry_after, .. }) = &result {
            self.meter.throttled();
            tracing::warn!(
                tenant,
                ?retry_after,
                "429 from the connector: pausing the tenant"
            );
            self.pause_tenant(tenant, *retry_after).await;
        }
        result
    }
}
