//! The attempts of one operation under a policy: counted, and paused between on the real clock.

use std::future::IntoFuture;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::{GiveUp, RetryPolicy};

/// Counts the attempts of one operation and decides, after each failure, whether another is
/// worth making. The first attempt is counted from the start.
#[derive(Debug, Clone)]
pub struct Attempts {
    policy: RetryPolicy,
    deadline: Option<Instant>,
    made: u32,
}

/// The wait before the next attempt: `.await` it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a pause does nothing unless awaited"]
pub struct Pause {
    /// The attempt that failed (1 for the first).
    pub failed_attempt: u32,
    pub wait: Duration,
}

impl Attempts {
    pub(crate) fn new(policy: RetryPolicy, deadline: Option<Instant>) -> Self {
        Self {
            policy,
            deadline,
            made: 1,
        }
    }

    /// Attempts made so far, the current one included.
    #[must_use]
    pub fn made(&self) -> u32 {
        self.made
    }

    /// After the current attempt failed (with the service's `Retry-After`, if it sent one): the
    /// pause before the next attempt, which is counted now, or why there is none.
    pub fn retry(&mut self, retry_after: Option<Duration>) -> Result<Pause, GiveUp> {
        let wait = self
            .policy
            .wait_after(self.made, retry_after, Instant::now(), self.deadline)?;
        let pause = Pause {
            failed_attempt: self.made,
            wait,
        };
        self.made += 1;
        Ok(pause)
    }
}

impl IntoFuture for Pause {
    type Output = ();
    type IntoFuture = Sleep;

    fn into_future(self) -> Sleep {
        tokio::time::sleep(self.wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            ..RetryPolicy::default()
        }
    }

    #[tokio::test]
    async fn counts_attempts_up_to_the_policy() {
        let mut attempts = quick(3).attempts(None);
        assert_eq!(attempts.made(), 1);
        let pause = attempts.retry(None).unwrap();
        assert_eq!(pause.failed_attempt, 1);
        pause.await;
        assert_eq!(attempts.made(), 2);
        attempts.retry(None).unwrap().await;
        assert_eq!(attempts.retry(None), Err(GiveUp::Exhausted { attempts: 3 }));
        assert_eq!(attempts.made(), 3, "a refused retry is not counted");
    }

    #[tokio::test]
    async fn a_pause_sleeps_for_its_wait() {
        let mut attempts = quick(2).attempts(None);
        let pause = attempts.retry(Some(Duration::from_millis(50))).unwrap();
        assert_eq!(pause.wait, Duration::from_millis(50));
        let started = Instant::now();
        pause.await;
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn no_pause_outlives_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(100);
        let mut attempts = quick(5).attempts(Some(deadline));
        assert_eq!(
            attempts.retry(Some(Duration::from_secs(1))),
            Err(GiveUp::PastDeadline {
                wait: Duration::from_secs(1)
            })
        );
        assert!(attempts.retry(Some(Duration::from_millis(10))).is_ok());
    }
}
