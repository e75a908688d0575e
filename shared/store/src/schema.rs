//! DynamoDB table layouts, defined once. Tests and the local runner create tables from these
//! ([`TableSchema::create`]), and a test checks that `template.yaml` declares the same keys and
//! indexes.

/// A global secondary index; every attribute is projected so listings need no second read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSchema {
    pub name: &'static str,
    pub hash_key: &'static str,
    pub range_key: &'static str,
}

impl IndexSchema {
    /// An index by `hash_key` whose items keep the table's own sort order (`sk`): the
    /// references table's indexes.
    const fn sorted_as_table(name: &'static str, hash_key: &'static str) -> Self {
        Self {
            name,
            hash_key,
            range_key: attr::SK,
        }
    }
}

/// A table's keys, indexes, stream and TTL attribute. Every key attribute is a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSchema {
    /// The logical name the SAM template gives the table.
    pub logical_name: &'static str,
    pub hash_key: &'static str,
    pub range_key: &'static str,
    pub indexes: &'static [IndexSchema],
    /// Stream view type, for tables whose changes trigger a function.
    pub stream: Option<&'static str>,
    pub ttl_attribute: Option<&'static str>,
}

/// Attribute names of the references table that are not fields of `ConversationReference`.
pub mod attr {
    /// Tenant id: the partition key, so a tenant's references are one query.
    pub const PK: &str = "pk";
    /// Conversation id.
    pub const SK: &str = "sk";
    /// `conversationType`, a field of the reference, keys the type index.
    pub const CONVERSATION_TYPE: &str = "conversationType";
    /// Team id, on channel references only (sparse index).
    pub const TEAM_KEY: &str = "teamKey";
    /// `{tenant}|{aadObjectId}`, on personal references only (sparse index).
    pub const USER_KEY: &str = "userKey";
    /// The effective time zone (`timeZoneOverride`, else `timeZone`, else `none`): recipients
    /// of a recipient-local schedule are read zone by zone.
    pub const ZONE_KEY: &str = "zoneKey";
    /// The zone key before the last zone change (a field of the reference's `ZoneMove`): a
    /// zone's fire also reads those who left it that day.
    pub const PREVIOUS_ZONE_KEY: &str = "previousZoneKey";
    /// When the zone key last changed (RFC 3339, a field of the reference's `ZoneMove`).
    pub const ZONE_MOVED_AT: &str = "zoneMovedAt";
    /// Epoch milliseconds of `updatedAt`, for the stale-activity condition.
    pub const UPDATED_MS: &str = "updatedAtMs";
    /// Epoch milliseconds of `statusChangedAt`, for the stale-status condition.
    pub const STATUS_MS: &str = "statusAtMs";
    pub const BOT_APP_ID: &str = "botAppId";
}

pub const BY_TYPE: IndexSchema = IndexSchema::sorted_as_table("byType", attr::CONVERSATION_TYPE);
pub const BY_TEAM: IndexSchema = IndexSchema::sorted_as_table("byTeam", attr::TEAM_KEY);
pub const BY_USER: IndexSchema = IndexSchema::sorted_as_table("byUser", attr::USER_KEY);

/// The outbox table: a notification's header item (`sk` = [`NOTIFICATION_SK`]) under the
/// notification id, its deliveries (`sk` = `d#<delivery id>`) under `{notification id}#{bucket}`
/// ([`crate::keys::DELIVERY_BUCKETS`]). Its stream
/// (new images, <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html>)
/// drives expansion (header items) and the sender (delivery items); `expiresAt` (epoch seconds)
/// lets DynamoDB delete finished notifications
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html>).
///
/// `byDue` (sparse) holds the outbox's non-final items by when the stranded-work sweep should
/// look at them (`dueShard` = `stranded#{0..15}`, `dueKey` = `{due ms}#{notification}#...`).
/// `byCreated` (sparse) holds the header items only, newest first when read backwards
/// (`listShard` = [`NOTIFICATION_LIST_SHARD`], `listKey` = `{created ms}#{notification}`): a new
/// notification is a rare write, well within one index partition's throughput.
pub const OUTBOX: TableSchema = TableSchema {
    logical_name: "OutboxTable",
    hash_key: attr::PK,
    range_key: attr::SK,
    indexes: &[BY_DUE, BY_CREATED],
    stream: Some("NEW_IMAGE"),
    ttl_attribute: Some("expiresAt"),
};

/// Schedules, one item each (`sk` = [`SCHEDULE_SK`]). `byDue` is sparse: only active schedules
/// with a next fire carry `dueShard`, so a tick reads exactly what is due.
pub const SCHEDULES: TableSchema = TableSchema {
    logical_name: "SchedulesTable",
    hash_key: attr::PK,
    range_key: attr::SK,
    indexes: &[BY_DUE, BY_OWNER],
    stream: None,
    ttl_attribute: None,
};

pub const BY_DUE: IndexSchema = IndexSchema {
    name: "byDue",
    hash_key: "dueShard",
    range_key: "dueKey",
};
pub const BY_CREATED: IndexSchema = IndexSchema {
    name: "byCreated",
    hash_key: "listShard",
    range_key: "listKey",
};
pub const BY_OWNER: IndexSchema = IndexSchema {
    name: "byOwner",
    hash_key: "ownerKey",
    range_key: attr::PK,
};

/// Sort key of a schedule item.
pub const SCHEDULE_SK: &str = "#schedule";
/// The one `dueShard` value of schedules (a single partition serves thousands of due reads per
/// second).
pub const DUE_SHARD: &str = "due";
/// The prefix of the outbox's `dueShard` values, `stranded#{shard}`.
pub const STRANDED_SHARD_PREFIX: &str = "stranded#";

/// The one `listShard` value: every notification header, in one partition of `byCreated`.
pub const NOTIFICATION_LIST_SHARD: &str = "notifications";

/// Sort key of a notification's header item.
pub const NOTIFICATION_SK: &str = "#notification";
/// Sort-key prefix of delivery items.
pub const DELIVERY_SK_PREFIX: &str = "d#";
/// Partition-key prefix of the installation waits found by recipient: `install#{tenant}#{aad}`,
/// sort key `{notificationId}#{deliveryId}`, the wait's fields as attributes. The outbox stream
/// feeds the sender, which ignores items whose partition key is not a notification id (`n-...`),
/// so this prefix must never start with `n-`.
pub const INSTALL_WAIT_PK_PREFIX: &str = "install#";
/// Partition key of the due markers of installation waits, one item per wait, sort key
/// `{deadline as 15-digit epoch ms}#{notificationId}#{deliveryId}`: the timeout sweep queries
/// `sk < bound` here instead of scanning. Like [`INSTALL_WAIT_PK_PREFIX`], not `n-...`.
pub const INSTALL_DUE_PK: &str = "install-due";
/// Partition-key prefix of sent copies, `copy#{tenant}|{conversation}`, sort key the activity id
/// in Teams' order (numbers by value): a card action finds its copy by key, and a read receipt
/// reads the unread copies up to its message. Not `n-...`, like the waits.
pub const COPY_PK_PREFIX: &str = "copy#";
/// Partition-key prefix of a notification's interaction items, `interact#{notificationId}`: its
/// settings (sort key [`SETTINGS_SK`]) and one item per card action recorded (`a#{actionId}`),
/// so the webhook reads them without reading deliveries.
pub const INTERACT_PK_PREFIX: &str = "interact#";
/// Sort key of a notification's interaction settings.
pub const SETTINGS_SK: &str = "#settings";
/// Sort-key prefix of recorded card actions.
pub const ACTION_SK_PREFIX: &str = "a#";
/// Sort key of a notification's edit request, beside its header: its stream record starts the
/// sender's edit job.
pub const EDIT_SK: &str = "#edit";
/// Partition key of the follow-ups' due markers, sort key `{due as 15-digit epoch ms}#{id}`:
/// the scheduler's tick queries `sk < bound` here.
pub const FOLLOW_UP_DUE_PK: &str = "follow-up-due";

/// Pacing shared by every instance that sends to Teams
/// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>): per tenant, the
/// theoretical arrival time of its next send slot (`pk` = [`PACE_TENANT_PREFIX`] + tenant id);
/// per conversation, its recent sends (`pk` = [`PACE_THREAD_PREFIX`] + tenant, rate class and
/// conversation); `sk` = [`PACE_SK`]. Its own table: written once per block of sends and once
/// per send, it would otherwise feed the outbox stream with records the sender ignores.
/// `expiresAt` removes items that no longer constrain anything.
pub const PACING: TableSchema = TableSchema {
    logical_name: "PacingTable",
    hash_key: attr::PK,
    range_key: attr::SK,
    indexes: &[],
    stream: None,
    ttl_attribute: Some("expiresAt"),
};

/// Partition-key prefix of a tenant's pacing item.
pub const PACE_TENANT_PREFIX: &str = "tenant#";
/// Partition-key prefix of a conversation's windows.
pub const PACE_THREAD_PREFIX: &str = "thread#";
/// Sort key of every pacing item.
pub const PACE_SK: &str = "#pace";

pub const BY_ZONE: IndexSchema = IndexSchema::sorted_as_table("byZone", attr::ZONE_KEY);

/// Sparse: only references whose zone changed carry `previousZoneKey`.
pub const BY_PREVIOUS_ZONE: IndexSchema =
    IndexSchema::sorted_as_table("byPreviousZone", attr::PREVIOUS_ZONE_KEY);

/// The conversation-reference table.
pub const REFERENCES: TableSchema = TableSchema {
    logical_name: "ReferencesTable",
    hash_key: attr::PK,
    range_key: attr::SK,
    indexes: &[BY_TYPE, BY_TEAM, BY_USER, BY_ZONE, BY_PREVIOUS_ZONE],
    stream: None,
    ttl_attribute: None,
};

impl TableSchema {
    /// Every attribute that is a key of the table or of an index, once.
    #[must_use]
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut names = vec![self.hash_key, self.range_key];
        for index in self.indexes {
            for name in [index.hash_key, index.range_key] {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}
