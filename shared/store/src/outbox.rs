//! The outbox: notifications and their per-recipient deliveries.
//!
//! A producer (the notify API, the scheduler, an event route) writes a [`NotificationRecord`] and
//! returns. Expansion turns it into [`DeliveryRecord`]s page by page, saving a cursor, so a
//! broadcast to 100,000 recipients resumes after any failure. The outbox table's stream feeds the
//! sender, which claims each delivery with a conditional write before sending and records the
//! outcome once: a replayed stream record (Lambda retries a failed batch,
//! <https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>) can never send a delivery
//! already recorded sent.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use herald_domain::{
    AadObjectId, ConversationId, ConversationReference, ConversationType, DeliveryId,
    DeliveryStatus, NotificationId, ServiceUrl, Target, TenantId, UserId,
};
use serde::{Deserialize, Serialize};

use crate::{Page, PageRequest, StoreError};

/// A notification as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    pub id: NotificationId,
    pub target: Target,
    /// The Bot Framework activity every recipient gets, rendered once by the producer.
    pub activity: serde_json::Value,
    /// Who asked: `api`, `schedule:<id>`, `event:<rule>`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Where expansion continues; `None` before the first page and after the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expansion_cursor: Option<String>,
    /// Pages of recipients expanded so far.
    #[serde(default)]
    pub expansion_pages: u32,
    /// All recipients are written as deliveries.
    #[serde(default)]
    pub expanded: bool,
    /// Deliveries per status (`sent`, `pending`, ...), maintained with every write.
    #[serde(default)]
    pub counts: BTreeMap<String, i64>,
    /// When the record expires (DynamoDB TTL, epoch seconds).
    pub expires_at: i64,
    /// Only recipients whose effective zone key is this (a recipient-local schedule fires zone
    /// by zone; `none` means recipients with no known zone, who get the default zone's time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_filter: Option<String>,
}

impl NotificationRecord {
    #[must_use]
    pub fn new(
        id: NotificationId,
        target: Target,
        activity: serde_json::Value,
        source: impl Into<String>,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> Self {
        Self {
            id,
            target,
            activity,
            source: source.into(),
            idempotency_key: None,
            created_at: now,
            expansion_cursor: None,
            expansion_pages: 0,
            expanded: false,
            counts: DeliveryStatus::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), 0))
                .collect(),
            expires_at: (now + retention).timestamp(),
            zone_filter: None,
        }
    }

    #[must_use]
    pub fn count(&self, status: DeliveryStatus) -> i64 {
        self.counts.get(status.as_str()).copied().unwrap_or(0)
    }

    /// accepted, expanding, sending or done: derived, so it can never disagree with the counts.
    #[must_use]
    pub fn status(&self) -> NotificationStatus {
        let in_flight = self.count(DeliveryStatus::Pending)
            + self.count(DeliveryStatus::Sending)
            + self.count(DeliveryStatus::Installing);
        match (self.expanded, self.expansion_pages, in_flight) {
            (false, 0, _) => NotificationStatus::Accepted,
            (false, _, _) => NotificationStatus::Expanding,
            (true, _, n) if n > 0 => NotificationStatus::Sending,
            (true, _, _) => NotificationStatus::Done,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NotificationStatus {
    Accepted,
    Expanding,
    Sending,
    Done,
}

/// One recipient of one notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub notification_id: NotificationId,
    /// Unique within the notification: `{tenant}|{conversation}`, or `{tenant}|member:{id}` for a
    /// recipient whose 1:1 chat the sender must create first.
    pub delivery_id: DeliveryId,
    pub tenant_id: TenantId,
    /// `None` until created, for a member without a stored personal conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    pub conversation_type: ConversationType,
    /// `None` only for a recipient that could not be resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<ServiceUrl>,
    /// The member to create a 1:1 conversation with (`29:...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<AadObjectId>,
    pub status: DeliveryStatus,
    #[serde(default)]
    pub attempts: u32,
    /// A sender holds the delivery until then; after it, another may take over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    /// The sent activity's id, kept to update or retract it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// While `installing`: when the wait for the installation's conversationUpdate ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_deadline: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// DynamoDB TTL, epoch seconds.
    pub expires_at: i64,
}

impl DeliveryRecord {
    /// A pending delivery of `notification_id` to the recipient `delivery_id` in `tenant_id`, not
    /// tied to a conversation yet, written `now` and kept until `expires_at` (epoch seconds).
    #[must_use]
    pub fn new(
        notification_id: NotificationId,
        delivery_id: DeliveryId,
        tenant_id: TenantId,
        now: DateTime<Utc>,
        expires_at: i64,
    ) -> Self {
        Self {
            notification_id,
            delivery_id,
            tenant_id,
            conversation_id: None,
            conversation_type: ConversationType::Personal,
            service_url: None,
            member_id: None,
            recipient: None,
            status: DeliveryStatus::Pending,
            attempts: 0,
            lease_until: None,
            activity_id: None,
            error: None,
            install_deadline: None,
            updated_at: now,
            expires_at,
        }
    }

    /// A delivery with `status` to the stored conversation `reference`.
    #[must_use]
    pub fn to_conversation(
        notification_id: NotificationId,
        reference: &ConversationReference,
        status: DeliveryStatus,
        now: DateTime<Utc>,
        expires_at: i64,
    ) -> Self {
        let delivery_id =
            DeliveryId::for_conversation(&reference.tenant_id, &reference.conversation_id);
        Self {
            conversation_id: Some(reference.conversation_id.clone()),
            conversation_type: reference.conversation_type,
            service_url: Some(reference.service_url.clone()),
            status,
            ..Self::new(
                notification_id,
                delivery_id,
                reference.tenant_id.clone(),
                now,
                expires_at,
            )
        }
    }

    /// Records an outcome on the delivery (a sender's, or an installation's that ended).
    pub(crate) fn apply_outcome(&mut self, outcome: &Outcome) {
        self.status = outcome.status;
        self.activity_id.clone_from(&outcome.activity_id);
        self.error.clone_from(&outcome.error);
        if outcome.conversation_id.is_some() {
            self.conversation_id.clone_from(&outcome.conversation_id);
        }
    }
}

/// What a sender found when it tried to claim a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Claimed: send it, then record the outcome.
    Claimed(Box<DeliveryRecord>),
    /// Already has its outcome (a replayed stream record): nothing to do.
    Done,
    /// Another sender holds a live lease; try again after it.
    Held { until: DateTime<Utc> },
    /// No such delivery.
    Missing,
}

/// The outcome a sender records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: DeliveryStatus,
    pub activity_id: Option<String>,
    pub error: Option<String>,
    /// The conversation the sender created for a member.
    pub conversation_id: Option<ConversationId>,
}

/// Deliveries one [`OutboxStore::append_page`] writes at most. On DynamoDB a page is one
/// transaction, which holds at most 100 items
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html>):
/// the header update and 99 deliveries.
pub const MAX_PAGE: usize = 99;

/// Refuses a page of more than [`MAX_PAGE`] deliveries.
pub(crate) fn check_page_size(deliveries: &[DeliveryRecord]) -> Result<(), StoreError> {
    if deliveries.len() > MAX_PAGE {
        return Err(StoreError::InvalidData(format!(
            "a page holds at most {MAX_PAGE} deliveries, got {}",
            deliveries.len()
        )));
    }
    Ok(())
}

/// Notifications and deliveries.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Stores a new notification. If one with the same id exists (same idempotency key), it is
    /// returned instead and nothing is written.
    async fn create_notification(
        &self,
        record: &NotificationRecord,
    ) -> Result<Option<NotificationRecord>, StoreError>;

    async fn get_notification(
        &self,
        id: &NotificationId,
    ) -> Result<Option<NotificationRecord>, StoreError>;

    /// Writes one page of deliveries (each only if absent, so a replayed page changes nothing)
    /// and moves the expansion cursor from `from` to `to`, all or nothing as far as the cursor is
    /// concerned: if the stored cursor is no longer `from`, another expander got there first and
    /// `false` is returned. Returns whether the cursor moved. A page holds at most [`MAX_PAGE`]
    /// deliveries.
    async fn append_page(
        &self,
        id: &NotificationId,
        from: Option<&str>,
        to: Option<&str>,
        deliveries: &[DeliveryRecord],
    ) -> Result<bool, StoreError>;

    /// Claims a pending delivery (or one whose lease ran out) until `lease_until`.
    async fn claim_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;

    /// Records the outcome of a claimed delivery. Returns `false` if it was not claimed (someone
    /// else recorded it first); counts move only when it was.
    async fn record_outcome(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    async fn get_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
    ) -> Result<Option<DeliveryRecord>, StoreError>;

    /// A notification's deliveries, optionally of one status, paged.
    async fn list_deliveries(
        &self,
        notification: &NotificationId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<DeliveryRecord>, StoreError>;

    /// Replaces or clears the stored activity id of a sent delivery (after an update, or when
    /// Teams says the activity is gone).
    async fn set_activity_id(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        activity_id: Option<&str>,
    ) -> Result<(), StoreError>;
}
