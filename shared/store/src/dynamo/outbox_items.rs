//! The outbox table's items, as both the outbox and its installation waits write them: a
//! notification's header (`sk` = [`NOTIFICATION_SK`]) and its deliveries (`sk` =
//! `d#<delivery id>`) under the notification id.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use herald_domain::{DeliveryId, DeliveryStatus};

use super::error::invalid;
use super::item::{Item, key, n, s, to_item};
use crate::schema::{DELIVERY_SK_PREFIX, NOTIFICATION_SK, attr};
use crate::{DeliveryRecord, NotificationId, NotificationRecord, Outcome, StoreError};

/// The key of a notification's header item.
pub(super) fn header_key(id: &NotificationId) -> Item {
    key(id.as_str(), NOTIFICATION_SK)
}

/// The key of a delivery item.
pub(super) fn delivery_key(notification: &NotificationId, delivery: &DeliveryId) -> Item {
    key(
        notification.as_str(),
        &format!("{DELIVERY_SK_PREFIX}{delivery}"),
    )
}

pub(super) fn header_item(record: &NotificationRecord) -> Result<Item, StoreError> {
    let mut item = to_item(record)?;
    item.extend(header_key(&record.id));
    Ok(item)
}

/// A delivery's item; `leaseMs` mirrors the lease as a number, for the claim condition.
pub(super) fn delivery_item(record: &DeliveryRecord) -> Result<Item, StoreError> {
    let mut item = to_item(record)?;
    item.extend(delivery_key(&record.notification_id, &record.delivery_id));
    if let Some(lease) = record.lease_until {
        item.insert("leaseMs".into(), n(lease.timestamp_millis()));
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
    changes
}

/// `SET counts.#c0 = counts.#c0 + :c0, ...` for the given count changes. A status the header
/// has no count for yet (one added after the notification was created) starts from zero.
pub(super) fn count_updates(
    deltas: &BTreeMap<DeliveryStatus, i64>,
    names: &mut HashMap<String, String>,
    values: &mut HashMap<String, AttributeValue>,
) -> Vec<String> {
    names.insert("#counts".into(), "counts".into());
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
    let mut names = HashMap::from([("#pk".to_owned(), attr::PK.to_owned())]);
    let mut values = HashMap::new();
    let sets = count_updates(deltas, &mut names, &mut values);
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
