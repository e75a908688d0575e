//! The outbox file's tables and the keys and index entries every writer keeps in step: the
//! outbox, its installation waits and its stranded-work sweep all write through these.

use chrono::{DateTime, Utc};
use herald_domain::{DeliveryId, NotificationId};
use redb::TableDefinition;
use serde::{Deserialize, Serialize};

use super::db::{SEP, unavailable, write_json};
use crate::keys::time_key;
use crate::{DeliveryRecord, StoreError};

pub(super) const NOTIFICATIONS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("notifications");
/// `{created ms, 15 digits}#{notification}` -> nothing: the notifications by creation, as the
/// DynamoDB outbox's `byCreated` index lists them.
pub(super) const NOTIFICATIONS_BY_CREATED: TableDefinition<&str, &[u8]> =
    TableDefinition::new("notificationsByCreated");

/// A notification's key in [`NOTIFICATIONS_BY_CREATED`].
pub(super) fn created_key(record: &crate::NotificationRecord) -> String {
    time_key(record.created_at, record.id.as_str())
}

/// `notification SEP delivery` -> delivery JSON.
pub(super) const DELIVERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("deliveries");
/// `tenant SEP recipient SEP notification#delivery` -> installation wait JSON.
pub(super) const INSTALL_WAITS: TableDefinition<&str, &[u8]> = TableDefinition::new("installWaits");
/// The wait's due key (`{deadline ms, 15 digits}#{notification}#{delivery}`) -> installation
/// wait JSON, so the timeout sweep reads the earliest deadlines first.
pub(super) const INSTALL_DUE: TableDefinition<&str, &[u8]> = TableDefinition::new("installDue");

/// `tenant SEP conversation SEP activity order key` -> sent copy JSON (see
/// [`crate::keys::activity_order_key`]).
pub(super) const SENT_COPIES: TableDefinition<&str, &[u8]> = TableDefinition::new("sentCopies");
/// `notification` -> interaction settings JSON.
pub(super) const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");
/// `notification SEP action id` -> recorded card action JSON.
pub(super) const ACTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("cardActions");
/// `notification` -> pending edit request JSON.
pub(super) const EDITS: TableDefinition<&str, &[u8]> = TableDefinition::new("edits");
/// A follow-up's due key (`{due ms, 15 digits}#{notification}`) -> its JSON.
pub(super) const FOLLOW_UPS_DUE: TableDefinition<&str, &[u8]> =
    TableDefinition::new("followUpsDue");

/// `tenant SEP conversation SEP`: the keys of one conversation's copies start with it.
pub(super) fn copies_prefix(
    tenant: &herald_domain::TenantId,
    conversation: &herald_domain::ConversationId,
) -> String {
    format!("{tenant}{SEP}{conversation}{SEP}")
}

/// A sent copy's key.
pub(super) fn copy_key(copy: &crate::SentCopy) -> String {
    format!(
        "{}{}",
        copies_prefix(&copy.tenant_id, &copy.conversation_id),
        crate::keys::activity_order_key(&copy.activity_id)
    )
}

/// `notification SEP delivery`: a delivery's key.
pub(super) fn delivery_key(notification: &NotificationId, delivery: &DeliveryId) -> String {
    format!("{notification}{SEP}{delivery}")
}

/// `{due ms}#{notification}SEP{delivery}` (empty delivery for a header) -> the entry.
pub(super) const STRANDED: TableDefinition<&str, &[u8]> = TableDefinition::new("stranded");

#[derive(Serialize, Deserialize)]
pub(super) struct Entry {
    pub(super) notification: NotificationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) delivery: Option<DeliveryId>,
    /// The notification's edit request rather than its header.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) edit: bool,
}

/// What an index entry wakes.
#[derive(Clone, Copy)]
pub(super) enum Due<'a> {
    Header,
    Delivery(&'a DeliveryId),
    Edit,
}

fn entry_key(at: DateTime<Utc>, notification: &NotificationId, item: Due<'_>) -> String {
    let rest = match item {
        Due::Header => String::new(),
        Due::Delivery(delivery) => delivery.as_str().to_owned(),
        Due::Edit => crate::schema::EDIT_SK.to_owned(),
    };
    time_key(at, &format!("{notification}{SEP}{rest}"))
}

/// Moves an item's index entry from `before` to `after` (either may be none).
pub(super) fn move_due(
    txn: &redb::WriteTransaction,
    notification: &NotificationId,
    delivery: Option<&DeliveryId>,
    before: Option<DateTime<Utc>>,
    after: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let item = delivery.map_or(Due::Header, Due::Delivery);
    move_entry(txn, notification, item, before, after)
}

/// [`move_due`] for any item the sweep wakes.
pub(super) fn move_entry(
    txn: &redb::WriteTransaction,
    notification: &NotificationId,
    item: Due<'_>,
    before: Option<DateTime<Utc>>,
    after: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    if before == after {
        return Ok(());
    }
    let mut table = txn.open_table(STRANDED).map_err(unavailable)?;
    if let Some(before) = before {
        table
            .remove(entry_key(before, notification, item).as_str())
            .map_err(unavailable)?;
    }
    if let Some(after) = after {
        let entry = Entry {
            notification: notification.clone(),
            delivery: match item {
                Due::Delivery(delivery) => Some(delivery.clone()),
                Due::Header | Due::Edit => None,
            },
            edit: matches!(item, Due::Edit),
        };
        write_json(&mut table, &entry_key(after, notification, item), &entry)?;
    }
    Ok(())
}

/// Writes a delivery, keeping its index entry in step with what was stored before.
pub(super) fn put_delivery(
    txn: &redb::WriteTransaction,
    before: Option<DateTime<Utc>>,
    record: &DeliveryRecord,
) -> Result<(), StoreError> {
    write_json(
        &mut txn.open_table(DELIVERIES).map_err(unavailable)?,
        &delivery_key(&record.notification_id, &record.delivery_id),
        record,
    )?;
    move_due(
        txn,
        &record.notification_id,
        Some(&record.delivery_id),
        before,
        record.due_at,
    )
}
