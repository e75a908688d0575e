//! Invokes: Adaptive Card `Action.Execute` (`adaptiveCard/action`) gets the invoke response Teams
//! waits for: Herald's opt-out, an action on a notification's card (see `card_actions`), or an
//! empty message.
//! Source: https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards

use axum::http::StatusCode;
use herald_http::Reply;
use serde_json::{Value, json};

use crate::card_actions::Press;
use crate::cards;
use crate::messages::card_verb;
use crate::turn::{Outcome, Turn};

impl Turn<'_> {
    /// Adaptive Card `Action.Execute` (`adaptiveCard/action`) gets a proper invoke response.
    pub(crate) async fn invoke(&self) -> Outcome {
        let (reference, _) = self.refresh().await?;
        let value = self.activity.value.as_ref();
        let verb = value
            .and_then(|v| v.get("action"))
            .and_then(|a| a.get("verb"))
            .and_then(Value::as_str)
            .or_else(|| card_verb(value));
        let card_action = self.activity.name.as_deref() == Some("adaptiveCard/action");
        if card_action && verb == Some(cards::OPT_OUT_VERB) {
            let text = self.opt_out(&reference).await?;
            return Ok(Reply::json(
                StatusCode::OK,
                json!({
                    "statusCode": 200,
                    "type": "application/vnd.microsoft.activity.message",
                    "value": text,
                }),
            ));
        }
        if card_action && let Some(answer) = self.card_action(Press::Execute).await? {
            return Ok(Reply::json(StatusCode::OK, answer.invoke_response()));
        }
        Ok(Reply::json(
            StatusCode::OK,
            json!({"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": ""}),
        ))
    }
}
