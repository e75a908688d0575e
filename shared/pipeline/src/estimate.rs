//! How many recipients a target reaches now, before anything is sent: expansion's own pages,
//! read and counted instead of written, so the estimate and the notification never disagree on
//! who is in the audience or why someone is skipped.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use herald_domain::{DeliveryStatus, NotificationId, Target};
use herald_store::NotificationRecord;

use crate::{Expander, PipelineError};

/// Recipients of a target by the status expansion would give each delivery: `pending` will be
/// sent; `skipped*` are opted out, blocked, uninstalled or archived; `unresolved` are people
/// Herald has no conversation with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Estimate {
    pub counts: BTreeMap<DeliveryStatus, u64>,
    /// Every page was read before `until`; otherwise the counts are a lower bound.
    pub complete: bool,
}

impl Estimate {
    #[must_use]
    pub fn count(&self, status: DeliveryStatus) -> u64 {
        self.counts.get(&status).copied().unwrap_or(0)
    }

    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

impl Expander {
    /// Counts `target`'s recipients page by page until the last page or until `until` passes.
    pub async fn estimate(
        &self,
        target: &Target,
        until: DateTime<Utc>,
    ) -> Result<Estimate, PipelineError> {
        let now = self.clock.now();
        let notification = NotificationRecord::new(
            NotificationId::random(),
            target.clone(),
            serde_json::Value::Null,
            "estimate",
            now,
            Duration::zero(),
        );
        let mut estimate = Estimate::default();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.recipients(&notification, cursor.as_deref()).await?;
            for delivery in &page.deliveries {
                *estimate.counts.entry(delivery.status).or_default() += 1;
            }
            match page.next {
                None => {
                    estimate.complete = true;
                    return Ok(estimate);
                }
                Some(_) if self.clock.now() >= until => return Ok(estimate),
                next => cursor = next,
            }
        }
    }
}
