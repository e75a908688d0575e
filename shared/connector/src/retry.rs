//! The retry layer: retries what the connector answers when a call may succeed later (412, 429,
//! 502, 503, 504 and transport failures; see [`ConnectorError::is_retryable`]) under Herald's one
//! [`RetryPolicy`]: `Retry-After` honoured, otherwise exponential backoff with full jitter, never
//! past the caller's deadline. A POST that creates a message or conversation is not repeated when
//! its outcome is unknown (a timeout after it was sent, a 504): that is the caller's to decide.
//! Teams asks bots to back off exactly so on 429
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>).

use async_trait::async_trait;
use herald_retry::{Attempts, Pause, RetryPolicy};

use crate::connector::{Call, Connector, Executed, Operation};
use crate::error::ConnectorError;

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

/// The pause before retrying after `error`, or `None` when it must be returned now.
fn pause_for(attempts: &mut Attempts, error: &ConnectorError) -> Option<Pause> {
    if !error.is_retryable() {
        return None;
    }
    attempts.retry(error.retry_after()).ok()
}

#[async_trait]
impl<C: Connector> Connector for Retry<C> {
    async fn execute(&self, call: Call<'_>, operation: Operation<'_>) -> Executed {
        let mut attempts = self.policy.attempts(call.deadline.instant());
        loop {
            let error = match self.inner.execute(call, operation).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            // A message POST whose outcome is unknown is not repeated blindly: the caller
            // records that it may have been delivered before trying again.
            if operation.creates() && error.outcome_unknown() {
                return Err(error);
            }
            let Some(pause) = pause_for(&mut attempts, &error) else {
                return Err(error);
            };
            tracing::debug!(
                operation = operation.name(),
                attempt = pause.failed_attempt,
                wait = ?pause.wait,
                error = %error,
                "retrying connector call"
            );
            pause.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Attempts of `policy` after `made` of them.
    fn after(policy: &RetryPolicy, made: u32) -> Attempts {
        let mut attempts = policy.attempts(None);
        for _ in 1..made {
            let _ = attempts.retry(None);
        }
        assert_eq!(attempts.made(), made);
        attempts
    }

    #[test]
    fn only_retryable_errors_within_attempts_wait() {
        let policy = RetryPolicy::default();
        let wait_for = |error: &ConnectorError, attempt: u32| {
            pause_for(&mut after(&policy, attempt), error).map(|pause| pause.wait)
        };
        let transient = ConnectorError::from_response(503, b"", None);
        let throttled = ConnectorError::from_response(429, b"", Some(Duration::from_secs(2)));
        let long = ConnectorError::from_response(429, b"", Some(Duration::from_secs(600)));
        let final_error = ConnectorError::from_response(403, b"", None);
        assert!(wait_for(&transient, 1).is_some());
        assert_eq!(wait_for(&transient, 5), None);
        assert_eq!(wait_for(&throttled, 1), Some(Duration::from_secs(2)));
        assert_eq!(wait_for(&long, 1), None);
        assert_eq!(wait_for(&final_error, 1), None);
    }
}
