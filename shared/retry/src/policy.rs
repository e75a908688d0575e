//! The policy as data and the pure decision behind every retry: capped exponential backoff with
//! jitter, as the AWS retry-with-backoff pattern describes it
//! (<https://docs.aws.amazon.com/prescriptive-guidance/latest/cloud-design-patterns/retry-backoff.html>),
//! unless the service said how long to wait.

use std::time::Duration;

use rand::Rng as _;
use thiserror::Error;
use tokio::time::Instant;

use crate::Attempts;

/// How the random part of a backoff is drawn below its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Uniform in `[0, cap]`: clients that failed together spread out the most.
    #[default]
    Full,
    /// Uniform in `[cap / 2, cap]`: spread out, but never an immediate retry.
    Equal,
}

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Backoff cap of the first retry; doubles per retry.
    pub base_delay: Duration,
    /// Largest backoff between two attempts.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is handed back to the caller instead of slept through.
    pub max_retry_after: Duration,
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    /// Five attempts, backoff from 0.5 s up to 30 s, `Retry-After` honoured up to a minute.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            jitter: Jitter::Full,
        }
    }
}

/// Why no further attempt is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum GiveUp {
    #[error("{attempts} attempts made, the most the policy allows")]
    Exhausted { attempts: u32 },
    /// The service asked for a longer wait than the policy sleeps through.
    #[error("the service asks to wait {wait:?}, longer than the policy allows")]
    RetryAfterTooLong { wait: Duration },
    /// The wait would end past the caller's deadline.
    #[error("waiting {wait:?} would pass the deadline")]
    PastDeadline { wait: Duration },
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (1 for the first): a random point below
    /// `min(max_delay, base_delay * 2^(retry-1))`, drawn as [`Jitter`] says.
    #[must_use]
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2_u32.saturating_pow(retry.saturating_sub(1));
        let cap = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        if cap_nanos == 0 {
            return Duration::ZERO;
        }
        let floor = match self.jitter {
            Jitter::Full => 0,
            Jitter::Equal => cap_nanos / 2,
        };
        Duration::from_nanos(rand::rng().random_range(floor..=cap_nanos))
    }

    /// The wait before another attempt after attempt number `attempt` failed at `now`: the
    /// service's `retry_after` if it gave one, otherwise a backoff. An error when the attempts
    /// are used up, the service asks for too long, or the wait would end after `deadline`.
    pub fn wait_after(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        now: Instant,
        deadline: Option<Instant>,
    ) -> Result<Duration, GiveUp> {
        if attempt >= self.max_attempts {
            return Err(GiveUp::Exhausted { attempts: attempt });
        }
        let wait = match retry_after {
            Some(wait) if wait > self.max_retry_after => {
                return Err(GiveUp::RetryAfterTooLong { wait });
            }
            Some(wait) => wait,
            None => self.backoff(attempt),
        };
        // Sleeping past the deadline only to fail later would cost the caller its time budget.
        let resume = now.checked_add(wait);
        if resume.is_some_and(|at| deadline.is_none_or(|d| at <= d)) {
            Ok(wait)
        } else {
            Err(GiveUp::PastDeadline { wait })
        }
    }

    /// The attempts of one operation that must be over by `deadline` (`None`: no deadline).
    #[must_use]
    pub fn attempts(&self, deadline: Option<Instant>) -> Attempts {
        Attempts::new(*self, deadline)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for retry in 1..40 {
            let cap = Duration::from_millis(100)
                .saturating_mul(2_u32.saturating_pow(retry - 1))
                .min(Duration::from_secs(1));
            assert!(policy.backoff(retry) <= cap);
        }
        let distinct: HashSet<_> = (0..50).map(|_| policy.backoff(5)).collect();
        assert!(distinct.len() > 1, "full jitter must vary");
    }

    #[test]
    fn delays_grow_stay_bounded_and_jitter() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(1),
            jitter: Jitter::Equal,
        };
        for attempt in 1..=40 {
            let cap = Duration::from_millis(100)
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(Duration::from_secs(1));
            let d = policy.backoff(attempt);
            assert!(
                d >= cap / 2 && d <= cap,
                "attempt {attempt}: {d:?} vs {cap:?}"
            );
        }
        let samples: HashSet<_> = (0..20).map(|_| policy.backoff(5)).collect();
        assert!(samples.len() > 1, "no jitter");
    }

    #[test]
    fn a_zero_cap_waits_nothing() {
        let policy = RetryPolicy {
            base_delay: Duration::ZERO,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(3), Duration::ZERO);
    }

    #[test]
    fn waits_follow_retry_after_attempts_and_the_deadline() {
        let policy = RetryPolicy::default();
        let now = Instant::now();
        let secs = Duration::from_secs;
        assert!(policy.wait_after(1, None, now, None).unwrap() <= policy.base_delay);
        assert_eq!(policy.wait_after(1, Some(secs(2)), now, None), Ok(secs(2)));
        assert_eq!(
            policy.wait_after(5, Some(secs(2)), now, None),
            Err(GiveUp::Exhausted { attempts: 5 })
        );
        assert_eq!(
            policy.wait_after(1, Some(secs(600)), now, None),
            Err(GiveUp::RetryAfterTooLong { wait: secs(600) })
        );
        // A wait ending exactly at the deadline still fits; one past it does not.
        assert_eq!(
            policy.wait_after(1, Some(secs(2)), now, Some(now + secs(2))),
            Ok(secs(2))
        );
        assert_eq!(
            policy.wait_after(1, Some(secs(3)), now, Some(now + secs(2))),
            Err(GiveUp::PastDeadline { wait: secs(3) })
        );
        // With the deadline already passed, even no wait is too long.
        assert_eq!(
            policy.wait_after(1, Some(Duration::ZERO), now + secs(1), Some(now)),
            Err(GiveUp::PastDeadline {
                wait: Duration::ZERO
            })
        );
    }
}
