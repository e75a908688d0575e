//! The outbox in a local file, with a change feed standing in for the DynamoDB stream.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use crate::redb_util::{read_json, unavailable, write_json};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AadObjectId, DeliveryStatus, TenantId};
use redb::{Database, ReadableTable, TableDefinition};
use tokio::sync::broadcast;

use crate::outbox::{
    Claim, DeliveryRecord, InstallResolution, InstallWait, InstallWaits, NotificationId,
    NotificationRecord, OutboxStore, Outcome,
};
use crate::{Cursor, Page, PageRequest, SkipReason, SkippedItem, StoreError};

const NOTIFICATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("notifications");
/// `notification SEP delivery` -> delivery JSON.
const DELIVERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("deliveries");
/// `tenant SEP recipient SEP notification#delivery` -> installation wait JSON.
const INSTALL_WAITS: TableDefinition<&str, &[u8]> = TableDefinition::new("installWaits");
/// The wait's due key (`{deadline ms, 15 digits}#{notification}#{delivery}`) -> installation
/// wait JSON, so the timeout sweep reads the earliest deadlines first.
const INSTALL_DUE: TableDefinition<&str, &[u8]> = TableDefinition::new("installDue");
const SEP: char = '\u{1f}';
const SEP_END: char = '\u{20}';
const DEFAULT_PAGE: usize = 1000;

/// The file name under the data directory.
pub const OUTBOX_FILE_NAME: &str = "outbox.redb";

/// What changed, in the order it was committed: the local runner's stand-in for the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxChange {
    Notification(NotificationId),
    Delivery(NotificationId, String),
}

/// Notifications and deliveries in a local file.
#[derive(Clone)]
pub struct EmbeddedOutboxStore {
    db: Arc<Database>,
    changes: broadcast::Sender<OutboxChange>,
}

impl std::fmt::Debug for EmbeddedOutboxStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedOutboxStore")
            .finish_non_exhaustive()
    }
}

fn delivery_key(notification: &NotificationId, delivery: &str) -> String {
    format!("{notification}{SEP}{delivery}")
}

fn recipient_prefix(tenant: &TenantId, recipient: &AadObjectId) -> String {
    format!("{tenant}{SEP}{recipient}{SEP}")
}

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
        StoreError::InvalidData(format!("installation wait {}: {e}", key.replace(SEP, "/")))
    })
}

fn add_counts(record: &mut NotificationRecord, deltas: &[(DeliveryStatus, i64)]) {
    for (status, delta) in deltas {
        *record.counts.entry(status.as_str().to_owned()).or_default() += delta;
    }
}

impl EmbeddedOutboxStore {
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(unavailable)?;
        let db = Database::create(data_dir.join(OUTBOX_FILE_NAME)).map_err(unavailable)?;
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(NOTIFICATIONS).map_err(unavailable)?;
        txn.open_table(DELIVERIES).map_err(unavailable)?;
        txn.open_table(INSTALL_WAITS).map_err(unavailable)?;
        txn.open_table(INSTALL_DUE).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(Self {
            db: Arc::new(db),
            changes: broadcast::channel(65_536).0,
        })
    }

    /// Changes from now on. A subscriber that lags is told so and should rescan with
    /// [`EmbeddedOutboxStore::unfinished`].
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<OutboxChange> {
        self.changes.subscribe()
    }

    /// Work a restarted process must pick up: notifications not fully expanded and deliveries
    /// not yet final.
    pub async fn unfinished(&self) -> Result<Vec<OutboxChange>, StoreError> {
        self.blocking(|this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let mut work = Vec::new();
            for entry in txn
                .open_table(NOTIFICATIONS)
                .map_err(unavailable)?
                .iter()
                .map_err(unavailable)?
            {
                let (_, value) = entry.map_err(unavailable)?;
                if let Ok(record) = serde_json::from_slice::<NotificationRecord>(value.value())
                    && !record.expanded
                {
                    work.push(OutboxChange::Notification(record.id));
                }
            }
            for entry in txn
                .open_table(DELIVERIES)
                .map_err(unavailable)?
                .iter()
                .map_err(unavailable)?
            {
                let (_, value) = entry.map_err(unavailable)?;
                if let Ok(record) = serde_json::from_slice::<DeliveryRecord>(value.value())
                    && !record.status.is_final()
                {
                    work.push(OutboxChange::Delivery(
                        record.notification_id,
                        record.delivery_id,
                    ));
                }
            }
            Ok(work)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        crate::redb_util::blocking(self, work).await
    }

    fn publish(&self, changes: Vec<OutboxChange>) {
        for change in changes {
            // No subscriber (tests without a runner) is fine.
            let _ = self.changes.send(change);
        }
    }

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

    /// Reads, changes and writes one notification header inside a write transaction.
    fn update_header(
        txn: &redb::WriteTransaction,
        id: &NotificationId,
        change: impl FnOnce(&mut NotificationRecord) -> Result<bool, StoreError>,
    ) -> Result<bool, StoreError> {
        let mut table = txn.open_table(NOTIFICATIONS).map_err(unavailable)?;
        let Some(mut record) = read_json::<NotificationRecord>(&table, id.as_str())? else {
            return Ok(false);
        };
        if !change(&mut record)? {
            return Ok(false);
        }
        write_json(&mut table, id.as_str(), &record)?;
        Ok(true)
    }
}

#[async_trait]
impl OutboxStore for EmbeddedOutboxStore {
    async fn create_notification(
        &self,
        record: &NotificationRecord,
    ) -> Result<Option<NotificationRecord>, StoreError> {
        let record = record.clone();
        let existing = self
            .blocking(move |this| {
                let txn = this.db.begin_write().map_err(unavailable)?;
                let existing = {
                    let mut table = txn.open_table(NOTIFICATIONS).map_err(unavailable)?;
                    let existing = read_json::<NotificationRecord>(&table, record.id.as_str())?;
                    if existing.is_none() {
                        write_json(&mut table, record.id.as_str(), &record)?;
                    }
                    existing
                };
                txn.commit().map_err(unavailable)?;
                if existing.is_none() {
                    this.publish(vec![OutboxChange::Notification(record.id.clone())]);
                }
                Ok(existing)
            })
            .await?;
        Ok(existing)
    }

    async fn get_notification(
        &self,
        id: &NotificationId,
    ) -> Result<Option<NotificationRecord>, StoreError> {
        let id = id.clone();
        self.blocking(move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(NOTIFICATIONS).map_err(unavailable)?;
            read_json(&table, id.as_str())
        })
        .await
    }

    async fn append_page(
        &self,
        id: &NotificationId,
        from: Option<&str>,
        to: Option<&str>,
        deliveries: &[DeliveryRecord],
    ) -> Result<bool, StoreError> {
        if deliveries.len() > crate::MAX_PAGE {
            return Err(StoreError::InvalidData(format!(
                "a page holds at most {} deliveries, got {}",
                crate::MAX_PAGE,
                deliveries.len()
            )));
        }
        let (id, from, to) = (id.clone(), from.map(str::to_owned), to.map(str::to_owned));
        let deliveries = deliveries.to_vec();
        self.blocking(move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let mut inserted = Vec::new();
            {
                let mut table = txn.open_table(DELIVERIES).map_err(unavailable)?;
                for d in &deliveries {
                    let key = delivery_key(&d.notification_id, &d.delivery_id);
                    if table.get(key.as_str()).map_err(unavailable)?.is_none() {
                        write_json(&mut table, &key, &d)?;
                        inserted.push(d);
                    }
                }
            }
            let moved = Self::update_header(&txn, &id, |record| {
                if record.expanded || record.expansion_cursor != from {
                    return Ok(false);
                }
                record.expansion_cursor.clone_from(&to);
                record.expanded = to.is_none();
                record.expansion_pages += 1;
                let deltas: Vec<_> = inserted.iter().map(|d| (d.status, 1)).collect();
                add_counts(record, &deltas);
                Ok(true)
            })?;
            if !moved {
                // Leave everything as it was: the page belongs to whoever moved the cursor.
                txn.abort().map_err(unavailable)?;
                return Ok(false);
            }
            let mut changes = vec![OutboxChange::Notification(id.clone())];
            changes.extend(
                inserted
                    .iter()
                    .map(|d| OutboxChange::Delivery(id.clone(), d.delivery_id.clone())),
            );
            txn.commit().map_err(unavailable)?;
            this.publish(changes);
            Ok(true)
        })
        .await
    }

    async fn claim_delivery(
        &self,
        notification: &NotificationId,
        delivery: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let key = delivery_key(notification, delivery);
        self.blocking(move |this| {
            let mut txn = this.db.begin_write().map_err(unavailable)?;
            // A claim need not reach the disk on its own: the outcome's commit (durable) carries
            // it, and a claim lost in a crash leaves the delivery pending, which is exactly what
            // an expired lease would do. This halves the fsyncs per delivery.
            txn.set_durability(redb::Durability::None);
            let claim = {
                let mut table = txn.open_table(DELIVERIES).map_err(unavailable)?;
                let Some(mut record) = read_json::<DeliveryRecord>(&table, &key)? else {
                    return Ok(Claim::Missing);
                };
                let claimable = match (record.status, record.lease_until) {
                    (DeliveryStatus::Pending, _) | (DeliveryStatus::Sending, None) => true,
                    (DeliveryStatus::Sending, Some(until)) => until < now,
                    _ => false,
                };
                if !claimable {
                    return Ok(match (record.status, record.lease_until) {
                        (DeliveryStatus::Sending, Some(until)) => Claim::Held { until },
                        _ => Claim::Done,
                    });
                }
                record.status = DeliveryStatus::Sending;
                record.lease_until = Some(lease_until);
                record.attempts += 1;
                record.updated_at = now;
                write_json(&mut table, &key, &record)?;
                Claim::Claimed(Box::new(record))
            };
            txn.commit().map_err(unavailable)?;
            Ok(claim)
        })
        .await
    }

    async fn record_outcome(
        &self,
        notification: &NotificationId,
        delivery: &str,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (id, key, outcome) = (
            notification.clone(),
            delivery_key(notification, delivery),
            outcome.clone(),
        );
        self.blocking(move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            {
                let mut table = txn.open_table(DELIVERIES).map_err(unavailable)?;
                let Some(mut record) = read_json::<DeliveryRecord>(&table, &key)? else {
                    return Ok(false);
                };
                if record.status != DeliveryStatus::Sending {
                    return Ok(false);
                }
                record.apply_outcome(&outcome);
                record.lease_until = None;
                record.updated_at = now;
                write_json(&mut table, &key, &record)?;
            }
            Self::update_header(&txn, &id, |record| {
                add_counts(
                    record,
                    &[(DeliveryStatus::Pending, -1), (outcome.status, 1)],
                );
                Ok(true)
            })?;
            txn.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn get_delivery(
        &self,
        notification: &NotificationId,
        delivery: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let key = delivery_key(notification, delivery);
        self.blocking(move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(DELIVERIES).map_err(unavailable)?;
            read_json(&table, &key)
        })
        .await
    }

    async fn list_deliveries(
        &self,
        notification: &NotificationId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<DeliveryRecord>, StoreError> {
        let prefix = format!("{notification}{SEP}");
        let after = page
            .cursor
            .as_ref()
            .map(|c| {
                c.decode("deliveries")?
                    .remove("k")
                    .filter(|k| k.starts_with(&prefix))
                    .ok_or_else(|| StoreError::InvalidCursor("not for this listing".into()))
            })
            .transpose()?;
        let limit = page
            .limit
            .map_or(DEFAULT_PAGE, |l| l.clamp(1, 1000) as usize);
        self.blocking(move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(DELIVERIES).map_err(unavailable)?;
            let end = format!("{}{SEP_END}", &prefix[..prefix.len() - SEP.len_utf8()]);
            let start = after.map_or_else(|| Bound::Included(prefix.clone()), Bound::Excluded);
            let range = (
                start.as_ref().map(String::as_str),
                Bound::Excluded(end.as_str()),
            );
            let mut result = Page {
                items: Vec::new(),
                next_cursor: None,
                skipped: Vec::new(),
            };
            let mut last = None;
            for (read, entry) in table.range::<&str>(range).map_err(unavailable)?.enumerate() {
                let (key, value) = entry.map_err(unavailable)?;
                if read == limit {
                    result.next_cursor = last.take().map(|k: String| {
                        Cursor::encode("deliveries", BTreeMap::from([("k".to_owned(), k)]))
                    });
                    break;
                }
                last = Some(key.value().to_owned());
                match serde_json::from_slice::<DeliveryRecord>(value.value()) {
                    Ok(record) if status.is_none_or(|s| s == record.status) => {
                        result.items.push(record);
                    }
                    Ok(_) => {}
                    Err(e) => result.skipped.push(SkippedItem {
                        key: key.value().replace(SEP, "/"),
                        reason: SkipReason::Corrupt(e.to_string()),
                    }),
                }
            }
            Ok(result)
        })
        .await
    }

    async fn set_activity_id(
        &self,
        notification: &NotificationId,
        delivery: &str,
        activity_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let (key, activity_id) = (
            delivery_key(notification, delivery),
            activity_id.map(str::to_owned),
        );
        self.blocking(move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            {
                let mut table = txn.open_table(DELIVERIES).map_err(unavailable)?;
                let Some(mut record) = read_json::<DeliveryRecord>(&table, &key)? else {
                    return Err(StoreError::NotFound(key.replace(SEP, "/")));
                };
                record.activity_id = activity_id;
                write_json(&mut table, &key, &record)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }
}

#[async_trait]
impl InstallWaits for EmbeddedOutboxStore {
    async fn begin_install(
        &self,
        notification: &NotificationId,
        delivery: &str,
        claimed_until: DateTime<Utc>,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (id, key) = (notification.clone(), delivery_key(notification, delivery));
        self.blocking(move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let wait = {
                let mut table = txn.open_table(DELIVERIES).map_err(unavailable)?;
                let Some(mut record) = read_json::<DeliveryRecord>(&table, &key)? else {
                    return Ok(false);
                };
                if record.status != DeliveryStatus::Sending
                    || record.lease_until != Some(claimed_until)
                {
                    return Ok(false);
                }
                let Some(recipient) = record.recipient.clone() else {
                    return Err(StoreError::InvalidData(format!(
                        "{}: no recipient to install the app for",
                        key.replace(SEP, "/")
                    )));
                };
                record.status = DeliveryStatus::Installing;
                record.install_deadline = Some(deadline);
                record.lease_until = None;
                record.updated_at = now;
                write_json(&mut table, &key, &record)?;
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
            let counted = Self::update_header(&txn, &id, |record| {
                add_counts(
                    record,
                    &[
                        (DeliveryStatus::Pending, -1),
                        (DeliveryStatus::Installing, 1),
                    ],
                );
                Ok(true)
            })?;
            if !counted {
                return Err(StoreError::NotFound(format!("notification {id}")));
            }
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
        self.blocking(move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(INSTALL_WAITS).map_err(unavailable)?;
            let end = format!("{}{SEP_END}", &prefix[..prefix.len() - SEP.len_utf8()]);
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
        let bound = InstallWait::due_bound(now);
        self.blocking(move |this| {
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
        if let InstallResolution::Finished(outcome) = resolution
            && !outcome.status.is_final()
        {
            return Err(StoreError::InvalidData(format!(
                "an installation cannot finish as {}",
                outcome.status
            )));
        }
        let (wait, resolution) = (wait.clone(), resolution.clone());
        let key = delivery_key(&wait.notification_id, &wait.delivery_id);
        self.blocking(move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let status = {
                let mut table = txn.open_table(DELIVERIES).map_err(unavailable)?;
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
                match resolution {
                    InstallResolution::Resolved {
                        conversation_id,
                        service_url,
                    } => {
                        record.status = DeliveryStatus::Pending;
                        record.conversation_id = Some(conversation_id);
                        record.service_url = Some(service_url);
                        record.error = None;
                    }
                    InstallResolution::Retry { error } => {
                        record.status = DeliveryStatus::Pending;
                        record.error = Some(error);
                    }
                    InstallResolution::Finished(outcome) => record.apply_outcome(&outcome),
                }
                record.install_deadline = None;
                record.lease_until = None;
                record.updated_at = now;
                write_json(&mut table, &key, &record)?;
                record.status
            };
            Self::remove_wait(&txn, &wait)?;
            let id = &wait.notification_id;
            let counted = Self::update_header(&txn, id, |record| {
                add_counts(record, &[(DeliveryStatus::Installing, -1), (status, 1)]);
                Ok(true)
            })?;
            if !counted {
                return Err(StoreError::NotFound(format!("notification {id}")));
            }
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
