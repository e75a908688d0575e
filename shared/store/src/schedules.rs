//! Schedules: recurring notifications fired at a wall-clock time, in one zone or in each
//! recipient's own. The scheduler finds what is due through a sparse index keyed by the next fire
//! instant, so a tick reads what is due, not what is stored.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{ConversationKey, DomainError, Target};
use herald_schedule::ScheduleRule;
use serde::{Deserialize, Deserializer, Serialize};

use crate::{Page, PageRequest, StoreError};

/// A schedule's id (`s-<uuid>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ScheduleId(String);

impl ScheduleId {
    #[must_use]
    pub fn random() -> Self {
        Self(format!("s-{}", uuid::Uuid::new_v4().simple()))
    }

    /// Parses an id from a URL path or a chat command (`cancel reminder s-...`).
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let value = value.trim();
        let ok = value.len() > 2
            && value.len() <= 64
            && value.starts_with("s-")
            && value[2..].chars().all(|c| c.is_ascii_alphanumeric());
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::EmptyId {
                kind: "schedule id",
            })
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ScheduleId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

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
    ) -> Result<Vec<ScheduleRecord>, StoreError>;
}

/// The due-index sort key: zero-padded epoch milliseconds, then the id.
pub(crate) fn due_key(record: &ScheduleRecord) -> Option<String> {
    match (record.paused, record.next_fire) {
        (false, Some(at)) => Some(format!(
            "{:015}#{}",
            at.timestamp_millis().max(0),
            record.id
        )),
        _ => None,
    }
}

pub(crate) fn owner_key(owner: &ConversationKey) -> String {
    format!("{}|{}", owner.tenant_id, owner.conversation_id)
}
