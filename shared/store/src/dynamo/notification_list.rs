//! The outbox's notifications, newest first, through the sparse `byCreated` index that holds
//! only header items (a query read backwards,
//! <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html>).

use super::error::map_sdk_error;
use super::item::{ItemExt, next_cursor, s, start_key};
use super::outbox::DynamoOutboxStore;
use crate::schema::{BY_CREATED, NOTIFICATION_LIST_SHARD, attr};
use crate::{NotificationRecord, Page, PageRequest, StoreError};

/// The listing name in the cursors of `list_notifications`.
const NOTIFICATION_LISTING: &str = "notifications";

impl DynamoOutboxStore {
    pub(super) async fn notifications_newest_first(
        &self,
        page: &PageRequest,
    ) -> Result<Page<NotificationRecord>, StoreError> {
        let start = start_key(page.cursor.as_ref(), NOTIFICATION_LISTING)?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_CREATED.name)
            .key_condition_expression("#shard = :shard")
            .expression_attribute_names("#shard", BY_CREATED.hash_key)
            .expression_attribute_values(":shard", s(NOTIFICATION_LIST_SHARD))
            .scan_index_forward(false)
            .set_exclusive_start_key(start)
            .set_limit(page.limit.map(|l| l.clamp(1, 1000).cast_signed()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        let mut result = Page {
            items: Vec::new(),
            next_cursor: next_cursor(output.last_evaluated_key.as_ref(), NOTIFICATION_LISTING),
            skipped: Vec::new(),
        };
        for item in output.items.unwrap_or_default() {
            let key = item.get_s(attr::PK).unwrap_or("?").to_owned();
            match item.decode(key) {
                Ok(record) => result.items.push(record),
                Err(skipped) => result.skipped.push(skipped),
            }
        }
        Ok(result)
    }
}
