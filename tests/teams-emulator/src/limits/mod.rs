//! The Teams rate limits an emulator enforces, as data, and the limiter that enforces them.
//!
//! Teams publishes per-bot, per-thread limits and a per-tenant ceiling:
//! <https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>.

mod limiter;

use std::time::Duration;

pub(crate) use limiter::{Class, RateLimiter};

/// The Teams rate limits the emulator enforces
/// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>). Data, so tests
/// and benchmarks scale them.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorLimits {
    /// `(limit, period)` sliding windows per conversation for sends and create conversation.
    pub write: Vec<(u32, Duration)>,
    /// `(limit, period)` sliding windows per conversation/team for members and team reads.
    pub read: Vec<(u32, Duration)>,
    /// Requests per second per tenant (all routes), as a token bucket; `None` = unlimited.
    pub tenant_rate: Option<u32>,
    /// Bucket capacity; defaults to one second's worth of `tenant_rate`.
    pub tenant_burst: Option<u32>,
    /// A request this close to leaving a window no longer counts: the emulator is at least as
    /// lenient as an exact client at the boundary, absorbing loopback latency jitter.
    pub tolerance: Duration,
}

impl EmulatorLimits {
    /// Teams' published per-bot limits and 50 requests/s per tenant.
    #[must_use]
    pub fn teams() -> Self {
        let s = Duration::from_secs;
        Self {
            write: vec![(7, s(1)), (8, s(2)), (60, s(30)), (1800, s(3600))],
            read: vec![(14, s(1)), (16, s(2)), (120, s(30)), (3600, s(3600))],
            tenant_rate: Some(50),
            tenant_burst: None,
            tolerance: Duration::from_millis(20),
        }
    }

    /// Nothing enforced.
    #[must_use]
    pub fn off() -> Self {
        Self {
            write: Vec::new(),
            read: Vec::new(),
            tenant_rate: None,
            tenant_burst: None,
            tolerance: Duration::ZERO,
        }
    }

    #[must_use]
    pub fn tenant_rate(mut self, per_second: Option<u32>) -> Self {
        self.tenant_rate = per_second.filter(|r| *r > 0);
        self
    }

    #[must_use]
    pub fn tenant_burst(mut self, burst: u32) -> Self {
        self.tenant_burst = Some(burst.max(1));
        self
    }
}
