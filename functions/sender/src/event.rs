//! What invokes the sender: a DynamoDB stream batch of the outbox table, or an EventBridge event
//! (`herald.Notify`, or one matching an event route), and what it answers to each.

use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::streams::DynamoDbEventResponse;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{SenderError, SenderFunction};

/// One invocation's payload. A stream batch carries `Records`; an EventBridge event
/// `detail-type` and `source`; anything else is refused as an invocation error.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SenderEvent {
    Stream(DynamoDbEvent),
    EventBridge(EventBridgeEvent<Value>),
}

/// The answer: the partial batch response Lambda reads with `ReportBatchItemFailures`, or the
/// notification an event became.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum SenderResponse {
    Stream(DynamoDbEventResponse),
    #[serde(rename_all = "camelCase")]
    Event {
        notification_id: Option<String>,
    },
}

impl SenderFunction {
    /// Handles one invocation, stopping work a safety margin before Lambda's deadline.
    pub async fn handle(
        &self,
        event: LambdaEvent<SenderEvent>,
    ) -> Result<SenderResponse, SenderError> {
        let deadline = i64::try_from(event.context.deadline)
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_millis);
        match event.payload {
            SenderEvent::Stream(batch) => Ok(SenderResponse::Stream(
                self.handle_stream(batch, deadline).await,
            )),
            SenderEvent::EventBridge(event) => Ok(SenderResponse::Event {
                notification_id: self.handle_event(&event).await?.map(|id| id.to_string()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_batches_and_eventbridge_events_are_told_apart() {
        let stream: SenderEvent = serde_json::from_value(serde_json::json!({
            "Records": [{"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                         "awsRegion": "us-east-1",
                         "dynamodb": {"Keys": {}, "NewImage": {}, "SequenceNumber": "100",
                                      "SizeBytes": 1, "StreamViewType": "NEW_IMAGE"}}]
        }))
        .unwrap();
        assert!(matches!(stream, SenderEvent::Stream(batch) if batch.records.len() == 1));
        let event: SenderEvent = serde_json::from_value(serde_json::json!({
            "version": "0", "id": "e-1", "detail-type": "herald.Notify", "source": "my.app",
            "account": "123456789012", "time": "2026-12-01T09:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {"target": {"kind": "all"}, "message": {"text": "t"}}
        }))
        .unwrap();
        assert!(matches!(event, SenderEvent::EventBridge(e) if e.detail_type == "herald.Notify"));
        assert!(serde_json::from_value::<SenderEvent>(serde_json::json!({"hello": 1})).is_err());
        let answer = serde_json::to_value(SenderResponse::Event {
            notification_id: Some("n-1".into()),
        })
        .unwrap();
        assert_eq!(answer, serde_json::json!({"notificationId": "n-1"}));
    }
}
