//! The outbox table's items, as both the outbox and its installation waits write them: a
//! notification's header (`sk` = [`NOTIFICATION_SK`]) under the notification id and its
//! deliveries (`sk` = `d#<delivery id>`) in the notification's buckets.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use herald_domain::{DeliveryId, DeliveryStatus};

use super::error::invalid;
use super::item::{Item, key, n, s, to_item, to_value};
use crate::keys::{delivery_partition, time_key};
use crate::schema::{
    BY_CREATED, DELIVERY_SK_PREFIX, EDIT_SK, NOTIFICATION_LIST_SHARD, NOTIFICATION_SK,
    STRANDED_SHARD_PREFIX, attr,
};
use crate::stranded::shard_of;
use crate::{DeliveryRecord, NotificationId, NotificationRecord, Outcome, StoreError};

/// The key of a notification's header item.
pub(super) fn header_key(id: &NotificationId) -> Item {
    key(id.as_str(), NOTIFICATION_SK)
}

/// The key of a notification's edit request.
pub(super) fn edit_key(id: &NotificationId) -> Item {
    key(id.as_str(), EDIT_SK)
}

/// The key of a delivery item: in one of its notification's buckets
/// ([`crate::keys::DELIVERY_BUCKETS`]).
pub(super) fn delivery_key(notification: &NotificationId, delivery: &DeliveryId) -> Item {
    key(
        &delivery_partition(notification.as_str(), delivery.as_str()),
        &format!("{DELIVERY_SK_PREFIX}{delivery}"),
    )
}

pub(super) fn header_item(record: &NotificationRecord) -> Result<Item, StoreError> {
    let mut item = to_item(record)?;
    item.extend(header_key(&record.id));
    item.extend(list_attributes(record));
    if let Some(at) = record.due_at {
        item.extend(due_attributes(&record.id, None, at));
    }
    Ok(item)
}

/// `listShard` and `listKey`: where the sparse `byCreated` index lists the header by creation.
pub(super) fn list_attributes(record: &NotificationRecord) -> [(String, AttributeValue); 2] {
    [
        (BY_CREATED.hash_key.to_owned(), s(NOTIFICATION_LIST_SHARD)),
        (
            BY_CREATED.range_key.to_owned(),
            s(&time_key(record.created_at, record.id.as_str())),
        ),
    ]
}

/// `dueShard` and `dueKey`: where the sparse `byDue` index holds a non-final item until
/// `at`, for the stranded-work sweep.
pub(super) fn due_attributes(
    notification: &NotificationId,
    delivery: Option<&DeliveryId>,
    at: DateTime<Utc>,
) -> [(String, AttributeValue); 3] {
    due_attributes_of(notification, delivery.map_or("", DeliveryId::as_str), at)
}

/// [`due_attributes`] of a notification's item other than its header, named by `rest`.
fn due_attributes_of(
    notification: &NotificationId,
    rest: &str,
    at: DateTime<Utc>,
) -> [(String, AttributeValue); 3] {
    let ids = format!("{notification}#{rest}");
    [
        (
            "dueShard".to_owned(),
            s(&format!("{STRANDED_SHARD_PREFIX}{}", shard_of(&ids))),
        ),
        ("dueKey".to_owned(), s(&time_key(at, &ids))),
        // The record's own `dueAt` field, as serde writes it.
        (
            "dueAt".to_owned(),
            to_value(at).unwrap_or_else(|_| s(&at.to_rfc3339())),
        ),
    ]
}

/// `SET dueShard = :dueShard, dueKey = :dueKey` values for an item due at `at`.
pub(super) fn due_values(
    notification: &NotificationId,
    delivery: Option<&DeliveryId>,
    at: DateTime<Utc>,
) -> impl Iterator<Item = (String, AttributeValue)> {
    due_attributes(notification, delivery, at)
        .into_iter()
        .map(|(name, value)| (format!(":{name}"), value))
}

/// [`due_values`] of a notification's edit request.
pub(super) fn edit_due_values(
    notification: &NotificationId,
    at: DateTime<Utc>,
) -> impl Iterator<Item = (String, AttributeValue)> {
    due_attributes_of(notification, EDIT_SK, at)
        .into_iter()
        .map(|(name, value)| (format!(":{name}"), value))
}

/// The `SET` clause [`due_values`] fills.
pub(super) const SET_DUE: &str = "dueShard = :dueShard, dueKey = :dueKey, dueAt = :dueAt";
/// What a final item no longer carries.
pub(super) const REMOVE_DUE: &str = "dueShard, dueKey, dueAt";

/// A delivery's item; `leaseMs` mirrors the lease as a number, for the claim condition.
pub(super) fn delivery_item(record: &DeliveryRecord) -> Result<Item, StoreError> {
    let mut item = to_item(record)?;
    item.extend(delivery_key(&record.notification_id, &record.delivery_id));
    if let Some(lease) = record.lease_until {
        item.insert("leaseMs".into(), n(lease.timestamp_millis()));
    }
    if let Some(at) = record.due_at {
        item.extend(due_attributes(
            &record.notification_id,
            Some(&record.delivery_id),
            at,
        ));
    }
    Ok(item)
}

/// How an outcome changes a delivery item besides its status: `SET` clauses, `REMOVE`d
/// attributes and the values they name (`#error` stands for `error`).
pub(super) struct OutcomeChanges {
    pub(super) sets: Vec<&'static str>,
    pub(super) removes: Vec<&'static str>,
    pub(super) values: Vec<(&'static str, AttributeValue)>,
}

pub(super) fn outcome_changes(outcome: &Outcome) -> OutcomeChanges {
    let mut changes = OutcomeChanges {
        sets: Vec::new(),
        removes: Vec::new(),
        values: Vec::new(),
    };
    match &outcome.activity_id {
        Some(id) => {
            changes.sets.push("activityId = :activity");
            changes.values.push((":activity", s(id)));
        }
        None => changes.removes.push("activityId"),
    }
    match &outcome.error {
        Some(error) => {
            changes.sets.push("#error = :error");
            changes.values.push((":error", s(error)));
        }
        None => changes.removes.push("#error"),
    }
    if let Some(conversation) = &outcome.conversation_id {
        changes.sets.push("conversationId = :conversation");
        changes
            .values
            .push((":conversation", s(conversation.as_str())));
    }
    if let Some(service_url) = &outcome.service_url {
        changes.sets.push("serviceUrl = :serviceUrl");
        changes
            .values
            .push((":serviceUrl", s(service_url.as_str())));
    }
    if let Some(copy) = &outcome.copy {
        changes
            .sets
            .extend(["sentAt = :sentAt", "contentVersion = :contentVersion"]);
        changes.values.extend([
            (":sentAt", s(&copy.sent_at.to_rfc3339())),
            (":contentVersion", n(i64::from(copy.content_version))),
        ]);
    }
    changes
}

/// `SET counts.#c0 = counts.#c0 + :c0, ...` for the given count changes. A status the header
/// has no count for yet (one added after the notification was created) starts from zero. No
/// changes (an expansion page with nobody on it) name nothing: DynamoDB refuses names an
/// expression does not use.
pub(super) fn count_updates(
    deltas: &BTreeMap<DeliveryStatus, i64>,
    names: &mut HashMap<String, String>,
    values: &mut HashMap<String, AttributeValue>,
) -> Vec<String> {
    let sets: Vec<String> = deltas
        .iter()
        .filter(|(_, d)| **d != 0)
        .enumerate()
        .map(|(i, (status, delta))| {
            names.insert(format!("#c{i}"), status.as_str().to_owned());
            values.insert(format!(":c{i}"), n(*delta));
            format!("#counts.#c{i} = if_not_exists(#counts.#c{i}, :zeroCount) + :c{i}")
        })
        .collect();
    if !sets.is_empty() {
        names.insert("#counts".into(), "counts".into());
        values.insert(":zeroCount".into(), n(0));
    }
    sets
}

/// The header's count changes as a transaction item.
pub(super) fn counts_item(
    table: &str,
    id: &NotificationId,
    deltas: &BTreeMap<DeliveryStatus, i64>,
) -> Result<TransactWriteItem, StoreError> {
    header_counts_item(table, id, deltas, false)
}

/// The header's count changes, and one more possible duplicate if `duplicate`, as a transaction
/// item.
pub(super) fn header_counts_item(
    table: &str,
    id: &NotificationId,
    deltas: &BTreeMap<DeliveryStatus, i64>,
    duplicate: bool,
) -> Result<TransactWriteItem, StoreError> {
    let mut names = HashMap::from([("#pk".to_owned(), attr::PK.to_owned())]);
    let mut values = HashMap::new();
    let mut sets = count_updates(deltas, &mut names, &mut values);
    if duplicate {
        sets.push(
            "possibleDuplicates = if_not_exists(possibleDuplicates, :zeroDup) + :oneDup".into(),
        );
        values.insert(":zeroDup".into(), n(0));
        values.insert(":oneDup".into(), n(1));
    }
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(header_key(id)))
        .update_expression(format!("SET {}", sets.join(", ")))
        .condition_expression("attribute_exists(#pk)")
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(invalid)?;
    Ok(TransactWriteItem::builder().update(update).build())
}
