//! Schedules: recurring notifications fired at a wall-clock time, in one zone or in each
//! recipient's own. The scheduler finds what is due through a sparse index keyed by the next fire
//! instant, so a tick reads what is due, not what is stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{ConversationKey, ScheduleId, Target};
use herald_schedule::{ScheduleRule, ScheduleZone};
use serde::{Deserialize, Serialize};

use crate::keys::time_key;
use crate::{Page, PageRequest, StoreError};

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRecord {
    pub id: ScheduleId,
    pub rule: ScheduleRule,
    /// An IANA zone, or `recipient` for each recipient's own zone.
    pub time_zone: String,
    pub target: Target,
    /// The message as the producer gave it (returned by the API).
    pub message: serde_json::Value,
    /// The activity rendered from it, sent at every fire.
    pub activity: serde_json::Value,
    #[serde(default)]
    pub paused: bool,
    /// The next instant this schedule fires; `None` once it never will again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_fire: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fire: Option<DateTime<Utc>>,
    #[serde(default)]
    pub fired: u64,
    /// Fires skipped because they were more than the allowed lateness late.
    #[serde(default)]
    pub missed: u64,
    /// The conversation that created it in chat (`remind me ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<ConversationKey>,
    /// What the reminder says, for listings in chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every write; writes are conditional on it.
    #[serde(default)]
    pub version: u64,
}

impl ScheduleRecord {
    /// A new, active schedule as first stored (version 1), not fired yet. Its first fire is
    /// the caller's to compute ([`ScheduleRecord::with_next_fire`]); chat reminders add their
    /// conversation with [`ScheduleRecord::owned_by`].
    #[must_use]
    pub fn new(
        id: ScheduleId,
        rule: ScheduleRule,
        zone: ScheduleZone,
        target: Target,
        message: serde_json::Value,
        activity: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            rule,
            time_zone: zone.to_string(),
            target,
            message,
            activity,
            paused: false,
            next_fire: None,
            last_fire: None,
            fired: 0,
            missed: 0,
            owner: None,
            label: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The schedule, to fire next at `next_fire` (`None`: never).
    #[must_use]
    pub fn with_next_fire(mut self, next_fire: Option<DateTime<Utc>>) -> Self {
        self.next_fire = next_fire;
        self
    }

    /// The schedule as a reminder of the conversation `owner`, listed there as `label`.
    #[must_use]
    pub fn owned_by(mut self, owner: ConversationKey, label: impl Into<String>) -> Self {
        self.owner = Some(owner);
        self.label = Some(label.into());
        self
    }

    /// The due-index key (the next fire, then the id): only an active schedule that will fire
    /// again is due at all.
    pub(crate) fn due_key(&self) -> Option<String> {
        match (self.paused, self.next_fire) {
            (false, Some(at)) => Some(time_key(at, self.id.as_str())),
            _ => None,
        }
    }
}

/// Schedules.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    async fn create_schedule(&self, record: &ScheduleRecord) -> Result<(), StoreError>;

    async fn get_schedule(&self, id: &ScheduleId) -> Result<Option<ScheduleRecord>, StoreError>;

    /// Replaces a schedule if its stored version is still `record.version - 1`; returns whether
    /// it did (another writer got there first otherwise).
    async fn update_schedule(&self, record: &ScheduleRecord) -> Result<bool, StoreError>;

    async fn delete_schedule(&self, id: &ScheduleId) -> Result<bool, StoreError>;

    /// All schedules, paged.
    async fn list_schedules(&self, page: &PageRequest) -> Result<Page<ScheduleRecord>, StoreError>;

    /// The schedules a conversation created in chat.
    async fn schedules_of(
        &self,
        owner: &ConversationKey,
    ) -> Result<Vec<ScheduleRecord>, StoreError>;

    /// Active schedules whose next fire is at or before `now`, earliest first, at most `limit`.
    async fn due_schedules(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let page = PageRequest {
            cursor: None,
            limit: Some(limit),
        };
        Ok(self.due_page(now, &page).await?.items)
    }

    /// Active schedules whose next fire is at or before `now`, earliest first, a page at a
    /// time: `page.cursor` (the previous page's `next_cursor`) continues after that page's last
    /// schedule, so a scheduler reads everything due once even while it moves the schedules it
    /// fired out of the due index.
    async fn due_page(
        &self,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<ScheduleRecord>, StoreError>;
}
