//! `POST /api/events`: EventBridge-shaped events for trying the sender's event routes locally.
//!
//! The body is one event as EventBridge hands it to a target (`source`, `detail-type`, `detail`
//! as JSON) or a PutEvents request (`{"Entries": [{"Source", "DetailType", "Detail"}]}`, where
//! `Detail` is a JSON string). Each event goes to the sender's `handle_event`, as the EventBridge
//! rule targeting the sender Lambda would.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;
use herald_sender::{SenderError, SenderFunction};
use serde_json::{Value, json};

/// The answer: status and JSON body.
pub type Reply = (u16, Value);

fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    (
        status,
        json!({"error": {"code": code, "message": message.into()}}),
    )
}

/// One PutEvents entry turned into the event EventBridge would deliver.
fn from_entry(entry: &Value) -> Result<EventBridgeEvent<Value>, String> {
    let text = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("{name} is required and must be a string"))
    };
    let source = text("Source")?;
    let detail_type = text("DetailType")?;
    let detail: Value = serde_json::from_str(text("Detail")?)
        .map_err(|e| format!("Detail must be a JSON object in a string: {e}"))?;
    if !detail.is_object() {
        return Err("Detail must be a JSON object in a string".into());
    }
    let resources = entry
        .get("Resources")
        .cloned()
        .map(serde_json::from_value::<Vec<String>>)
        .transpose()
        .map_err(|e| format!("Resources must be a list of strings: {e}"))?
        .unwrap_or_default();
    let mut event = EventBridgeEvent::default();
    event.version = Some("0".into());
    event.id = Some(uuid::Uuid::new_v4().to_string());
    detail_type.clone_into(&mut event.detail_type);
    source.clone_into(&mut event.source);
    event.account = Some("000000000000".into());
    event.time = Some(Utc::now());
    event.region = Some("local".into());
    event.resources = Some(resources);
    event.detail = detail;
    Ok(event)
}

fn sender_error(e: &SenderError) -> Reply {
    match e {
        SenderError::Route(route) => error(400, "EventRejected", route.to_string()),
        SenderError::Store(store) => error(503, "StoreUnavailable", store.to_string()),
        SenderError::IdempotencyKeyReused { .. } => {
            error(409, "IdempotencyKeyReused", e.to_string())
        }
    }
}

/// Handles one `POST /api/events` body (read, as JSON, by the notify API's extractor).
pub async fn handle(sender: &SenderFunction, value: Value) -> Reply {
    if let Some(entries) = value.get("Entries") {
        let Some(entries) = entries
            .as_array()
            .filter(|e| !e.is_empty() && e.len() <= 10)
        else {
            return error(
                400,
                "InvalidParameter",
                "Entries must be a list of 1 to 10 entries, as in PutEvents",
            );
        };
        return put_events(sender, entries).await;
    }
    let mut event: EventBridgeEvent<Value> = match serde_json::from_value(value) {
        Ok(event) => event,
        Err(e) => {
            return error(
                400,
                "InvalidEvent",
                format!(
                    "expected an EventBridge event (source, detail-type, detail) or {{\"Entries\": [...]}}: {e}"
                ),
            );
        }
    };
    // EventBridge gives every event an id (the notification's idempotency key); so does this.
    if event.id.as_deref().is_none_or(|id| id.trim().is_empty()) {
        event.id = Some(uuid::Uuid::new_v4().to_string());
    }
    match sender.handle_event(&event).await {
        Ok(id) => (
            200,
            json!({"routed": id.is_some(), "notificationId": id.map(|i| i.to_string())}),
        ),
        Err(e) => sender_error(&e),
    }
}

/// The PutEvents answer shape: one result per entry, failures counted.
async fn put_events(sender: &SenderFunction, entries: &[Value]) -> Reply {
    let mut results = Vec::with_capacity(entries.len());
    let mut failed = 0;
    for entry in entries {
        let event = match from_entry(entry) {
            Ok(event) => event,
            Err(message) => {
                failed += 1;
                results.push(json!({"ErrorCode": "InvalidArgument", "ErrorMessage": message}));
                continue;
            }
        };
        match sender.handle_event(&event).await {
            Ok(id) => results.push(json!({
                "EventId": event.id,
                "NotificationId": id.map(|i| i.to_string()),
            })),
            Err(e) => {
                failed += 1;
                let (_, body) = sender_error(&e);
                results.push(json!({
                    "ErrorCode": body["error"]["code"],
                    "ErrorMessage": body["error"]["message"],
                }));
            }
        }
    }
    (200, json!({"FailedEntryCount": failed, "Entries": results}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_events() {
        let event = from_entry(&json!({
            "Source": "contoso.billing",
            "DetailType": "InvoiceOverdue",
            "Detail": "{\"invoice\": 42}",
        }))
        .unwrap();
        assert_eq!(event.source, "contoso.billing");
        assert_eq!(event.detail_type, "InvoiceOverdue");
        assert_eq!(event.detail, json!({"invoice": 42}));
        assert!(event.id.is_some());
        for bad in [
            json!({"DetailType": "x", "Detail": "{}"}),
            json!({"Source": "s", "DetailType": "x", "Detail": "not json"}),
            json!({"Source": "s", "DetailType": "x", "Detail": "[1]"}),
            json!({"Source": "s", "DetailType": "x", "Detail": {"a": 1}}),
        ] {
            assert!(from_entry(&bad).is_err(), "{bad}");
        }
    }
}
