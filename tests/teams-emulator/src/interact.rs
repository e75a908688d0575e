//! What a person does with the bot's messages, as Teams tells the bot: presses a card's button
//! (an `adaptiveCard/action` invoke for `Action.Execute`, including a card's automatic refresh,
//! <https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards>;
//! a message with `value` for `Action.Submit`) or reads them (an `event` named
//! `application/vnd.microsoft.readReceipt`,
//! <https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-messages#receive-a-read-receipt>).
//! Each is POSTed to the bot endpoint with a token the emulator's identity signs, like the
//! installation events, and the bot's answer is recorded.

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::http::Shared;
use crate::identity::{TEAMS_CHANNEL_ID, TokenSpec};
use crate::world::{BotExchange, ConversationKind, EmulatedUser};

/// What a person did.
#[derive(Debug, Clone, PartialEq)]
pub enum Interaction {
    /// Pressed an `Action.Execute` button with this verb and data (`manual`), or the card
    /// refreshed itself for them (`automatic`).
    Execute {
        verb: String,
        data: Value,
        automatic: bool,
    },
    /// Pressed an `Action.Submit` button whose data (with the inputs) is this.
    Submit { data: Value },
    /// Read everything up to this message.
    Read { last_read_message_id: String },
}

/// Where a message lives, as an activity in it names it.
pub(crate) struct Place {
    pub kind: ConversationKind,
    pub tenant: String,
    /// The conversation's id (a channel's id, for a channel message).
    pub conversation: String,
    pub team: Option<String>,
}

/// The activity Teams sends for `interaction` by `user` on the message `reply_to` in `place`.
pub(crate) fn activity(
    shared: &Shared,
    bot_app_id: &str,
    user: &EmulatedUser,
    place: &Place,
    reply_to: &str,
    interaction: &Interaction,
) -> Value {
    let bot = format!("28:{bot_app_id}");
    let (conversation_type, conversation) = match place.kind {
        ConversationKind::Personal => ("personal", place.conversation.clone()),
        ConversationKind::GroupChat => ("groupChat", place.conversation.clone()),
        // A card in a channel is a thread's root: actions name the thread.
        ConversationKind::Channel => (
            "channel",
            format!("{};messageid={reply_to}", place.conversation),
        ),
    };
    let mut channel_data = json!({"tenant": {"id": place.tenant}});
    if let (ConversationKind::Channel, Some(team)) = (place.kind, &place.team) {
        channel_data["team"] = json!({"id": team});
        channel_data["channel"] = json!({"id": place.conversation});
    }
    let mut activity = json!({
        "id": format!("f:{}", uuid::Uuid::new_v4()),
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "channelId": TEAMS_CHANNEL_ID,
        "serviceUrl": shared.service_url(),
        "from": {"id": user.id, "name": user.name, "aadObjectId": user.aad_object_id},
        "recipient": {"id": bot, "name": "Herald"},
        "conversation": {"conversationType": conversation_type, "tenantId": place.tenant,
                         "id": conversation},
        "channelData": channel_data,
        "locale": "en-US",
    });
    match interaction {
        Interaction::Execute {
            verb,
            data,
            automatic,
        } => {
            activity["type"] = json!("invoke");
            activity["name"] = json!("adaptiveCard/action");
            activity["replyToId"] = json!(reply_to);
            activity["channelData"]["source"] = json!({"name": "message"});
            activity["value"] = json!({
                "action": {"type": "Action.Execute", "verb": verb, "data": data},
                "trigger": if *automatic { "automatic" } else { "manual" },
            });
        }
        Interaction::Submit { data } => {
            activity["type"] = json!("message");
            activity["replyToId"] = json!(reply_to);
            activity["value"] = data.clone();
        }
        Interaction::Read {
            last_read_message_id,
        } => {
            activity["type"] = json!("event");
            activity["name"] = json!("application/vnd.microsoft.readReceipt");
            activity["value"] = json!({"lastReadMessageId": last_read_message_id});
        }
    }
    activity
}

/// POSTs `activity` to `url` as Teams would (a token for the bot app, issued for the serviceUrl)
/// and records the answer.
pub(crate) async fn send(
    shared: &Shared,
    url: &str,
    bot_app_id: &str,
    activity: Value,
) -> BotExchange {
    let token = shared
        .identity
        .mint(TokenSpec::valid(&shared.service_url()).audience(bot_app_id));
    let started = Instant::now();
    let result = shared
        .http
        .post(url)
        .bearer_auth(token)
        .json(&activity)
        .send()
        .await;
    let (status, body, error) = match result {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.json::<Value>().await.ok();
            (Some(status), body, None)
        }
        Err(e) => (None, None, Some(e.to_string())),
    };
    let exchange = BotExchange {
        activity,
        status,
        body,
        error,
        elapsed: started.elapsed(),
    };
    shared.world().bot_exchanges.push(exchange.clone());
    exchange
}
