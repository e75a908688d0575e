//! The scheduler's invocation: EventBridge's `rate(1 minute)` schedule event, answered with what
//! the tick did.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

use crate::{Scheduler, SchedulerError};

impl Scheduler {
    /// One tick, whatever the event says: the schedule rule's only message is "now".
    pub async fn handle(
        &self,
        _event: LambdaEvent<EventBridgeEvent<Value>>,
    ) -> Result<Value, SchedulerError> {
        let report = self.tick().await?;
        let installs = &report.installs;
        Ok(json!({
            "due": report.due,
            "notifications": report.notifications.len(),
            "missed": report.missed,
            "conflicts": report.conflicts,
            "installWaitsEnded": installs.resumed + installs.retried + installs.timed_out,
            "strandedWoken": report.stranded.woken,
        }))
    }
}
