//! Listing requests and pages, shared by every store.

use herald_domain::{ConversationType, ReferenceStatus, TeamId, TenantId};

use crate::Cursor;

/// Which references to list. The most selective key present picks the index (team, then tenant,
/// then conversation type); the remaining fields filter the indexed read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub tenant: Option<TenantId>,
    pub conversation_type: Option<ConversationType>,
    pub team: Option<TeamId>,
    pub status: Option<ReferenceStatus>,
    /// [`ConversationReference::zone_key`](herald_domain::ConversationReference::zone_key):
    /// an IANA name or `none`.
    pub zone: Option<String>,
    /// The zone key a reference had before its last zone change
    /// ([`ZoneMove::previous_zone_key`](herald_domain::ZoneMove)), read through its own index.
    pub previous_zone: Option<String>,
}

impl ListFilter {
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    pub(crate) fn matches(&self, reference: &herald_domain::ConversationReference) -> bool {
        self.tenant
            .as_ref()
            .is_none_or(|t| *t == reference.tenant_id)
            && self
                .conversation_type
                .is_none_or(|t| t == reference.conversation_type)
            && self
                .team
                .as_ref()
                .is_none_or(|t| reference.team.as_ref().is_some_and(|rt| rt.id == *t))
            && self.status.is_none_or(|s| s == reference.status)
            && self
                .zone
                .as_deref()
                .is_none_or(|z| z == reference.zone_key())
            && self.previous_zone.as_deref().is_none_or(|z| {
                reference
                    .zone_move
                    .as_ref()
                    .is_some_and(|m| m.previous_zone_key == z)
            })
    }
}

/// Where a listing starts and how much it may read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub cursor: Option<Cursor>,
    /// Items to read at most; `None` reads up to the store's natural page (1 MB on DynamoDB).
    pub limit: Option<u32>,
}

/// A stored item a listing could not return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem {
    /// The item's key as stored.
    pub key: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The item cannot be decoded into a reference.
    Corrupt(String),
    /// The reference was minted for another bot app id; sending through it fails with
    /// "Failed to decrypt conversation id".
    ForeignBot(String),
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
    pub skipped: Vec<SkippedItem>,
}
