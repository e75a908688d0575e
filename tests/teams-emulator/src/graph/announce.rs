//! The installation event: after Graph installs an app with a bot for a user, Teams POSTs the bot
//! the personal-scope conversationUpdate that names the new chat
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events>).

use std::time::Duration;

use serde_json::json;

use crate::http::Shared;
use crate::identity::{TEAMS_CHANNEL_ID, TokenSpec};
use crate::world::{BotDelivery, EmulatedUser};

/// What to tell the bot after an installation.
pub(crate) struct InstallEvent {
    pub url: String,
    pub bot_app_id: String,
    pub app_name: String,
    pub user: EmulatedUser,
    pub chat: String,
    pub delay: Duration,
}

/// POSTs the bot what Teams sends when the app is installed in a user's personal scope.
pub(super) async fn deliver(shared: &Shared, event: InstallEvent) {
    let service_url = shared.service_url();
    let bot = format!("28:{}", event.bot_app_id);
    let tenant = &event.user.tenant_id;
    let activity = json!({
        "membersAdded": [{"id": bot}],
        "type": "conversationUpdate",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "id": format!("f:{}", uuid::Uuid::new_v4().simple()),
        "channelId": TEAMS_CHANNEL_ID,
        "serviceUrl": service_url,
        "from": {"id": event.user.id, "aadObjectId": event.user.aad_object_id},
        "conversation": {"conversationType": "personal", "tenantId": tenant, "id": event.chat},
        "recipient": {"id": bot, "name": event.app_name},
        "channelData": {"tenant": {"id": tenant}},
    });
    let token = shared
        .identity
        .mint(TokenSpec::valid(&service_url).audience(&event.bot_app_id));
    let result = shared
        .http
        .post(&event.url)
        .bearer_auth(token)
        .json(&activity)
        .send()
        .await;
    let (status, error) = match result {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    tracing::debug!(url = %event.url, ?status, ?error, "installation event delivered to the bot");
    shared.world().bot_deliveries.push(BotDelivery {
        url: event.url,
        user_aad_object_id: event.user.aad_object_id,
        conversation_id: event.chat,
        activity,
        status,
        error,
    });
}
