//! The conversation-reference store's capabilities, sized so that each function asks for exactly
//! what it needs (which also documents its IAM permissions).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationKey, ConversationReference, ReferenceStatus,
    TeamId, TenantId, TimeZone, ZoneMove,
};

use crate::{ListFilter, Page, PageRequest, SkipReason, SkippedItem, StoreError};

/// What [`ReferenceWriter::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    Created,
    Updated,
    /// The stored reference came from a newer activity; nothing was written.
    Stale,
}

/// A status change and why it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub status: ReferenceStatus,
    /// When the cause happened (activity timestamp or send time); older updates lose.
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// What [`ReferenceWriter::set_status`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    /// Applied; carries the status it replaced.
    Applied { previous: ReferenceStatus },
    /// A newer status change is stored; nothing was written.
    Stale,
}

/// Fields of a stored reference that an upsert writes only when it creates the reference: the
/// installation's first sighting, and its status, which [`ReferenceWriter::set_status`] owns.
pub(crate) const CREATE_ONLY_FIELDS: [&str; 4] =
    ["installedAt", "status", "statusReason", "statusChangedAt"];

/// Fields of a stored reference that only the store writes, when a write changes the zone key
/// ([`ZoneMove`]): a caller's values are never taken.
pub(crate) const ZONE_MOVE_FIELDS: [&str; 2] = ["previousZoneKey", "zoneMovedAt"];

/// The zone move a write made `at` records when it changes the zone key from `before` to
/// `after`; `None` when the zone stays.
pub(crate) fn zone_move(before: &str, after: &str, at: DateTime<Utc>) -> Option<ZoneMove> {
    (before != after).then(|| ZoneMove {
        previous_zone_key: before.to_owned(),
        zone_moved_at: at,
    })
}

/// A stored reference (under `key`) as a store of `bot` sees it: references minted for another
/// bot app id are skipped, since sending through them fails with "Failed to decrypt conversation
/// id".
pub(crate) fn usable(
    reference: ConversationReference,
    bot: &BotAppId,
    key: String,
) -> Result<ConversationReference, SkippedItem> {
    if reference.bot_app_id == *bot {
        Ok(reference)
    } else {
        Err(SkippedItem {
            key,
            reason: SkipReason::ForeignBot(reference.bot_app_id.into_inner()),
        })
    }
}

/// What a point read returns for a stored item: another bot's reference is none of this store's,
/// and one that cannot be read is an error.
pub(crate) fn point_read(
    decoded: Result<ConversationReference, SkippedItem>,
) -> Result<Option<ConversationReference>, StoreError> {
    match decoded {
        Ok(reference) => Ok(Some(reference)),
        Err(SkippedItem {
            reason: SkipReason::ForeignBot(_),
            ..
        }) => Ok(None),
        Err(SkippedItem {
            key,
            reason: SkipReason::Corrupt(why),
        }) => Err(StoreError::InvalidData(format!("{key}: {why}"))),
    }
}

impl Page<ConversationReference> {
    /// Adds a stored item to a listing's page: a reference if it matches `filter` (listings
    /// filter after the indexed read), a report if it had to be skipped.
    pub(crate) fn add(
        &mut self,
        decoded: Result<ConversationReference, SkippedItem>,
        filter: &ListFilter,
    ) {
        match decoded {
            Ok(reference) if filter.matches(&reference) => self.items.push(reference),
            Ok(_) => {}
            Err(skipped) => {
                tracing::warn!(key = %skipped.key, reason = ?skipped.reason, "skipping stored reference");
                self.skipped.push(skipped);
            }
        }
    }
}

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

    /// The personal conversation of a user, found through the user index (no scan). Records
    /// of the same person not folded yet read as one: the connector's id, with an opt-out or
    /// block of the person winning.
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
    ///
    /// A personal reference with an Entra object id leaves one record for the person: their
    /// other records of this bot (a chat Graph named `19:...@unq.gbl.spaces`) are folded into the
    /// one with the connector's `a:` id, whose opt-out or block of any of them wins; the outcome
    /// is then [`UpsertOutcome::Updated`].
    ///
    /// A write that changes the zone key records a [`ZoneMove`] at the reference's `updated_at`;
    /// one that keeps it keeps the stored move.
    async fn upsert(&self, reference: &ConversationReference) -> Result<UpsertOutcome, StoreError>;

    /// Marks a reference active, uninstalled, blocked, opted out or archived. An update older than
    /// the stored status change is not applied.
    async fn set_status(
        &self,
        key: &ConversationKey,
        update: &StatusUpdate,
    ) -> Result<StatusOutcome, StoreError>;

    /// Sets (or with `None` clears) the time zone the user chose explicitly, which activities'
    /// client zones do not override. `at` is when the user asked: a change of the zone key is
    /// recorded as a [`ZoneMove`] at that time.
    async fn set_time_zone_override(
        &self,
        key: &ConversationKey,
        zone: Option<TimeZone>,
        at: DateTime<Utc>,
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

    /// Every channel reference of a team in one tenant. A team id is scoped to its tenant like
    /// every other id Herald keys by: another tenant's activity naming the same team id must not
    /// reach this tenant's channels.
    async fn team_channels(
        &self,
        tenant: &TenantId,
        team: &TeamId,
    ) -> Result<Vec<ConversationReference>, StoreError> {
        let filter = ListFilter {
            tenant: Some(tenant.clone()),
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

    /// A team's channel in one tenant by display name, compared case-insensitively ("General"
    /// finds the unnamed General channel).
    async fn find_channel(
        &self,
        tenant: &TenantId,
        team: &TeamId,
        name: &str,
    ) -> Result<Option<ConversationReference>, StoreError> {
        let wanted = name.trim().to_lowercase();
        Ok(self
            .team_channels(tenant, team)
            .await?
            .into_iter()
            .find(|r| {
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
