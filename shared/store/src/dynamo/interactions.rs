//! Card actions and read receipts on DynamoDB, in the outbox table: sent copies under
//! `copy#{tenant}|{conversation}` (sort key the activity id in Teams' order), a notification's
//! settings and recorded actions under `interact#{notification}`. None of them is a
//! notification's partition, so the webhook reads them without being allowed to read deliveries,
//! and the sender's stream trigger ignores them.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use herald_domain::{ConversationId, ConversationType, NotificationId, TenantId};

use super::DynamoOutboxStore;
use super::error::{invalid, reason_condition_failed};
use super::item::{Item, key, n, s, to_item, to_value};
use super::outbox_items::{delivery_key, header_key};
use super::read::{get_record, query_all};
use crate::keys::activity_order_key;
use crate::schema::{ACTION_SK_PREFIX, COPY_PK_PREFIX, INTERACT_PK_PREFIX, SETTINGS_SK, attr};
use crate::{
    CardActionRecord, InteractionSettings, Interactions, ReadReceipt, SentCopy, StoreError,
};

/// The partition of a conversation's copies.
fn copy_pk(tenant: &TenantId, conversation: &ConversationId) -> String {
    format!("{COPY_PK_PREFIX}{tenant}|{conversation}")
}

/// The partition of a notification's interaction items.
pub(super) fn interact_pk(notification: &NotificationId) -> String {
    format!("{INTERACT_PK_PREFIX}{notification}")
}

/// A sent copy's item.
pub(super) fn copy_item(copy: &SentCopy) -> Result<Item, StoreError> {
    let mut item = to_item(copy)?;
    item.extend(key(
        &copy_pk(&copy.tenant_id, &copy.conversation_id),
        &activity_order_key(&copy.activity_id),
    ));
    Ok(item)
}

/// A notification's settings item.
pub(super) fn settings_item(settings: &InteractionSettings) -> Result<Item, StoreError> {
    let mut item = to_item(settings)?;
    item.extend(key(&interact_pk(&settings.notification_id), SETTINGS_SK));
    Ok(item)
}

/// A put of `item`, conditional on `condition` when given.
pub(super) fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    let mut put = Put::builder().table_name(table).set_item(Some(item));
    if let Some(condition) = condition {
        put = put
            .condition_expression(condition)
            .expression_attribute_names("#pk", attr::PK);
    }
    Ok(TransactWriteItem::builder()
        .put(put.build().map_err(invalid)?)
        .build())
}

/// One more `verb` in the `actions` map of the item at `key`, which must exist.
fn count_verb(table: &str, key: Item, verb: &str) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression("SET #actions.#verb = if_not_exists(#actions.#verb, :zero) + :one")
        .condition_expression("attribute_exists(#pk)")
        .expression_attribute_names("#pk", attr::PK)
        .expression_attribute_names("#actions", "actions")
        .expression_attribute_names("#verb", verb)
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":one", n(1))
        .build()
        .map_err(invalid)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// An update of the item at `key`, which must exist, as one transaction item.
fn update_existing(
    table: &str,
    key: Item,
    expression: &str,
    values: HashMap<String, AttributeValue>,
    names: &[(&str, &str)],
) -> Result<TransactWriteItem, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .condition_expression("attribute_exists(#pk)")
        .expression_attribute_names("#pk", attr::PK)
        .set_expression_attribute_values(Some(values));
    for (placeholder, name) in names {
        update = update.expression_attribute_names(*placeholder, *name);
    }
    Ok(TransactWriteItem::builder()
        .update(update.build().map_err(invalid)?)
        .build())
}

impl DynamoOutboxStore {
    /// Gives the notification and the delivery without any action yet their `actions` map, with
    /// the verb at zero (the transaction then counts it); changes nothing when they have one.
    /// Never an empty map: DynamoDB Local's stream writes one without its type, which its own SDK
    /// cannot read.
    async fn add_action_maps(&self, action: &CardActionRecord) -> Result<(), StoreError> {
        let first = AttributeValue::M(HashMap::from([(action.verb.clone(), n(0))]));
        for key in [
            header_key(&action.notification_id),
            delivery_key(&action.notification_id, &action.delivery_id),
        ] {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression("SET #actions = if_not_exists(#actions, :first)")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_names("#actions", "actions")
                .expression_attribute_values(":first", first.clone())
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(e) if super::error::condition_failed(&e) => {}
                Err(e) => return Err(super::error::map_sdk_error(e)),
            }
        }
        Ok(())
    }

    /// Marks one copy read with its delivery and its notification's count; `false` if another
    /// receipt marked it first.
    async fn mark_copy_read(&self, copy: &SentCopy, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let at_value = to_value(at)?;
        let copy_key = key(
            &copy_pk(&copy.tenant_id, &copy.conversation_id),
            &activity_order_key(&copy.activity_id),
        );
        let copy_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(copy_key))
            .update_expression("SET readAt = :at")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(readAt)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":at", at_value.clone())
            .build()
            .map_err(invalid)?;
        let copy_item = TransactWriteItem::builder().update(copy_update).build();
        let delivery = update_existing(
            &self.table,
            delivery_key(&copy.notification_id, &copy.delivery_id),
            "SET readAt = if_not_exists(readAt, :at)",
            HashMap::from([(":at".to_owned(), at_value)]),
            &[],
        )?;
        let header = update_existing(
            &self.table,
            header_key(&copy.notification_id),
            "ADD #read :one",
            HashMap::from([(":one".to_owned(), n(1))]),
            &[("#read", "read")],
        )?;
        let items = vec![copy_item.clone(), delivery, header];
        self.transact_conditional(items, None, |reasons, items| {
            if reasons.iter().skip(1).any(reason_condition_failed) && items.len() > 1 {
                // The delivery or its notification expired before the copy: mark the copy only.
                *items = vec![copy_item.clone()];
                return Ok(true);
            }
            Ok(false)
        })
        .await
    }
}

#[async_trait]
impl Interactions for DynamoOutboxStore {
    async fn find_copy(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        activity_id: &str,
    ) -> Result<Option<SentCopy>, StoreError> {
        let key = key(
            &copy_pk(tenant, conversation),
            &activity_order_key(activity_id),
        );
        get_record(&self.client, &self.table, key).await
    }

    async fn settings(
        &self,
        notification: &NotificationId,
    ) -> Result<Option<InteractionSettings>, StoreError> {
        let key = key(&interact_pk(notification), SETTINGS_SK);
        get_record(&self.client, &self.table, key).await
    }

    async fn record_action(&self, action: &CardActionRecord) -> Result<bool, StoreError> {
        let mut record = to_item(action)?;
        record.extend(key(
            &interact_pk(&action.notification_id),
            &format!("{ACTION_SK_PREFIX}{}", action.action_id),
        ));
        record.insert("expiresAt".into(), n(action.expires_at));
        let items = vec![
            put(&self.table, record, Some("attribute_not_exists(#pk)"))?,
            count_verb(
                &self.table,
                header_key(&action.notification_id),
                &action.verb,
            )?,
            count_verb(
                &self.table,
                delivery_key(&action.notification_id, &action.delivery_id),
                &action.verb,
            )?,
        ];
        // `SET actions.verb` needs the map; DynamoDB refuses the whole transaction (a
        // ValidationException, not a cancellation) when it is missing.
        self.add_action_maps(action).await?;
        self.transact_conditional(items, None, |reasons, _| {
            if reasons.iter().skip(1).any(reason_condition_failed) {
                return Err(StoreError::NotFound(format!(
                    "{}/{}",
                    action.notification_id, action.delivery_id
                )));
            }
            Ok(false)
        })
        .await
    }

    async fn mark_read(&self, receipt: &ReadReceipt) -> Result<Vec<SentCopy>, StoreError> {
        let (floor, last) = receipt.covered_keys();
        let pk = copy_pk(&receipt.tenant_id, &receipt.conversation_id);
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :floor AND :last")
            .filter_expression("attribute_not_exists(readAt) AND conversationType = :personal")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":floor", s(floor))
            .expression_attribute_values(":last", s(&last))
            .expression_attribute_values(":personal", s(ConversationType::Personal.as_str()))
            .consistent_read(true);
        let mut marked = Vec::new();
        for item in query_all(query).await? {
            // An unreadable copy is no copy anyone can read.
            let Ok(mut copy) = serde_dynamo::from_item::<_, SentCopy>(item) else {
                continue;
            };
            if self.mark_copy_read(&copy, receipt.at).await? {
                copy.read_at = Some(receipt.at);
                marked.push(copy);
            }
        }
        Ok(marked)
    }
}
