//! What people do with the copies Herald sent: press a card's buttons
//! (<https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards>)
//! and read them (read receipts,
//! <https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-messages#receive-a-read-receipt>).
//!
//! Every sent delivery leaves a [`SentCopy`], indexed by conversation and activity id and written
//! with the outcome: Teams names a copy only by the conversation and the message's id
//! (`replyToId`, `lastReadMessageId`), and ids a card's data carries are never trusted. A
//! notification that can be answered also has [`InteractionSettings`], readable without its
//! deliveries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::cards::CardAnswer;
use herald_domain::{
    AadObjectId, ConversationId, ConversationType, DeliveryId, NotificationId, TenantId,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DeliveryRecord, StoreError};

/// One copy Herald sent: where (tenant, conversation, activity id), of what (notification,
/// delivery), and whether its recipient read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentCopy {
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    /// The id Teams gave the message (the `replyToId` of an action on its card).
    pub activity_id: String,
    pub notification_id: NotificationId,
    pub delivery_id: DeliveryId,
    pub conversation_type: ConversationType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<AadObjectId>,
    /// The notification's content version the copy was sent with.
    #[serde(default)]
    pub content_version: u32,
    pub sent_at: DateTime<Utc>,
    /// When a read receipt covered it (personal chats only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
    /// The delivery's TTL (epoch seconds): the copy never outlives it.
    pub expires_at: i64,
}

impl SentCopy {
    /// The copy `delivery` left in `conversation` as `activity_id`, of content version
    /// `content_version`, sent at `sent_at`: not read yet, kept as long as the delivery.
    #[must_use]
    pub fn of(
        delivery: &DeliveryRecord,
        conversation: ConversationId,
        activity_id: &str,
        content_version: u32,
        sent_at: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant_id: delivery.tenant_id.clone(),
            conversation_id: conversation,
            activity_id: activity_id.to_owned(),
            notification_id: delivery.notification_id.clone(),
            delivery_id: delivery.delivery_id.clone(),
            conversation_type: delivery.conversation_type,
            recipient: delivery.recipient.clone(),
            content_version,
            sent_at,
            read_at: None,
            expires_at: delivery.expires_at,
        }
    }
}

/// What answering a card action needs, kept apart from the notification so the webhook reads
/// it without reading deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionSettings {
    pub notification_id: NotificationId,
    /// Where card actions are POSTed, signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// What a person sees when there is no callback, or it failed or was slow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<CardAnswer>,
    /// The card every copy shows now: a refresh answers it when no callback does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Value>,
    pub expires_at: i64,
}

impl InteractionSettings {
    /// The settings a notification needs, if it is interactive at all: it names a callback or an
    /// acknowledgement, or its card has actions or a refresh.
    #[must_use]
    pub fn of(record: &crate::NotificationRecord) -> Option<Self> {
        let card = adaptive_card(&record.activity).cloned();
        let answered = card
            .as_ref()
            .is_some_and(|c| c.get("actions").is_some() || c.get("refresh").is_some());
        (record.callback.is_some() || record.acknowledgement.is_some() || answered).then(|| Self {
            notification_id: record.id.clone(),
            callback: record.callback.clone(),
            acknowledgement: record.acknowledgement.clone(),
            card,
            expires_at: record.expires_at,
        })
    }
}

/// The first Adaptive Card an activity carries.
#[must_use]
pub fn adaptive_card(activity: &Value) -> Option<&Value> {
    activity
        .get("attachments")?
        .as_array()?
        .iter()
        .find(|a| {
            a.get("contentType").and_then(Value::as_str)
                == Some("application/vnd.microsoft.card.adaptive")
        })?
        .get("content")
}

/// One press of a card's button, recorded once however often Teams delivers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardActionRecord {
    /// The id of the activity Teams delivered the action with: a redelivery carries the same.
    pub action_id: String,
    pub notification_id: NotificationId,
    pub delivery_id: DeliveryId,
    pub verb: String,
    pub at: DateTime<Utc>,
    pub expires_at: i64,
}

/// A notification's `followUp`: a message sent once to those who have not read it after a while.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowUp {
    /// As given (an ISO 8601 duration such as `PT4H`).
    pub if_unread_after: String,
    /// When the scheduler's tick sends it.
    pub due_at: DateTime<Utc>,
    /// The follow-up's activity, rendered when the notification was accepted.
    pub activity: Value,
}

/// A follow-up whose time has come, as the due index holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowUpDue {
    pub notification_id: NotificationId,
    pub due_at: DateTime<Utc>,
}

impl FollowUpDue {
    /// `{due}#{notification}`: due markers sort by time.
    pub(crate) fn key(&self) -> String {
        crate::keys::time_key(self.due_at, self.notification_id.as_str())
    }
}

/// Card actions and read receipts, as the webhook records them.
#[async_trait]
pub trait Interactions: crate::OutboxStore {
    /// The copy Herald sent as `activity_id` in this conversation, if any.
    async fn find_copy(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        activity_id: &str,
    ) -> Result<Option<SentCopy>, StoreError>;

    /// The interaction settings of a notification.
    async fn settings(
        &self,
        notification: &NotificationId,
    ) -> Result<Option<InteractionSettings>, StoreError>;

    /// Records an action once: `false` if its id was recorded before (a redelivery), else the
    /// notification's and the delivery's counts of its verb move by one.
    async fn record_action(&self, action: &CardActionRecord) -> Result<bool, StoreError>;

    /// Marks read every unread personal copy the receipt covers, with their deliveries and the
    /// notifications' read counts. Returns the copies it marked.
    async fn mark_read(&self, receipt: &ReadReceipt) -> Result<Vec<SentCopy>, StoreError>;
}

/// A read receipt as Teams sends it in a personal chat: every message of the conversation up to
/// and including `last_read_message_id` (ids compared as Teams orders them: by number when
/// numeric, else as text) was read by `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReceipt {
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    /// `value.lastReadMessageId`.
    pub last_read_message_id: String,
    pub at: DateTime<Utc>,
}

impl ReadReceipt {
    #[must_use]
    pub fn new(
        tenant_id: &TenantId,
        conversation_id: &ConversationId,
        last_read_message_id: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant_id: tenant_id.clone(),
            conversation_id: conversation_id.clone(),
            last_read_message_id: last_read_message_id.to_owned(),
            at,
        }
    }

    /// The order keys of the copies it covers, `floor..=last`
    /// ([`activity_order_key`](crate::keys::activity_order_key)).
    pub(crate) fn covered_keys(&self) -> (&'static str, String) {
        let last = crate::keys::activity_order_key(&self.last_read_message_id);
        (crate::keys::activity_order_floor(&last), last)
    }
}

/// A request to bring every sent copy to the notification's current content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditRequest {
    /// Requests made so far; a job finishes only the requests it saw.
    pub requests: u64,
    /// Until when the job leaves the copies to the API request editing them inline.
    pub held_until: Option<DateTime<Utc>>,
}

/// Edit jobs: after [`crate::OutboxStore::revise_content`], the sender brings every sent copy
/// to the new content (or deletes it, once retracted), paced like every send.
#[async_trait]
pub trait EditJobs: Send + Sync {
    /// The notification's pending edit request, if any.
    async fn edit_request(
        &self,
        notification: &NotificationId,
    ) -> Result<Option<EditRequest>, StoreError>;

    /// Ends the job if no request came after `seen`; returns whether it ended.
    async fn finish_edit(
        &self,
        notification: &NotificationId,
        seen: &EditRequest,
    ) -> Result<bool, StoreError>;

    /// Triggers the job again (it stopped before every copy was edited, or an inline edit that
    /// held it is done).
    async fn rearm_edit(
        &self,
        notification: &NotificationId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// The follow-ups' due index, for the scheduler's minute tick.
#[async_trait]
pub trait FollowUps: Send + Sync {
    /// Up to `limit` follow-ups due at or before `now`, earliest first.
    async fn due_follow_ups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FollowUpDue>, StoreError>;

    /// Removes a follow-up from the index once it is sent (or has nothing left to send).
    async fn end_follow_up(&self, due: &FollowUpDue) -> Result<(), StoreError>;
}

/// A verb as counted: what the card's action named, trimmed, at most 64 characters of printable
/// text, else `other` (a verb is a label chosen by the card's author, never trusted further).
#[must_use]
pub fn counted_verb(verb: &str) -> String {
    let verb = verb.trim();
    if verb.is_empty() || verb.chars().count() > 64 || verb.chars().any(char::is_control) {
        "other".to_owned()
    } else {
        verb.to_owned()
    }
}
