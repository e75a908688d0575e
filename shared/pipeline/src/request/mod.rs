//! `POST /api/notify` bodies: validation, card binding and rendering to an activity.
//!
//! Every producer (the notify API, `herald.Notify` events, the scheduler) parses the same body
//! here, so a request is rejected the same way whichever door it came through, and the activity is
//! rendered once, up front: the sender never discovers a bad card or a 413 per recipient.
//!
//! Errors name the offending field (`target.kind`, `message.card.body[2].type`) and carry a
//! stable code and HTTP status, so the API can answer without knowing the rules.
//!
//! One part of the body per file: `target` (who), `message` (what, rendered to the activity),
//! `card` (the Adaptive Card rules) and `binding` (its `${...}` placeholders).

mod binding;
mod card;
mod error;
mod message;
mod target;

use chrono::{DateTime, Duration, Utc};
use herald_domain::Target;
use herald_store::{NotificationId, NotificationRecord};
use serde_json::Value;

pub use error::RequestError;
pub use message::{MAX_ACTIVITY_BYTES, Message};
pub use target::MAX_CONVERSATION_IDS;

pub use target::parse_target;

/// Keys are echoed in logs and hashed into ids; nothing needs more.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;

/// A validated notify request, its activity already rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyRequest {
    pub target: Target,
    /// The Bot Framework activity every recipient gets.
    pub activity: Value,
    pub idempotency_key: Option<String>,
}

impl NotifyRequest {
    /// Parses a raw body; malformed JSON is [`RequestError::InvalidJson`].
    pub fn from_slice(body: &[u8]) -> Result<Self, RequestError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
        Self::from_json(&value)
    }

    /// Validates a body (`{target, message, idempotencyKey?}`) and renders its activity.
    pub fn from_json(value: &Value) -> Result<Self, RequestError> {
        let object = value
            .as_object()
            .ok_or_else(|| RequestError::InvalidRequest {
                field: String::new(),
                problem: "the body must be a JSON object".into(),
            })?;
        if let Some(unknown) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "target" | "message" | "idempotencyKey"))
        {
            return Err(RequestError::InvalidRequest {
                field: unknown.clone(),
                problem: "unknown field (expected target, message, idempotencyKey)".into(),
            });
        }
        let target = parse_target(object.get("target"))?;
        let message = Message::from_json_at(
            object
                .get("message")
                .ok_or_else(|| RequestError::InvalidMessage {
                    field: "message".into(),
                    problem: "is required".into(),
                })?,
            "message",
        )?;
        let idempotency_key = parse_idempotency_key(object.get("idempotencyKey"))?;
        Ok(Self {
            target,
            activity: message.render()?,
            idempotency_key,
        })
    }

    /// The notification to store: its id comes from the idempotency key when there is one (same
    /// key, same notification), else it is random.
    #[must_use]
    pub fn into_notification(
        self,
        source: &str,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> NotificationRecord {
        let id = self
            .idempotency_key
            .as_deref()
            .map_or_else(NotificationId::random, NotificationId::for_idempotency_key);
        let mut record =
            NotificationRecord::new(id, self.target, self.activity, source, now, retention);
        record.idempotency_key = self.idempotency_key;
        record
    }
}

fn parse_idempotency_key(value: Option<&Value>) -> Result<Option<String>, RequestError> {
    let invalid = |problem: &str| RequestError::InvalidRequest {
        field: "idempotencyKey".into(),
        problem: problem.into(),
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(key)) if key.trim().is_empty() => Err(invalid("must not be empty")),
        Some(Value::String(key)) if key.len() > MAX_IDEMPOTENCY_KEY_LEN => Err(invalid(&format!(
            "is {} bytes; at most {MAX_IDEMPOTENCY_KEY_LEN} are allowed",
            key.len()
        ))),
        Some(Value::String(key)) if key.chars().any(char::is_control) => {
            Err(invalid("must not contain control characters"))
        }
        Some(Value::String(key)) => Ok(Some(key.clone())),
        Some(_) => Err(invalid("must be a string")),
    }
}

#[cfg(test)]
mod tests;
