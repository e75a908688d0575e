//! The outbox's notifications, newest first, through the `notificationsByCreated` table the
//! outbox writes with each new notification (the embedded twin of DynamoDB's `byCreated`).

use std::ops::Bound;

use redb::{ReadableTable, ReadableTableMetadata};

use super::db::{
    DEFAULT_PAGE, blocking, cursor_after, display_key, read_json, resume_after, unavailable,
};
use super::outbox::EmbeddedOutboxStore;
use super::tables::{NOTIFICATIONS, NOTIFICATIONS_BY_CREATED, created_key};
use crate::{NotificationRecord, Page, PageRequest, SkipReason, SkippedItem, StoreError};

/// The listing name in the cursors of `list_notifications`.
const NOTIFICATION_LISTING: &str = "notifications";

impl EmbeddedOutboxStore {
    pub(super) async fn notifications_newest_first(
        &self,
        page: &PageRequest,
    ) -> Result<Page<NotificationRecord>, StoreError> {
        let before = resume_after(page.cursor.as_ref(), NOTIFICATION_LISTING, "")?;
        let limit = page
            .limit
            .map_or(DEFAULT_PAGE, |l| l.clamp(1, 1000) as usize);
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let index = txn
                .open_table(NOTIFICATIONS_BY_CREATED)
                .map_err(unavailable)?;
            let headers = txn.open_table(NOTIFICATIONS).map_err(unavailable)?;
            let end = before.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let mut page = Page {
                items: Vec::new(),
                next_cursor: None,
                skipped: Vec::new(),
            };
            let mut last: Option<String> = None;
            let entries = index
                .range::<&str>((Bound::Unbounded, end))
                .map_err(unavailable)?
                .rev();
            for (read, entry) in entries.enumerate() {
                let (key, _) = entry.map_err(unavailable)?;
                if read == limit {
                    page.next_cursor = last.take().map(|k| cursor_after(NOTIFICATION_LISTING, k));
                    break;
                }
                let key = key.value().to_owned();
                // `{created ms}#{notification id}`
                let id = key.split_once('#').map_or("", |(_, id)| id);
                match read_json::<NotificationRecord>(&headers, id) {
                    Ok(Some(record)) => page.items.push(record),
                    Ok(None) => {}
                    Err(e) => page.skipped.push(SkippedItem {
                        key: display_key(id),
                        reason: SkipReason::Corrupt(e.to_string()),
                    }),
                }
                last = Some(key);
            }
            Ok(page)
        })
        .await
    }

    /// Lists notifications stored before the listing existed (a data directory from an older
    /// Herald): run at open, a no-op once every notification is listed.
    pub(super) fn index_unlisted_notifications(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(unavailable)?;
        {
            let headers = txn.open_table(NOTIFICATIONS).map_err(unavailable)?;
            let mut index = txn
                .open_table(NOTIFICATIONS_BY_CREATED)
                .map_err(unavailable)?;
            if index.len().map_err(unavailable)? >= headers.len().map_err(unavailable)? {
                return Ok(());
            }
            for entry in headers.iter().map_err(unavailable)? {
                let (_, value) = entry.map_err(unavailable)?;
                if let Ok(record) = serde_json::from_slice::<NotificationRecord>(value.value()) {
                    index
                        .insert(created_key(&record).as_str(), [].as_slice())
                        .map_err(unavailable)?;
                }
            }
        }
        txn.commit().map_err(unavailable)
    }
}
