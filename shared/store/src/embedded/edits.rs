//! Edits of every copy and follow-ups in the outbox file: a notification's pending edit request
//! (indexed for the stranded-work sweep like the sweep's other items) and the follow-ups' due
//! index.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::NotificationId;
use serde::{Deserialize, Serialize};

use super::db::{blocking, read_json, unavailable, write_json};
use super::outbox::EmbeddedOutboxStore;
use super::tables::{Due, EDITS, FOLLOW_UPS_DUE, move_entry};
use crate::keys::due_bound;
use crate::{
    EditJobs, EditRequest, FollowUpDue, FollowUps, OutboxChange, STRANDED_AFTER, StoreError,
};

/// A pending edit request as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredEdit {
    requests: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    held_until: Option<DateTime<Utc>>,
}

impl EmbeddedOutboxStore {
    /// Moves the edit request's due time on (the sweep wakes it then if its trigger is lost);
    /// with `request`, counts one more request held until `hold`, else ends any hold. Returns
    /// whether there is a request.
    pub(super) fn touch_edit(
        txn: &redb::WriteTransaction,
        id: &NotificationId,
        request: bool,
        now: DateTime<Utc>,
        hold: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let mut table = txn.open_table(EDITS).map_err(unavailable)?;
        let stored = read_json::<StoredEdit>(&table, id.as_str())?;
        if stored.is_none() && !request {
            return Ok(false);
        }
        let mut edit = stored.unwrap_or_default();
        let before = edit.due_at;
        edit.requests += u64::from(request);
        edit.held_until = hold;
        edit.due_at = Some(hold.unwrap_or(now) + STRANDED_AFTER);
        write_json(&mut table, id.as_str(), &edit)?;
        drop(table);
        move_entry(txn, id, Due::Edit, before, edit.due_at)?;
        Ok(true)
    }

    /// Wakes an edit request whose trigger may be lost (the stranded-work sweep calls it).
    pub(super) fn wake_edit(
        txn: &redb::WriteTransaction,
        id: &NotificationId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Self::touch_edit(txn, id, false, now, None)
    }

    /// Indexes a new notification's follow-up (its creation's transaction calls it).
    pub(super) fn put_follow_up(
        txn: &redb::WriteTransaction,
        due: &FollowUpDue,
    ) -> Result<(), StoreError> {
        write_json(
            &mut txn.open_table(FOLLOW_UPS_DUE).map_err(unavailable)?,
            &due.key(),
            due,
        )
    }
}

#[async_trait]
impl EditJobs for EmbeddedOutboxStore {
    async fn edit_request(
        &self,
        notification: &NotificationId,
    ) -> Result<Option<EditRequest>, StoreError> {
        let id = notification.clone();
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(EDITS).map_err(unavailable)?;
            Ok(
                read_json::<StoredEdit>(&table, id.as_str())?.map(|e| EditRequest {
                    requests: e.requests,
                    held_until: e.held_until,
                }),
            )
        })
        .await
    }

    async fn finish_edit(
        &self,
        notification: &NotificationId,
        seen: &EditRequest,
    ) -> Result<bool, StoreError> {
        let (id, seen) = (notification.clone(), *seen);
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let due = {
                let mut table = txn.open_table(EDITS).map_err(unavailable)?;
                match read_json::<StoredEdit>(&table, id.as_str())? {
                    Some(edit) if edit.requests == seen.requests => {
                        table.remove(id.as_str()).map_err(unavailable)?;
                        edit.due_at
                    }
                    _ => return Ok(false),
                }
            };
            move_entry(&txn, &id, Due::Edit, due, None)?;
            txn.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn rearm_edit(
        &self,
        notification: &NotificationId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = notification.clone();
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let pending = Self::touch_edit(&txn, &id, false, now, None)?;
            txn.commit().map_err(unavailable)?;
            if pending {
                this.publish(vec![OutboxChange::Edit(id)]);
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl FollowUps for EmbeddedOutboxStore {
    async fn due_follow_ups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FollowUpDue>, StoreError> {
        let bound = due_bound(now);
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(FOLLOW_UPS_DUE).map_err(unavailable)?;
            let mut due = Vec::new();
            for entry in table.range::<&str>(..bound.as_str()).map_err(unavailable)? {
                if due.len() >= limit {
                    break;
                }
                let (_, value) = entry.map_err(unavailable)?;
                let follow_up: FollowUpDue =
                    serde_json::from_slice(value.value()).map_err(super::db::invalid)?;
                if follow_up.due_at <= now {
                    due.push(follow_up);
                }
            }
            Ok(due)
        })
        .await
    }

    async fn end_follow_up(&self, due: &FollowUpDue) -> Result<(), StoreError> {
        let key = due.key();
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            txn.open_table(FOLLOW_UPS_DUE)
                .map_err(unavailable)?
                .remove(key.as_str())
                .map_err(unavailable)?;
            txn.commit().map_err(unavailable)
        })
        .await
    }
}
