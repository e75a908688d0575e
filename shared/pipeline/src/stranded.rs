//! The stranded-work sweep: wakes outbox work nothing else will trigger again (a sender that
//! died holding a lease, a delivery whose backoff ended, a stream batch Lambda gave up on). The
//! scheduler's minute tick runs it in AWS, the local runner every few seconds. Waking an item
//! rewrites it, which triggers the sender through the stream or the change feed.

use std::sync::Arc;

use herald_domain::Clock;
use herald_store::{StoreError, StrandedWork};

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StrandedReport {
    /// Items found due.
    pub due: usize,
    /// Woken (a new trigger is on its way).
    pub woken: usize,
    /// Could not be woken now (logged); the next sweep tries again.
    pub failed: usize,
}

/// The sweep over one outbox.
pub struct StrandedSweep {
    pub work: Arc<dyn StrandedWork>,
    pub clock: Arc<dyn Clock>,
    /// Items read per sweep at most; the rest wait for the next one.
    pub batch: usize,
}

impl StrandedSweep {
    pub const DEFAULT_BATCH: usize = 1000;

    #[must_use]
    pub fn new(work: Arc<dyn StrandedWork>, clock: Arc<dyn Clock>) -> Self {
        Self {
            work,
            clock,
            batch: Self::DEFAULT_BATCH,
        }
    }

    pub async fn sweep(&self) -> Result<StrandedReport, StoreError> {
        let due = self.work.stranded(self.clock.now(), self.batch).await?;
        let mut report = StrandedReport {
            due: due.len(),
            ..StrandedReport::default()
        };
        for item in &due {
            // One item that cannot be woken (a throttled write) must not hold up the others.
            match self.work.wake(item, self.clock.now()).await {
                Ok(true) => report.woken += 1,
                Ok(false) => {}
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(item = ?item, error = %e, "cannot wake stranded outbox work");
                }
            }
        }
        if report.woken > 0 || report.failed > 0 {
            tracing::info!(?report, "stranded outbox work woken");
        }
        Ok(report)
    }
}
