//! Bot Framework wire types, spelled as the connector spells them (camelCase).
//!
//! Only the fields Herald reads or writes are typed; everything else is kept in `extra` so an
//! activity round-trips without losing what Teams added, and unknown fields never fail a decode.

use std::fmt;

use herald_domain::{ConversationId, DomainError, TenantId, UserId};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The id Teams gives a sent message (`ResourceResponse.id` of a send), needed to update,
/// delete or reply to it later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ActivityId(String);

impl ActivityId {
    /// Validates an id received from outside: non-empty and free of control characters.
    pub fn new(value: impl Into<String>) -> Result<Self, DomainError> {
        let value = value.into();
        if value.trim().is_empty() {
            return Err(DomainError::EmptyId {
                kind: "activity id",
            });
        }
        if value.chars().any(char::is_control) {
            return Err(DomainError::ControlCharacter {
                kind: "activity id",
            });
        }
        Ok(Self(value))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActivityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ActivityId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// An outgoing (or echoed) activity. `type` is `message` for everything Herald sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `markdown`, `plain` or `xml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_format: Option<String>,
    /// Toast / activity-feed preview text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_layout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<ChannelData>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Activity {
    /// A plain message activity.
    #[must_use]
    pub fn message() -> Self {
        Self {
            kind: "message".to_owned(),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    #[must_use]
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    #[must_use]
    pub fn attachment(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Sets `channelData.notification.alert`, which raises an activity-feed alert in Teams.
    #[must_use]
    pub fn alert(mut self, alert: bool) -> Self {
        let data = self.channel_data.get_or_insert_with(ChannelData::default);
        data.notification = Some(Notification {
            alert,
            extra: Map::new(),
        });
        self
    }
}

/// A card or file attached to an activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Attachment {
    pub const ADAPTIVE_CARD: &'static str = "application/vnd.microsoft.card.adaptive";

    /// An Adaptive Card attachment.
    #[must_use]
    pub fn adaptive_card(card: Value) -> Self {
        Self {
            content_type: Self::ADAPTIVE_CARD.to_owned(),
            content: Some(card),
            content_url: None,
            name: None,
        }
    }
}

/// Teams' `channelData`. Unknown keys are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<IdRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<IdRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChannelData {
    /// `{ "tenant": { "id": tenant } }`.
    fn for_tenant(tenant: &TenantId) -> Self {
        Self {
            tenant: Some(TenantRef { id: tenant.clone() }),
            ..Self::default()
        }
    }
}

/// `channelData.notification`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    #[serde(default)]
    pub alert: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{ "id": tenantId }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRef {
    pub id: TenantId,
}

/// `{ "id": ..., "name"?: ... }` for channels and teams inside `channelData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A user or bot in a conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_role: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChannelAccount {
    /// An account known only by its id (`28:<appId>` for the bot, `29:...` for a user).
    #[must_use]
    pub fn with_id(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }
}

/// `activity.conversation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAccount {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_group: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `POST /v3/conversations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationParameters {
    #[serde(default)]
    pub is_group: bool,
    pub bot: ChannelAccount,
    #[serde(default)]
    pub members: Vec<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Activity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<ChannelData>,
}

impl ConversationParameters {
    /// A 1:1 chat between the bot and one user: create once, store the id, reuse it (see
    /// <https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages>).
    #[must_use]
    pub fn personal(bot: &herald_domain::BotId, user: &UserId, tenant: &TenantId) -> Self {
        Self {
            members: vec![ChannelAccount::with_id(user.as_str())],
            ..Self::for_tenant(bot, tenant)
        }
    }

    /// A new thread in a channel: the first message travels in the same request.
    #[must_use]
    pub fn channel_thread(
        bot: &herald_domain::BotId,
        channel: &herald_domain::ChannelId,
        tenant: &TenantId,
        activity: Activity,
    ) -> Self {
        Self {
            is_group: true,
            activity: Some(activity),
            channel_data: Some(ChannelData {
                channel: Some(IdRef {
                    id: channel.as_str().to_owned(),
                    name: None,
                }),
                ..ChannelData::for_tenant(tenant)
            }),
            ..Self::for_tenant(bot, tenant)
        }
    }

    /// The bot alone in `tenant`, named in both places Teams reads the tenant from.
    fn for_tenant(bot: &herald_domain::BotId, tenant: &TenantId) -> Self {
        Self {
            is_group: false,
            bot: ChannelAccount::with_id(bot.as_str()),
            members: Vec::new(),
            topic_name: None,
            tenant_id: Some(tenant.clone()),
            activity: None,
            channel_data: Some(ChannelData::for_tenant(tenant)),
        }
    }
}

/// `{ "id": ... }`: the id of the activity a send/reply/update created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceResponse {
    pub id: ActivityId,
}

/// The answer to create conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationResourceResponse {
    pub id: ConversationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<ActivityId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
}

/// One page of `pagedmembers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PagedMembersResult {
    #[serde(default)]
    pub members: Vec<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

/// `GET /v3/teams/{teamId}`: the team's id, name and Microsoft 365 group, the same fields as
/// `channelData.team` in an activity.
pub type TeamDetails = herald_domain::TeamInfo;

/// `GET /v3/teams/{teamId}/conversations`. General has no name; its id equals the team id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationList {
    #[serde(default)]
    pub conversations: Vec<herald_domain::ChannelInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_serializes_in_bot_framework_spelling() {
        let activity = Activity::message()
            .text("hi")
            .summary("toast")
            .alert(true)
            .attachment(Attachment::adaptive_card(
                serde_json::json!({"type": "AdaptiveCard"}),
            ));
        let json = serde_json::to_value(&activity).unwrap();
        assert_eq!(json["type"], "message");
        assert_eq!(json["channelData"]["notification"]["alert"], true);
        assert_eq!(
            json["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert!(json.get("id").is_none());
    }

    #[test]
    fn unknown_fields_are_tolerated_and_kept() {
        let json = serde_json::json!({
            "type": "message", "text": "x", "locale": "en-US",
            "channelData": {"tenant": {"id": "t"}, "eventType": "x"}
        });
        let activity: Activity = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(activity.extra["locale"], "en-US");
        assert_eq!(serde_json::to_value(&activity).unwrap(), json);
        let members: PagedMembersResult =
            serde_json::from_str(r#"{"members":[{"id":"29:1","objectId":"o"}],"x":1}"#).unwrap();
        assert_eq!(members.members[0].id, "29:1");
        assert!(members.continuation_token.is_none());
    }

    #[test]
    fn channel_list_keeps_general_unnamed() {
        let list: ConversationList = serde_json::from_str(
            r#"{"conversations":[{"id":"19:t@thread.tacv2"},{"id":"19:c@thread.tacv2","name":"Ops"}]}"#,
        )
        .unwrap();
        assert_eq!(list.conversations[0].name, None);
        assert_eq!(list.conversations[1].name.as_deref(), Some("Ops"));
    }

    #[test]
    fn conversation_parameters_name_the_tenant_twice() {
        let bot = herald_domain::BotId::new("28:bot").unwrap();
        let tenant = TenantId::new("t1").unwrap();
        let personal =
            ConversationParameters::personal(&bot, &UserId::new("29:u").unwrap(), &tenant);
        assert_eq!(
            serde_json::to_value(&personal).unwrap(),
            serde_json::json!({
                "isGroup": false,
                "bot": {"id": "28:bot"},
                "members": [{"id": "29:u"}],
                "tenantId": "t1",
                "channelData": {"tenant": {"id": "t1"}}
            })
        );
        let thread = ConversationParameters::channel_thread(
            &bot,
            &herald_domain::ChannelId::new("19:c@thread.tacv2").unwrap(),
            &tenant,
            Activity::message().text("hi"),
        );
        assert_eq!(
            serde_json::to_value(&thread).unwrap(),
            serde_json::json!({
                "isGroup": true,
                "bot": {"id": "28:bot"},
                "members": [],
                "tenantId": "t1",
                "activity": {"type": "message", "text": "hi"},
                "channelData": {"tenant": {"id": "t1"}, "channel": {"id": "19:c@thread.tacv2"}}
            })
        );
    }

    #[test]
    fn empty_activity_id_is_rejected() {
        assert!(serde_json::from_str::<ResourceResponse>(r#"{"id":""}"#).is_err());
    }
}
