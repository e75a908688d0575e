//! Recording a reference's zone change (`previousZoneKey`, `zoneMovedAt`) on DynamoDB. An update
//! expression cannot compare the zone key it computes with the stored one, so the write that
//! changes the zone returns the old item, and a second, conditional write records the move.

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use herald_domain::{ConversationReference, ConversationType, NO_ZONE};

use super::error::written;
use super::item::{Item, ItemExt, s};
use crate::StoreError;
use crate::references::zone_move;
use crate::schema::attr;

/// The zone key an upsert of `reference` leaves on the item that was `old`, as its update
/// expression computes it: a stored override wins; a channel or group chat has no client zone;
/// a personal reference without one keeps the stored key.
pub(super) fn zone_after_upsert<'a>(
    old: &'a Item,
    reference: &'a ConversationReference,
) -> &'a str {
    let chosen = old.get_s("timeZoneOverride");
    match (reference.conversation_type, reference.time_zone) {
        (ConversationType::Personal, Some(zone)) => chosen.unwrap_or(zone.name()),
        (ConversationType::Personal, None) => old.get_s(attr::ZONE_KEY).unwrap_or(NO_ZONE),
        _ => chosen.unwrap_or(NO_ZONE),
    }
}

/// The zone key clearing the override leaves on the item that was `old`: the client's zone.
pub(super) fn zone_after_clear(old: &Item) -> &str {
    old.get_s("timeZone").unwrap_or(NO_ZONE)
}

/// The old item a write returned (`ALL_OLD`), if there was one.
pub(super) fn returned(attributes: Option<&Item>) -> Option<&Item> {
    attributes.filter(|a| !a.is_empty())
}

/// Records the move of the item at `key` in `table` from the zone key `old` had to `now_zone` at
/// `at`, if it moved. Written only while the item still has `now_zone`: a later write that moved
/// it again records its own move.
pub(super) async fn record_move(
    client: &Client,
    table: &str,
    key: Item,
    old: Option<&Item>,
    now_zone: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(before) = old.and_then(|o| o.get_s(attr::ZONE_KEY)) else {
        return Ok(());
    };
    let Some(moved) = zone_move(before, now_zone, at) else {
        return Ok(());
    };
    let result = client
        .update_item()
        .table_name(table)
        .set_key(Some(key))
        .update_expression("SET #p = :p, #m = :m")
        .condition_expression("#zk = :zk")
        .expression_attribute_names("#p", attr::PREVIOUS_ZONE_KEY)
        .expression_attribute_names("#m", attr::ZONE_MOVED_AT)
        .expression_attribute_names("#zk", attr::ZONE_KEY)
        .expression_attribute_values(":p", s(&moved.previous_zone_key))
        .expression_attribute_values(":m", s(&moved.zone_moved_at.to_rfc3339()))
        .expression_attribute_values(":zk", s(now_zone))
        .send()
        .await;
    written(result).map(drop)
}
