//! Index keys both backends derive from records, spelled once so that a DynamoDB index and its
//! embedded mirror always hold the same entries.

use chrono::{DateTime, Utc};
use herald_domain::{
    AadObjectId, ConversationKey, ConversationReference, ConversationType, TeamId, TenantId,
};

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
