//! Schedules in a local file, with the same due and owner indexes.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::ConversationKey;
use redb::{Database, ReadableTable, TableDefinition};

use super::db::{
    SEP, blocking, cursor_after, json_page, key_range, open_database, read_json, resume_after,
    unavailable, write_json,
};
use crate::keys::{due_bound, owner_key};
use crate::schedules::{ScheduleRecord, ScheduleStore};
use crate::{Page, PageRequest, StoreError};
use herald_domain::ScheduleId;

const SCHEDULES: TableDefinition<&str, &[u8]> = TableDefinition::new("schedules");
/// `due key` -> schedule id.
const BY_DUE: TableDefinition<&str, &str> = TableDefinition::new("byDue");
/// `owner SEP id` -> ().
const BY_OWNER: TableDefinition<&str, ()> = TableDefinition::new("byOwner");

/// The listing name in the cursors of [`ScheduleStore::list_schedules`].
const SCHEDULE_LISTING: &str = "schedules";
/// The listing name in the cursors of [`ScheduleStore::due_page`].
const DUE_LISTING: &str = "due";
/// Page size when the caller sets no limit.
const DEFAULT_SCHEDULE_PAGE: usize = 100;

/// The file name under the data directory.
pub const SCHEDULES_FILE_NAME: &str = "schedules.redb";

/// Schedules in a local file.
#[derive(Clone)]
pub struct EmbeddedScheduleStore {
    db: Arc<Database>,
}

impl std::fmt::Debug for EmbeddedScheduleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedScheduleStore")
            .finish_non_exhaustive()
    }
}

/// `owner SEP id`: a chat-created schedule's entry in the owner index.
fn owner_entry(record: &ScheduleRecord) -> Option<String> {
    record
        .owner
        .as_ref()
        .map(|owner| format!("{}{SEP}{}", owner_key(owner), record.id))
}

impl EmbeddedScheduleStore {
    /// Opens (or creates) the schedules under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let db = open_database(data_dir, SCHEDULES_FILE_NAME, |txn| {
            txn.open_table(SCHEDULES)?;
            txn.open_table(BY_DUE)?;
            txn.open_table(BY_OWNER)?;
            Ok(())
        })?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Removes a record's index entries.
    fn unindex(txn: &redb::WriteTransaction, old: &ScheduleRecord) -> Result<(), StoreError> {
        if let Some(key) = old.due_key() {
            txn.open_table(BY_DUE)
                .map_err(unavailable)?
                .remove(key.as_str())
                .map_err(unavailable)?;
        }
        if let Some(key) = owner_entry(old) {
            txn.open_table(BY_OWNER)
                .map_err(unavailable)?
                .remove(key.as_str())
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// Writes a record and its index entries, replacing those of `old`.
    fn write(
        txn: &redb::WriteTransaction,
        old: Option<&ScheduleRecord>,
        new: &ScheduleRecord,
    ) -> Result<(), StoreError> {
        if let Some(old) = old {
            Self::unindex(txn, old)?;
        }
        if let Some(key) = new.due_key() {
            txn.open_table(BY_DUE)
                .map_err(unavailable)?
                .insert(key.as_str(), new.id.as_str())
                .map_err(unavailable)?;
        }
        if let Some(key) = owner_entry(new) {
            txn.open_table(BY_OWNER)
                .map_err(unavailable)?
                .insert(key.as_str(), ())
                .map_err(unavailable)?;
        }
        write_json(
            &mut txn.open_table(SCHEDULES).map_err(unavailable)?,
            new.id.as_str(),
            new,
        )
    }
}

#[async_trait]
impl ScheduleStore for EmbeddedScheduleStore {
    async fn create_schedule(&self, record: &ScheduleRecord) -> Result<(), StoreError> {
        let record = record.clone();
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let exists = txn
                .open_table(SCHEDULES)
                .map_err(unavailable)?
                .get(record.id.as_str())
                .map_err(unavailable)?
                .is_some();
            if exists {
                return Err(StoreError::Conflict(format!(
                    "schedule {} exists",
                    record.id
                )));
            }
            Self::write(&txn, None, &record)?;
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn get_schedule(&self, id: &ScheduleId) -> Result<Option<ScheduleRecord>, StoreError> {
        let id = id.clone();
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(SCHEDULES).map_err(unavailable)?;
            read_json(&table, id.as_str())
        })
        .await
    }

    async fn update_schedule(&self, record: &ScheduleRecord) -> Result<bool, StoreError> {
        let record = record.clone();
        blocking(self, move |this| {
            let previous = record.version.checked_sub(1).ok_or_else(|| {
                StoreError::InvalidData("an update must bump the version".to_owned())
            })?;
            let txn = this.db.begin_write().map_err(unavailable)?;
            let old = {
                let table = txn.open_table(SCHEDULES).map_err(unavailable)?;
                read_json::<ScheduleRecord>(&table, record.id.as_str())?
            };
            match old {
                Some(old) if old.version == previous => {
                    Self::write(&txn, Some(&old), &record)?;
                    txn.commit().map_err(unavailable)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
        .await
    }

    async fn delete_schedule(&self, id: &ScheduleId) -> Result<bool, StoreError> {
        let id = id.clone();
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let old = {
                let mut table = txn.open_table(SCHEDULES).map_err(unavailable)?;
                let old = read_json::<ScheduleRecord>(&table, id.as_str())?;
                table.remove(id.as_str()).map_err(unavailable)?;
                old
            };
            if let Some(old) = &old {
                Self::unindex(&txn, old)?;
            }
            txn.commit().map_err(unavailable)?;
            Ok(old.is_some())
        })
        .await
    }

    async fn list_schedules(&self, page: &PageRequest) -> Result<Page<ScheduleRecord>, StoreError> {
        let after = resume_after(page.cursor.as_ref(), SCHEDULE_LISTING, "")?;
        let limit = page
            .limit
            .map_or(DEFAULT_SCHEDULE_PAGE, |l| l.clamp(1, 1000) as usize);
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(SCHEDULES).map_err(unavailable)?;
            let range = key_range("", after, None);
            json_page(
                &table,
                &range,
                limit,
                SCHEDULE_LISTING,
                |_: &ScheduleRecord| true,
            )
        })
        .await
    }

    async fn schedules_of(
        &self,
        owner: &ConversationKey,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let prefix = format!("{}{SEP}", owner_key(owner));
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let owners = txn.open_table(BY_OWNER).map_err(unavailable)?;
            let table = txn.open_table(SCHEDULES).map_err(unavailable)?;
            let mut found = Vec::new();
            for entry in owners
                .range::<&str>(prefix.as_str()..)
                .map_err(unavailable)?
            {
                let (key, _) = entry.map_err(unavailable)?;
                let Some(id) = key.value().strip_prefix(prefix.as_str()) else {
                    break;
                };
                if let Some(record) = read_json(&table, id)? {
                    found.push(record);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn due_page(
        &self,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<ScheduleRecord>, StoreError> {
        let after = resume_after(page.cursor.as_ref(), DUE_LISTING, "")?;
        let limit = page
            .limit
            .map_or(DEFAULT_SCHEDULE_PAGE, |l| l.max(1) as usize);
        let range = key_range("", after, Some(due_bound(now)));
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let due = txn.open_table(BY_DUE).map_err(unavailable)?;
            let table = txn.open_table(SCHEDULES).map_err(unavailable)?;
            let range = (
                range.0.as_ref().map(String::as_str),
                range.1.as_ref().map(String::as_str),
            );
            let mut found = Page {
                items: Vec::new(),
                next_cursor: None,
                skipped: Vec::new(),
            };
            let mut last = None;
            for (read, entry) in due.range::<&str>(range).map_err(unavailable)?.enumerate() {
                let (key, id) = entry.map_err(unavailable)?;
                if read == limit {
                    found.next_cursor = last.take().map(|k| cursor_after(DUE_LISTING, k));
                    break;
                }
                last = Some(key.value().to_owned());
                if let Some(record) = read_json(&table, id.value())? {
                    found.items.push(record);
                }
            }
            Ok(found)
        })
        .await
    }
}
