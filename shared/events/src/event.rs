//! Herald's domain events and their wire form: an EventBridge `detail-type` per kind and a
//! `detail` JSON object whose field names are part of Herald's public contract (rules and
//! consumers match on them), so they are spelled here once and pinned by tests.

use std::fmt;

use chrono::{DateTime, Utc};
use herald_domain::{
    AadObjectId, ChannelId, ConversationId, ConversationReference, ConversationType, TeamId,
    TenantId, UserInfo,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::EventError;
use crate::interaction::{CardActionEvent, ReadEvent};

/// Bumped only for a change a consumer could trip over (a removed or retyped field).
pub const SCHEMA_VERSION: u32 = 1;

/// What happened, one `detail-type` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    InstallationAdded,
    InstallationRemoved,
    InstallationArchived,
    InstallationRestored,
    NotificationDelivered,
    NotificationFailed,
    RecipientBlocked,
    CardAction,
    NotificationRead,
}

impl EventKind {
    pub const ALL: [Self; 9] = [
        Self::InstallationAdded,
        Self::InstallationRemoved,
        Self::InstallationArchived,
        Self::InstallationRestored,
        Self::NotificationDelivered,
        Self::NotificationFailed,
        Self::RecipientBlocked,
        Self::CardAction,
        Self::NotificationRead,
    ];

    /// The EventBridge `detail-type`; `herald.` like the inbound `herald.Notify`.
    #[must_use]
    pub fn detail_type(self) -> &'static str {
        match self {
            Self::InstallationAdded => "herald.InstallationAdded",
            Self::InstallationRemoved => "herald.InstallationRemoved",
            Self::InstallationArchived => "herald.InstallationArchived",
            Self::InstallationRestored => "herald.InstallationRestored",
            Self::NotificationDelivered => "herald.NotificationDelivered",
            Self::NotificationFailed => "herald.NotificationFailed",
            Self::RecipientBlocked => "herald.RecipientBlocked",
            Self::CardAction => "herald.CardAction",
            Self::NotificationRead => "herald.NotificationRead",
        }
    }

    #[must_use]
    pub fn from_detail_type(detail_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.detail_type() == detail_type)
    }

    /// The `status` field of the detail: the reference status an installation change leads to,
    /// or the delivery outcome, so a rule can match on `detail.status` alone.
    #[must_use]
    pub fn status(self) -> &'static str {
        match self {
            Self::InstallationAdded | Self::InstallationRestored => "active",
            Self::InstallationRemoved => "uninstalled",
            Self::InstallationArchived => "archived",
            Self::NotificationDelivered => "delivered",
            Self::NotificationFailed => "failed",
            Self::RecipientBlocked => "blocked",
            Self::CardAction => "actioned",
            Self::NotificationRead => "read",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail_type())
    }
}

/// Where the bot was installed, removed, archived or restored, and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallationEvent {
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub conversation_type: ConversationType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<TeamId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<ChannelId>,
    /// The user whose action Teams reported (`activity.from`), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<UserInfo>,
    /// When Teams says it happened (the activity timestamp).
    pub at: DateTime<Utc>,
    /// The activity that caused it, e.g. `installationUpdate/add-upgrade` or
    /// `conversationUpdate/teamArchived`, for audit trails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl InstallationEvent {
    /// The event for a stored reference: ids and type come from it, so they cannot disagree.
    #[must_use]
    pub fn for_reference(
        reference: &ConversationReference,
        by: Option<UserInfo>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant_id: reference.tenant_id.clone(),
            conversation_id: reference.conversation_id.clone(),
            conversation_type: reference.conversation_type,
            team_id: reference.team.as_ref().map(|t| t.id.clone()),
            channel_id: reference.channel.as_ref().map(|c| c.id.clone()),
            by,
            at,
            cause: None,
        }
    }

    #[must_use]
    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }
}

/// The outcome of one delivery of a notification to one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryEvent {
    pub notification_id: String,
    pub delivery_id: String,
    pub tenant_id: TenantId,
    /// Absent only when no conversation was ever reached (an installation through Graph failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    pub conversation_type: ConversationType,
    /// The person the delivery was for (personal chats and team-member fan-out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_aad_object_id: Option<AadObjectId>,
    /// The Teams activity id of the sent message, needed to update or delete it later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    /// The connector's error code (`ConversationBlockedByUser`, `BotNotInConversationRoster`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Send attempts made, retries included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// When the outcome was recorded.
    pub at: DateTime<Utc>,
}

/// One Herald event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeraldEvent {
    InstallationAdded(InstallationEvent),
    InstallationRemoved(InstallationEvent),
    InstallationArchived(InstallationEvent),
    InstallationRestored(InstallationEvent),
    NotificationDelivered(DeliveryEvent),
    NotificationFailed(DeliveryEvent),
    RecipientBlocked(DeliveryEvent),
    CardAction(CardActionEvent),
    NotificationRead(ReadEvent),
}

/// The payload of an event, whichever kind it is.
#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Installation(&'a InstallationEvent),
    Delivery(&'a DeliveryEvent),
    Action(&'a CardActionEvent),
    Read(&'a ReadEvent),
}

/// The detail as written: the body plus the fields derived from the kind.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailOut<'a> {
    schema_version: u32,
    status: &'static str,
    #[serde(flatten)]
    body: Body<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailIn<T> {
    schema_version: u32,
    status: String,
    #[serde(flatten)]
    body: T,
}

impl HeraldEvent {
    #[must_use]
    pub fn kind(&self) -> EventKind {
        match self {
            Self::InstallationAdded(_) => EventKind::InstallationAdded,
            Self::InstallationRemoved(_) => EventKind::InstallationRemoved,
            Self::InstallationArchived(_) => EventKind::InstallationArchived,
            Self::InstallationRestored(_) => EventKind::InstallationRestored,
            Self::NotificationDelivered(_) => EventKind::NotificationDelivered,
            Self::NotificationFailed(_) => EventKind::NotificationFailed,
            Self::RecipientBlocked(_) => EventKind::RecipientBlocked,
            Self::CardAction(_) => EventKind::CardAction,
            Self::NotificationRead(_) => EventKind::NotificationRead,
        }
    }

    fn body(&self) -> Body<'_> {
        match self {
            Self::InstallationAdded(e)
            | Self::InstallationRemoved(e)
            | Self::InstallationArchived(e)
            | Self::InstallationRestored(e) => Body::Installation(e),
            Self::NotificationDelivered(e)
            | Self::NotificationFailed(e)
            | Self::RecipientBlocked(e) => Body::Delivery(e),
            Self::CardAction(e) => Body::Action(e),
            Self::NotificationRead(e) => Body::Read(e),
        }
    }

    #[must_use]
    pub fn detail_type(&self) -> &'static str {
        self.kind().detail_type()
    }

    /// When it happened; also sent as the EventBridge entry's `Time`.
    #[must_use]
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self.body() {
            Body::Installation(e) => e.at,
            Body::Delivery(e) => e.at,
            Body::Action(e) => e.at,
            Body::Read(e) => e.at,
        }
    }

    /// The tenant it concerns, for routing rules and per-tenant consumers.
    #[must_use]
    pub fn tenant_id(&self) -> &TenantId {
        match self.body() {
            Body::Installation(e) => &e.tenant_id,
            Body::Delivery(e) => &e.tenant_id,
            Body::Action(e) => &e.tenant_id,
            Body::Read(e) => &e.tenant_id,
        }
    }

    /// The `detail` JSON object as EventBridge receives it.
    pub fn detail(&self) -> Result<String, EventError> {
        serde_json::to_string(&DetailOut {
            schema_version: SCHEMA_VERSION,
            status: self.kind().status(),
            body: self.body(),
        })
        .map_err(|e| EventError::Encode(e.to_string()))
    }

    /// Reads an event back from its `detail-type` and `detail`, as a consumer (or the local
    /// runner's subscriber) receives it. Unknown fields are ignored so additive changes to the
    /// schema do not break older readers.
    pub fn from_detail(detail_type: &str, detail: &str) -> Result<Self, EventError> {
        let kind = EventKind::from_detail_type(detail_type)
            .ok_or_else(|| EventError::Decode(format!("unknown detail-type {detail_type:?}")))?;
        let wire = Wire {
            kind,
            detail_type,
            detail,
        };
        Ok(match kind {
            EventKind::InstallationAdded => Self::InstallationAdded(wire.body()?),
            EventKind::InstallationRemoved => Self::InstallationRemoved(wire.body()?),
            EventKind::InstallationArchived => Self::InstallationArchived(wire.body()?),
            EventKind::InstallationRestored => Self::InstallationRestored(wire.body()?),
            EventKind::NotificationDelivered => Self::NotificationDelivered(wire.body()?),
            EventKind::NotificationFailed => Self::NotificationFailed(wire.body()?),
            EventKind::RecipientBlocked => Self::RecipientBlocked(wire.body()?),
            EventKind::CardAction => Self::CardAction(wire.body()?),
            EventKind::NotificationRead => Self::NotificationRead(wire.body()?),
        })
    }
}

/// A received `detail-type` and `detail`.
struct Wire<'a> {
    kind: EventKind,
    detail_type: &'a str,
    detail: &'a str,
}

impl Wire<'_> {
    /// The body of the detail, once its schema version and status check out.
    fn body<T: DeserializeOwned>(&self) -> Result<T, EventError> {
        let detail_type = self.detail_type;
        let d: DetailIn<T> = serde_json::from_str(self.detail)
            .map_err(|e| EventError::Decode(format!("{detail_type}: {e}")))?;
        if d.schema_version > SCHEMA_VERSION {
            return Err(EventError::Decode(format!(
                "{detail_type}: schemaVersion {} is newer than {SCHEMA_VERSION}",
                d.schema_version
            )));
        }
        let expected = self.kind.status();
        if d.status != expected {
            return Err(EventError::Decode(format!(
                "{detail_type}: status {:?} does not match (expected {expected:?})",
                d.status
            )));
        }
        Ok(d.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use herald_domain::UserId;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap()
    }

    fn installation() -> InstallationEvent {
        InstallationEvent {
            tenant_id: TenantId::new("t1").unwrap(),
            conversation_id: ConversationId::new("19:abc@thread.tacv2").unwrap(),
            conversation_type: ConversationType::Channel,
            team_id: Some(TeamId::new("19:team@thread.tacv2").unwrap()),
            channel_id: Some(ChannelId::new("19:abc@thread.tacv2").unwrap()),
            by: Some(UserInfo {
                id: UserId::new("29:u1").unwrap(),
                aad_object_id: Some(AadObjectId::new("aad-1").unwrap()),
                name: Some("Ada".into()),
            }),
            at: at(),
            cause: Some("installationUpdate/add".into()),
        }
    }

    fn delivery() -> DeliveryEvent {
        DeliveryEvent {
            notification_id: "n1".into(),
            delivery_id: "d1".into(),
            tenant_id: TenantId::new("t1").unwrap(),
            conversation_id: Some(ConversationId::new("a:1xyz").unwrap()),
            conversation_type: ConversationType::Personal,
            recipient_aad_object_id: Some(AadObjectId::new("aad-2").unwrap()),
            activity_id: None,
            error_code: Some("ConversationBlockedByUser".into()),
            error_message: Some("User blocked the conversation with the bot.".into()),
            attempts: Some(1),
            at: at(),
        }
    }

    /// The wire shape is a contract with rule authors: any change here must be deliberate.
    #[test]
    fn installation_detail_shape_is_stable() {
        let event = HeraldEvent::InstallationAdded(installation());
        assert_eq!(event.detail_type(), "herald.InstallationAdded");
        let detail: serde_json::Value = serde_json::from_str(&event.detail().unwrap()).unwrap();
        assert_eq!(
            detail,
            json!({
                "schemaVersion": 1,
                "status": "active",
                "tenantId": "t1",
                "conversationId": "19:abc@thread.tacv2",
                "conversationType": "channel",
                "teamId": "19:team@thread.tacv2",
                "channelId": "19:abc@thread.tacv2",
                "by": {"id": "29:u1", "aadObjectId": "aad-1", "name": "Ada"},
                "at": "2026-11-22T09:30:00Z",
                "cause": "installationUpdate/add"
            })
        );
    }

    #[test]
    fn delivery_detail_shape_is_stable() {
        let event = HeraldEvent::RecipientBlocked(delivery());
        assert_eq!(event.detail_type(), "herald.RecipientBlocked");
        let detail: serde_json::Value = serde_json::from_str(&event.detail().unwrap()).unwrap();
        assert_eq!(
            detail,
            json!({
                "schemaVersion": 1,
                "status": "blocked",
                "notificationId": "n1",
                "deliveryId": "d1",
                "tenantId": "t1",
                "conversationId": "a:1xyz",
                "conversationType": "personal",
                "recipientAadObjectId": "aad-2",
                "errorCode": "ConversationBlockedByUser",
                "errorMessage": "User blocked the conversation with the bot.",
                "attempts": 1,
                "at": "2026-11-22T09:30:00Z"
            })
        );
    }

    #[test]
    fn every_kind_round_trips_through_its_wire_form() {
        for kind in EventKind::ALL {
            let event = match kind {
                EventKind::InstallationAdded => HeraldEvent::InstallationAdded(installation()),
                EventKind::InstallationRemoved => HeraldEvent::InstallationRemoved(installation()),
                EventKind::InstallationArchived => {
                    HeraldEvent::InstallationArchived(installation())
                }
                EventKind::InstallationRestored => {
                    HeraldEvent::InstallationRestored(installation())
                }
                EventKind::NotificationDelivered => HeraldEvent::NotificationDelivered(delivery()),
                EventKind::NotificationFailed => HeraldEvent::NotificationFailed(delivery()),
                EventKind::RecipientBlocked => HeraldEvent::RecipientBlocked(delivery()),
                EventKind::CardAction => {
                    HeraldEvent::CardAction(crate::interaction::tests::action())
                }
                EventKind::NotificationRead => {
                    HeraldEvent::NotificationRead(crate::interaction::tests::read())
                }
            };
            assert_eq!(event.kind(), kind);
            let back = HeraldEvent::from_detail(event.detail_type(), &event.detail().unwrap());
            assert_eq!(back.unwrap(), event, "{kind}");
        }
    }

    #[test]
    fn decoding_rejects_mismatches_and_unknowns() {
        let detail = HeraldEvent::InstallationAdded(installation())
            .detail()
            .unwrap();
        // Same body under another kind: the status gives it away.
        assert!(matches!(
            HeraldEvent::from_detail("herald.InstallationRemoved", &detail),
            Err(EventError::Decode(_))
        ));
        assert!(matches!(
            HeraldEvent::from_detail("herald.Nope", &detail),
            Err(EventError::Decode(_))
        ));
        let newer = detail.replace("\"schemaVersion\":1", "\"schemaVersion\":2");
        assert!(HeraldEvent::from_detail("herald.InstallationAdded", &newer).is_err());
        let bad_id = detail.replace("\"tenantId\":\"t1\"", "\"tenantId\":\"\"");
        assert!(HeraldEvent::from_detail("herald.InstallationAdded", &bad_id).is_err());
        // Additive changes do not break readers.
        let extra = detail.replacen('{', "{\"later\":true,", 1);
        assert!(HeraldEvent::from_detail("herald.InstallationAdded", &extra).is_ok());
    }

    #[test]
    fn built_from_a_stored_reference() {
        // Read from its stored JSON form, so fields added to the reference later need no edit.
        let reference: ConversationReference = serde_json::from_value(json!({
            "tenantId": "t1",
            "conversationId": "19:abc@thread.tacv2",
            "conversationType": "channel",
            "serviceUrl": "https://smba.trafficmanager.net/amer/",
            "botAppId": "app",
            "botId": "28:app",
            "team": {"id": "19:team@thread.tacv2", "name": "Ops"},
            "channel": {"id": "19:abc@thread.tacv2"},
            "status": "active",
            "statusChangedAt": "2026-11-22T09:30:00Z",
            "installedAt": "2026-11-22T09:30:00Z",
            "updatedAt": "2026-11-22T09:30:00Z",
            "lastSeenAt": "2026-11-22T09:30:00Z"
        }))
        .unwrap();
        let event = InstallationEvent::for_reference(&reference, installation().by, at())
            .with_cause("installationUpdate/add");
        assert_eq!(event, installation());
    }

    #[test]
    fn optional_fields_are_left_out() {
        let mut e = installation();
        e.team_id = None;
        e.channel_id = None;
        e.by = None;
        e.cause = None;
        e.conversation_type = ConversationType::GroupChat;
        let detail: serde_json::Value =
            serde_json::from_str(&HeraldEvent::InstallationArchived(e).detail().unwrap()).unwrap();
        let keys: Vec<&str> = detail
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys.len(),
            6,
            "schemaVersion, status, tenantId, conversationId, conversationType, at: {keys:?}"
        );
        assert_eq!(detail["status"], "archived");
    }
}
