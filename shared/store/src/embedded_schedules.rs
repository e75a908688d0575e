//! Schedules in a local file, with the same due and owner indexes.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use crate::redb_util::{read_json, unavailable, write_json};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::ConversationKey;
use redb::{Database, ReadableTable, TableDefinition};

use crate::schedules::{ScheduleId, ScheduleRecord, ScheduleStore, due_key, owner_key};
use crate::{Cursor, Page, PageRequest, SkipReason, SkippedItem, StoreError};

const SCHEDULES: TableDefinition<&str, &[u8]> = TableDefinition::new("schedules");
/// `due key` -> schedule id.
const BY_DUE: TableDefinition<&str, &str> = TableDefinition::new("byDue");
/// `owner SEP id` -> ().
const BY_OWNER: TableDefinition<&str, ()> = TableDefinition::new("byOwner");
const SEP: char = '\u{1f}';

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

impl EmbeddedScheduleStore {
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(unavailable)?;
        let db = Database::create(data_dir.join(SCHEDULES_FILE_NAME)).map_err(unavailable)?;
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(SCHEDULES).map_err(unavailable)?;
        txn.open_table(BY_DUE).map_err(unavailable)?;
        txn.open_table(BY_OWNER).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(Self { db: Arc::new(db) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        crate::redb_util::blocking(self, work).await
    }

    /// Writes a record and its index entries, replacing those of `old`.
    fn write(
        txn: &redb::WriteTransaction,
        old: Option<&ScheduleRecord>,
        new: &ScheduleRecord,
    ) -> Result<(), StoreError> {
        let mut due = txn.open_table(BY_DUE).map_err(unavailable)?;
        let mut owners = txn.open_table(BY_OWNER).map_err(unavailable)?;
        if let Some(old) = old {
            if let Some(key) = due_key(old) {
                due.remove(key.as_str()).map_err(unavailable)?;
            }
            if let Some(owner) = &old.owner {
                let key = format!("{}{SEP}{}", owner_key(owner), old.id);
                owners.remove(key.as_str()).map_err(unavailable)?;
            }
        }
        if let Some(key) = due_key(new) {
            due.insert(key.as_str(), new.id.as_str())
                .map_err(unavailable)?;
        }
        if let Some(owner) = &new.owner {
            let key = format!("{}{SEP}{}", owner_key(owner), new.id);
            owners.insert(key.as_str(), ()).map_err(unavailable)?;
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
        self.blocking(move |this| {
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
        self.blocking(move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(SCHEDULES).map_err(unavailable)?;
            read_json(&table, id.as_str())
        })
        .await
    }

    async fn update_schedule(&self, record: &ScheduleRecord) -> Result<bool, StoreError> {
        let record = record.clone();
        self.blocking(move |this| {
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
        self.blocking(move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let old = {
                let mut table = txn.open_table(SCHEDULES).map_err(unavailable)?;
                let old = read_json::<ScheduleRecord>(&table, id.as_str())?;
                table.remove(id.as_str()).map_err(unavailable)?;
                old
            };
            if let Some(old) = &old {
                if let Some(key) = due_key(old) {
                    txn.open_table(BY_DUE)
                        .map_err(unavailable)?
                        .remove(key.as_str())
                        .map_err(unavailable)?;
                }
                if let Some(owner) = &old.owner {
                    let key = format!("{}{SEP}{}", owner_key(owner), old.id);
                    txn.open_table(BY_OWNER)
                        .map_err(unavailable)?
                        .remove(key.as_str())
                        .map_err(unavailable)?;
                }
            }
            txn.commit().map_err(unavailable)?;
            Ok(old.is_some())
        })
        .await
    }

    async fn list_schedules(&self, page: &PageRequest) -> Result<Page<ScheduleRecord>, StoreError> {
        let after = page
            .cursor
            .as_ref()
            .map(|c| {
                c.decode("schedules")?
                    .remove("k")
                    .ok_or_else(|| StoreError::InvalidCursor("not for this listing".into()))
            })
            .transpose()?;
        let limit = page.limit.map_or(100, |l| l.clamp(1, 1000) as usize);
        self.blocking(move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(SCHEDULES).map_err(unavailable)?;
            let start = after.map_or(Bound::Unbounded, Bound::Excluded);
            let range = (start.as_ref().map(String::as_str), Bound::Unbounded);
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
                        Cursor::encode(
                            "schedules",
                            std::collections::BTreeMap::from([("k".to_owned(), k)]),
                        )
                    });
                    break;
                }
                last = Some(key.value().to_owned());
                match serde_json::from_slice(value.value()) {
                    Ok(record) => result.items.push(record),
                    Err(e) => result.skipped.push(SkippedItem {
                        key: key.value().to_owned(),
                        reason: SkipReason::Corrupt(e.to_string()),
                    }),
                }
            }
            Ok(result)
        })
        .await
    }

    async fn schedules_of(
        &self,
        owner: &ConversationKey,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let prefix = format!("{}{SEP}", owner_key(owner));
        self.blocking(move |this| {
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

    async fn due_schedules(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let bound = format!("{:015}$", now.timestamp_millis().max(0));
        self.blocking(move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let due = txn.open_table(BY_DUE).map_err(unavailable)?;
            let table = txn.open_table(SCHEDULES).map_err(unavailable)?;
            let mut found = Vec::new();
            for entry in due.range::<&str>(..bound.as_str()).map_err(unavailable)? {
                let (_, id) = entry.map_err(unavailable)?;
                if let Some(record) = read_json(&table, id.value())? {
                    found.push(record);
                }
                if found.len() >= limit as usize {
                    break;
                }
            }
            Ok(found)
        })
        .await
    }
}
