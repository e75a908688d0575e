//! What people did with a notification: pressed a button on its card (`herald.CardAction`) or
//! read it (`herald.NotificationRead`). Their field names are part of Herald's public contract,
//! like the other events', and pinned by the tests below.

use chrono::{DateTime, Utc};
use herald_domain::{AadObjectId, ConversationId, ConversationType, TenantId, UserInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One press of a button on a notification's card, as Teams delivered it
/// (<https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards>).
/// A callback receives the same JSON as the event's detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardActionEvent {
    /// The id of the activity that carried the action: the same for every redelivery of one
    /// press, so a receiver can drop repeats.
    pub action_id: String,
    pub notification_id: String,
    pub delivery_id: String,
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub conversation_type: ConversationType,
    /// The message whose card was pressed (its `replyToId`).
    pub activity_id: String,
    /// `Action.Execute`'s verb, or an `Action.Submit`'s `data.verb` (`submit` without one).
    pub verb: String,
    /// The action's data with the card's input values, as Teams delivered them.
    #[serde(default)]
    pub data: Value,
    /// `manual` when a person pressed it; `automatic` for a card's refresh (sent to a callback,
    /// never published).
    pub trigger: String,
    /// Who pressed it (`from` of the activity Teams signed).
    pub by: UserInfo,
    pub at: DateTime<Utc>,
}

/// A personal copy a read receipt covered
/// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-messages#receive-a-read-receipt>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadEvent {
    pub notification_id: String,
    pub delivery_id: String,
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    /// The copy's message id.
    pub activity_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_aad_object_id: Option<AadObjectId>,
    /// When the receipt arrived.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone as _;
    use herald_domain::UserId;
    use serde_json::json;

    use super::*;
    use crate::HeraldEvent;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 42, 0).unwrap()
    }

    pub(crate) fn action() -> CardActionEvent {
        CardActionEvent {
            action_id: "f:17b96347".into(),
            notification_id: "n-1".into(),
            delivery_id: "t1|a:1xyz".into(),
            tenant_id: TenantId::new("t1").unwrap(),
            conversation_id: ConversationId::new("a:1xyz").unwrap(),
            conversation_type: ConversationType::Personal,
            activity_id: "1767765488332".into(),
            verb: "approve".into(),
            data: json!({"comment": "ok"}),
            trigger: "manual".into(),
            by: UserInfo {
                id: UserId::new("29:u1").unwrap(),
                aad_object_id: Some(AadObjectId::new("aad-1").unwrap()),
                name: Some("Megan Bowen".into()),
            },
            at: at(),
        }
    }

    pub(crate) fn read() -> ReadEvent {
        ReadEvent {
            notification_id: "n-1".into(),
            delivery_id: "t1|a:1xyz".into(),
            tenant_id: TenantId::new("t1").unwrap(),
            conversation_id: ConversationId::new("a:1xyz").unwrap(),
            activity_id: "1767765488332".into(),
            recipient_aad_object_id: Some(AadObjectId::new("aad-1").unwrap()),
            at: at(),
        }
    }

    #[test]
    fn card_action_detail_shape_is_stable() {
        let event = HeraldEvent::CardAction(action());
        assert_eq!(event.detail_type(), "herald.CardAction");
        let detail: Value = serde_json::from_str(&event.detail().unwrap()).unwrap();
        assert_eq!(
            detail,
            json!({
                "schemaVersion": 1,
                "status": "actioned",
                "actionId": "f:17b96347",
                "notificationId": "n-1",
                "deliveryId": "t1|a:1xyz",
                "tenantId": "t1",
                "conversationId": "a:1xyz",
                "conversationType": "personal",
                "activityId": "1767765488332",
                "verb": "approve",
                "data": {"comment": "ok"},
                "trigger": "manual",
                "by": {"id": "29:u1", "aadObjectId": "aad-1", "name": "Megan Bowen"},
                "at": "2026-11-22T10:42:00Z"
            })
        );
    }

    #[test]
    fn read_detail_shape_is_stable() {
        let event = HeraldEvent::NotificationRead(read());
        assert_eq!(event.detail_type(), "herald.NotificationRead");
        let detail: Value = serde_json::from_str(&event.detail().unwrap()).unwrap();
        assert_eq!(
            detail,
            json!({
                "schemaVersion": 1,
                "status": "read",
                "notificationId": "n-1",
                "deliveryId": "t1|a:1xyz",
                "tenantId": "t1",
                "conversationId": "a:1xyz",
                "activityId": "1767765488332",
                "recipientAadObjectId": "aad-1",
                "at": "2026-11-22T10:42:00Z"
            })
        );
    }
}
