//! Retries what PROTOCOL 5 says is worth retrying (412, 429, 502, 503, 504, transport failures),
//! honouring `Retry-After`, otherwise exponential backoff with full jitter, never past the
//! caller's deadline.

use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use tokio::time::Instant;

use crate::connector::{Call, Connector, Operation, Response};
use crate::error::ConnectorError;

/// How hard to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Backoff cap of the first retry; doubles per attempt.
    pub base_delay: Duration,
    /// Largest backoff between two attempts.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is handed back to the caller instead of slept through.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Full jitter (AWS architecture blog): uniform in `[0, min(max, base * 2^(retry-1))]`, so
    /// clients that failed together do not retry together.
    #[must_use]
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2_u32.saturating_pow(retry.saturating_sub(1));
        let cap = self.base_delay.saturating_mul(factor).min(self.max_delay);
        if cap.is_zero() {
            return cap;
        }
        let nanos = rand::rng().random_range(0..=cap.as_nanos().min(u128::from(u64::MAX)) as u64);
        Duration::from_nanos(nanos)
    }

    /// The wait before retrying after `error`, or `None` when it must be returned now.
    fn wait_for(&self, error: &ConnectorError, retry: u32) -> Option<Duration> {
        if !error.is_retryable() || retry >= self.max_attempts {
            return None;
        }
        match error.retry_after() {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(wait),
            None => Some(self.backoff(retry)),
        }
    }
}

/// The retry layer.
#[derive(Debug, Clone)]
pub struct Retry<C> {
    inner: C,
    policy: RetryPolicy,
}

impl<C> Retry<C> {
    pub fn new(inner: C, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }
}

#[async_trait]
impl<C: Connector> Connector for Retry<C> {
    async fn execute(
        &self,
        call: Call<'_>,
        operation: Operation<'_>,
    ) -> Result<Response, ConnectorError> {
        let mut attempt = 1;
        loop {
            let error = match self.inner.execute(call, operation).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            let Some(wait) = self.policy.wait_for(&error, attempt) else {
                return Err(error);
            };
            // Sleeping past the deadline only to fail later would cost the caller its time budget.
            let resume = Instant::now().checked_add(wait);
            if !resume.is_some_and(|at| call.deadline.allows(at)) {
                return Err(error);
            }
            tracing::debug!(
                operation = operation.name(),
                attempt,
                ?wait,
                error = %error,
                "retrying connector call"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
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
        let distinct: std::collections::HashSet<_> = (0..50).map(|_| policy.backoff(5)).collect();
        assert!(distinct.len() > 1, "full jitter must vary");
    }

    #[test]
    fn only_retryable_errors_within_attempts_wait() {
        let policy = RetryPolicy::default();
        let transient = ConnectorError::from_response(503, b"", None);
        let throttled = ConnectorError::from_response(429, b"", Some(Duration::from_secs(2)));
        let long = ConnectorError::from_response(429, b"", Some(Duration::from_secs(600)));
        let final_error = ConnectorError::from_response(403, b"", None);
        assert!(policy.wait_for(&transient, 1).is_some());
        assert_eq!(policy.wait_for(&transient, 5), None);
        assert_eq!(policy.wait_for(&throttled, 1), Some(Duration::from_secs(2)));
        assert_eq!(policy.wait_for(&long, 1), None);
        assert_eq!(policy.wait_for(&final_error, 1), None);
    }
}
