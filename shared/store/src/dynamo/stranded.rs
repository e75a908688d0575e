//! The stranded-work sweep on DynamoDB: the sparse `byDue` index over [`STRANDED_SHARDS`]
//! partition keys, read shard by shard, and conditional writes that wake what is still stranded.
//! A woken item's write is a stream record, which triggers the sender again.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use herald_domain::{DeliveryId, DeliveryStatus, NotificationId};

use super::DynamoOutboxStore;
use super::error::{map_sdk_error, written};
use super::item::{ItemExt, n, s};
use super::outbox_items::{REMOVE_DUE, SET_DUE, delivery_key, due_values, header_key};
use super::read::{due_between, due_by};
use crate::keys::notification_of_partition;
use crate::schema::EDIT_SK;
use crate::schema::{BY_DUE, DELIVERY_SK_PREFIX, NOTIFICATION_SK, STRANDED_SHARD_PREFIX, attr};
use crate::{OutboxChange, STRANDED_AFTER, STRANDED_SHARDS, StoreError, StrandedWork};

/// The change an index entry stands for, from its item's keys.
fn change_of(pk: &str, sk: &str) -> Option<OutboxChange> {
    let notification = NotificationId::parse(notification_of_partition(pk).0).ok()?;
    if sk == NOTIFICATION_SK {
        return Some(OutboxChange::Notification(notification));
    }
    if sk == EDIT_SK {
        return Some(OutboxChange::Edit(notification));
    }
    let delivery = DeliveryId::parse(sk.strip_prefix(DELIVERY_SK_PREFIX)?).ok()?;
    Some(OutboxChange::Delivery(notification, delivery))
}

/// Whether `text` names the placeholder `name` (`:now` is not named by `:nowMs`).
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        !text[at + name.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

impl DynamoOutboxStore {
    /// One conditional update of a stranded item; `false` when the condition no longer holds.
    async fn wake_if(
        &self,
        key: std::collections::HashMap<String, AttributeValue>,
        expression: String,
        condition: &str,
        values: Vec<(String, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression.clone())
            .condition_expression(condition);
        if condition.contains("#st") {
            request = request.expression_attribute_names("#st", "status");
        }
        // DynamoDB refuses values the expressions do not use.
        for (name, value) in values {
            if mentions(&expression, &name) || mentions(condition, &name) {
                request = request.expression_attribute_values(name, value);
            }
        }
        written(request.send().await)
    }

    /// The index entries each shard's query finds (up to `limit` per shard, all shards at
    /// once), with their due keys.
    async fn due_in_shards(
        &self,
        limit: usize,
        query: impl Fn(&str) -> QueryFluentBuilder,
    ) -> Result<Vec<(String, OutboxChange)>, StoreError> {
        let limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let shards = (0..STRANDED_SHARDS).map(|shard| {
            let request = query(&format!("{STRANDED_SHARD_PREFIX}{shard}")).limit(limit);
            async move { request.send().await.map_err(map_sdk_error) }
        });
        let mut due = Vec::new();
        for output in futures::future::try_join_all(shards).await? {
            for item in output.items.unwrap_or_default() {
                let (Some(pk), Some(sk), Some(key)) = (
                    item.get_s(attr::PK),
                    item.get_s(attr::SK),
                    item.get_s(BY_DUE.range_key),
                ) else {
                    continue;
                };
                if let Some(change) = change_of(pk, sk) {
                    due.push((key.to_owned(), change));
                }
            }
        }
        Ok(due)
    }
}

#[async_trait]
impl StrandedWork for DynamoOutboxStore {
    async fn stranded(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxChange>, StoreError> {
        let mut due = self
            .due_in_shards(limit, |shard| {
                due_by(&self.client, &self.table, Some(&BY_DUE), shard, now)
            })
            .await?;
        due.sort_by(|a, b| a.0.cmp(&b.0));
        due.truncate(limit);
        Ok(due.into_iter().map(|(_, change)| change).collect())
    }

    async fn latest_due(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxChange>, StoreError> {
        let per_shard = (limit / STRANDED_SHARDS as usize).max(1);
        let mut due = self
            .due_in_shards(per_shard, |shard| {
                due_between(&self.client, &self.table, &BY_DUE, shard, after, until)
                    .scan_index_forward(false)
            })
            .await?;
        due.sort_by(|a, b| b.0.cmp(&a.0));
        due.truncate(limit);
        Ok(due.into_iter().map(|(_, change)| change).collect())
    }

    async fn wake(&self, item: &OutboxChange, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if let OutboxChange::Edit(id) = item {
            return self.touch_edit(id, now).await;
        }
        let next = now + STRANDED_AFTER;
        let wakes = "wakes = if_not_exists(wakes, :zero) + :one";
        let mut values = vec![
            (":zero".to_owned(), n(0)),
            (":one".to_owned(), n(1)),
            (":now".to_owned(), s(&now.to_rfc3339())),
        ];
        match item {
            OutboxChange::Notification(id) => {
                values.extend(due_values(id, None, next));
                values.push((":false".into(), AttributeValue::Bool(false)));
                let woken = self
                    .wake_if(
                        header_key(id),
                        format!("SET {SET_DUE}, {wakes}"),
                        "expanded = :false",
                        values,
                    )
                    .await?;
                if !woken {
                    // Expanded since (or gone): it leaves the index.
                    self.wake_if(
                        header_key(id),
                        format!("REMOVE {REMOVE_DUE}"),
                        "attribute_exists(pk)",
                        Vec::new(),
                    )
                    .await?;
                }
                Ok(woken)
            }
            OutboxChange::Delivery(id, delivery) => {
                values.extend(due_values(id, Some(delivery), next));
                values.extend([
                    (":nowMs".to_owned(), n(now.timestamp_millis())),
                    (":pending".to_owned(), s(DeliveryStatus::Pending.as_str())),
                    (":sending".to_owned(), s(DeliveryStatus::Sending.as_str())),
                ]);
                // A sender died holding it: what it sent is lost, and it is pending again.
                let lost = self
                    .wake_if(
                        delivery_key(id, delivery),
                        format!(
                            "SET #st = :pending, updatedAt = :now, {SET_DUE}, {wakes}, \
                             lostAttempts = if_not_exists(lostAttempts, :zero) + :one \
                             REMOVE leaseUntil, leaseMs"
                        ),
                        "#st = :sending AND (attribute_not_exists(leaseMs) OR leaseMs < :nowMs)",
                        values.clone(),
                    )
                    .await?;
                if lost {
                    return Ok(true);
                }
                let woken = self
                    .wake_if(
                        delivery_key(id, delivery),
                        format!("SET {SET_DUE}, {wakes}"),
                        "#st = :pending AND \
                         (attribute_not_exists(notBeforeMs) OR notBeforeMs <= :nowMs)",
                        values,
                    )
                    .await?;
                if !woken {
                    // Final or installing since: it leaves the index (a live claim or backoff
                    // keeps its entry, due later).
                    self.wake_if(
                        delivery_key(id, delivery),
                        format!("REMOVE {REMOVE_DUE}"),
                        "NOT (#st IN (:pending, :sending))",
                        vec![
                            (":pending".into(), s(DeliveryStatus::Pending.as_str())),
                            (":sending".into(), s(DeliveryStatus::Sending.as_str())),
                        ],
                    )
                    .await?;
                }
                Ok(woken)
            }
            OutboxChange::Edit(_) => Ok(false),
        }
    }
}
