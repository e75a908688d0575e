//! The inbound activity as Teams sends it, read leniently (unknown fields are ignored), then
//! turned into typed domain values with an error that names the offending field.

use chrono::{DateTime, Utc};
use herald_domain::{
    AadObjectId, BotAppId, BotId, ChannelId, ChannelInfo, ConversationId, ConversationReference,
    ConversationType, ServiceUrl, TeamId, TeamInfo, TenantId, TimeZone, UserId, UserInfo,
};
use serde::Deserialize;
use serde_json::Value;

/// A Bot Framework `ChannelAccount`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(default)]
    pub id: String,
    pub name: Option<String>,
    pub aad_object_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    #[serde(default)]
    pub id: String,
    /// Optional in the Bot Framework schema, and absent from many Teams activities (reactions,
    /// meeting events, channel messages): see [`InboundActivity::conversation_type`].
    pub conversation_type: Option<String>,
    pub tenant_id: Option<String>,
    pub is_group: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdName {
    #[serde(default)]
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamData {
    #[serde(default)]
    pub id: String,
    pub name: Option<String>,
    pub aad_group_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub selected_channel: Option<IdName>,
}

/// Teams' `channelData`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelData {
    pub tenant: Option<IdName>,
    pub team: Option<TeamData>,
    pub channel: Option<IdName>,
    pub event_type: Option<String>,
    pub settings: Option<Settings>,
}

/// The fields of an inbound activity Herald reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundActivity {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub local_timezone: Option<String>,
    #[serde(default)]
    pub service_url: String,
    #[serde(default)]
    pub channel_id: String,
    #[serde(default)]
    pub from: Account,
    #[serde(default)]
    pub conversation: Conversation,
    #[serde(default)]
    pub recipient: Account,
    pub text: Option<String>,
    pub locale: Option<String>,
    pub action: Option<String>,
    pub name: Option<String>,
    pub value: Option<Value>,
    /// The message this activity answers: for a card action, the card's message.
    pub reply_to_id: Option<String>,
    #[serde(default)]
    pub members_added: Vec<Account>,
    #[serde(default)]
    pub members_removed: Vec<Account>,
    #[serde(default)]
    pub entities: Vec<Value>,
    #[serde(default)]
    pub channel_data: ChannelData,
}

/// A field of the activity that is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ActivityError {
    pub field: &'static str,
    pub problem: String,
}

fn bad(field: &'static str, problem: impl std::fmt::Display) -> ActivityError {
    ActivityError {
        field,
        problem: problem.to_string(),
    }
}

impl InboundActivity {
    /// `timestamp`, else `now` (install events from some clients carry none).
    #[must_use]
    pub fn timestamp_or(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.timestamp
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or(now, |t| t.with_timezone(&Utc))
    }

    pub fn tenant_id(&self) -> Result<TenantId, ActivityError> {
        let raw = self
            .conversation
            .tenant_id
            .as_deref()
            .or(self.channel_data.tenant.as_ref().map(|t| t.id.as_str()))
            .ok_or_else(|| bad("conversation.tenantId", "missing"))?;
        TenantId::new(raw).map_err(|e| bad("conversation.tenantId", e))
    }

    pub fn service_url(&self) -> Result<ServiceUrl, ActivityError> {
        ServiceUrl::parse(&self.service_url).map_err(|e| bad("serviceUrl", e))
    }

    /// `conversation.conversationType` when Teams sends it, else what the activity shows: a team
    /// or channel in `channelData` means a channel, `conversation.isGroup` a group chat, and
    /// anything else the personal chat (the Bot Framework schema makes the field optional:
    /// https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#conversationaccount-object).
    pub fn conversation_type(&self) -> Result<ConversationType, ActivityError> {
        if let Some(raw) = self.conversation.conversation_type.as_deref() {
            return raw
                .parse()
                .map_err(|e| bad("conversation.conversationType", e));
        }
        let data = &self.channel_data;
        Ok(if data.channel.is_some() || data.team.is_some() {
            ConversationType::Channel
        } else if self.conversation.is_group == Some(true) {
            ConversationType::GroupChat
        } else {
            ConversationType::Personal
        })
    }

    /// The team, when the activity comes from one.
    pub fn team(&self) -> Result<Option<TeamInfo>, ActivityError> {
        self.channel_data
            .team
            .as_ref()
            .map(|t| {
                Ok(TeamInfo {
                    id: TeamId::new(&t.id).map_err(|e| bad("channelData.team.id", e))?,
                    name: t.name.clone(),
                    aad_group_id: t.aad_group_id.clone(),
                })
            })
            .transpose()
    }

    /// `channelData.channel`, if any.
    pub fn channel(&self) -> Result<Option<ChannelInfo>, ActivityError> {
        self.channel_data
            .channel
            .as_ref()
            .map(|c| {
                Ok(ChannelInfo {
                    id: ChannelId::new(&c.id).map_err(|e| bad("channelData.channel.id", e))?,
                    name: c.name.clone(),
                })
            })
            .transpose()
    }

    /// The user's IANA zone from `localTimezone` or the `clientInfo` entity; an unknown name is
    /// logged and ignored rather than failing the activity.
    #[must_use]
    pub fn time_zone(&self) -> Option<TimeZone> {
        let client_info = self.client_info("timezone");
        let name = self.local_timezone.as_deref().or(client_info)?;
        match name.parse() {
            Ok(zone) => Some(zone),
            Err(e) => {
                tracing::warn!(zone = name, error = %e, "ignoring unknown time zone from Teams");
                None
            }
        }
    }

    #[must_use]
    pub fn locale(&self) -> Option<String> {
        self.locale
            .as_deref()
            .or(self.client_info("locale"))
            .map(str::to_owned)
    }

    fn client_info(&self, field: &str) -> Option<&str> {
        self.entities
            .iter()
            .find(|e| e.get("type").and_then(Value::as_str) == Some("clientInfo"))
            .and_then(|e| e.get(field))
            .and_then(Value::as_str)
    }

    /// Whether the bot itself is among these accounts (`28:<appId>`, or the recipient id).
    #[must_use]
    pub fn includes_bot(&self, accounts: &[Account], app: &BotAppId) -> bool {
        let bot = BotId::for_app(app);
        accounts.iter().any(|a| {
            a.id == bot.as_str() || (!self.recipient.id.is_empty() && a.id == self.recipient.id)
        })
    }

    /// The conversation reference this activity describes: for channels, keyed by the channel
    /// (not the reply thread); for chats, by the conversation id without a thread suffix.
    pub fn reference(
        &self,
        app: &BotAppId,
        now: DateTime<Utc>,
    ) -> Result<ConversationReference, ActivityError> {
        let conversation_type = self.conversation_type()?;
        let tenant_id = self.tenant_id()?;
        let service_url = self.service_url()?;
        let raw_conversation = ConversationId::new(&self.conversation.id)
            .map_err(|e| bad("conversation.id", e))?
            .without_message_id();
        let team = self.team()?;
        let (conversation_id, user, channel) = match conversation_type {
            ConversationType::Personal => (raw_conversation, Some(self.user()?), None),
            ConversationType::GroupChat => (raw_conversation, None, None),
            ConversationType::Channel => {
                if team.is_none() {
                    return Err(bad("channelData.team", "missing in a channel activity"));
                }
                // Team installs arrive in General, whose id is the team id.
                let channel = match self.channel()? {
                    Some(channel) => channel,
                    None => ChannelInfo {
                        id: ChannelId::new(raw_conversation.as_str())
                            .map_err(|e| bad("conversation.id", e))?,
                        name: None,
                    },
                };
                let id = ConversationId::new(channel.id.as_str())
                    .map_err(|e| bad("channelData.channel.id", e))?;
                (id, None, Some(channel))
            }
        };
        let bot_id = if self.recipient.id.is_empty() {
            BotId::for_app(app)
        } else {
            BotId::new(&self.recipient.id).map_err(|e| bad("recipient.id", e))?
        };
        let at = self.timestamp_or(now);
        Ok(ConversationReference {
            bot_id,
            user,
            team: if conversation_type == ConversationType::Channel {
                team
            } else {
                None
            },
            channel,
            locale: self.locale(),
            // A client's zone is its user's: in a channel or group chat it says nothing about
            // the conversation, whose zone is only the one set in it (`timezone <name>`).
            time_zone: self
                .time_zone()
                .filter(|_| conversation_type == ConversationType::Personal),
            last_seen_at: now,
            ..ConversationReference::new(
                tenant_id,
                conversation_id,
                conversation_type,
                service_url,
                app,
                at,
            )
        })
    }

    fn user(&self) -> Result<UserInfo, ActivityError> {
        Ok(UserInfo {
            id: UserId::new(&self.from.id).map_err(|e| bad("from.id", e))?,
            aad_object_id: self
                .from
                .aad_object_id
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(AadObjectId::new)
                .transpose()
                .map_err(|e| bad("from.aadObjectId", e))?,
            name: self.from.name.clone(),
        })
    }
}
