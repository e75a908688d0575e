//! Index keys both backends derive from records, spelled once so that a DynamoDB index and its
//! embedded mirror always hold the same entries.

use chrono::{DateTime, Utc};
use herald_domain::{
    AadObjectId, ConversationKey, ConversationReference, ConversationType, TeamId, TenantId,
};

/// FNV-1a of `key`: small, and stable across builds and platforms (std's hasher promises
/// neither), for keys derived from it and stored.
pub(crate) fn stable_hash(key: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Partition keys a notification's deliveries are spread over. Lambda keeps the stream records
/// of one partition key on one of a shard's `ParallelizationFactor` lanes, a batch at a time
/// (<https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>): under one key, a
/// notification's deliveries would reach one sender instance at a time, and every batch would
/// hold one tenant's sends. Spread over buckets, each lane's batches mix notifications and
/// tenants, and a large broadcast is not one hot partition key.
pub(crate) const DELIVERY_BUCKETS: u32 = 16;

/// `{notification}#{bucket}`: the partition key of a delivery (DynamoDB).
pub(crate) fn delivery_partition(notification: &str, delivery: &str) -> String {
    bucket_partition(notification, stable_hash(delivery) % DELIVERY_BUCKETS)
}

/// The partition key of bucket `bucket` of a notification's deliveries.
pub(crate) fn bucket_partition(notification: &str, bucket: u32) -> String {
    format!("{notification}#{bucket:02}")
}

/// The notification a partition key of the outbox table belongs to (its header's key, or a
/// bucket of its deliveries), and the bucket if any.
pub(crate) fn notification_of_partition(pk: &str) -> (&str, Option<u32>) {
    match pk.split_once('#') {
        Some((notification, bucket)) => (notification, bucket.parse().ok()),
        None => (pk, None),
    }
}

/// `{epoch ms, 15 digits}#{rest}`: keys that sort by time (a schedule's next fire, an
/// installation wait's deadline), then by `rest`.
pub(crate) fn time_key(at: DateTime<Utc>, rest: &str) -> String {
    format!("{:015}#{rest}", at.timestamp_millis().max(0))
}

/// Every [`time_key`] at or before `now` sorts below this bound (`$` follows `#`). Keys later
/// within the same millisecond sort below it too: callers that care compare the instant itself.
pub(crate) fn due_bound(now: DateTime<Utc>) -> String {
    format!("{:015}$", now.timestamp_millis().max(0))
}

/// Where a sent copy sorts among its conversation's copies: Teams' message ids in chats are
/// numbers (milliseconds), compared by value (`n` and 32 digits, so length cannot reorder them);
/// any other id sorts after them, as text (`t` and the id).
pub(crate) fn activity_order_key(activity_id: &str) -> String {
    let digits = !activity_id.is_empty() && activity_id.bytes().all(|b| b.is_ascii_digit());
    let trimmed = activity_id.trim_start_matches('0');
    if digits && trimmed.len() <= 32 {
        format!("n{trimmed:0>32}")
    } else {
        format!("t{activity_id}")
    }
}

/// The lowest key of the family `last_read` belongs to: numbers are compared with numbers,
/// text with text.
pub(crate) fn activity_order_floor(last_read_key: &str) -> &'static str {
    if last_read_key.starts_with('n') {
        "n"
    } else {
        "t"
    }
}

/// The team a reference is indexed under: channel references only.
pub(crate) fn index_team(reference: &ConversationReference) -> Option<&TeamId> {
    match reference.conversation_type {
        ConversationType::Channel => reference.team.as_ref().map(|t| &t.id),
        _ => None,
    }
}

/// The user a reference is indexed under: personal references with a known AAD object id.
pub(crate) fn index_user(reference: &ConversationReference) -> Option<&AadObjectId> {
    match reference.conversation_type {
        ConversationType::Personal => reference
            .user
            .as_ref()
            .and_then(|u| u.aad_object_id.as_ref()),
        _ => None,
    }
}

/// `{tenant}|{aadObjectId}`: object ids are unique only within their tenant.
pub(crate) fn user_key(tenant: &TenantId, user: &AadObjectId) -> String {
    format!("{tenant}|{user}")
}

/// `{tenant}|{conversation}`: the conversation a chat-created schedule belongs to.
pub(crate) fn owner_key(owner: &ConversationKey) -> String {
    format!("{}|{}", owner.tenant_id, owner.conversation_id)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn time_keys_sort_by_instant_and_stay_below_the_due_bound() {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        let key = time_key(at, "s-1");
        assert_eq!(key, format!("{:015}#s-1", at.timestamp_millis()));
        assert!(key < due_bound(at));
        assert!(time_key(at + chrono::Duration::milliseconds(1), "s-0") > due_bound(at));
        assert!(time_key(at, "z") < time_key(at + chrono::Duration::seconds(1), "a"));
        // Instants before the epoch share the first key rather than sorting wrongly.
        let before = Utc.with_ymd_and_hms(1969, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(time_key(before, "x"), "000000000000000#x");
    }

    #[test]
    fn deliveries_spread_over_every_bucket_and_name_their_notification() {
        let buckets: std::collections::BTreeSet<String> = (0..400)
            .map(|i| delivery_partition("n-1", &format!("t|29:{i}")))
            .collect();
        assert_eq!(buckets.len(), DELIVERY_BUCKETS as usize);
        // Stored keys never move: the hash is fixed.
        assert_eq!(delivery_partition("n-1", "t|29:0"), "n-1#06");
        assert_eq!(notification_of_partition("n-1#05"), ("n-1", Some(5)));
        assert_eq!(notification_of_partition("n-1"), ("n-1", None));
        assert_eq!(bucket_partition("n-1", 12), "n-1#12");
    }

    #[test]
    fn activity_ids_sort_as_teams_orders_them() {
        let mut ids = [
            "1767765488332",
            "999",
            "0042",
            "1:abc",
            "1767765488331",
            "z",
        ];
        ids.sort_by_key(|id| activity_order_key(id));
        assert_eq!(
            ids,
            [
                "0042",
                "999",
                "1767765488331",
                "1767765488332",
                "1:abc",
                "z"
            ]
        );
        assert_eq!(activity_order_key("42"), activity_order_key("042"));
        assert_eq!(activity_order_floor(&activity_order_key("7")), "n");
        assert_eq!(activity_order_floor(&activity_order_key("1:x")), "t");
        // A number too long to compare by value is text.
        assert!(activity_order_key(&"9".repeat(40)).starts_with('t'));
    }
}
