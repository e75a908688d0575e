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
use herald_domain::cards::CardAnswer;
use herald_domain::{
    AadObjectId, ConversationId, ConversationReference, ConversationType, DeliveryId,
    DeliveryStatus, NotificationId, ServiceUrl, Target, TenantId, TimeZone, UserId,
};
use serde::{Deserialize, Serialize};

use crate::{FollowUp, Page, PageRequest, SentCopy, StoreError};

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
    /// SHA-256 (hex) of the request body in canonical form, to tell a reused idempotency key
    /// from a retry (`None` for notifications no body made, such as a schedule's fires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_hash: Option<String>,
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
    /// For a schedule's fire in `zone_filter`: when it fired, so that expansion also reads who
    /// left the zone and sends a zone mover one of the day's two fires. Older records have none
    /// and read the zone alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_fire: Option<ZoneFire>,
    /// Deliveries sent again after an attempt whose outcome was lost (a sender killed after
    /// Teams answered, a send cut off by its deadline): each may have reached its recipient twice.
    #[serde(default)]
    pub possible_duplicates: i64,
    /// While not fully expanded: when the stranded-work sweep looks at it again if expansion
    /// stalls (see [`crate::StrandedWork`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// Where card actions are POSTed (HTTPS on the configured allowlist, or loopback HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// What a person who pressed a button sees when no callback answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<CardAnswer>,
    /// A message for those who have not read this one after a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
    /// Personal copies read so far (read receipts).
    #[serde(default)]
    pub read: i64,
    /// Card actions per verb. Never stored empty: an empty map would be the only one in the item,
    /// and the first action creates it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, i64>,
    /// One more with every revision ([`OutboxStore::revise_content`]). The sender reads it
    /// before each send, and each copy records the version it shows: the edit job brings the
    /// older ones in line.
    #[serde(default)]
    pub content_version: u32,
    /// Retracted: no further copy goes out (each ends [`DeliveryStatus::Retracted`]).
    #[serde(default)]
    pub retracted: bool,
}

/// A recipient-local schedule's fire in one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneFire {
    /// The fire's instant.
    pub at: DateTime<Utc>,
    /// The zone recipients without one (`none`) fire in (`HERALD_DEFAULT_TIME_ZONE`).
    pub default_zone: TimeZone,
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
            body_hash: None,
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
            zone_fire: None,
            possible_duplicates: 0,
            due_at: Some(now + STRANDED_AFTER),
            callback: None,
            acknowledgement: None,
            follow_up: None,
            read: 0,
            actions: BTreeMap::new(),
            content_version: 0,
            retracted: false,
        }
    }

    /// Whether `other`, found under this one's id (the same idempotency key in the same scope),
    /// came from the same request: a retry, not a key reused for something else. A record
    /// without a body hash (written before hashes were kept) cannot tell, and counts as the same.
    #[must_use]
    pub fn same_request(&self, other: &NotificationRecord) -> bool {
        match (&self.body_hash, &other.body_hash) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
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
    /// A released delivery is not claimed again before this (backoff between attempts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// Attempts whose outcome was lost: a lease that ran out while `sending`, or a send cut off
    /// by its deadline. A later send may duplicate what such an attempt delivered.
    #[serde(default)]
    pub lost_attempts: u32,
    /// While not final: when the stranded-work sweep wakes it if nothing else has (a lease that
    /// ran out, a backoff that ended, a trigger that was lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// The recipient's display name when expansion knew it (a person, or a team's channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// When a read receipt covered the copy (personal chats only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
    /// Card actions taken on this copy, per verb (never stored empty, like the notification's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, i64>,
    /// The notification's content version this copy shows.
    #[serde(default)]
    pub content_version: u32,
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
            not_before: None,
            lost_attempts: 0,
            due_at: None,
            name: None,
            sent_at: None,
            read_at: None,
            actions: BTreeMap::new(),
            content_version: 0,
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
        if outcome.service_url.is_some() {
            self.service_url.clone_from(&outcome.service_url);
        }
        if let Some(copy) = &outcome.copy {
            self.sent_at = Some(copy.sent_at);
            self.content_version = copy.content_version;
        }
        self.lease_until = None;
        self.not_before = None;
        self.due_at = None;
    }

    /// Gives a claimed delivery back (see [`Release`]).
    pub(crate) fn apply_release(&mut self, release: &Release) {
        self.status = DeliveryStatus::Pending;
        self.lease_until = None;
        self.not_before = Some(release.not_before);
        self.due_at = Some(release.not_before);
        self.error = Some(release.error.clone());
        if !release.attempt_counted {
            self.attempts = self.attempts.saturating_sub(1);
        }
        if release.outcome_unknown {
            self.lost_attempts += 1;
        }
    }

    /// Whether it was sent after an attempt whose outcome was lost.
    #[must_use]
    pub fn possibly_duplicated(&self) -> bool {
        self.status == DeliveryStatus::Sent && self.lost_attempts > 0
    }
}

/// How long pending work may sit untouched before the stranded-work sweep wakes it: a new
/// delivery whose stream trigger was lost (retries exhausted), a notification whose expansion
/// stalled. Long enough that work queued behind a large broadcast is not woken needlessly.
pub const STRANDED_AFTER: Duration = Duration::minutes(10);

/// A new pending delivery is due for the sweep if its trigger is lost.
pub(crate) fn with_due(record: &DeliveryRecord) -> DeliveryRecord {
    let mut record = record.clone();
    if !record.status.is_final() && record.due_at.is_none() {
        record.due_at = Some(record.updated_at + STRANDED_AFTER);
    }
    record
}

/// While expansion goes on, the header is due for the sweep a while after its latest page.
pub(crate) fn expansion_due(
    header: &NotificationRecord,
    page: &[DeliveryRecord],
) -> Option<DateTime<Utc>> {
    if header.expanded {
        return None;
    }
    let latest = page.iter().map(|d| d.updated_at).max();
    latest.map(|at| at + STRANDED_AFTER).or(header.due_at)
}

pub(crate) fn not_final(outcome: &Outcome) -> StoreError {
    StoreError::InvalidData(format!(
        "a delivery's outcome must be final, not {} (release it instead)",
        outcome.status
    ))
}

/// Count changes summed per status: a delivery that moves from one status to the same one
/// changes nothing (a map keyed by status would keep only the last change).
#[must_use]
pub(crate) fn count_deltas(changes: &[(DeliveryStatus, i64)]) -> BTreeMap<DeliveryStatus, i64> {
    let mut deltas = BTreeMap::new();
    for (status, delta) in changes {
        *deltas.entry(*status).or_insert(0) += delta;
    }
    deltas.retain(|_, delta| *delta != 0);
    deltas
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
    /// Released with a backoff that has not ended yet; the sweep wakes it then.
    NotYet { until: DateTime<Utc> },
    /// No such delivery.
    Missing,
}

/// A claimed delivery given back to be tried again after `not_before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub not_before: DateTime<Utc>,
    /// Why (the last error), shown in the delivery report.
    pub error: String,
    /// Whether this try counts against the delivery's attempts (a deadline that ran out before
    /// anything was sent does not).
    pub attempt_counted: bool,
    /// The try may have reached Teams (a send cut off by its deadline): the next send may be a
    /// duplicate, and is counted as a possible one.
    pub outcome_unknown: bool,
}

/// The final outcome a sender records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: DeliveryStatus,
    pub activity_id: Option<String>,
    pub error: Option<String>,
    /// The conversation the sender created for a member, or found for a person.
    pub conversation_id: Option<ConversationId>,
    /// The serviceUrl it was sent through, when the delivery did not know it before (a person's
    /// chat found at send time): editing the copy later needs it.
    pub service_url: Option<ServiceUrl>,
    /// For a sent delivery: the copy, indexed with the outcome for card actions and read
    /// receipts (boxed: most outcomes have none).
    pub copy: Option<Box<SentCopy>>,
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

/// A change to what a notification sends ([`OutboxStore::revise_content`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Revision {
    /// This activity, for every copy not sent yet.
    Update(serde_json::Value),
    /// No further copy.
    Retract,
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

    /// Claims a pending delivery whose backoff has ended (or one whose lease ran out, which
    /// counts as a lost attempt) until `lease_until`. The sweep wakes a claim that is never
    /// settled once `lease_until` has passed.
    async fn claim_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;

    /// Records the final outcome of the claim that holds the delivery until `claimed_until`,
    /// moving the notification's counts in the same write. Returns `false`, changing nothing, if
    /// that claim no longer holds it (its lease ran out and another sender took over).
    async fn record_outcome(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives the delivery back, pending again after the release's backoff, if the claim that
    /// holds it until `claimed_until` still does. Counts do not move (a claimed delivery counts
    /// as pending).
    async fn release_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        release: &Release,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    async fn get_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
    ) -> Result<Option<DeliveryRecord>, StoreError>;

    /// Notifications, newest first, paged: what the API's and the console's list shows.
    async fn list_notifications(
        &self,
        page: &PageRequest,
    ) -> Result<Page<NotificationRecord>, StoreError>;

    /// A notification's deliveries, optionally of one status, paged.
    async fn list_deliveries(
        &self,
        notification: &NotificationId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<DeliveryRecord>, StoreError>;

    /// Revises what the notification sends, while copies may still be going out: the new
    /// activity (or the retraction) and a content version one higher, in one write with a
    /// request for the edit job (see [`crate::EditJobs`]) that brings the sent copies in line
    /// (copies not sent yet go out with the new content, or not at all). With `hold`, the job
    /// waits until then or until [`crate::EditJobs::rearm_edit`]: the caller edits the sent copies
    /// itself first, and no copy is edited twice. Returns the new version; `None` if there is no
    /// such notification.
    async fn revise_content(
        &self,
        id: &NotificationId,
        revision: &Revision,
        now: DateTime<Utc>,
        hold: Option<DateTime<Utc>>,
    ) -> Result<Option<u32>, StoreError>;

    /// Replaces or clears the stored activity id of a sent delivery (after an update, or when
    /// Teams says the activity is gone).
    async fn set_activity_id(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        activity_id: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Records that a sent copy now shows content `version` (with the activity id Teams answered
    /// the update with, which it normally keeps).
    async fn mark_edited(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        activity_id: &str,
        version: u32,
    ) -> Result<(), StoreError>;
}
