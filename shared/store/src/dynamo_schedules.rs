//! Schedules on DynamoDB.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use herald_domain::ConversationKey;

use crate::dynamo::map_sdk_error;
use crate::schedules::{ScheduleId, ScheduleRecord, ScheduleStore, due_key, owner_key};
use crate::schema::{self, DUE_SHARD, SCHEDULE_SK, attr};
use crate::{Cursor, Page, PageRequest, SkipReason, SkippedItem, StoreError};

type Item = HashMap<String, AttributeValue>;

/// Schedules in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoScheduleStore {
    client: Client,
    table: String,
    /// Items DynamoDB read for this store (`ScannedCount` of queries and scans, one per get):
    /// what a tick costs, logged by the scheduler and measured by its benchmark.
    items_read: Arc<AtomicU64>,
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn key(id: &ScheduleId) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), s(id.as_str())),
        (attr::SK.to_owned(), s(SCHEDULE_SK)),
    ])
}

fn to_item(record: &ScheduleRecord) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(record).map_err(|e| StoreError::InvalidData(e.to_string()))?;
    item.extend(key(&record.id));
    if let Some(due) = due_key(record) {
        item.insert("dueShard".into(), s(DUE_SHARD));
        item.insert("dueKey".into(), s(&due));
    }
    if let Some(owner) = &record.owner {
        item.insert("ownerKey".into(), s(&owner_key(owner)));
    }
    Ok(item)
}

fn decode(items: Vec<Item>) -> (Vec<ScheduleRecord>, Vec<SkippedItem>) {
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for item in items {
        let id = item
            .get(attr::PK)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        match serde_dynamo::from_item(item) {
            Ok(record) => records.push(record),
            Err(e) => {
                tracing::warn!(schedule = %id, error = %e, "skipping unreadable schedule");
                skipped.push(SkippedItem {
                    key: id,
                    reason: SkipReason::Corrupt(e.to_string()),
                });
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
            .set_item(Some(to_item(record)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(PutItemError::is_conditional_check_failed_exception) =>
            {
                Err(StoreError::Conflict(format!(
                    "schedule {} exists",
                    record.id
                )))
            }
            Err(e) => Err(map_sdk_error(e)),
        }
    }

    async fn get_schedule(&self, id: &ScheduleId) -> Result<Option<ScheduleRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        self.count(i32::from(output.item.is_some()));
        output
            .item
            .map(|item| {
                serde_dynamo::from_item(item).map_err(|e| StoreError::InvalidData(e.to_string()))
            })
            .transpose()
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
            .set_item(Some(to_item(record)?))
            .condition_expression("attribute_exists(#pk) AND #v = :v")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", AttributeValue::N(previous.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(PutItemError::is_conditional_check_failed_exception) =>
            {
                Ok(false)
            }
            Err(e) => Err(map_sdk_error(e)),
        }
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
        let start: Option<Item> = page
            .cursor
            .as_ref()
            .map(|c| c.decode("schedules"))
            .transpose()?
            .map(|k| k.into_iter().map(|(k, v)| (k, s(&v))).collect());
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .set_exclusive_start_key(start)
            .set_limit(page.limit.map(|l| l.clamp(1, 1000).cast_signed()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        self.count(output.scanned_count);
        let (items, skipped) = decode(output.items.unwrap_or_default());
        Ok(Page {
            items,
            next_cursor: output
                .last_evaluated_key
                .filter(|k| !k.is_empty())
                .map(|k| {
                    let key: BTreeMap<String, String> = k
                        .iter()
                        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone())))
                        .collect();
                    Cursor::encode("schedules", key)
                }),
            skipped,
        })
    }

    async fn schedules_of(
        &self,
        owner: &ConversationKey,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(schema::BY_OWNER.name)
            .key_condition_expression("ownerKey = :o")
            .expression_attribute_values(":o", s(&owner_key(owner)))
            .send()
            .await
            .map_err(map_sdk_error)?;
        self.count(output.scanned_count);
        Ok(decode(output.items.unwrap_or_default()).0)
    }

    async fn due_schedules(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        // Every due key at or before `now` sorts below this bound.
        let bound = format!("{:015}$", now.timestamp_millis().max(0));
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(schema::BY_DUE.name)
            .key_condition_expression("dueShard = :d AND dueKey < :b")
            .expression_attribute_values(":d", s(DUE_SHARD))
            .expression_attribute_values(":b", s(&bound))
            .limit(limit.clamp(1, 1000).cast_signed())
            .send()
            .await
            .map_err(map_sdk_error)?;
        self.count(output.scanned_count);
        Ok(decode(output.items.unwrap_or_default()).0)
    }
}
