//! The send slots a process holds per tenant, drawn in blocks from the tenant's shared pace: a
//! caller takes the earliest slot in hand; when none is left, one caller reserves a block (one
//! shared write) sized for everyone queued behind it, the others wait for that block. A block
//! holds no slot for callers yet to come: each caller needs its slot some way ahead (the shared
//! windows' write), so one arriving later would skip the block's early slots, and a slot no
//! caller takes is lost to every instance. Slots too late to start on time are dropped unused:
//! a late start could crowd the window at Teams' edge.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use herald_domain::Clock;
use herald_domain::pace::{BlockRequest, PaceError, TenantPace};
use tokio::time::Instant;

use super::meter::PaceMeter;
use super::timeline::Timeline;
use crate::connector::Deadline;

/// One tenant's slots in hand.
#[derive(Default)]
struct Pool {
    queue: Mutex<VecDeque<Instant>>,
    /// Held by the caller reserving the next block.
    refill: tokio::sync::Mutex<()>,
    /// Callers queued for `refill`: the next block is sized for them.
    waiting: AtomicUsize,
}

impl Pool {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Instant>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The earliest slot at or after `not_before` that can still start on time, dropping those
    /// that cannot (earlier slots that can stay for other callers).
    fn pop(
        &self,
        now: Instant,
        not_before: Instant,
        late: Duration,
        meter: &PaceMeter,
    ) -> Option<Instant> {
        let mut queue = self.queue();
        while queue.front().is_some_and(|slot| *slot + late < now) {
            queue.pop_front();
            meter.expired();
        }
        let i = queue.iter().position(|slot| *slot >= not_before)?;
        queue.remove(i)
    }
}

/// What a caller needs a slot for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Want {
    pub interval: Duration,
    /// Slots reserved at once at most.
    pub max_block: u32,
    /// No slot before this (the tenant's pause, the conversation's windows).
    pub not_before: Instant,
    /// How late a slot may still be handed out.
    pub late: Duration,
    pub deadline: Deadline,
}

/// Why no slot was taken.
#[derive(Debug)]
pub(crate) enum SlotError {
    /// The earliest slot lies past the deadline (it was given back).
    TooLate(Instant),
    Pace(PaceError),
}

/// Every tenant's pool, over one shared pace.
pub(crate) struct Slots {
    pace: Arc<dyn TenantPace>,
    pools: Mutex<HashMap<Box<str>, Arc<Pool>>>,
}

/// Pools kept before idle ones are dropped.
const POOLS_KEPT: usize = 10_000;

impl Slots {
    pub fn new(pace: Arc<dyn TenantPace>) -> Self {
        Self {
            pace,
            pools: Mutex::new(HashMap::new()),
        }
    }

    pub fn pace(&self) -> &dyn TenantPace {
        &*self.pace
    }

    fn pool(&self, tenant: &str) -> Arc<Pool> {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if pools.len() > POOLS_KEPT {
            pools.retain(|_, p| {
                Arc::strong_count(p) > 1
                    || p.waiting.load(Ordering::SeqCst) > 0
                    || !p.queue().is_empty()
            });
        }
        pools.entry(tenant.into()).or_default().clone()
    }

    /// The earliest slot of `tenant` that suits `want`, reserving a block when none is in hand.
    pub async fn take(
        &self,
        clock: &dyn Clock,
        meter: &PaceMeter,
        tenant: &str,
        want: Want,
    ) -> Result<Instant, SlotError> {
        let time = Timeline(clock);
        let pool = self.pool(tenant);
        loop {
            if let Some(slot) = pool.pop(time.now(), want.not_before, want.late, meter) {
                return self.within(tenant, slot, want.deadline);
            }
            pool.waiting.fetch_add(1, Ordering::SeqCst);
            let refill = pool.refill.lock().await;
            pool.waiting.fetch_sub(1, Ordering::SeqCst);
            let now = time.now();
            if let Some(slot) = pool.pop(now, want.not_before, want.late, meter) {
                return self.within(tenant, slot, want.deadline);
            }
            let queued = pool.waiting.load(Ordering::SeqCst) as u32 + 1;
            let slots = queued.clamp(1, want.max_block);
            let request = BlockRequest {
                slots,
                interval: want.interval,
                not_before: time.wall((now + self.pace.lead()).max(want.not_before)),
            };
            let block = self
                .pace
                .reserve(tenant, &request)
                .await
                .map_err(SlotError::Pace)?;
            meter.reserved(block.count, block.first <= request.not_before);
            pool.queue()
                .extend(block.slots().map(|at| time.instant(at)));
            drop(refill);
        }
    }

    fn within(
        &self,
        tenant: &str,
        slot: Instant,
        deadline: Deadline,
    ) -> Result<Instant, SlotError> {
        if deadline.allows(slot) {
            Ok(slot)
        } else {
            self.give_back(tenant, slot);
            Err(SlotError::TooLate(slot))
        }
    }

    /// Returns a slot taken but not used, for the next caller.
    pub fn give_back(&self, tenant: &str, slot: Instant) {
        let pool = self.pool(tenant);
        let mut queue = pool.queue();
        let i = queue.partition_point(|s| *s <= slot);
        queue.insert(i, slot);
    }

    /// Drops the slots in hand (a 429: the tenant is paused).
    pub fn clear(&self, tenant: &str) {
        self.pool(tenant).queue().clear();
    }
}
