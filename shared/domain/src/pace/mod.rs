//! One pace per tenant, shared by every process that sends to Teams.
//!
//! Teams limits a bot per tenant and per conversation
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>), whatever the
//! number of sender instances. So instances draw each tenant's send slots from one shared budget:
//! a theoretical arrival time per tenant (GCRA-style) from which an instance reserves a *block*
//! of consecutive slots at once ([`TenantPace::reserve`]), so the cost is one shared write per
//! block, not per send. A 429 moves that time past the pause for every instance
//! ([`TenantPace::pause`]). Where instances share no memory, the per-conversation windows are
//! shared too ([`ThreadWindows`]).
//!
//! [`MemoryPace`] is one process's pace (the local runner, tests); the DynamoDB one lives in
//! `herald-store`. Both pass the same contract suite (K reservers together never exceed the rate
//! and together reach it).

mod memory;
mod window;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

pub use memory::MemoryPace;
pub use window::{ThreadLedger, Window, ready_at};

/// Why a pace could not answer. Callers wait and ask again: sending unpaced is never the answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PaceError {
    /// The shared store refused or failed the request (throttled, unreachable).
    #[error("the shared pace is unavailable: {0}")]
    Unavailable(String),
    /// Other instances kept changing the item between our reads and writes.
    #[error("the shared pace stayed contended after {0} attempts")]
    Contended(u32),
}

/// What an instance asks for: `slots` consecutive send slots, `interval` apart, the first no
/// earlier than `not_before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRequest {
    pub slots: u32,
    pub interval: Duration,
    pub not_before: DateTime<Utc>,
}

/// Consecutive send slots reserved for one instance: `first`, `first + interval`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotBlock {
    pub first: DateTime<Utc>,
    pub interval: Duration,
    pub count: u32,
}

impl SlotBlock {
    /// The block GCRA gives when the tenant's theoretical arrival time is `tat` (`None`: never
    /// reserved): it starts at `tat` or `not_before`, whichever is later.
    #[must_use]
    pub fn after(tat: Option<DateTime<Utc>>, request: &BlockRequest) -> Self {
        let first = tat.map_or(request.not_before, |t| t.max(request.not_before));
        Self {
            first,
            interval: request.interval,
            count: request.slots.max(1),
        }
    }

    /// The instant after the last slot: the tenant's next theoretical arrival time.
    #[must_use]
    pub fn end(&self) -> DateTime<Utc> {
        self.first + self.interval * self.count
    }

    /// Every slot, earliest first.
    pub fn slots(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        (0..self.count).map(|i| self.first + self.interval * i)
    }
}

/// A request's answer from shared conversation windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Recorded: the request may start at the instant asked for.
    Admitted,
    /// A window is full; nothing was recorded. Ask again at this instant.
    NotBefore(DateTime<Utc>),
}

/// The tenant-wide budget every instance draws from.
#[async_trait]
pub trait TenantPace: Send + Sync {
    /// Reserves `request.slots` slots of `tenant`: no slot of any instance is closer than
    /// `request.interval` to another.
    async fn reserve(&self, tenant: &str, request: &BlockRequest) -> Result<SlotBlock, PaceError>;

    /// Holds every instance's further slots of `tenant` until `until` (after a 429).
    async fn pause(&self, tenant: &str, until: DateTime<Utc>) -> Result<(), PaceError>;

    /// How far ahead of now a reserved block should start, so it is in hand before its first
    /// slot: the store's round trip (zero in memory).
    fn lead(&self) -> Duration {
        Duration::ZERO
    }

    /// Per-conversation windows shared between instances, when they share no memory; `None`
    /// when one process's own windows see every request.
    fn threads(&self) -> Option<&dyn ThreadWindows> {
        None
    }
}

/// Per-conversation sliding windows kept where every instance sees them.
#[async_trait]
pub trait ThreadWindows: Send + Sync {
    /// Records a request of `thread` at `at` when every window of `windows` (each `margin`
    /// longer) still has room then; otherwise records nothing and says when one will.
    async fn admit(
        &self,
        thread: &str,
        windows: &[Window],
        margin: Duration,
        at: DateTime<Utc>,
    ) -> Result<Admission, PaceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_starts_at_the_later_of_the_arrival_time_and_the_request() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let ms = |n: u64| Duration::from_millis(n);
        let request = BlockRequest {
            slots: 3,
            interval: ms(20),
            not_before: t0,
        };
        let fresh = SlotBlock::after(None, &request);
        assert_eq!(fresh.first, t0);
        assert_eq!(fresh.end(), t0 + ms(60));
        let behind = SlotBlock::after(Some(t0 - ms(500)), &request);
        assert_eq!(behind.first, t0);
        let ahead = SlotBlock::after(Some(t0 + ms(100)), &request);
        assert_eq!(
            ahead.slots().collect::<Vec<_>>(),
            [t0 + ms(100), t0 + ms(120), t0 + ms(140)]
        );
    }
}
