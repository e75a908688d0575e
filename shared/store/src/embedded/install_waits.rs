//! Installation waits in the outbox file: by recipient for the webhook, by deadline for the
//! timeout sweep, written in the same transactions as the deliveries they belong to.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AadObjectId, DeliveryId, DeliveryStatus, TenantId};
use redb::ReadableTable;

use super::db::{SEP, blocking, display_key, prefix_end, read_json, unavailable, write_json};
use super::outbox::{EmbeddedOutboxStore, add_counts};
use super::tables::{DELIVERIES, INSTALL_DUE, INSTALL_WAITS, delivery_key, put_delivery};
use crate::keys::due_bound;
use crate::{
    DeliveryRecord, InstallResolution, InstallWait, InstallWaits, NotificationId, OutboxChange,
    StoreError,
};

/// `tenant SEP recipient SEP`: the keys of one recipient's waits start with it.
fn recipient_prefix(tenant: &TenantId, recipient: &AadObjectId) -> String {
    format!("{tenant}{SEP}{recipient}{SEP}")
}

/// A wait's key among its recipient's waits.
fn wait_key(wait: &InstallWait) -> String {
    format!(
        "{}{}",
        recipient_prefix(&wait.tenant_id, &wait.recipient),
        wait.delivery_key()
    )
}

/// A stored wait, or a typed error naming the entry that cannot be read.
fn decode_wait(key: &str, bytes: &[u8]) -> Result<InstallWait, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        StoreError::InvalidData(format!("installation wait {}: {e}", display_key(key)))
    })
}

impl EmbeddedOutboxStore {
    /// Removes a wait's two entries. The by-recipient entry is shared by every wait of the
    /// delivery, so it goes only if it is still this wait's (same deadline); the due entry names
    /// the deadline and is this wait's alone.
    fn remove_wait(txn: &redb::WriteTransaction, wait: &InstallWait) -> Result<(), StoreError> {
        let key = wait_key(wait);
        let mut waits = txn.open_table(INSTALL_WAITS).map_err(unavailable)?;
        // An unreadable entry under this key is no live wait's either: it goes too.
        let stored = waits
            .get(key.as_str())
            .map_err(unavailable)?
            .map(|v| serde_json::from_slice::<InstallWait>(v.value()).ok());
        if let Some(stored) = stored
            && stored.is_none_or(|s| s.deadline == wait.deadline)
        {
            waits.remove(key.as_str()).map_err(unavailable)?;
        }
        txn.open_table(INSTALL_DUE)
            .map_err(unavailable)?
            .remove(wait.due_key().as_str())
            .map_err(unavailable)?;
        Ok(())
    }

    /// Moves the counts of a wait's notification, which must be there.
    fn move_counts(
        txn: &redb::WriteTransaction,
        id: &NotificationId,
        deltas: &[(DeliveryStatus, i64)],
    ) -> Result<(), StoreError> {
        let counted = Self::update_header(txn, id, |record| {
            add_counts(record, deltas);
            Ok(true)
        })?;
        if counted {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!("notification {id}")))
        }
    }
}

#[async_trait]
impl InstallWaits for EmbeddedOutboxStore {
    async fn begin_install(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (id, key) = (notification.clone(), delivery_key(notification, delivery));
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let wait = {
                let table = txn.open_table(DELIVERIES).map_err(unavailable)?;
                let Some(mut record) = read_json::<DeliveryRecord>(&table, &key)? else {
                    return Ok(false);
                };
                drop(table);
                if record.status != DeliveryStatus::Sending
                    || record.lease_until != Some(claimed_until)
                {
                    return Ok(false);
                }
                let Some(recipient) = record.recipient.clone() else {
                    return Err(StoreError::InvalidData(format!(
                        "{}: no recipient to install the app for",
                        display_key(&key)
                    )));
                };
                let before = record.due_at;
                record.status = DeliveryStatus::Installing;
                record.install_deadline = Some(deadline);
                record.lease_until = None;
                // The installation sweep watches it now.
                record.due_at = None;
                record.updated_at = now;
                put_delivery(&txn, before, &record)?;
                InstallWait {
                    notification_id: record.notification_id,
                    delivery_id: record.delivery_id,
                    tenant_id: record.tenant_id,
                    recipient,
                    deadline,
                }
            };
            write_json(
                &mut txn.open_table(INSTALL_WAITS).map_err(unavailable)?,
                &wait_key(&wait),
                &wait,
            )?;
            write_json(
                &mut txn.open_table(INSTALL_DUE).map_err(unavailable)?,
                &wait.due_key(),
                &wait,
            )?;
            // A claimed delivery is still counted as pending (claims leave the counts alone).
            let deltas = [
                (DeliveryStatus::Pending, -1),
                (DeliveryStatus::Installing, 1),
            ];
            Self::move_counts(&txn, &id, &deltas)?;
            txn.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn waits_for(
        &self,
        tenant: &TenantId,
        recipient: &AadObjectId,
    ) -> Result<Vec<InstallWait>, StoreError> {
        let prefix = recipient_prefix(tenant, recipient);
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(INSTALL_WAITS).map_err(unavailable)?;
            let end = prefix_end(&prefix);
            let mut waits = Vec::new();
            for entry in table
                .range::<&str>(prefix.as_str()..end.as_str())
                .map_err(unavailable)?
            {
                let (key, value) = entry.map_err(unavailable)?;
                waits.push(decode_wait(key.value(), value.value())?);
            }
            Ok(waits)
        })
        .await
    }

    async fn due_waits(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<InstallWait>, StoreError> {
        let bound = due_bound(now);
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(INSTALL_DUE).map_err(unavailable)?;
            let mut waits = Vec::new();
            for entry in table.range::<&str>(..bound.as_str()).map_err(unavailable)? {
                if waits.len() >= limit {
                    break;
                }
                let (key, value) = entry.map_err(unavailable)?;
                let wait = decode_wait(key.value(), value.value())?;
                if wait.deadline <= now {
                    waits.push(wait);
                }
            }
            Ok(waits)
        })
        .await
    }

    async fn end_install(
        &self,
        wait: &InstallWait,
        resolution: &InstallResolution,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        resolution.check()?;
        let (wait, resolution) = (wait.clone(), resolution.clone());
        let key = delivery_key(&wait.notification_id, &wait.delivery_id);
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let status = {
                let table = txn.open_table(DELIVERIES).map_err(unavailable)?;
                let record = read_json::<DeliveryRecord>(&table, &key)?.filter(|r| {
                    r.status == DeliveryStatus::Installing
                        && r.install_deadline == Some(wait.deadline)
                });
                let Some(mut record) = record else {
                    // Someone else ended this wait: only its leftovers go.
                    drop(table);
                    Self::remove_wait(&txn, &wait)?;
                    txn.commit().map_err(unavailable)?;
                    return Ok(false);
                };
                drop(table);
                let before = record.due_at;
                record.end_install(resolution, now);
                put_delivery(&txn, before, &record)?;
                record.status
            };
            Self::remove_wait(&txn, &wait)?;
            let deltas = [(DeliveryStatus::Installing, -1), (status, 1)];
            Self::move_counts(&txn, &wait.notification_id, &deltas)?;
            txn.commit().map_err(unavailable)?;
            if status == DeliveryStatus::Pending {
                // What a new pending delivery announces: the sender takes it from here.
                this.publish(vec![OutboxChange::Delivery(
                    wait.notification_id,
                    wait.delivery_id,
                )]);
            }
            Ok(true)
        })
        .await
    }
}
