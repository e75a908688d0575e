//! The scheduler's invocation: EventBridge's `rate(1 minute)` schedule event, answered with what
//! the tick did.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

use crate::{Scheduler, SchedulerError};

/// Paging stops this long before the invocation's deadline, so the page in hand is finished.
const STOP_BEFORE_DEADLINE: chrono::Duration = chrono::Duration::seconds(10);

impl Scheduler {
    /// One tick, whatever the event says: the schedule rule's only message is "now". It pages
    /// through what is due until shortly before the invocation's deadline.
    pub async fn handle(
        &self,
        event: LambdaEvent<EventBridgeEvent<Value>>,
    ) -> Result<Value, SchedulerError> {
        let deadline = i64::try_from(event.context.deadline)
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_millis);
        let report = match deadline {
            Some(deadline) => self.tick_until(deadline - STOP_BEFORE_DEADLINE).await?,
            None => self.tick().await?,
        };
        let installs = &report.installs;
        Ok(json!({
            "due": report.due,
            "notifications": report.notifications.len(),
            "missed": report.missed,
            "conflicts": report.conflicts,
            "failed": report.failed,
            "outOfTime": report.out_of_time,
            "installWaitsEnded": installs.resumed + installs.retried + installs.timed_out,
            "strandedWoken": report.stranded.woken,
        }))
    }
}
