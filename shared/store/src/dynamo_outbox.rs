//! The outbox on DynamoDB: one table, header and deliveries under the notification id.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use herald_domain::{AadObjectId, DeliveryStatus, TenantId};

use crate::dynamo::map_sdk_error;
use crate::outbox::{
    Claim, DeliveryRecord, InstallResolution, InstallWait, InstallWaits, NotificationId,
    NotificationRecord, OutboxStore, Outcome,
};
use crate::schema::{
    self, DELIVERY_SK_PREFIX, INSTALL_DUE_PK, INSTALL_WAIT_PK_PREFIX, NOTIFICATION_SK, attr,
};
use crate::{Cursor, Page, PageRequest, StoreError};

type Item = HashMap<String, AttributeValue>;

/// A transaction holds at most 100 items: the header update and 99 deliveries.
pub const MAX_PAGE: usize = 99;
/// Header counter updates that collide with an expansion transaction are retried this often.
const CONFLICT_RETRIES: u32 = 20;

/// Notifications and deliveries in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoOutboxStore {
    client: Client,
    table: String,
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidData(e.to_string())
}

fn delivery_sk(delivery: &str) -> String {
    format!("{DELIVERY_SK_PREFIX}{delivery}")
}

fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([(attr::PK.to_owned(), s(pk)), (attr::SK.to_owned(), s(sk))])
}

fn header_item(record: &NotificationRecord) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(invalid)?;
    item.extend(key(record.id.as_str(), NOTIFICATION_SK));
    Ok(item)
}

fn delivery_item(record: &DeliveryRecord) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(invalid)?;
    item.extend(key(
        record.notification_id.as_str(),
        &delivery_sk(&record.delivery_id),
    ));
    if let Some(lease) = record.lease_until {
        item.insert("leaseMs".into(), n(lease.timestamp_millis()));
    }
    Ok(item)
}

fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// A value as `serde_dynamo` stores it, for conditions that compare with a stored field.
fn value<T: serde::Serialize>(value: T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(invalid)
}

fn wait_pk(tenant: &TenantId, recipient: &AadObjectId) -> String {
    format!("{INSTALL_WAIT_PK_PREFIX}{tenant}#{recipient}")
}

/// How an outcome changes a delivery item besides its status: `SET` clauses, `REMOVE`d
/// attributes and the values they name (`#error` stands for `error`).
struct OutcomeChanges {
    sets: Vec<&'static str>,
    removes: Vec<&'static str>,
    values: Vec<(&'static str, AttributeValue)>,
}

fn outcome_changes(outcome: &Outcome) -> OutcomeChanges {
    let mut changes = OutcomeChanges {
        sets: Vec::new(),
        removes: Vec::new(),
        values: Vec::new(),
    };
    match &outcome.activity_id {
        Some(id) => {
            changes.sets.push("activityId = :activity");
            changes.values.push((":activity", s(id)));
        }
        None => changes.removes.push("activityId"),
    }
    match &outcome.error {
        Some(error) => {
            changes.sets.push("#error = :error");
            changes.values.push((":error", s(error)));
        }
        None => changes.removes.push("#error"),
    }
    if let Some(conversation) = &outcome.conversation_id {
        changes.sets.push("conversationId = :conversation");
        changes
            .values
            .push((":conversation", s(conversation.as_str())));
    }
    changes
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
    let mut fields: Item = serde_dynamo::to_item(wait).map_err(invalid)?;
    fields.insert("expiresAt".into(), n(expires_at));
    Ok(wait_keys(wait).map(|k| {
        let mut item = fields.clone();
        item.extend(k);
        item
    }))
}

/// A stored wait, or a typed error naming the item that cannot be read.
fn decode_wait(item: Item) -> Result<InstallWait, StoreError> {
    let name = format!(
        "{}/{}",
        string_attr(&item, attr::PK).unwrap_or("?"),
        string_attr(&item, attr::SK).unwrap_or("?")
    );
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::InvalidData(format!("installation wait {name}: {e}")))
}

fn condition_failed(reason: &CancellationReason) -> bool {
    reason.code() == Some("ConditionalCheckFailed")
}

/// `SET counts.#c0 = counts.#c0 + :c0, ...` for the given count changes. A status the header
/// has no count for yet (one added after the notification was created) starts from zero.
fn count_updates(
    deltas: &BTreeMap<DeliveryStatus, i64>,
    names: &mut HashMap<String, String>,
    values: &mut HashMap<String, AttributeValue>,
) -> Vec<String> {
    names.insert("#counts".into(), "counts".into());
    let sets: Vec<String> = deltas
        .iter()
        .filter(|(_, d)| **d != 0)
        .enumerate()
        .map(|(i, (status, delta))| {
            names.insert(format!("#c{i}"), status.as_str().to_owned());
            values.insert(format!(":c{i}"), n(*delta));
            format!("#counts.#c{i} = if_not_exists(#counts.#c{i}, :zeroCount) + :c{i}")
        })
        .collect();
    if !sets.is_empty() {
        values.insert(":zeroCount".into(), n(0));
    }
    sets
}

impl DynamoOutboxStore {
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table from [`schema::OUTBOX`] if it does not exist.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        schema::OUTBOX.create(&self.client, &self.table).await
    }

    /// The header update (cursor, page count, counts) and one conditional put per delivery.
    fn page_transaction(
        &self,
        id: &NotificationId,
        from: Option<&str>,
        to: Option<&str>,
        pending: &[&DeliveryRecord],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut names = HashMap::from([
            ("#cursor".to_owned(), "expansionCursor".to_owned()),
            ("#pages".to_owned(), "expansionPages".to_owned()),
            ("#expanded".to_owned(), "expanded".to_owned()),
            ("#pk".to_owned(), attr::PK.to_owned()),
        ]);
        let mut values = HashMap::from([
            (":one".to_owned(), n(1)),
            (":expanded".to_owned(), AttributeValue::Bool(to.is_none())),
            (":notExpanded".to_owned(), AttributeValue::Bool(false)),
        ]);
        let mut deltas: BTreeMap<DeliveryStatus, i64> = BTreeMap::new();
        for d in pending {
            *deltas.entry(d.status).or_default() += 1;
        }
        let mut sets = vec![
            "#pages = #pages + :one".to_owned(),
            "#expanded = :expanded".to_owned(),
        ];
        sets.extend(count_updates(&deltas, &mut names, &mut values));
        let mut expression = format!("SET {}", sets.join(", "));
        match to {
            Some(to) => {
                values.insert(":to".into(), s(to));
                expression.push_str(", #cursor = :to");
            }
            None => expression.push_str(" REMOVE #cursor"),
        }
        let condition = match from {
            Some(from) => {
                values.insert(":from".into(), s(from));
                "attribute_exists(#pk) AND #expanded = :notExpanded AND #cursor = :from"
            }
            None => {
                "attribute_exists(#pk) AND #expanded = :notExpanded \
                 AND attribute_not_exists(#cursor)"
            }
        };
        let header = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(id.as_str(), NOTIFICATION_SK)))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(invalid)?;
        let mut items = vec![TransactWriteItem::builder().update(header).build()];
        for d in pending {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(delivery_item(d)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", attr::PK)
                .build()
                .map_err(invalid)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        Ok(items)
    }

    /// The header's count changes as a transaction item.
    fn counts_item(
        &self,
        id: &NotificationId,
        deltas: &BTreeMap<DeliveryStatus, i64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut names = HashMap::from([("#pk".to_owned(), attr::PK.to_owned())]);
        let mut values = HashMap::new();
        let sets = count_updates(deltas, &mut names, &mut values);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(id.as_str(), NOTIFICATION_SK)))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression("attribute_exists(#pk)")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(invalid)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Runs a transaction whose first item is a delivery's conditional update and whose second
    /// is its notification's counts. Returns `false` if the delivery's condition failed (nothing
    /// was written); collisions with other transactions on the same items are retried.
    async fn transact_on_delivery(
        &self,
        id: &NotificationId,
        items: Vec<TransactWriteItem>,
    ) -> Result<bool, StoreError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let Err(e) = result else {
                return Ok(true);
            };
            let reasons = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    c.cancellation_reasons().to_vec()
                }
                _ => return Err(map_sdk_error(e)),
            };
            if reasons.first().is_some_and(condition_failed) {
                return Ok(false);
            }
            if reasons.get(1).is_some_and(condition_failed) {
                return Err(StoreError::NotFound(format!("notification {id}")));
            }
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                if attempt >= CONFLICT_RETRIES {
                    return Err(StoreError::Conflict(format!(
                        "notification {id}: transaction conflicts after {attempt} retries"
                    )));
                }
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt))).await;
                continue;
            }
            return Err(map_sdk_error(e));
        }
    }

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
            .expression_attribute_values(":deadline", value(wait.deadline)?)
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(DeleteItemError::is_conditional_check_failed_exception) => {}
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

    /// Applies count changes to a header, retrying collisions with expansion transactions.
    async fn add_counts(
        &self,
        id: &NotificationId,
        deltas: &BTreeMap<DeliveryStatus, i64>,
    ) -> Result<(), StoreError> {
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let sets = count_updates(deltas, &mut names, &mut values);
        if sets.is_empty() {
            return Ok(());
        }
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(id.as_str(), NOTIFICATION_SK)))
                .update_expression(format!("SET {}", sets.join(", ")))
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(e)
                    if attempt < CONFLICT_RETRIES
                        && e.as_service_error().and_then(ProvideErrorMetadata::code)
                            == Some("TransactionConflictException") =>
                {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt)))
                        .await;
                }
                Err(e) => return Err(map_sdk_error(e)),
            }
        }
    }
}

#[async_trait]
impl OutboxStore for DynamoOutboxStore {
    async fn create_notification(
        &self,
        record: &NotificationRecord,
    ) -> Result<Option<NotificationRecord>, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(header_item(record)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e)
                if e.as_service_error().is_some_and(
                    aws_sdk_dynamodb::operation::put_item::PutItemError::is_conditional_check_failed_exception,
                ) =>
            {
                self.get_notification(&record.id).await
            }
            Err(e) => Err(map_sdk_error(e)),
        }
    }

    async fn get_notification(
        &self,
        id: &NotificationId,
    ) -> Result<Option<NotificationRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id.as_str(), NOTIFICATION_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        output
            .item
            .map(|item| serde_dynamo::from_item(item).map_err(invalid))
            .transpose()
    }

    async fn append_page(
        &self,
        id: &NotificationId,
        from: Option<&str>,
        to: Option<&str>,
        deliveries: &[DeliveryRecord],
    ) -> Result<bool, StoreError> {
        if deliveries.len() > MAX_PAGE {
            return Err(StoreError::InvalidData(format!(
                "a page holds at most {MAX_PAGE} deliveries, got {}",
                deliveries.len()
            )));
        }
        let mut pending: Vec<&DeliveryRecord> = deliveries.iter().collect();
        loop {
            let items = self.page_transaction(id, from, to, &pending)?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let Err(e) = result else {
                return Ok(true);
            };
            let reasons = match e.as_service_error() {
                Some(
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c),
                ) => c.cancellation_reasons().to_vec(),
                _ => return Err(map_sdk_error(e)),
            };
            let failed = |r: &aws_sdk_dynamodb::types::CancellationReason| {
                r.code() == Some("ConditionalCheckFailed")
            };
            if reasons.first().is_some_and(failed) {
                // Another expander moved the cursor: this page is theirs.
                return Ok(false);
            }
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
            // Deliveries already present (a recipient listed twice): drop them and retry.
            let before = pending.len();
            let mut index = 0;
            pending.retain(|_| {
                index += 1;
                !reasons.get(index).is_some_and(failed)
            });
            if pending.len() == before {
                return Err(map_sdk_error(e));
            }
        }
    }

    async fn claim_delivery(
        &self,
        notification: &NotificationId,
        delivery: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(notification.as_str(), &delivery_sk(delivery))))
            .update_expression(
                "SET #st = :sending, leaseUntil = :lease, leaseMs = :leaseMs, \
                 updatedAt = :now, attempts = if_not_exists(attempts, :zero) + :one",
            )
            .condition_expression(
                "#st = :pending OR (#st = :sending AND (attribute_not_exists(leaseMs) \
                 OR leaseMs < :nowMs))",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":sending", s(DeliveryStatus::Sending.as_str()))
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":lease", s(&lease_until.to_rfc3339()))
            .expression_attribute_values(":leaseMs", n(lease_until.timestamp_millis()))
            .expression_attribute_values(":now", s(&now.to_rfc3339()))
            .expression_attribute_values(":nowMs", n(now.timestamp_millis()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output.attributes.unwrap_or_default();
                Ok(Claim::Claimed(Box::new(
                    serde_dynamo::from_item(item).map_err(invalid)?,
                )))
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    let Some(item) = c.item() else {
                        return Ok(Claim::Missing);
                    };
                    let record: DeliveryRecord =
                        serde_dynamo::from_item(item.clone()).map_err(invalid)?;
                    Ok(match (record.status, record.lease_until) {
                        (DeliveryStatus::Sending, Some(until)) => Claim::Held { until },
                        // Installing: the end of the wait makes it pending again, and that
                        // change triggers the sender; this trigger has nothing to do.
                        (status, _)
                            if status.is_final() || status == DeliveryStatus::Installing =>
                        {
                            Claim::Done
                        }
                        _ => Claim::Held { until: now },
                    })
                }
                _ => Err(map_sdk_error(e)),
            },
        }
    }

    async fn record_outcome(
        &self,
        notification: &NotificationId,
        delivery: &str,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let changes = outcome_changes(outcome);
        let mut sets = vec!["#st = :status", "updatedAt = :now"];
        sets.extend(changes.sets);
        let mut removes = vec!["leaseUntil", "leaseMs"];
        removes.extend(changes.removes);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(notification.as_str(), &delivery_sk(delivery))))
            .condition_expression("#st = :sending")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":status", s(outcome.status.as_str()))
            .expression_attribute_values(":sending", s(DeliveryStatus::Sending.as_str()))
            .expression_attribute_values(":now", s(&now.to_rfc3339()));
        for (name, value) in changes.values {
            request = request.expression_attribute_values(name, value);
        }
        let expression = format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "));
        match request.update_expression(expression).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(map_sdk_error(e)),
        }
        let deltas = BTreeMap::from([(DeliveryStatus::Pending, -1), (outcome.status, 1)]);
        self.add_counts(notification, &deltas).await?;
        Ok(true)
    }

    async fn get_delivery(
        &self,
        notification: &NotificationId,
        delivery: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(notification.as_str(), &delivery_sk(delivery))))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        output
            .item
            .map(|item| serde_dynamo::from_item(item).map_err(invalid))
            .transpose()
    }

    async fn list_deliveries(
        &self,
        notification: &NotificationId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<DeliveryRecord>, StoreError> {
        let start: Option<Item> = page
            .cursor
            .as_ref()
            .map(|c| c.decode("deliveries"))
            .transpose()?
            .map(|k| k.into_iter().map(|(k, v)| (k, s(&v))).collect());
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", s(notification.as_str()))
            .expression_attribute_values(":prefix", s(DELIVERY_SK_PREFIX))
            .set_exclusive_start_key(start)
            .set_limit(page.limit.map(|l| l.clamp(1, 1000).cast_signed()));
        if let Some(status) = status {
            request = request
                .filter_expression("#st = :st")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":st", s(status.as_str()));
        }
        let output = request.send().await.map_err(map_sdk_error)?;
        let mut result = Page {
            items: Vec::new(),
            next_cursor: output
                .last_evaluated_key
                .filter(|k| !k.is_empty())
                .map(|k| {
                    Cursor::encode(
                        "deliveries",
                        k.iter()
                            .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone())))
                            .collect(),
                    )
                }),
            skipped: Vec::new(),
        };
        for item in output.items.unwrap_or_default() {
            let key = string_attr(&item, attr::SK).unwrap_or("?").to_owned();
            match serde_dynamo::from_item(item) {
                Ok(record) => result.items.push(record),
                Err(e) => result.skipped.push(crate::SkippedItem {
                    key,
                    reason: crate::SkipReason::Corrupt(e.to_string()),
                }),
            }
        }
        Ok(result)
    }

    async fn set_activity_id(
        &self,
        notification: &NotificationId,
        delivery: &str,
        activity_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(notification.as_str(), &delivery_sk(delivery))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK);
        let request = match activity_id {
            Some(id) => request
                .update_expression("SET activityId = :a")
                .expression_attribute_values(":a", s(id)),
            None => request.update_expression("REMOVE activityId"),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Err(StoreError::NotFound(format!("{notification}/{delivery}")))
            }
            Err(e) => Err(map_sdk_error(e)),
        }
    }
}

#[async_trait]
impl InstallWaits for DynamoOutboxStore {
    async fn begin_install(
        &self,
        notification: &NotificationId,
        delivery: &str,
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
            .set_key(Some(key(notification.as_str(), &delivery_sk(delivery))))
            .update_expression(
                "SET #st = :installing, installDeadline = :deadline, updatedAt = :now \
                 REMOVE leaseUntil, leaseMs",
            )
            .condition_expression("#st = :sending AND leaseMs = :leaseMs")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":leaseMs", n(lease_ms))
            .expression_attribute_values(":installing", s(DeliveryStatus::Installing.as_str()))
            .expression_attribute_values(":sending", s(DeliveryStatus::Sending.as_str()))
            .expression_attribute_values(":deadline", value(deadline)?)
            .expression_attribute_values(":now", s(&now.to_rfc3339()))
            .build()
            .map_err(invalid)?;
        // A claimed delivery is still counted as pending (claims leave the counts alone).
        let deltas = BTreeMap::from([
            (DeliveryStatus::Pending, -1),
            (DeliveryStatus::Installing, 1),
        ]);
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.counts_item(notification, &deltas)?,
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
        let mut waits = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_values(":pk", s(&wait_pk(tenant, recipient)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(map_sdk_error)?;
            for item in output.items.unwrap_or_default() {
                waits.push(decode_wait(item)?);
            }
            start = output.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(waits);
            }
        }
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
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk < :bound")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_names("#sk", attr::SK)
                .expression_attribute_values(":pk", s(INSTALL_DUE_PK))
                .expression_attribute_values(":bound", s(&InstallWait::due_bound(now)))
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
        let notification = &wait.notification_id;
        let mut sets = vec!["#st = :status", "updatedAt = :now"];
        let mut removes = vec!["installDeadline", "leaseUntil", "leaseMs"];
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                notification.as_str(),
                &delivery_sk(&wait.delivery_id),
            )))
            .condition_expression("#st = :installing AND installDeadline = :deadline")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":installing", s(DeliveryStatus::Installing.as_str()))
            .expression_attribute_values(":deadline", value(wait.deadline)?)
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
                    .expression_attribute_values(":serviceUrl", value(service_url)?);
                DeliveryStatus::Pending
            }
            InstallResolution::Retry { error } => {
                sets.push("#error = :error");
                update = update.expression_attribute_values(":error", s(error));
                DeliveryStatus::Pending
            }
            InstallResolution::Finished(outcome) => {
                if !outcome.status.is_final() {
                    return Err(StoreError::InvalidData(format!(
                        "an installation cannot finish as {}",
                        outcome.status
                    )));
                }
                let changes = outcome_changes(outcome);
                sets.extend(changes.sets);
                removes.extend(changes.removes);
                for (name, value) in changes.values {
                    update = update.expression_attribute_values(name, value);
                }
                outcome.status
            }
        };
        let update = update
            .expression_attribute_values(":status", s(status.as_str()))
            .update_expression(format!(
                "SET {} REMOVE {}",
                sets.join(", "),
                removes.join(", ")
            ))
            .build()
            .map_err(invalid)?;
        let deltas = BTreeMap::from([(DeliveryStatus::Installing, -1), (status, 1)]);
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.counts_item(notification, &deltas)?,
        ];
        for k in wait_keys(wait) {
            let delete = aws_sdk_dynamodb::types::Delete::builder()
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
