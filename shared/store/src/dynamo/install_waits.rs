//! Installation waits on DynamoDB, in the outbox table beside the deliveries they belong to:
//! one item by recipient (`install#{tenant}#{aad}`) for the webhook and one due marker (under
//! [`INSTALL_DUE_PK`], sorted by deadline) for the timeout sweep.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use herald_domain::{AadObjectId, DeliveryId, DeliveryStatus, TenantId};

use super::error::{condition_failed, invalid, map_sdk_error};
use super::item::{Item, ItemExt, key, n, s, to_item, to_value};
use super::outbox::DynamoOutboxStore;
use super::outbox_items::{
    REMOVE_DUE, SET_DUE, counts_item, delivery_key, due_values, outcome_changes,
};
use super::read::{due_by, query_all};
use crate::outbox::count_deltas;
use crate::schema::{INSTALL_DUE_PK, INSTALL_WAIT_PK_PREFIX, attr};
use crate::{
    InstallResolution, InstallWait, InstallWaits, NotificationId, OutboxStore, StoreError,
};

/// The partition of a recipient's waits; never a notification id, so the sender's stream
/// trigger ignores it.
fn wait_pk(tenant: &TenantId, recipient: &AadObjectId) -> String {
    format!("{INSTALL_WAIT_PK_PREFIX}{tenant}#{recipient}")
}

/// The keys of a wait's two items: by recipient, and its due marker.
fn wait_keys(wait: &InstallWait) -> [Item; 2] {
    [
        key(
            &wait_pk(&wait.tenant_id, &wait.recipient),
            &wait.delivery_key(),
        ),
        key(INSTALL_DUE_PK, &wait.due_key()),
    ]
}

/// A wait's two items, each carrying the wait's fields and `expiresAt` (TTL): the delivery's
/// own, so a wait never outlives its delivery. TTL is only the safety net for waits nobody
/// ended; the timeout sweep ends them at their deadline.
fn wait_items(wait: &InstallWait, expires_at: i64) -> Result<[Item; 2], StoreError> {
    let mut fields = to_item(wait)?;
    fields.insert("expiresAt".into(), n(expires_at));
    Ok(wait_keys(wait).map(|k| {
        let mut item = fields.clone();
        item.extend(k);
        item
    }))
}

/// A stored wait, or a typed error naming the item that cannot be read.
fn decode_wait(item: Item) -> Result<InstallWait, StoreError> {
    let name = item.key_name();
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::InvalidData(format!("installation wait {name}: {e}")))
}

impl DynamoOutboxStore {
    /// Deletes what is left of a wait whose delivery has moved on. The by-recipient item is
    /// shared by every wait of the delivery, so it goes only if it is still this wait's (same
    /// deadline); the due marker names the deadline and is this wait's alone.
    async fn remove_stale_wait(&self, wait: &InstallWait) -> Result<(), StoreError> {
        let [by_recipient, due] = wait_keys(wait);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(by_recipient))
            .condition_expression("#deadline = :deadline")
            .expression_attribute_names("#deadline", "deadline")
            .expression_attribute_values(":deadline", to_value(wait.deadline)?)
            .send()
            .await;
        match result {
            Ok(_) => {}
            // Another wait of the delivery owns the item now: it stays.
            Err(e) if condition_failed(&e) => {}
            Err(e) => return Err(map_sdk_error(e)),
        }
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(due))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }
}

#[async_trait]
impl InstallWaits for DynamoOutboxStore {
    async fn begin_install(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // The wait's tenant and recipient are the delivery's, which never change.
        let Some(record) = self.get_delivery(notification, delivery).await? else {
            return Ok(false);
        };
        let lease_ms = claimed_until.timestamp_millis();
        if record.status != DeliveryStatus::Sending
            || record.lease_until.map(|l| l.timestamp_millis()) != Some(lease_ms)
        {
            return Ok(false);
        }
        let Some(recipient) = record.recipient else {
            return Err(StoreError::InvalidData(format!(
                "{notification}/{delivery}: no recipient to install the app for"
            )));
        };
        let wait = InstallWait {
            notification_id: notification.clone(),
            delivery_id: delivery.to_owned(),
            tenant_id: record.tenant_id,
            recipient,
            deadline,
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(delivery_key(notification, delivery)))
            .update_expression(
                "SET #st = :installing, installDeadline = :deadline, updatedAt = :now \
                 REMOVE leaseUntil, leaseMs, dueShard, dueKey",
            )
            .condition_expression("#st = :sending AND leaseMs = :leaseMs")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":leaseMs", n(lease_ms))
            .expression_attribute_values(":installing", s(DeliveryStatus::Installing.as_str()))
            .expression_attribute_values(":sending", s(DeliveryStatus::Sending.as_str()))
            .expression_attribute_values(":deadline", to_value(deadline)?)
            .expression_attribute_values(":now", s(&now.to_rfc3339()))
            .build()
            .map_err(invalid)?;
        // A claimed delivery is still counted as pending (claims leave the counts alone).
        let deltas = count_deltas(&[
            (DeliveryStatus::Pending, -1),
            (DeliveryStatus::Installing, 1),
        ]);
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            counts_item(&self.table, notification, &deltas)?,
        ];
        for item in wait_items(&wait, record.expires_at)? {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build()
                .map_err(invalid)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        self.transact_on_delivery(notification, items).await
    }

    async fn waits_for(
        &self,
        tenant: &TenantId,
        recipient: &AadObjectId,
    ) -> Result<Vec<InstallWait>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":pk", s(&wait_pk(tenant, recipient)))
            .consistent_read(true);
        query_all(query)
            .await?
            .into_iter()
            .map(decode_wait)
            .collect()
    }

    async fn due_waits(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<InstallWait>, StoreError> {
        let mut waits = Vec::new();
        let mut start: Option<Item> = None;
        while waits.len() < limit {
            let wanted = (limit - waits.len()).min(1000);
            let output = due_by(&self.client, &self.table, None, INSTALL_DUE_PK, now)
                .consistent_read(true)
                .limit(i32::try_from(wanted).unwrap_or(1000))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(map_sdk_error)?;
            for item in output.items.unwrap_or_default() {
                let wait = decode_wait(item)?;
                if wait.deadline <= now && waits.len() < limit {
                    waits.push(wait);
                }
            }
            start = output.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                break;
            }
        }
        Ok(waits)
    }

    async fn end_install(
        &self,
        wait: &InstallWait,
        resolution: &InstallResolution,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        resolution.check()?;
        let notification = &wait.notification_id;
        let mut sets = vec!["#st = :status", "updatedAt = :now"];
        let mut removes = vec!["installDeadline", "leaseUntil", "leaseMs"];
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(delivery_key(notification, &wait.delivery_id)))
            .condition_expression("#st = :installing AND installDeadline = :deadline")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":installing", s(DeliveryStatus::Installing.as_str()))
            .expression_attribute_values(":deadline", to_value(wait.deadline)?)
            .expression_attribute_values(":now", s(&now.to_rfc3339()));
        let status = match resolution {
            InstallResolution::Resolved {
                conversation_id,
                service_url,
            } => {
                sets.extend(["conversationId = :conversation", "serviceUrl = :serviceUrl"]);
                removes.push("#error");
                update = update
                    .expression_attribute_values(":conversation", s(conversation_id.as_str()))
                    .expression_attribute_values(":serviceUrl", to_value(service_url)?);
                DeliveryStatus::Pending
            }
            InstallResolution::Retry { error } => {
                sets.push("#error = :error");
                update = update.expression_attribute_values(":error", s(error));
                DeliveryStatus::Pending
            }
            InstallResolution::Finished(outcome) => {
                let changes = outcome_changes(outcome);
                sets.extend(changes.sets);
                removes.extend(changes.removes);
                for (name, value) in changes.values {
                    update = update.expression_attribute_values(name, value);
                }
                outcome.status
            }
        };
        if status.is_final() {
            removes.push(REMOVE_DUE);
        } else {
            // Pending again: the change triggers the sender, and the sweep backs that trigger up.
            sets.push(SET_DUE);
            for (name, value) in due_values(
                notification,
                Some(&wait.delivery_id),
                now + crate::STRANDED_AFTER,
            ) {
                update = update.expression_attribute_values(name, value);
            }
        }
        let update = update
            .expression_attribute_values(":status", s(status.as_str()))
            .update_expression(format!(
                "SET {} REMOVE {}",
                sets.join(", "),
                removes.join(", ")
            ))
            .build()
            .map_err(invalid)?;
        let deltas = count_deltas(&[(DeliveryStatus::Installing, -1), (status, 1)]);
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            counts_item(&self.table, notification, &deltas)?,
        ];
        for k in wait_keys(wait) {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(k))
                .build()
                .map_err(invalid)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        if self.transact_on_delivery(notification, items).await? {
            return Ok(true);
        }
        self.remove_stale_wait(wait).await?;
        Ok(false)
    }
}
