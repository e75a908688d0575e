//! Notifications listed newest first, a page at a time, each once.

use std::sync::Arc;

use chrono::Duration;
use herald_store::{Cursor, NotificationId, OutboxStore, PageRequest, StoreError};

use crate::support::{at, notification};

pub async fn notifications_list_newest_first(store: Arc<dyn OutboxStore>) {
    // Five notifications a minute apart, created out of order; a repeated creation adds nothing.
    let mut ids = Vec::new();
    for minute in [3, 0, 4, 1, 2] {
        let mut record = notification(NotificationId::random());
        record.created_at = at(0) + Duration::minutes(minute);
        assert_eq!(store.create_notification(&record).await.unwrap(), None);
        assert!(store.create_notification(&record).await.unwrap().is_some());
        ids.push((minute, record.id));
    }
    ids.sort_by_key(|(minute, _)| -minute);
    let expected: Vec<NotificationId> = ids.into_iter().map(|(_, id)| id).collect();

    let mut listed = Vec::new();
    let mut request = PageRequest {
        cursor: None,
        limit: Some(2),
    };
    let mut pages = 0;
    loop {
        let page = store.list_notifications(&request).await.unwrap();
        assert!(page.items.len() <= 2);
        assert!(page.skipped.is_empty());
        listed.extend(page.items.into_iter().map(|n| n.id));
        pages += 1;
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
        assert!(pages < 10, "the listing does not end");
    }
    assert_eq!(listed, expected);

    let everything = store
        .list_notifications(&PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        everything.items.iter().map(|n| &n.id).collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    assert!(everything.next_cursor.is_none());

    let mangled = PageRequest {
        cursor: Some(Cursor::from_client("not-a-cursor")),
        limit: Some(2),
    };
    assert!(matches!(
        store.list_notifications(&mangled).await,
        Err(StoreError::InvalidCursor(_))
    ));
}
