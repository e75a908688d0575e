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
mod idempotency;
mod message;
mod target;

use chrono::{DateTime, Duration, Utc};
use herald_domain::Target;
use herald_store::{NotificationId, NotificationRecord};
use serde_json::Value;

pub use error::RequestError;
pub use idempotency::{MAX_IDEMPOTENCY_KEY_LEN, body_hash};
pub use message::{MAX_ACTIVITY_BYTES, Message};
pub use target::MAX_CONVERSATION_IDS;

pub use target::parse_target;

use idempotency::{parse_idempotency_key, scope};

/// A validated notify request, its activity already rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyRequest {
    pub target: Target,
    /// The Bot Framework activity every recipient gets.
    pub activity: Value,
    pub idempotency_key: Option<String>,
    /// [`body_hash`] of the body: a key reused with another body is told apart by it.
    pub body_hash: String,
    /// Who sent it, for the idempotency key's scope: the API key's SHA-256 (hex), set by
    /// [`NotifyRequest::from_caller`]; `None` for Herald's own producers.
    pub caller: Option<String>,
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
            body_hash: body_hash(value),
            caller: None,
        })
    }

    /// Scopes the idempotency key to this caller (the API key's SHA-256, hex).
    #[must_use]
    pub fn from_caller(mut self, caller: impl Into<String>) -> Self {
        self.caller = Some(caller.into());
        self
    }

    /// The notification to store: its id comes from the idempotency key when there is one (same
    /// key from the same kind of producer and caller, same notification), else it is random.
    #[must_use]
    pub fn into_notification(
        self,
        source: &str,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> NotificationRecord {
        let scope = scope(source, self.caller.as_deref());
        let id = self
            .idempotency_key
            .as_deref()
            .map_or_else(NotificationId::random, |key| {
                NotificationId::for_scoped_key(&scope, key)
            });
        let mut record =
            NotificationRecord::new(id, self.target, self.activity, source, now, retention);
        record.idempotency_key = self.idempotency_key;
        record.body_hash = Some(self.body_hash);
        record
    }
}

#[cfg(test)]
mod tests;
