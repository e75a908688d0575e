//! Card pieces every Herald message shares.

use serde_json::{Value, json};

/// `data.herald` of the opt-out button. The webhook recognises it from an `Action.Submit`
/// message or an `Action.Execute` invoke, whichever card sent it.
pub const OPT_OUT_VERB: &str = "herald.optOut";

/// The opt-out button: an `Action.Submit` that Teams also delivers as the text "stop", so it
/// works in every scope and with every client.
#[must_use]
pub fn opt_out_action() -> Value {
    json!({
        "type": "Action.Submit",
        "title": "Stop these notifications",
        "data": {
            "herald": OPT_OUT_VERB,
            "msteams": {"type": "messageBack", "text": "stop", "displayText": "stop"},
        },
    })
}

/// What a person sees after pressing a button on a notification's card: a card that replaces
/// theirs, or a short message. It is the value of the `adaptiveCard/action` invoke response
/// (<https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards>),
/// and what a notification's `acknowledgement` and a callback's answer spell as
/// `{"card": {...}}` or `{"message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CardAnswer {
    Card(Value),
    Message(String),
}

/// The `adaptiveCard/action` response's `type` for a card.
pub const CARD_RESPONSE_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// The `adaptiveCard/action` response's `type` for a message.
pub const MESSAGE_RESPONSE_TYPE: &str = "application/vnd.microsoft.activity.message";

impl CardAnswer {
    /// The invoke response body Teams expects for an `adaptiveCard/action`.
    #[must_use]
    pub fn invoke_response(&self) -> Value {
        match self {
            Self::Card(card) => {
                json!({"statusCode": 200, "type": CARD_RESPONSE_TYPE, "value": card})
            }
            Self::Message(text) => {
                json!({"statusCode": 200, "type": MESSAGE_RESPONSE_TYPE, "value": text})
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_and_become_invoke_responses() {
        let card: CardAnswer =
            serde_json::from_value(json!({"card": {"type": "AdaptiveCard"}})).unwrap();
        assert_eq!(
            card.invoke_response(),
            json!({"statusCode": 200, "type": CARD_RESPONSE_TYPE,
                   "value": {"type": "AdaptiveCard"}})
        );
        let message: CardAnswer = serde_json::from_value(json!({"message": "Thanks"})).unwrap();
        assert_eq!(message.invoke_response()["value"], "Thanks");
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({"message": "Thanks"})
        );
        assert!(serde_json::from_value::<CardAnswer>(json!({"text": "x"})).is_err());
    }
}
