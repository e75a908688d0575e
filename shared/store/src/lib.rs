//! Where Herald keeps every conversation it may message: the conversation-reference store.
//!
//! Capability-sized traits ([`ReferenceReader`], [`ReferenceWriter`], [`ReferenceLister`]) let each
//! function ask for exactly what it needs (which also documents its IAM permissions). Two
//! implementations stand behind them and pass one contract suite: [`DynamoReferenceStore`] for AWS
//! and [`EmbeddedReferenceStore`] (a file under a data directory) for the local runner.

mod config;
mod cursor;
mod dynamo;
mod dynamo_outbox;
mod dynamo_schedules;
mod embedded;
mod embedded_outbox;
mod embedded_schedules;
mod error;
mod model;
pub mod outbox;
mod redb_util;
pub mod schedules;
pub mod schema;

pub use config::{ConfigError, StoreConfig};
pub use cursor::Cursor;
pub use dynamo::DynamoReferenceStore;
pub use dynamo_outbox::{DynamoOutboxStore, MAX_PAGE};
pub use dynamo_schedules::DynamoScheduleStore;
pub use embedded::EmbeddedReferenceStore;
pub use embedded_outbox::{EmbeddedOutboxStore, OUTBOX_FILE_NAME, OutboxChange};
pub use embedded_schedules::{EmbeddedScheduleStore, SCHEDULES_FILE_NAME};
pub use error::StoreError;
pub use model::{
    ListFilter, Page, PageRequest, SkipReason, SkippedItem, StatusOutcome, StatusUpdate,
    UpsertOutcome,
};
pub use outbox::{
    Claim, DeliveryRecord, InstallResolution, InstallWait, InstallWaits, NotificationId,
    NotificationRecord, NotificationStatus, OutboxStore, Outcome,
};
pub use schedules::{ScheduleId, ScheduleRecord, ScheduleStore};

use async_trait::async_trait;
use herald_domain::{
    AadObjectId, ConversationId, ConversationKey, ConversationReference, TeamId, TenantId, TimeZone,
};

/// Point reads.
#[async_trait]
pub trait ReferenceReader: Send + Sync {
    /// The reference stored under `key`, if it belongs to this store's bot.
    async fn get(&self, key: &ConversationKey)
    -> Result<Option<ConversationReference>, StoreError>;

    /// A reference by conversation id alone (the `conversations` target names no tenant).
    async fn find_by_conversation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<ConversationReference>, StoreError>;

    /// The personal conversation of a user, found through the user index (no scan).
    async fn find_personal(
        &self,
        tenant: &TenantId,
        user: &AadObjectId,
    ) -> Result<Option<ConversationReference>, StoreError>;
}

/// Writes driven by inbound activities and by delivery outcomes.
#[async_trait]
pub trait ReferenceWriter: Send + Sync {
    /// Creates or refreshes a reference from an activity. Attributes the reference carries replace
    /// the stored ones; absent optional attributes (`None`) keep what is stored. A reference whose
    /// `updated_at` is older than the stored one is not applied ([`UpsertOutcome::Stale`]), so a
    /// late redelivery cannot roll back serviceUrl, names or time zone. Status and `installed_at`
    /// are taken only when the reference is created; change status with
    /// [`ReferenceWriter::set_status`].
    async fn upsert(&self, reference: &ConversationReference) -> Result<UpsertOutcome, StoreError>;

    /// Marks a reference active, uninstalled, blocked, opted out or archived. An update older than
    /// the stored status change is not applied.
    async fn set_status(
        &self,
        key: &ConversationKey,
        update: &StatusUpdate,
    ) -> Result<StatusOutcome, StoreError>;

    /// Sets (or with `None` clears) the time zone the user chose explicitly, which activities'
    /// client zones do not override.
    async fn set_time_zone_override(
        &self,
        key: &ConversationKey,
        zone: Option<TimeZone>,
    ) -> Result<(), StoreError>;

    /// Removes a reference for good (for example after 404 ConversationNotFound). Returns whether
    /// one was there.
    async fn delete(&self, key: &ConversationKey) -> Result<bool, StoreError>;
}

/// Listings, each served by a key or an index except the unfiltered "list everything".
#[async_trait]
pub trait ReferenceLister: Send + Sync {
    /// One page of references matching `filter`. Pages may be shorter than requested (filters are
    /// applied after the indexed read); follow `next_cursor` until it is `None`.
    async fn list(
        &self,
        filter: &ListFilter,
        page: &PageRequest,
    ) -> Result<Page<ConversationReference>, StoreError>;

    /// Every channel reference of a team.
    async fn team_channels(&self, team: &TeamId) -> Result<Vec<ConversationReference>, StoreError> {
        let filter = ListFilter {
            team: Some(team.clone()),
            ..ListFilter::default()
        };
        let mut channels = Vec::new();
        let mut request = PageRequest::default();
        loop {
            let page = self.list(&filter, &request).await?;
            channels.extend(page.items);
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => return Ok(channels),
            }
        }
    }

    /// A team's channel by display name, compared case-insensitively ("General" finds the
    /// unnamed General channel).
    async fn find_channel(
        &self,
        team: &TeamId,
        name: &str,
    ) -> Result<Option<ConversationReference>, StoreError> {
        let wanted = name.trim().to_lowercase();
        Ok(self.team_channels(team).await?.into_iter().find(|r| {
            r.channel
                .as_ref()
                .and_then(|c| c.display_name(team))
                .is_some_and(|n| n.to_lowercase() == wanted)
        }))
    }
}

/// Everything a reference store offers; functions should ask for the narrower traits.
pub trait ReferenceStore: ReferenceReader + ReferenceWriter + ReferenceLister {}

impl<T: ReferenceReader + ReferenceWriter + ReferenceLister> ReferenceStore for T {}
