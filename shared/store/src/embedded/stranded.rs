//! The embedded outbox's stranded-work index: a table keyed by `due_at`, kept in the same write
//! transactions as the items it points at.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{DeliveryId, DeliveryStatus, NotificationId};

use super::db::{blocking, read_json, unavailable, write_json};
use super::outbox::EmbeddedOutboxStore;
use super::tables::{
    DELIVERIES, Entry, NOTIFICATIONS, STRANDED, delivery_key, move_due, put_delivery,
};
use crate::keys::due_bound;
use crate::{
    DeliveryRecord, NotificationRecord, OutboxChange, STRANDED_AFTER, StoreError, StrandedWork,
};

impl EmbeddedOutboxStore {
    fn wake_notification(
        txn: &redb::WriteTransaction,
        id: &NotificationId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut table = txn.open_table(NOTIFICATIONS).map_err(unavailable)?;
        let Some(mut record) = read_json::<NotificationRecord>(&table, id.as_str())? else {
            return Ok(false);
        };
        let before = record.due_at;
        record.due_at = (!record.expanded).then(|| now + STRANDED_AFTER);
        write_json(&mut table, id.as_str(), &record)?;
        drop(table);
        move_due(txn, id, None, before, record.due_at)?;
        Ok(!record.expanded)
    }

    fn wake_delivery(
        txn: &redb::WriteTransaction,
        notification: &NotificationId,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = delivery_key(notification, delivery);
        let table = txn.open_table(DELIVERIES).map_err(unavailable)?;
        let Some(mut record) = read_json::<DeliveryRecord>(&table, &key)? else {
            drop(table);
            return Ok(false);
        };
        drop(table);
        let before = record.due_at;
        let woken = match (record.status, record.lease_until, record.not_before) {
            (DeliveryStatus::Pending, _, not_before) => not_before.is_none_or(|at| at <= now),
            (DeliveryStatus::Sending, lease, _) => lease.is_none_or(|until| until < now),
            _ => false,
        };
        if woken {
            if record.status == DeliveryStatus::Sending {
                // The sender died, or lost its store, after claiming: whatever it sent is lost.
                record.status = DeliveryStatus::Pending;
                record.lease_until = None;
                record.lost_attempts += 1;
            }
            record.due_at = Some(now + STRANDED_AFTER);
            record.updated_at = now;
        } else if record.status.is_final() || record.status == DeliveryStatus::Installing {
            record.due_at = None;
        }
        put_delivery(txn, before, &record)?;
        Ok(woken)
    }
}

/// The changes up to `limit` index entries point at, in their order.
fn changes<'a>(
    entries: impl Iterator<
        Item = Result<
            (
                redb::AccessGuard<'a, &'static str>,
                redb::AccessGuard<'a, &'static [u8]>,
            ),
            redb::StorageError,
        >,
    >,
    limit: usize,
) -> Result<Vec<OutboxChange>, StoreError> {
    let mut due = Vec::new();
    for entry in entries {
        if due.len() >= limit {
            break;
        }
        let (_, value) = entry.map_err(unavailable)?;
        // An unreadable entry points at nothing to wake.
        if let Ok(entry) = serde_json::from_slice::<Entry>(value.value()) {
            due.push(match (entry.delivery, entry.edit) {
                (Some(delivery), _) => OutboxChange::Delivery(entry.notification, delivery),
                (None, true) => OutboxChange::Edit(entry.notification),
                (None, false) => OutboxChange::Notification(entry.notification),
            });
        }
    }
    Ok(due)
}

#[async_trait]
impl StrandedWork for EmbeddedOutboxStore {
    async fn stranded(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxChange>, StoreError> {
        let bound = due_bound(now);
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(STRANDED).map_err(unavailable)?;
            let entries = table.range::<&str>(..bound.as_str()).map_err(unavailable)?;
            changes(entries, limit)
        })
        .await
    }

    async fn latest_due(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxChange>, StoreError> {
        let (from, bound) = (due_bound(after), due_bound(until));
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(STRANDED).map_err(unavailable)?;
            let entries = table
                .range::<&str>(from.as_str()..bound.as_str())
                .map_err(unavailable)?;
            changes(entries.rev(), limit)
        })
        .await
    }

    async fn wake(&self, item: &OutboxChange, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let item = item.clone();
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let woken = match &item {
                OutboxChange::Notification(id) => Self::wake_notification(&txn, id, now)?,
                OutboxChange::Delivery(id, delivery) => {
                    Self::wake_delivery(&txn, id, delivery, now)?
                }
                OutboxChange::Edit(id) => Self::wake_edit(&txn, id, now)?,
            };
            txn.commit().map_err(unavailable)?;
            if woken {
                this.publish(vec![item]);
            }
            Ok(woken)
        })
        .await
    }
}
