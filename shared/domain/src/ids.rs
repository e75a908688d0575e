//! Typed ids, so that a tenant id can never be passed where a conversation id is meant.
//!
//! Teams ids are opaque strings; Herald only insists they are non-empty, free of control characters
//! and of sane length (they end up in DynamoDB keys, URLs and logs).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::DomainError;

/// Longer than any id Teams issues (channel thread ids are about 100 bytes), far below DynamoDB's
/// 2 KB partition-key limit.
const MAX_ID_LEN: usize = 1024;

fn validate(kind: &'static str, value: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::EmptyId { kind });
    }
    if value.len() > MAX_ID_LEN {
        return Err(DomainError::IdTooLong {
            kind,
            len: value.len(),
            max: MAX_ID_LEN,
        });
    }
    if value.chars().any(char::is_control) {
        return Err(DomainError::ControlCharacter { kind });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id received from outside.
            pub fn new(value: impl Into<String>) -> Result<Self, DomainError> {
                let value = value.into();
                validate($kind, &value)?;
                Ok(Self(value))
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            #[must_use]
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// `conversation.tenantId` / `channelData.tenant.id`: the Microsoft Entra tenant.
    TenantId, "tenant id"
);
string_id!(
    /// `conversation.id`: `a:...` (personal), `19:...@thread.v2` (group chat),
    /// `19:...@thread.tacv2` (channel).
    ConversationId, "conversation id"
);
string_id!(
    /// A Teams user id as the connector knows it (`29:...`).
    UserId, "user id"
);
string_id!(
    /// The user's Microsoft Entra object id (`from.aadObjectId`), stable across bots.
    AadObjectId, "AAD object id"
);
string_id!(
    /// `channelData.team.id`; equals the id of the team's General channel.
    TeamId, "team id"
);
string_id!(
    /// `channelData.channel.id`.
    ChannelId, "channel id"
);
string_id!(
    /// The Microsoft App Id of the bot registration (`MicrosoftAppId`).
    BotAppId, "bot app id"
);
string_id!(
    /// The bot's id in a conversation (`recipient.id`, `28:<appId>`).
    BotId, "bot id"
);

impl ConversationId {
    /// The id without a `;messageid=...` thread suffix. Teams appends it to the conversation ids of
    /// replies in a thread
    /// (<https://learn.microsoft.com/en-us/dotnet/api/microsoft.teams.core.schema.conversationextensions.tothreadedconversationid>);
    /// a stored reference to a chat must not carry it.
    #[must_use]
    pub fn without_message_id(&self) -> Self {
        match self.0.find(";messageid=") {
            Some(at) if at > 0 => Self(self.0[..at].to_owned()),
            _ => self.clone(),
        }
    }
}

impl BotId {
    /// The id a bot has in every conversation: `28:` followed by its app id.
    #[must_use]
    pub fn for_app(app: &BotAppId) -> Self {
        Self(format!("28:{app}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_long_and_control_ids() {
        assert_eq!(
            TenantId::new(" "),
            Err(DomainError::EmptyId { kind: "tenant id" })
        );
        assert!(matches!(
            TeamId::new("x".repeat(MAX_ID_LEN + 1)),
            Err(DomainError::IdTooLong { .. })
        ));
        assert!(matches!(
            UserId::new("29:a\u{0}b"),
            Err(DomainError::ControlCharacter { .. })
        ));
    }

    #[test]
    fn deserialization_validates() {
        assert!(serde_json::from_str::<TenantId>("\"\"").is_err());
        let id: TenantId = serde_json::from_str("\"72f988bf\"").unwrap();
        assert_eq!(id.as_str(), "72f988bf");
    }

    #[test]
    fn strips_thread_suffix() {
        let id = ConversationId::new("a:1xyz;messageid=1700000000000").unwrap();
        assert_eq!(id.without_message_id().as_str(), "a:1xyz");
        let plain = ConversationId::new("19:abc@thread.v2").unwrap();
        assert_eq!(plain.without_message_id(), plain);
    }

    #[test]
    fn bot_id_for_app() {
        let app = BotAppId::new("00000000-0000-0000-0000-000000000001").unwrap();
        assert_eq!(
            BotId::for_app(&app).as_str(),
            "28:00000000-0000-0000-0000-000000000001"
        );
    }
}
