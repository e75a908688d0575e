//! The conversation reference: everything needed to message a conversation proactively.
//!
//! It mirrors Bot Framework's `ConversationReference` (`serviceUrl`, bot, conversation, user) plus
//! what Herald needs to target and pace notifications: tenant, team and channel, locale, IANA time
//! zone and installation status.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

use crate::spelled::spelled_enum;
use crate::{
    AadObjectId, BotAppId, BotId, ChannelId, ConversationId, DomainError, TeamId, TenantId,
    TimeZone, UserId,
};

/// `conversation.conversationType` as Teams spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConversationType {
    Personal,
    GroupChat,
    Channel,
}

impl ConversationType {
    pub const ALL: [Self; 3] = [Self::Personal, Self::GroupChat, Self::Channel];

    /// The type a Teams conversation id's shape implies: `a:` personal, `@thread.v2` group chat,
    /// `@thread.tacv2` / `@thread.skype` channel.
    #[must_use]
    pub fn guess_from_id(id: &str) -> Option<Self> {
        let id = id.split(";messageid=").next().unwrap_or(id);
        if id.starts_with("a:") {
            Some(Self::Personal)
        } else if id.ends_with("@thread.v2") {
            Some(Self::GroupChat)
        } else if id.ends_with("@thread.tacv2") || id.ends_with("@thread.skype") {
            Some(Self::Channel)
        } else {
            None
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::GroupChat => "groupChat",
            Self::Channel => "channel",
        }
    }
}

spelled_enum!(ConversationType, UnknownConversationType);

/// Whether Herald may send to a reference. Only `Active` is sendable; the others are kept so the
/// installation report can say who uninstalled or blocked the bot, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReferenceStatus {
    Active,
    Uninstalled,
    Blocked,
    OptedOut,
    Archived,
}

impl ReferenceStatus {
    pub const ALL: [Self; 5] = [
        Self::Active,
        Self::Uninstalled,
        Self::Blocked,
        Self::OptedOut,
        Self::Archived,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Uninstalled => "uninstalled",
            Self::Blocked => "blocked",
            Self::OptedOut => "optedOut",
            Self::Archived => "archived",
        }
    }

    #[must_use]
    pub fn is_sendable(self) -> bool {
        self == Self::Active
    }
}

spelled_enum!(ReferenceStatus, UnknownStatus);

/// The connector base URL of a conversation (`activity.serviceUrl`). It can change over the life of
/// an installation, so every inbound activity refreshes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceUrl(Url);

impl ServiceUrl {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let invalid = |reason: &str| DomainError::InvalidServiceUrl {
            url: value.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(value.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(invalid(
                "scheme must be https (or http for a local emulator)",
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("must not carry a query or fragment"));
        }
        Ok(Self(url))
    }

    #[must_use]
    pub fn url(&self) -> &Url {
        &self.0
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// `host[:port]`, the unit the connector's trusted-host list is written in.
    #[must_use]
    pub fn authority(&self) -> String {
        match (self.0.host_str(), self.0.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => String::new(),
        }
    }
}

impl fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceUrl {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ServiceUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ServiceUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}

/// The user of a personal chat (`from` of its activities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<AadObjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `channelData.team`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamInfo {
    pub id: TeamId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_group_id: Option<String>,
}

/// `channelData.channel`. General has no name in Teams' payloads; its id equals the team id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelInfo {
    pub id: ChannelId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChannelInfo {
    /// The channel's display name, with Teams' unnamed General channel spelled out.
    #[must_use]
    pub fn display_name(&self, team: &TeamId) -> Option<&str> {
        match &self.name {
            Some(name) => Some(name),
            None if self.id.as_str() == team.as_str() => Some("General"),
            None => None,
        }
    }
}

/// How a stored reference is addressed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationKey {
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
}

impl ConversationKey {
    #[must_use]
    pub fn new(tenant_id: TenantId, conversation_id: ConversationId) -> Self {
        Self {
            tenant_id,
            conversation_id,
        }
    }
}

impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant_id, self.conversation_id)
    }
}

/// [`ConversationReference::zone_key`] of a reference whose zone is unknown.
pub const NO_ZONE: &str = "none";

/// A place where the bot is installed, as Herald persists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationReference {
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub conversation_type: ConversationType,
    pub service_url: ServiceUrl,
    /// The bot registration that received the activity. References minted for another app id fail
    /// with "Failed to decrypt conversation id", so Herald never sends through them.
    pub bot_app_id: BotAppId,
    pub bot_id: BotId,
    /// The user, for personal chats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The zone the Teams client last reported (`localTimezone` / `clientInfo.timezone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<TimeZone>,
    /// A zone the user chose with `timezone <name>`; it wins over the client's until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone_override: Option<TimeZone>,
    pub status: ReferenceStatus,
    /// What caused the last status change (an uninstall event, the connector's 403 body...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub status_changed_at: DateTime<Utc>,
    pub installed_at: DateTime<Utc>,
    /// Timestamp of the newest activity applied; an older one redelivered late loses against it.
    pub updated_at: DateTime<Utc>,
    /// When Herald last heard from this conversation.
    pub last_seen_at: DateTime<Utc>,
    /// The last change of [`ConversationReference::zone_key`], which the store records (callers'
    /// values are not written): a recipient-local schedule's fire on the day of a move reaches
    /// the person once, in the zone they were in when it fired.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub zone_move: Option<ZoneMove>,
}

/// A change of a reference's zone key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneMove {
    /// The zone key before the change (an IANA name or [`NO_ZONE`]).
    pub previous_zone_key: String,
    /// When the write that changed it happened (the activity's timestamp or the `timezone`
    /// command's time).
    pub zone_moved_at: DateTime<Utc>,
}

impl ConversationReference {
    /// A conversation of `bot_app_id` seen `at`: active, installed and updated then. The parts
    /// only some conversations have (user, team, channel, locale, zones) are the caller's to set.
    #[must_use]
    pub fn new(
        tenant_id: TenantId,
        conversation_id: ConversationId,
        conversation_type: ConversationType,
        service_url: ServiceUrl,
        bot_app_id: &BotAppId,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant_id,
            conversation_id,
            conversation_type,
            service_url,
            bot_app_id: bot_app_id.clone(),
            bot_id: BotId::for_app(bot_app_id),
            user: None,
            team: None,
            channel: None,
            locale: None,
            time_zone: None,
            time_zone_override: None,
            status: ReferenceStatus::Active,
            status_reason: None,
            status_changed_at: at,
            installed_at: at,
            updated_at: at,
            last_seen_at: at,
            zone_move: None,
        }
    }

    /// A 1:1 chat with `user`.
    #[must_use]
    pub fn personal(
        tenant_id: TenantId,
        conversation_id: ConversationId,
        service_url: ServiceUrl,
        bot_app_id: &BotAppId,
        user: UserInfo,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            user: Some(user),
            ..Self::new(
                tenant_id,
                conversation_id,
                ConversationType::Personal,
                service_url,
                bot_app_id,
                at,
            )
        }
    }

    /// A team's `channel`, whose conversation id is the channel's id (General's is the team's).
    ///
    /// # Errors
    /// The channel's id is not a valid conversation id.
    pub fn channel(
        tenant_id: TenantId,
        service_url: ServiceUrl,
        bot_app_id: &BotAppId,
        team: TeamInfo,
        channel: ChannelInfo,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let conversation_id = ConversationId::new(channel.id.as_str())?;
        Ok(Self {
            team: Some(team),
            channel: Some(channel),
            ..Self::new(
                tenant_id,
                conversation_id,
                ConversationType::Channel,
                service_url,
                bot_app_id,
                at,
            )
        })
    }

    #[must_use]
    pub fn key(&self) -> ConversationKey {
        ConversationKey::new(self.tenant_id.clone(), self.conversation_id.clone())
    }

    /// Cross-field rules a reference must satisfy before it is stored.
    pub fn validate(&self) -> Result<(), DomainError> {
        let missing = |field| DomainError::MissingField {
            conversation_type: self.conversation_type.as_str(),
            field,
        };
        match self.conversation_type {
            ConversationType::Personal if self.user.is_none() => Err(missing("user")),
            ConversationType::Channel if self.team.is_none() => Err(missing("team")),
            ConversationType::Channel if self.channel.is_none() => Err(missing("channel")),
            _ => Ok(()),
        }
    }

    #[must_use]
    pub fn is_sendable(&self) -> bool {
        self.status.is_sendable()
    }

    /// The index key of the effective zone: its IANA name, or `none` when unknown.
    #[must_use]
    pub fn zone_key(&self) -> &'static str {
        self.effective_time_zone().map_or(NO_ZONE, TimeZone::name)
    }

    /// The zone schedules and reminders use. In a personal chat: the person's explicit choice,
    /// else what their Teams client reported. A channel or group chat has many people in many
    /// zones, so only a zone set for the conversation itself (`timezone <name>` in it) counts,
    /// never the zone of whoever spoke last; without one its recipients fire in the default zone.
    #[must_use]
    pub fn effective_time_zone(&self) -> Option<TimeZone> {
        match self.conversation_type {
            ConversationType::Personal => self.time_zone_override.or(self.time_zone),
            ConversationType::GroupChat | ConversationType::Channel => self.time_zone_override,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn personal() -> ConversationReference {
        let at = DateTime::parse_from_rfc3339("2026-11-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        ConversationReference {
            locale: Some("en-US".into()),
            time_zone: Some("Europe/Berlin".parse().unwrap()),
            ..ConversationReference::personal(
                TenantId::new("t1").unwrap(),
                ConversationId::new("a:1").unwrap(),
                ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap(),
                &BotAppId::new("app").unwrap(),
                UserInfo {
                    id: UserId::new("29:1").unwrap(),
                    aad_object_id: Some(AadObjectId::new("aad-1").unwrap()),
                    name: Some("Megan".into()),
                },
                at,
            )
        }
    }

    #[test]
    fn conversation_type_parses_teams_spelling() {
        assert_eq!(
            "groupChat".parse::<ConversationType>(),
            Ok(ConversationType::GroupChat)
        );
        assert_eq!(
            "meeting".parse::<ConversationType>(),
            Err(DomainError::UnknownConversationType("meeting".into()))
        );
        assert!(serde_json::from_str::<ConversationType>("\"chat\"").is_err());
    }

    #[test]
    fn service_url_rules() {
        assert!(ServiceUrl::parse("https://smba.trafficmanager.net/emea/").is_ok());
        assert_eq!(
            ServiceUrl::parse("http://127.0.0.1:4000/")
                .unwrap()
                .authority(),
            "127.0.0.1:4000"
        );
        assert!(ServiceUrl::parse("ftp://x/").is_err());
        assert!(ServiceUrl::parse("not a url").is_err());
        assert!(ServiceUrl::parse("https://x/?a=1").is_err());
    }

    #[test]
    fn reference_round_trips_in_camel_case() {
        let reference = personal();
        let json = serde_json::to_value(&reference).unwrap();
        assert_eq!(json["serviceUrl"], "https://smba.trafficmanager.net/amer/");
        assert_eq!(json["conversationType"], "personal");
        assert_eq!(json["timeZone"], "Europe/Berlin");
        assert_eq!(json["user"]["aadObjectId"], "aad-1");
        let back: ConversationReference = serde_json::from_value(json).unwrap();
        assert_eq!(back, reference);
    }

    #[test]
    fn a_shared_conversation_keeps_only_the_zone_set_for_it() {
        let mut reference = personal();
        assert_eq!(reference.zone_key(), "Europe/Berlin");
        reference.time_zone_override = Some("Asia/Tokyo".parse().unwrap());
        assert_eq!(reference.zone_key(), "Asia/Tokyo");
        for shared in [ConversationType::GroupChat, ConversationType::Channel] {
            reference.conversation_type = shared;
            reference.time_zone_override = None;
            // Whoever spoke last reported Berlin: not the conversation's zone.
            assert_eq!(reference.effective_time_zone(), None);
            assert_eq!(reference.zone_key(), NO_ZONE);
            reference.time_zone_override = Some("Asia/Tokyo".parse().unwrap());
            assert_eq!(reference.zone_key(), "Asia/Tokyo");
        }
    }

    #[test]
    fn invalid_stored_values_are_errors_not_panics() {
        let mut json = serde_json::to_value(personal()).unwrap();
        json["timeZone"] = "Nowhere/Land".into();
        assert!(serde_json::from_value::<ConversationReference>(json).is_err());
    }

    #[test]
    fn validation_requires_scope_fields() {
        let mut reference = personal();
        assert!(reference.validate().is_ok());
        reference.user = None;
        assert!(matches!(
            reference.validate(),
            Err(DomainError::MissingField { field: "user", .. })
        ));
        reference.conversation_type = ConversationType::Channel;
        assert!(matches!(
            reference.validate(),
            Err(DomainError::MissingField { field: "team", .. })
        ));
    }

    #[test]
    fn general_channel_is_named() {
        let team = TeamId::new("19:team@thread.tacv2").unwrap();
        let general = ChannelInfo {
            id: ChannelId::new("19:team@thread.tacv2").unwrap(),
            name: None,
        };
        assert_eq!(general.display_name(&team), Some("General"));
    }
}
