//! Work nothing will trigger again: a delivery whose sender died holding its lease, a delivery
//! released with a backoff, a new delivery or a notification whose stream trigger was lost (Lambda
//! gives a failing batch up after `MaximumRetryAttempts`,
//! <https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>). Every non-final outbox item
//! carries `due_at`, indexed (DynamoDB's sparse `byDue` index over a few shards; a table of its own
//! embedded), so the scheduler's minute tick reads what is due instead of scanning. Waking an item
//! rewrites it, which triggers the sender again through the stream (or the change feed).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{OutboxChange, StoreError};

/// Shards of the stranded-work index: the index's write rate follows the send rate, so one
/// partition key would cap it (about 1,000 writes per second per key).
pub const STRANDED_SHARDS: u32 = 16;

/// The stranded work of the outbox.
#[async_trait]
pub trait StrandedWork: Send + Sync {
    /// Up to `limit` items whose `due_at` is at or before `now`, earliest first per shard.
    async fn stranded(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxChange>, StoreError>;

    /// Items whose `due_at` falls after `after` and at or before `until`, latest first, at most
    /// `limit`: each shard's latest `limit / STRANDED_SHARDS` (at least one), so with many more
    /// due than that, a sample of the latest rather than exactly the latest. With `after` past
    /// every live lease and `until` at `now + STRANDED_AFTER`: deliveries written lately that
    /// no sender holds, which a sender with room to spare takes on while the stream's batches
    /// that carry them wait their turn.
    async fn latest_due(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxChange>, StoreError>;

    /// Wakes one item if it is still stranded: a notification not fully expanded, a pending
    /// delivery whose backoff ended, or a `sending` delivery whose lease ran out (that attempt's
    /// outcome is lost: it becomes pending again and counts a lost attempt). Its `due_at` moves
    /// on by [`crate::outbox::STRANDED_AFTER`]. Returns whether it was woken.
    async fn wake(&self, item: &OutboxChange, now: DateTime<Utc>) -> Result<bool, StoreError>;
}

/// The shard of an item, from its ids (stable, so an item stays in one shard).
pub(crate) fn shard_of(key: &str) -> u32 {
    crate::keys::stable_hash(key) % STRANDED_SHARDS
}
