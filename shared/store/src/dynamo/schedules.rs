//! Schedules on DynamoDB, one item each, with the sparse due index and the owner index of
//! [`schema::SCHEDULES`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use herald_domain::ConversationKey;

use super::error::{condition_failed, map_sdk_error, written};
use super::item::{Item, ItemExt, from_item, next_cursor, s, start_key, to_item};
use super::read::{due_by, get_item};
use crate::keys::owner_key;
use crate::schedules::{ScheduleRecord, ScheduleStore};
use crate::schema::{self, BY_DUE, BY_OWNER, DUE_SHARD, SCHEDULE_SK, attr};
use crate::{Page, PageRequest, SkippedItem, StoreError};
use herald_domain::ScheduleId;

/// The listing name in the cursors of [`ScheduleStore::list_schedules`].
const SCHEDULE_LISTING: &str = "schedules";
/// The listing name in the cursors of [`ScheduleStore::due_page`].
const DUE_LISTING: &str = "due";

/// Schedules in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoScheduleStore {
    client: Client,
    table: String,
    /// Items DynamoDB read for this store (`ScannedCount` of queries and scans, one per get):
    /// what a tick costs, logged by the scheduler and measured by its benchmark.
    items_read: Arc<AtomicU64>,
}

fn key(id: &ScheduleId) -> Item {
    super::item::key(id.as_str(), SCHEDULE_SK)
}

/// A schedule's item: its fields, and the index keys it is listed under (due only while it is
/// active and will fire again).
fn schedule_item(record: &ScheduleRecord) -> Result<Item, StoreError> {
    let mut item = to_item(record)?;
    item.extend(key(&record.id));
    if let Some(due) = record.due_key() {
        item.insert(BY_DUE.hash_key.into(), s(DUE_SHARD));
        item.insert(BY_DUE.range_key.into(), s(&due));
    }
    if let Some(owner) = &record.owner {
        item.insert(BY_OWNER.hash_key.into(), s(&owner_key(owner)));
    }
    Ok(item)
}

/// The schedules among `items`, and reports of those that cannot be read (logged too).
fn decode(items: Vec<Item>) -> (Vec<ScheduleRecord>, Vec<SkippedItem>) {
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for item in items {
        let id = item.get_s(attr::PK).unwrap_or_default().to_owned();
        match item.decode(id) {
            Ok(record) => records.push(record),
            Err(unreadable) => {
                tracing::warn!(schedule = %unreadable.key, error = ?unreadable.reason, "skipping unreadable schedule");
                skipped.push(unreadable);
            }
        }
    }
    (records, skipped)
}

impl DynamoScheduleStore {
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            items_read: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Items read so far (see the field's doc).
    #[must_use]
    pub fn items_read(&self) -> u64 {
        self.items_read.load(Ordering::Relaxed)
    }

    fn count(&self, scanned: i32) {
        self.items_read
            .fetch_add(u64::try_from(scanned).unwrap_or(0), Ordering::Relaxed);
    }

    /// One page of a listing read with `scanned` items read, resumable from `last_key`.
    fn page(
        &self,
        scanned: i32,
        items: Option<Vec<Item>>,
        last_key: Option<&Item>,
        listing: &str,
    ) -> Page<ScheduleRecord> {
        self.count(scanned);
        let (items, skipped) = decode(items.unwrap_or_default());
        Page {
            items,
            next_cursor: next_cursor(last_key, listing),
            skipped,
        }
    }

    /// Creates the table from [`schema::SCHEDULES`] if it does not exist.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        schema::SCHEDULES.create(&self.client, &self.table).await
    }
}

#[async_trait]
impl ScheduleStore for DynamoScheduleStore {
    async fn create_schedule(&self, record: &ScheduleRecord) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(schedule_item(record)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::Conflict(format!(
                "schedule {} exists",
                record.id
            ))),
            Err(e) => Err(map_sdk_error(e)),
        }
    }

    async fn get_schedule(&self, id: &ScheduleId) -> Result<Option<ScheduleRecord>, StoreError> {
        let item = get_item(&self.client, &self.table, key(id)).await?;
        self.count(i32::from(item.is_some()));
        item.map(from_item).transpose()
    }

    async fn update_schedule(&self, record: &ScheduleRecord) -> Result<bool, StoreError> {
        let previous = record
            .version
            .checked_sub(1)
            .ok_or_else(|| StoreError::InvalidData("an update must bump the version".to_owned()))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(schedule_item(record)?))
            .condition_expression("attribute_exists(#pk) AND #v = :v")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", AttributeValue::N(previous.to_string()))
            .send()
            .await;
        written(result)
    }

    async fn delete_schedule(&self, id: &ScheduleId) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn list_schedules(&self, page: &PageRequest) -> Result<Page<ScheduleRecord>, StoreError> {
        let start = start_key(page.cursor.as_ref(), SCHEDULE_LISTING)?;
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .set_exclusive_start_key(start)
            .set_limit(page.limit.map(|l| l.clamp(1, 1000).cast_signed()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(self.page(
            output.scanned_count,
            output.items,
            output.last_evaluated_key.as_ref(),
            SCHEDULE_LISTING,
        ))
    }

    async fn schedules_of(
        &self,
        owner: &ConversationKey,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_OWNER.name)
            .key_condition_expression("#o = :o")
            .expression_attribute_names("#o", BY_OWNER.hash_key)
            .expression_attribute_values(":o", s(&owner_key(owner)))
            .send()
            .await
            .map_err(map_sdk_error)?;
        self.count(output.scanned_count);
        Ok(decode(output.items.unwrap_or_default()).0)
    }

    async fn due_page(
        &self,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<ScheduleRecord>, StoreError> {
        let output = due_by(&self.client, &self.table, Some(&BY_DUE), DUE_SHARD, now)
            .set_exclusive_start_key(start_key(page.cursor.as_ref(), DUE_LISTING)?)
            .set_limit(page.limit.map(|l| l.clamp(1, 1000).cast_signed()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(self.page(
            output.scanned_count,
            output.items,
            output.last_evaluated_key.as_ref(),
            DUE_LISTING,
        ))
    }
}
