//! Follow-ups: when a notification's `followUp` comes due, the scheduler's tick turns it into a
//! notification of its own to the `unread` of the first (its sent personal copies no read receipt
//! covered). Its id derives from the first's, so a repeated tick creates it once, and its
//! deliveries are sent once like every delivery; opted-out and blocked people are skipped by
//! expansion like any recipient.

use std::sync::Arc;

use herald_domain::{Clock, Target};
use herald_store::{FollowUpDue, FollowUps, NotificationId, NotificationRecord, OutboxStore};

use crate::PipelineError;

/// Follow-ups read per tick at most; the rest wait for the next minute.
const BATCH: usize = 200;

/// The follow-ups' sweep, run by the scheduler's minute tick.
pub struct FollowUpSweep {
    pub follow_ups: Arc<dyn FollowUps>,
    pub outbox: Arc<dyn OutboxStore>,
    pub clock: Arc<dyn Clock>,
    /// How long the follow-up notifications are kept (DynamoDB TTL).
    pub retention: chrono::Duration,
}

/// The id of a notification's follow-up.
#[must_use]
pub fn follow_up_id(original: &NotificationId) -> NotificationId {
    NotificationId::for_idempotency_key(&format!("follow-up:{original}"))
}

impl FollowUpSweep {
    /// Creates the follow-up notifications that are due; returns those created now.
    pub async fn sweep(&self) -> Result<Vec<NotificationId>, PipelineError> {
        let now = self.clock.now();
        let mut created = Vec::new();
        for due in self.follow_ups.due_follow_ups(now, BATCH).await? {
            if let Some(id) = self.follow_up(&due).await? {
                created.push(id);
            }
            self.follow_ups.end_follow_up(&due).await?;
        }
        if !created.is_empty() {
            tracing::info!(count = created.len(), "follow-ups created");
        }
        Ok(created)
    }

    async fn follow_up(&self, due: &FollowUpDue) -> Result<Option<NotificationId>, PipelineError> {
        let original = &due.notification_id;
        let Some(header) = self.outbox.get_notification(original).await? else {
            return Ok(None);
        };
        let Some(follow_up) = header.follow_up else {
            return Ok(None);
        };
        let id = follow_up_id(original);
        let mut record = NotificationRecord::new(
            id.clone(),
            Target::Unread {
                notification_id: original.clone(),
            },
            follow_up.activity,
            format!("follow-up:{original}"),
            self.clock.now(),
            self.retention,
        );
        record.idempotency_key = Some(format!("follow-up:{original}"));
        Ok(self
            .outbox
            .create_notification(&record)
            .await?
            .is_none()
            .then_some(id))
    }
}
