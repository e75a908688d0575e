//! The scheduler's tick, once a minute against the real clock, as the EventBridge schedule rule
//! invokes the scheduler Lambda in AWS.

use std::time::Duration;

use chrono::{Timelike, Utc};
use herald_pipeline::StrandedSweep;
use herald_scheduler::Scheduler;
use tokio::sync::watch;

/// How far into each minute the tick runs: fires are due at the minute, so just after it.
const INTO_MINUTE: Duration = Duration::from_millis(500);

/// How long until the next tick: the next minute boundary plus [`INTO_MINUTE`].
fn until_next_minute(now: chrono::DateTime<Utc>) -> Duration {
    let into = Duration::from_secs(u64::from(now.second()))
        + Duration::from_nanos(u64::from(now.nanosecond().min(999_999_999)));
    Duration::from_secs(60).saturating_sub(into) + INTO_MINUTE
}

/// Ticks at start-up (catching up what came due while stopped) and then every minute until
/// `stop` turns true.
pub async fn run(scheduler: Scheduler, mut stop: watch::Receiver<bool>) {
    loop {
        match scheduler.tick().await {
            Ok(report) => tracing::debug!(?report, "scheduler tick"),
            Err(e) => tracing::error!(error = %e, "scheduler tick failed; retrying next minute"),
        }
        tokio::select! {
            () = tokio::time::sleep(until_next_minute(Utc::now())) => {}
            _ = stop.changed() => return,
        }
    }
}

/// How often the local runner wakes stranded outbox work (released deliveries whose backoff
/// ended, leases of a crashed run): more often than the minute tick, so a retry after a few
/// seconds' backoff is not held up for a minute.
const STRANDED_EVERY: Duration = Duration::from_secs(5);

/// Runs the stranded-work sweep every [`STRANDED_EVERY`] until `stop` turns true.
pub async fn sweep_stranded(sweep: StrandedSweep, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = sweep.sweep().await {
            tracing::warn!(error = %e, "stranded-work sweep failed; trying again shortly");
        }
        tokio::select! {
            () = tokio::time::sleep(STRANDED_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn waits_for_the_next_minute() {
        let at = |s, ms| {
            Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, s).unwrap() + chrono::Duration::milliseconds(ms)
        };
        assert_eq!(until_next_minute(at(0, 0)), Duration::from_millis(60_500));
        assert_eq!(until_next_minute(at(59, 900)), Duration::from_millis(600));
        assert_eq!(until_next_minute(at(30, 0)), Duration::from_millis(30_500));
    }
}
