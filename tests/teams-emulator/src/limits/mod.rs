//! The Teams rate limits an emulator enforces, as data, and the limiter that enforces them.
//!
//! Teams publishes per-bot, per-thread limits and a per-tenant ceiling:
//! <https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>.
//!
//! Two ways of enforcing them:
//! - lenient (the default, [`EmulatorLimits::teams`]): requests count when the emulator admits
//!   them, a window lets go of a request [`EmulatorLimits::tolerance`] early, and the tenant rate
//!   is a token bucket that absorbs bursts. A client paced exactly at the limits is never refused.
//! - strict ([`EmulatorLimits::strict`]): requests count at the instant they arrive (before any
//!   injected delay or simulated latency), with no tolerance, and the tenant rate is a sliding
//!   window: a request is refused with 429 and `Retry-After` when the tenant already had
//!   `tenant_rate` *accepted* requests (refused ones do not count) in the `period` before it. No
//!   window of `period` then ever holds more than `tenant_rate` accepted requests, nor any
//!   conversation window more than its limit, which a test can check with
//!   [`crate::TeamsEmulator::accepted_arrivals`] and [`busiest_window`].

mod limiter;
mod window;

use std::time::Duration;

pub(crate) use limiter::{Class, RateLimiter};
pub use window::busiest_window;

/// How [`EmulatorLimits::tenant_rate`] is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantModel {
    /// A bucket of [`EmulatorLimits::tenant_burst`] tokens refilled at `tenant_rate` per second:
    /// bursts up to the capacity pass, the long-run rate is held.
    TokenBucket,
    /// At most `tenant_rate` accepted requests in any window of `period`.
    SlidingWindow { period: Duration },
}

/// The instant a request counts at in every window and bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountAt {
    /// When the emulator admits it: after authorization and any injected `Fault::Delay`.
    Admission,
    /// When it arrives at the emulator, before any injected delay or simulated latency.
    Arrival,
}

/// The Teams rate limits the emulator enforces
/// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>). Data, so tests
/// and benchmarks scale them.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorLimits {
    /// `(limit, period)` sliding windows per conversation for sends and create conversation.
    pub write: Vec<(u32, Duration)>,
    /// `(limit, period)` sliding windows per conversation/team for members and team reads.
    pub read: Vec<(u32, Duration)>,
    /// Requests per tenant (every connector route): per second for the token bucket, per
    /// `period` for the sliding window (see [`Self::tenant_model`]); `None` = unlimited.
    pub tenant_rate: Option<u32>,
    /// Token bucket capacity; defaults to one second's worth of `tenant_rate`.
    pub tenant_burst: Option<u32>,
    pub tenant_model: TenantModel,
    pub count_at: CountAt,
    /// A request this close to leaving a window no longer counts: the emulator is at least as
    /// lenient as an exact client at the boundary, absorbing loopback latency jitter.
    pub tolerance: Duration,
}

impl EmulatorLimits {
    /// Teams' published per-bot limits and 50 requests/s per tenant, enforced leniently.
    #[must_use]
    pub fn teams() -> Self {
        let s = Duration::from_secs;
        Self {
            write: vec![(7, s(1)), (8, s(2)), (60, s(30)), (1800, s(3600))],
            read: vec![(14, s(1)), (16, s(2)), (120, s(30)), (3600, s(3600))],
            tolerance: Duration::from_millis(20),
            ..Self::off().tenant_rate(Some(50))
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
            tenant_model: TenantModel::TokenBucket,
            count_at: CountAt::Admission,
            tolerance: Duration::ZERO,
        }
    }

    /// The same limits enforced strictly: counted at arrival, without tolerance, the tenant rate
    /// as a sliding window of one second.
    #[must_use]
    pub fn strict(self) -> Self {
        self.tenant_model(TenantModel::SlidingWindow {
            period: Duration::from_secs(1),
        })
        .count_at(CountAt::Arrival)
        .tolerance(Duration::ZERO)
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

    #[must_use]
    pub fn tenant_model(mut self, model: TenantModel) -> Self {
        self.tenant_model = model;
        self
    }

    #[must_use]
    pub fn count_at(mut self, count_at: CountAt) -> Self {
        self.count_at = count_at;
        self
    }

    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }
}
