//! The `message` of a notify request: what every recipient reads, checked field by field and
//! rendered once into the Bot Framework `Activity` the sender posts proactively
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages>).

use herald_connector::{Activity, Attachment};
use serde_json::Value;

use super::RequestError;
use super::card::{render_card, validate_card};
use super::error::join;

/// Teams refuses a larger message with 413 `MessageSizeTooBig`
/// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/format-your-bot-messages>).
/// Herald's bound is stricter than the one that page states (which has been raised over time and
/// counts UTF-16), so what passes here fits. Checking the serialized activity here turns a
/// per-recipient failure into one early answer.
pub const MAX_ACTIVITY_BYTES: usize = 28_000;

/// The `message` of a notify request (also the body of `PUT /api/notifications/{id}/message`).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: Option<String>,
    /// A validated Adaptive Card, placeholders not yet bound.
    pub card: Option<Value>,
    /// Values for the card's `${path}` placeholders.
    pub data: Option<Value>,
    /// Toast / activity-feed preview text.
    pub summary: Option<String>,
    /// Raise an activity-feed alert (`channelData.notification.alert`).
    pub alert: bool,
    /// Add Herald's "Stop these notifications" button.
    pub opt_out_button: bool,
    /// Where this message sits in the body (`message`, or empty for a bare message), for errors.
    prefix: String,
}

const MESSAGE_FIELDS: [&str; 6] = ["text", "card", "data", "summary", "alert", "optOutButton"];

impl Message {
    /// Parses a bare message object; fields are named relative to it (`card.body`).
    pub fn from_json(value: &Value) -> Result<Self, RequestError> {
        Self::from_json_at(value, "")
    }

    /// Parses a message found at `prefix` (`message`), naming fields under it.
    pub fn from_json_at(value: &Value, prefix: &str) -> Result<Self, RequestError> {
        let at = |name: &str| join(prefix, name);
        let invalid = |field: String, problem: &str| RequestError::InvalidMessage {
            field,
            problem: problem.into(),
        };
        let Value::Object(object) = value else {
            return Err(invalid(prefix.to_owned(), "must be an object"));
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| !MESSAGE_FIELDS.contains(&k.as_str()))
        {
            return Err(RequestError::InvalidMessage {
                field: at(unknown),
                problem: format!(
                    "unknown field (expected one of {})",
                    MESSAGE_FIELDS.join(", ")
                ),
            });
        }
        let text = match object.get("text") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(invalid(at("text"), "must not be empty"));
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(invalid(at("text"), "must be a string")),
        };
        let summary = match object.get("summary") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(invalid(at("summary"), "must be a string")),
        };
        let flag = |name: &str| match object.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(invalid(at(name), "must be true or false")),
        };
        let alert = flag("alert")?;
        let opt_out_button = flag("optOutButton")?;
        let data = match object.get("data") {
            None | Some(Value::Null) => None,
            Some(data @ Value::Object(_)) => Some(data.clone()),
            Some(_) => return Err(invalid(at("data"), "must be an object")),
        };
        let card = match object.get("card") {
            None | Some(Value::Null) => None,
            Some(card) => {
                validate_card(card, &at("card"))?;
                Some(card.clone())
            }
        };
        if text.is_none() && card.is_none() {
            return Err(invalid(prefix.to_owned(), "needs text or a card"));
        }
        Ok(Self {
            text,
            card,
            data,
            summary,
            alert,
            opt_out_button,
            prefix: prefix.to_owned(),
        })
    }

    /// The activity JSON every recipient gets: text, the bound card (with the opt-out button if
    /// asked), summary and alert; refused if larger than Teams accepts.
    pub fn render(&self) -> Result<Value, RequestError> {
        let mut activity = Activity::message();
        if let Some(text) = &self.text {
            activity = activity.text(text.clone());
        }
        if let Some(summary) = &self.summary {
            activity = activity.summary(summary.clone());
        }
        if self.alert {
            activity = activity.alert(true);
        }
        let card = render_card(
            self.card.as_ref(),
            self.data.as_ref(),
            &self.prefix,
            self.opt_out_button,
        )?;
        if let Some(card) = card {
            activity = activity.attachment(Attachment::adaptive_card(card));
        }
        let json = serde_json::to_value(&activity).map_err(|e| RequestError::InvalidMessage {
            field: self.prefix.clone(),
            problem: format!("cannot be rendered: {e}"),
        })?;
        let bytes = serde_json::to_vec(&json).map_or(usize::MAX, |b| b.len());
        if bytes > MAX_ACTIVITY_BYTES {
            return Err(RequestError::MessageTooLarge {
                field: self.prefix.clone(),
                bytes,
                limit: MAX_ACTIVITY_BYTES,
            });
        }
        Ok(json)
    }
}
