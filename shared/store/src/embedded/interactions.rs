//! Card actions and read receipts in the outbox file: sent copies by conversation and activity
//! id, interaction settings and recorded actions by notification, all written in the same
//! transactions as the deliveries and counts they move.

use async_trait::async_trait;
use herald_domain::{ConversationId, ConversationType, NotificationId, TenantId};
use redb::ReadableTable;

use super::db::{SEP, blocking, read_json, unavailable, write_json};
use super::outbox::EmbeddedOutboxStore;
use super::tables::{
    ACTIONS, DELIVERIES, SENT_COPIES, SETTINGS, copies_prefix, copy_key, delivery_key,
};
use crate::keys::activity_order_key;
use crate::{
    CardActionRecord, DeliveryRecord, InteractionSettings, Interactions, ReadReceipt, SentCopy,
    StoreError,
};

impl EmbeddedOutboxStore {
    /// Moves one count of a delivery's record inside a write transaction, if it is there.
    fn update_delivery(
        txn: &redb::WriteTransaction,
        notification: &NotificationId,
        delivery: &herald_domain::DeliveryId,
        change: impl FnOnce(&mut DeliveryRecord),
    ) -> Result<(), StoreError> {
        let key = delivery_key(notification, delivery);
        let mut table = txn.open_table(DELIVERIES).map_err(unavailable)?;
        let Some(mut record) = read_json::<DeliveryRecord>(&table, &key)? else {
            return Ok(());
        };
        change(&mut record);
        write_json(&mut table, &key, &record)
    }

    /// Indexes a sent copy (the outcome's transaction calls it).
    pub(super) fn put_copy(
        txn: &redb::WriteTransaction,
        copy: &SentCopy,
    ) -> Result<(), StoreError> {
        write_json(
            &mut txn.open_table(SENT_COPIES).map_err(unavailable)?,
            &copy_key(copy),
            copy,
        )
    }

    /// Stores a new notification's interaction settings (its creation's transaction calls it).
    pub(super) fn put_settings(
        txn: &redb::WriteTransaction,
        settings: &InteractionSettings,
    ) -> Result<(), StoreError> {
        write_json(
            &mut txn.open_table(SETTINGS).map_err(unavailable)?,
            settings.notification_id.as_str(),
            settings,
        )
    }
}

#[async_trait]
impl Interactions for EmbeddedOutboxStore {
    async fn find_copy(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        activity_id: &str,
    ) -> Result<Option<SentCopy>, StoreError> {
        let key = format!(
            "{}{}",
            copies_prefix(tenant, conversation),
            activity_order_key(activity_id)
        );
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(SENT_COPIES).map_err(unavailable)?;
            read_json(&table, &key)
        })
        .await
    }

    async fn settings(
        &self,
        notification: &NotificationId,
    ) -> Result<Option<InteractionSettings>, StoreError> {
        let id = notification.clone();
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(SETTINGS).map_err(unavailable)?;
            read_json(&table, id.as_str())
        })
        .await
    }

    async fn record_action(&self, action: &CardActionRecord) -> Result<bool, StoreError> {
        let action = action.clone();
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let key = format!("{}{SEP}{}", action.notification_id, action.action_id);
            {
                let mut table = txn.open_table(ACTIONS).map_err(unavailable)?;
                if table.get(key.as_str()).map_err(unavailable)?.is_some() {
                    return Ok(false);
                }
                write_json(&mut table, &key, &action)?;
            }
            let counted = Self::update_header(&txn, &action.notification_id, |header| {
                *header.actions.entry(action.verb.clone()).or_default() += 1;
                Ok(true)
            })?;
            if !counted {
                return Err(StoreError::NotFound(format!(
                    "notification {}",
                    action.notification_id
                )));
            }
            Self::update_delivery(&txn, &action.notification_id, &action.delivery_id, |d| {
                *d.actions.entry(action.verb.clone()).or_default() += 1;
            })?;
            txn.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn mark_read(&self, receipt: &ReadReceipt) -> Result<Vec<SentCopy>, StoreError> {
        let (floor, last) = receipt.covered_keys();
        let prefix = copies_prefix(&receipt.tenant_id, &receipt.conversation_id);
        let (start, end) = (format!("{prefix}{floor}"), format!("{prefix}{last}"));
        let at = receipt.at;
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let mut marked = Vec::new();
            {
                let mut copies = txn.open_table(SENT_COPIES).map_err(unavailable)?;
                let mut unread = Vec::new();
                for entry in copies
                    .range::<&str>(start.as_str()..=end.as_str())
                    .map_err(unavailable)?
                {
                    let (key, value) = entry.map_err(unavailable)?;
                    // An unreadable copy is no copy anyone can read.
                    let Ok(copy) = serde_json::from_slice::<SentCopy>(value.value()) else {
                        continue;
                    };
                    if copy.read_at.is_none()
                        && copy.conversation_type == ConversationType::Personal
                    {
                        unread.push((key.value().to_owned(), copy));
                    }
                }
                for (key, mut copy) in unread {
                    copy.read_at = Some(at);
                    write_json(&mut copies, &key, &copy)?;
                    marked.push(copy);
                }
            }
            for copy in &marked {
                Self::update_delivery(&txn, &copy.notification_id, &copy.delivery_id, |d| {
                    d.read_at.get_or_insert(at);
                })?;
                Self::update_header(&txn, &copy.notification_id, |header| {
                    header.read += 1;
                    Ok(true)
                })?;
            }
            txn.commit().map_err(unavailable)?;
            Ok(marked)
        })
        .await
    }
}
