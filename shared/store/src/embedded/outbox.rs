//! The outbox in a local file, with a change feed standing in for the DynamoDB stream.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{DeliveryId, DeliveryStatus};
use redb::{Database, ReadTransaction, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

use super::db::{
    DEFAULT_PAGE, SEP, blocking, display_key, json_page, key_range, open_database, prefix_end,
    read_json, resume_after, unavailable, write_json,
};
use super::tables::{
    ACTIONS, DELIVERIES, EDITS, FOLLOW_UPS_DUE, INSTALL_DUE, INSTALL_WAITS, NOTIFICATIONS,
    NOTIFICATIONS_BY_CREATED, SENT_COPIES, SETTINGS, STRANDED, created_key, delivery_key, move_due,
    put_delivery,
};
use crate::outbox::{check_page_size, count_deltas, expansion_due, not_final, with_due};
use crate::{
    Claim, DeliveryRecord, FollowUpDue, InteractionSettings, NotificationId, NotificationRecord,
    OutboxChange, OutboxStore, Outcome, Page, PageRequest, Release, Revision, StoreError,
    adaptive_card,
};

/// The listing name in the cursors of [`OutboxStore::list_deliveries`].
const DELIVERY_LISTING: &str = "deliveries";

/// The file name under the data directory.
pub const OUTBOX_FILE_NAME: &str = "outbox.redb";

/// Notifications and deliveries in a local file.
#[derive(Clone)]
pub struct EmbeddedOutboxStore {
    pub(super) db: Arc<Database>,
    changes: broadcast::Sender<OutboxChange>,
}

impl std::fmt::Debug for EmbeddedOutboxStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedOutboxStore")
            .finish_non_exhaustive()
    }
}

/// Moves a header's counts (a claimed delivery still counts as pending).
pub(super) fn add_counts(record: &mut NotificationRecord, deltas: &[(DeliveryStatus, i64)]) {
    for (status, delta) in count_deltas(deltas) {
        *record.counts.entry(status.as_str().to_owned()).or_default() += delta;
    }
}

/// Every record of `table` that can be read (an unreadable one is no work to resume).
fn readable<T: DeserializeOwned>(
    txn: &ReadTransaction,
    table: TableDefinition<&str, &[u8]>,
) -> Result<Vec<T>, StoreError> {
    let mut records = Vec::new();
    for entry in txn
        .open_table(table)
        .map_err(unavailable)?
        .iter()
        .map_err(unavailable)?
    {
        let (_, value) = entry.map_err(unavailable)?;
        records.extend(serde_json::from_slice(value.value()).ok());
    }
    Ok(records)
}

impl EmbeddedOutboxStore {
    /// Opens (or creates) the outbox under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let db = open_database(data_dir, OUTBOX_FILE_NAME, |txn| {
            for table in [
                NOTIFICATIONS,
                NOTIFICATIONS_BY_CREATED,
                DELIVERIES,
                INSTALL_WAITS,
                INSTALL_DUE,
                STRANDED,
                SENT_COPIES,
                SETTINGS,
                ACTIONS,
                EDITS,
                FOLLOW_UPS_DUE,
            ] {
                txn.open_table(table)?;
            }
            Ok(())
        })?;
        let store = Self {
            db: Arc::new(db),
            changes: broadcast::channel(65_536).0,
        };
        store.index_unlisted_notifications()?;
        Ok(store)
    }

    /// Changes from now on. A subscriber that lags is told so and should rescan with
    /// [`EmbeddedOutboxStore::unfinished`].
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<OutboxChange> {
        self.changes.subscribe()
    }

    /// Work a restarted process must pick up: notifications not fully expanded, deliveries not
    /// yet final, and edit requests not yet done.
    pub async fn unfinished(&self) -> Result<Vec<OutboxChange>, StoreError> {
        blocking(self, |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let notifications = readable::<NotificationRecord>(&txn, NOTIFICATIONS)?
                .into_iter()
                .filter(|n| !n.expanded)
                .map(|n| OutboxChange::Notification(n.id));
            let deliveries = readable::<DeliveryRecord>(&txn, DELIVERIES)?
                .into_iter()
                .filter(|d| !d.status.is_final())
                .map(|d| OutboxChange::Delivery(d.notification_id, d.delivery_id));
            let mut edits = Vec::new();
            for entry in txn
                .open_table(EDITS)
                .map_err(unavailable)?
                .iter()
                .map_err(unavailable)?
            {
                let (key, _) = entry.map_err(unavailable)?;
                edits.extend(
                    NotificationId::parse(key.value())
                        .ok()
                        .map(OutboxChange::Edit),
                );
            }
            Ok(notifications.chain(deliveries).chain(edits).collect())
        })
        .await
    }

    /// The delivery under `key` if the claim that holds it until `claimed_until` still does.
    fn claimed(
        txn: &redb::WriteTransaction,
        key: &str,
        claimed_until: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let table = txn.open_table(DELIVERIES).map_err(unavailable)?;
        Ok(read_json::<DeliveryRecord>(&table, key)?.filter(|record| {
            record.status == DeliveryStatus::Sending && record.lease_until == Some(claimed_until)
        }))
    }

    /// Tells subscribers what was committed.
    pub(super) fn publish(&self, changes: Vec<OutboxChange>) {
        for change in changes {
            // No subscriber (tests without a runner) is fine.
            let _ = self.changes.send(change);
        }
    }

    /// Reads, changes and writes one notification header inside a write transaction: `change`
    /// says whether to write. Returns whether it was written (`false` also if there is none).
    pub(super) fn update_header(
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
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let existing = {
                let mut table = txn.open_table(NOTIFICATIONS).map_err(unavailable)?;
                let existing = read_json::<NotificationRecord>(&table, record.id.as_str())?;
                if existing.is_none() {
                    write_json(&mut table, record.id.as_str(), &record)?;
                    txn.open_table(NOTIFICATIONS_BY_CREATED)
                        .map_err(unavailable)?
                        .insert(created_key(&record).as_str(), [].as_slice())
                        .map_err(unavailable)?;
                }
                existing
            };
            if existing.is_none() {
                move_due(&txn, &record.id, None, None, record.due_at)?;
                if let Some(settings) = InteractionSettings::of(&record) {
                    Self::put_settings(&txn, &settings)?;
                }
                if let Some(follow_up) = &record.follow_up {
                    let due = FollowUpDue {
                        notification_id: record.id.clone(),
                        due_at: follow_up.due_at,
                    };
                    Self::put_follow_up(&txn, &due)?;
                }
            }
            txn.commit().map_err(unavailable)?;
            if existing.is_none() {
                this.publish(vec![OutboxChange::Notification(record.id.clone())]);
            }
            Ok(existing)
        })
        .await
    }

    async fn get_notification(
        &self,
        id: &NotificationId,
    ) -> Result<Option<NotificationRecord>, StoreError> {
        let id = id.clone();
        blocking(self, move |this| {
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
        check_page_size(deliveries)?;
        let (id, from, to) = (id.clone(), from.map(str::to_owned), to.map(str::to_owned));
        let deliveries = deliveries.to_vec();
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let mut inserted = Vec::new();
            for d in deliveries.iter().map(with_due) {
                let key = delivery_key(&d.notification_id, &d.delivery_id);
                let absent = txn
                    .open_table(DELIVERIES)
                    .map_err(unavailable)?
                    .get(key.as_str())
                    .map_err(unavailable)?
                    .is_none();
                if absent {
                    put_delivery(&txn, None, &d)?;
                    inserted.push(d);
                }
            }
            let mut due = (None, None);
            let moved = Self::update_header(&txn, &id, |record| {
                if record.expanded || record.expansion_cursor != from {
                    return Ok(false);
                }
                record.expansion_cursor.clone_from(&to);
                record.expanded = to.is_none();
                record.expansion_pages += 1;
                let deltas: Vec<_> = inserted.iter().map(|d| (d.status, 1)).collect();
                add_counts(record, &deltas);
                due.0 = record.due_at;
                record.due_at = expansion_due(record, &deliveries);
                due.1 = record.due_at;
                Ok(true)
            })?;
            move_due(&txn, &id, None, due.0, due.1)?;
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
        delivery: &DeliveryId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let key = delivery_key(notification, delivery);
        blocking(self, move |this| {
            let mut txn = this.db.begin_write().map_err(unavailable)?;
            // A claim need not reach the disk on its own: the outcome's commit (durable) carries
            // it, and a claim lost in a crash leaves the delivery pending, which is exactly what
            // an expired lease would do. This halves the fsyncs per delivery.
            txn.set_durability(redb::Durability::None);
            let claim = {
                let table = txn.open_table(DELIVERIES).map_err(unavailable)?;
                let Some(mut record) = read_json::<DeliveryRecord>(&table, &key)? else {
                    return Ok(Claim::Missing);
                };
                drop(table);
                match (record.status, record.lease_until, record.not_before) {
                    (DeliveryStatus::Pending, _, Some(until)) if until > now => {
                        return Ok(Claim::NotYet { until });
                    }
                    (DeliveryStatus::Pending, _, _) => {}
                    (DeliveryStatus::Sending, Some(until), _) if until >= now => {
                        return Ok(Claim::Held { until });
                    }
                    // A lease that ran out: that attempt's outcome is lost.
                    (DeliveryStatus::Sending, _, _) => record.lost_attempts += 1,
                    _ => return Ok(Claim::Done),
                }
                let before = record.due_at;
                record.status = DeliveryStatus::Sending;
                record.lease_until = Some(lease_until);
                record.not_before = None;
                record.due_at = Some(lease_until);
                record.attempts += 1;
                record.updated_at = now;
                put_delivery(&txn, before, &record)?;
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
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if !outcome.status.is_final() {
            return Err(not_final(outcome));
        }
        let (id, key, outcome) = (
            notification.clone(),
            delivery_key(notification, delivery),
            outcome.clone(),
        );
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let Some(mut record) = Self::claimed(&txn, &key, claimed_until)? else {
                return Ok(false);
            };
            let before = record.due_at;
            record.apply_outcome(&outcome);
            record.updated_at = now;
            put_delivery(&txn, before, &record)?;
            if let Some(copy) = &outcome.copy {
                Self::put_copy(&txn, copy)?;
            }
            Self::update_header(&txn, &id, |header| {
                add_counts(
                    header,
                    &[(DeliveryStatus::Pending, -1), (outcome.status, 1)],
                );
                header.possible_duplicates += i64::from(record.possibly_duplicated());
                Ok(true)
            })?;
            txn.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn release_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        release: &Release,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (key, release) = (delivery_key(notification, delivery), release.clone());
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let Some(mut record) = Self::claimed(&txn, &key, claimed_until)? else {
                return Ok(false);
            };
            let before = record.due_at;
            record.apply_release(&release);
            record.updated_at = now;
            put_delivery(&txn, before, &record)?;
            txn.commit().map_err(unavailable)?;
            // Nothing to announce: the sweep wakes it when its backoff ends.
            Ok(true)
        })
        .await
    }

    async fn get_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let key = delivery_key(notification, delivery);
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(DELIVERIES).map_err(unavailable)?;
            read_json(&table, &key)
        })
        .await
    }

    async fn list_notifications(
        &self,
        page: &PageRequest,
    ) -> Result<Page<NotificationRecord>, StoreError> {
        self.notifications_newest_first(page).await
    }

    async fn list_deliveries(
        &self,
        notification: &NotificationId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<DeliveryRecord>, StoreError> {
        let prefix = format!("{notification}{SEP}");
        let after = resume_after(page.cursor.as_ref(), DELIVERY_LISTING, &prefix)?;
        let limit = page
            .limit
            .map_or(DEFAULT_PAGE, |l| l.clamp(1, 1000) as usize);
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(DELIVERIES).map_err(unavailable)?;
            let range = key_range(&prefix, after, Some(prefix_end(&prefix)));
            json_page(
                &table,
                &range,
                limit,
                DELIVERY_LISTING,
                |d: &DeliveryRecord| status.is_none_or(|s| s == d.status),
            )
        })
        .await
    }

    async fn revise_content(
        &self,
        id: &NotificationId,
        revision: &Revision,
        now: DateTime<Utc>,
        hold: Option<DateTime<Utc>>,
    ) -> Result<Option<u32>, StoreError> {
        let (id, revision) = (id.clone(), revision.clone());
        blocking(self, move |this| {
            let revision = &revision;
            let txn = this.db.begin_write().map_err(unavailable)?;
            let mut version = None;
            Self::update_header(&txn, &id, |header| {
                header.content_version += 1;
                match revision {
                    Revision::Update(activity) => header.activity = activity.clone(),
                    Revision::Retract => header.retracted = true,
                }
                version = Some(header.content_version);
                Ok(true)
            })?;
            if version.is_none() {
                return Ok(None);
            }
            Self::touch_edit(&txn, &id, true, now, hold)?;
            if let Revision::Update(activity) = revision {
                let mut table = txn.open_table(SETTINGS).map_err(unavailable)?;
                if let Some(mut settings) = read_json::<InteractionSettings>(&table, id.as_str())? {
                    settings.card = adaptive_card(activity).cloned();
                    write_json(&mut table, id.as_str(), &settings)?;
                }
            }
            txn.commit().map_err(unavailable)?;
            this.publish(vec![OutboxChange::Edit(id)]);
            Ok(version)
        })
        .await
    }

    async fn set_activity_id(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        activity_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let (key, activity_id) = (
            delivery_key(notification, delivery),
            activity_id.map(str::to_owned),
        );
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            {
                let mut table = txn.open_table(DELIVERIES).map_err(unavailable)?;
                let Some(mut record) = read_json::<DeliveryRecord>(&table, &key)? else {
                    return Err(StoreError::NotFound(display_key(&key)));
                };
                record.activity_id = activity_id;
                write_json(&mut table, &key, &record)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn mark_edited(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        activity_id: &str,
        version: u32,
    ) -> Result<(), StoreError> {
        let (notification, delivery) = (notification.clone(), delivery.clone());
        let activity_id = activity_id.to_owned();
        blocking(self, move |this| {
            let key = delivery_key(&notification, &delivery);
            let txn = this.db.begin_write().map_err(unavailable)?;
            {
                let mut table = txn.open_table(DELIVERIES).map_err(unavailable)?;
                let Some(mut record) = read_json::<DeliveryRecord>(&table, &key)? else {
                    return Err(StoreError::NotFound(format!("{notification}/{delivery}")));
                };
                if record.content_version >= version {
                    return Ok(());
                }
                record.content_version = version;
                record.activity_id = Some(activity_id.clone());
                write_json(&mut table, &key, &record)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }
}
