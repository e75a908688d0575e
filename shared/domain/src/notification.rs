//! What a notification is addressed to and what happened per recipient: the vocabulary the
//! notify API, the scheduler, event routes and the sender share.

use serde::{Deserialize, Serialize};

use crate::spelled::spelled_enum;
use crate::{AadObjectId, ConversationId, ConversationType, NotificationId, TeamId, TenantId};

/// Who a notification goes to (`target` of `POST /api/notify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Target {
    /// Every active installation.
    All,
    /// Every active installation of one conversation type.
    Type {
        #[serde(rename = "type")]
        conversation_type: ConversationType,
    },
    /// Every active installation in one tenant.
    Tenant { tenant_id: TenantId },
    /// Channels of a team: `General`, a channel by name, or `*` for all recorded channels.
    Team {
        team_id: TeamId,
        /// The team's tenant: a team is found among that tenant's installations only. The notify
        /// API requires it; `None` only in targets stored before it did (see the expansion).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant_id: Option<TenantId>,
        #[serde(default = "general")]
        channel: String,
    },
    /// Each member of a team, 1:1.
    TeamMembers {
        team_id: TeamId,
        /// As for [`Target::Team`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant_id: Option<TenantId>,
    },
    /// One person, 1:1, by Microsoft Entra object id.
    Person {
        aad_object_id: AadObjectId,
        tenant_id: TenantId,
    },
    /// Stored conversations by id.
    Conversations { ids: Vec<ConversationId> },
    /// People of one tenant, 1:1, by Microsoft Entra object id; with proactive installation
    /// enabled, those without the app get it installed through Microsoft Graph first.
    Users {
        aad_object_ids: Vec<AadObjectId>,
        tenant_id: TenantId,
    },
    /// The people who have not read another notification: its sent personal copies without a
    /// read receipt (channels and group chats send none). A notification's `followUp` is sent
    /// this way.
    Unread { notification_id: NotificationId },
}

fn general() -> String {
    "General".to_owned()
}

/// How a team target picks channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelSelector<'a> {
    General,
    All,
    Named(&'a str),
}

impl Target {
    /// For a team target, which channels it means.
    #[must_use]
    pub fn channel_selector(&self) -> Option<ChannelSelector<'_>> {
        match self {
            Self::Team { channel, .. } => Some(match channel.trim() {
                "*" => ChannelSelector::All,
                name if name.eq_ignore_ascii_case("general") || name.is_empty() => {
                    ChannelSelector::General
                }
                name => ChannelSelector::Named(name),
            }),
            _ => None,
        }
    }
}

/// Where one delivery stands. `Pending` and `Sending` are in flight; the rest are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// Written by expansion, waiting for the sender.
    Pending,
    /// Claimed by a sender (under a lease).
    Sending,
    Sent,
    /// 403 MessageWritesBlocked / ConversationBlockedByUser.
    Blocked,
    /// 403 BotNotInConversationRoster, or the reference was uninstalled.
    Uninstalled,
    /// 404 ConversationNotFound.
    NotFound,
    /// 413: too large for Teams.
    TooLarge,
    /// Anything else, with the error recorded.
    Failed,
    /// Not sent: the conversation opted out.
    SkippedOptedOut,
    /// Not sent: the reference is uninstalled.
    SkippedUninstalled,
    /// Not sent: the team is archived.
    SkippedArchived,
    /// Not sent: the recipient blocked the bot earlier.
    SkippedBlocked,
    /// Not sent: no conversation could be found or created for the recipient.
    Unresolved,
    /// Herald asked Microsoft Graph to install the app for the recipient and waits for the
    /// installation's conversationUpdate (or its timeout).
    Installing,
    /// Not sent: Graph refused the installation (403: permission not granted or not consented).
    InstallForbidden,
    /// Not sent: Graph does not know the recipient (404 for the user).
    InstallUserNotFound,
    /// Not sent: the Teams app is not in the organisation's app catalog.
    InstallAppNotInCatalog,
    /// Not sent: the app was installed but no installation event arrived in time.
    InstallTimedOut,
    /// Not sent: the notification was retracted before this copy went out.
    Retracted,
}

impl DeliveryStatus {
    pub const ALL: [Self; 19] = [
        Self::Pending,
        Self::Sending,
        Self::Sent,
        Self::Blocked,
        Self::Uninstalled,
        Self::NotFound,
        Self::TooLarge,
        Self::Failed,
        Self::SkippedOptedOut,
        Self::SkippedUninstalled,
        Self::SkippedArchived,
        Self::SkippedBlocked,
        Self::Unresolved,
        Self::Installing,
        Self::InstallForbidden,
        Self::InstallUserNotFound,
        Self::InstallAppNotInCatalog,
        Self::InstallTimedOut,
        Self::Retracted,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Blocked => "blocked",
            Self::Uninstalled => "uninstalled",
            Self::NotFound => "notFound",
            Self::TooLarge => "tooLarge",
            Self::Failed => "failed",
            Self::SkippedOptedOut => "skippedOptedOut",
            Self::SkippedUninstalled => "skippedUninstalled",
            Self::SkippedArchived => "skippedArchived",
            Self::SkippedBlocked => "skippedBlocked",
            Self::Unresolved => "unresolved",
            Self::Installing => "installing",
            Self::InstallForbidden => "installForbidden",
            Self::InstallUserNotFound => "installUserNotFound",
            Self::InstallAppNotInCatalog => "installAppNotInCatalog",
            Self::InstallTimedOut => "installTimedOut",
            Self::Retracted => "retracted",
        }
    }

    /// Whether the delivery has reached its outcome.
    #[must_use]
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending | Self::Sending | Self::Installing)
    }
}

spelled_enum!(DeliveryStatus, UnknownStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_the_api_shapes() {
        let cases = [
            (r#"{"kind":"all"}"#, Target::All),
            (
                r#"{"kind":"type","type":"groupChat"}"#,
                Target::Type {
                    conversation_type: ConversationType::GroupChat,
                },
            ),
            (
                r#"{"kind":"team","teamId":"19:t@thread.tacv2"}"#,
                Target::Team {
                    team_id: TeamId::new("19:t@thread.tacv2").unwrap(),
                    tenant_id: None,
                    channel: "General".into(),
                },
            ),
            (
                r#"{"kind":"team","teamId":"19:t@thread.tacv2","tenantId":"t","channel":"Ops"}"#,
                Target::Team {
                    team_id: TeamId::new("19:t@thread.tacv2").unwrap(),
                    tenant_id: Some(TenantId::new("t").unwrap()),
                    channel: "Ops".into(),
                },
            ),
            (
                r#"{"kind":"teamMembers","teamId":"19:t@thread.tacv2","tenantId":"t"}"#,
                Target::TeamMembers {
                    team_id: TeamId::new("19:t@thread.tacv2").unwrap(),
                    tenant_id: Some(TenantId::new("t").unwrap()),
                },
            ),
            (
                r#"{"kind":"person","aadObjectId":"a","tenantId":"t"}"#,
                Target::Person {
                    aad_object_id: AadObjectId::new("a").unwrap(),
                    tenant_id: TenantId::new("t").unwrap(),
                },
            ),
            (
                r#"{"kind":"unread","notificationId":"n-1"}"#,
                Target::Unread {
                    notification_id: NotificationId::parse("n-1").unwrap(),
                },
            ),
        ];
        for (json, target) in cases {
            assert_eq!(serde_json::from_str::<Target>(json).unwrap(), target);
            let back = serde_json::to_string(&target).unwrap();
            assert_eq!(serde_json::from_str::<Target>(&back).unwrap(), target);
        }
        for bad in [
            r#"{"kind":"everyone"}"#,
            r#"{"kind":"type","type":"meeting"}"#,
            r#"{"kind":"tenant"}"#,
            r#"{"kind":"conversations","ids":[""]}"#,
        ] {
            assert!(serde_json::from_str::<Target>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn channel_selectors() {
        let team = |channel: &str| Target::Team {
            team_id: TeamId::new("t").unwrap(),
            tenant_id: None,
            channel: channel.into(),
        };
        assert_eq!(team("*").channel_selector(), Some(ChannelSelector::All));
        assert_eq!(
            team("general").channel_selector(),
            Some(ChannelSelector::General)
        );
        assert_eq!(
            team("Ops").channel_selector(),
            Some(ChannelSelector::Named("Ops"))
        );
        assert_eq!(Target::All.channel_selector(), None);
    }

    #[test]
    fn delivery_status_names() {
        for status in DeliveryStatus::ALL {
            assert_eq!(status.as_str().parse::<DeliveryStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::String(status.as_str().into())
            );
        }
        assert!(!DeliveryStatus::Pending.is_final());
        assert!(DeliveryStatus::SkippedOptedOut.is_final());
        assert!(DeliveryStatus::Retracted.is_final());
    }
}
