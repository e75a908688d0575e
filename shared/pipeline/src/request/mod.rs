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
//! `card` (the Adaptive Card rules), `binding` (its `${...}` placeholders) and `interaction`
//! (the callback, acknowledgement and follow-up of cards people answer).

mod binding;
mod card;
mod error;
mod idempotency;
mod interaction;
mod message;
mod target;

use chrono::{DateTime, Duration, Utc};
use herald_domain::Target;
use herald_domain::cards::CardAnswer;
use herald_store::{FollowUp, NotificationId, NotificationRecord};
use serde_json::Value;

pub use card::check_card;
pub use error::RequestError;
pub use idempotency::{MAX_IDEMPOTENCY_KEY_LEN, body_hash};
pub use interaction::{
    CallbackHosts, FollowUpRequest, MAX_FOLLOW_UP, MIN_FOLLOW_UP, parse_answer, parse_callback_url,
    parse_iso_duration,
};
pub use message::{MAX_ACTIVITY_BYTES, Message};
pub use target::{MAX_CONVERSATION_IDS, parse_target};

use idempotency::{parse_idempotency_key, scope};
use interaction::{parse_acknowledgement, parse_callback, parse_follow_up};

/// A validated notify request, its activity already rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyRequest {
    pub target: Target,
    /// The Bot Framework activity every recipient gets.
    pub activity: Value,
    pub idempotency_key: Option<String>,
    /// Where card actions are POSTed (its host still has to pass [`CallbackHosts`]).
    pub callback: Option<String>,
    pub acknowledgement: Option<CardAnswer>,
    pub follow_up: Option<FollowUpRequest>,
    /// [`body_hash`] of the body: a key reused with another body is told apart by it.
    pub body_hash: String,
    /// Who sent it, for the idempotency key's scope: the API key's SHA-256 (hex), set by
    /// [`NotifyRequest::from_caller`]; `None` for Herald's own producers.
    pub caller: Option<String>,
}

/// The top-level fields of a notify request.
const FIELDS: [&str; 6] = [
    "target",
    "message",
    "idempotencyKey",
    "callback",
    "acknowledgement",
    "followUp",
];

impl NotifyRequest {
    /// Parses a raw body; malformed JSON is [`RequestError::InvalidJson`].
    pub fn from_slice(body: &[u8]) -> Result<Self, RequestError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
        Self::from_json(&value)
    }

    /// Validates a body (`{target, message, idempotencyKey?, callback?, acknowledgement?,
    /// followUp?}`) and renders its activity.
    pub fn from_json(value: &Value) -> Result<Self, RequestError> {
        let object = value
            .as_object()
            .ok_or_else(|| RequestError::InvalidRequest {
                field: String::new(),
                problem: "the body must be a JSON object".into(),
            })?;
        if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(RequestError::InvalidRequest {
                field: unknown.clone(),
                problem: format!("unknown field (expected {})", FIELDS.join(", ")),
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
            callback: parse_callback(object.get("callback"))?,
            acknowledgement: parse_acknowledgement(object.get("acknowledgement"))?,
            follow_up: parse_follow_up(object.get("followUp"))?,
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
        record.callback = self.callback;
        record.acknowledgement = self.acknowledgement;
        record.follow_up = self.follow_up.map(|f| FollowUp {
            if_unread_after: f.if_unread_after,
            due_at: now + f.after,
            activity: f.activity,
        });
        record.body_hash = Some(self.body_hash);
        record
    }
}

#[cfg(test)]
mod tests;
