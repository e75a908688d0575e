//! The outbox on DynamoDB: one table, the header under the notification id and its deliveries
//! spread over the notification's buckets ([`crate::keys::DELIVERY_BUCKETS`]).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use chrono::{DateTime, Utc};
use herald_domain::{DeliveryId, DeliveryStatus};

use super::edits::creation_extras;
use super::error::{
    Conflicts, condition_failed, invalid, map_sdk_error, reason_condition_failed, reasons_conflict,
    written,
};
use super::interactions::{copy_item, put};
use super::item::{from_item, n, s};
use super::outbox_items::{
    REMOVE_DUE, SET_DUE, count_updates, delivery_item, delivery_key, due_values, header_item,
    header_key,
};
use super::outcome::{lease_ran_out, refused_claim};
use super::read::get_record;
use super::transact::Transaction;
use crate::outbox::{check_page_size, not_final, with_due};
use crate::schema::{self, attr};
use crate::{
    Claim, DeliveryRecord, NotificationId, NotificationRecord, OutboxStore, Outcome, Page,
    PageRequest, Release, Revision, STRANDED_AFTER, StoreError,
};

/// Notifications and deliveries in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoOutboxStore {
    pub(super) client: Client,
    pub(super) table: String,
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

    /// An update of a delivery's item; its expressions and condition are the caller's.
    pub(super) fn update_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
    ) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(delivery_key(notification, delivery)))
    }

    /// One claim write: of a pending delivery whose backoff ended, or (`takeover`) of one still
    /// `sending` whose lease ran out, counting that claim's attempt lost. Answers the record as it
    /// was, or, when the condition refused, the record as it is (`None` if there is none).
    async fn claim_write(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        takeover: bool,
    ) -> Result<Result<DeliveryRecord, Option<DeliveryRecord>>, StoreError> {
        let (lost, condition) = if takeover {
            (
                ", lostAttempts = if_not_exists(lostAttempts, :zero) + :one",
                "#st = :sending AND (attribute_not_exists(leaseMs) OR leaseMs < :nowMs)",
            )
        } else {
            (
                "",
                "#st = :pending AND (attribute_not_exists(notBeforeMs) OR notBeforeMs <= :nowMs)",
            )
        };
        let mut request = self
            .update_delivery(notification, delivery)
            .update_expression(format!(
                "SET #st = :sending, leaseUntil = :lease, leaseMs = :leaseMs, \
                 updatedAt = :now, attempts = if_not_exists(attempts, :zero) + :one, {SET_DUE}{lost} \
                 REMOVE notBefore, notBeforeMs"
            ))
            .condition_expression(condition)
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":sending", s(DeliveryStatus::Sending.as_str()))
            .expression_attribute_values(":lease", s(&lease_until.to_rfc3339()))
            .expression_attribute_values(":leaseMs", n(lease_until.timestamp_millis()))
            .expression_attribute_values(":now", s(&now.to_rfc3339()))
            .expression_attribute_values(":nowMs", n(now.timestamp_millis()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if !takeover {
            request = request
                .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()));
        }
        for (name, value) in due_values(notification, Some(delivery), lease_until) {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(output) => Ok(Ok(from_item(output.attributes.unwrap_or_default())?)),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => Ok(Err(c
                    .item()
                    .map(|item| from_item(item.clone()))
                    .transpose()?)),
                _ => Err(map_sdk_error(e)),
            },
        }
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
        // While expansion goes on the header stays due for the sweep, a while after this page.
        let latest = pending.iter().map(|d| d.updated_at).max();
        if let (Some(_), Some(at)) = (to, latest) {
            sets.push(SET_DUE.to_owned());
            values.extend(due_values(id, None, at + STRANDED_AFTER));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if let Some(to) = to {
            values.insert(":to".into(), s(to));
            expression.push_str(", #cursor = :to");
        } else {
            expression.push_str(" REMOVE #cursor, ");
            expression.push_str(REMOVE_DUE);
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
            .set_key(Some(header_key(id)))
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
                .set_item(Some(delivery_item(&with_due(d))?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", attr::PK)
                .build()
                .map_err(invalid)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        Ok(items)
    }
}

#[async_trait]
impl OutboxStore for DynamoOutboxStore {
    async fn create_notification(
        &self,
        record: &NotificationRecord,
    ) -> Result<Option<NotificationRecord>, StoreError> {
        let extras = creation_extras(&self.table, record)?;
        if !extras.is_empty() {
            // The header and what it brings (settings, a follow-up's marker) all or nothing.
            let mut items = vec![put(
                &self.table,
                header_item(record)?,
                Some("attribute_not_exists(#pk)"),
            )?];
            items.extend(extras);
            return match self.transact(items).await? {
                Transaction::Written => Ok(None),
                Transaction::Cancelled { reasons, .. }
                    if reasons.first().is_some_and(reason_condition_failed) =>
                {
                    self.get_notification(&record.id).await
                }
                Transaction::Cancelled { error, .. } => Err(error),
            };
        }
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
            Err(e) if condition_failed(&e) => self.get_notification(&record.id).await,
            Err(e) => Err(map_sdk_error(e)),
        }
    }

    async fn get_notification(
        &self,
        id: &NotificationId,
    ) -> Result<Option<NotificationRecord>, StoreError> {
        get_record(&self.client, &self.table, header_key(id)).await
    }

    async fn append_page(
        &self,
        id: &NotificationId,
        from: Option<&str>,
        to: Option<&str>,
        deliveries: &[DeliveryRecord],
    ) -> Result<bool, StoreError> {
        check_page_size(deliveries)?;
        let mut pending: Vec<&DeliveryRecord> = deliveries.iter().collect();
        let mut conflicts = Conflicts::default();
        loop {
            let items = self.page_transaction(id, from, to, &pending)?;
            let Transaction::Cancelled { reasons, error } = self.transact(items).await? else {
                return Ok(true);
            };
            if reasons.first().is_some_and(reason_condition_failed) {
                // Another expander moved the cursor: this page is theirs.
                return Ok(false);
            }
            if reasons_conflict(&reasons) {
                conflicts
                    .retry_or_fail(&format!("notification {id}: page transaction"))
                    .await?;
                continue;
            }
            // Deliveries already present (a recipient listed twice): drop them and retry.
            let before = pending.len();
            let mut index = 0;
            pending.retain(|_| {
                index += 1;
                !reasons.get(index).is_some_and(reason_condition_failed)
            });
            if pending.len() == before {
                return Err(error);
            }
        }
    }

    async fn claim_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        // A pending delivery is claimed in one write. One still `sending` whose lease ran out is
        // taken over by another write that counts the lost attempt itself: were the count a
        // second write, a sender cut off between the two would leave the duplicate it may
        // cause uncounted.
        let old = match self
            .claim_write(notification, delivery, now, lease_until, false)
            .await?
        {
            Ok(old) => old,
            Err(Some(current)) if lease_ran_out(&current, now) => match self
                .claim_write(notification, delivery, now, lease_until, true)
                .await?
            {
                Ok(old) => old,
                Err(Some(current)) => return Ok(refused_claim(&current, now)),
                Err(None) => return Ok(Claim::Missing),
            },
            Err(Some(current)) => return Ok(refused_claim(&current, now)),
            Err(None) => return Ok(Claim::Missing),
        };
        let mut record = old;
        if record.status == DeliveryStatus::Sending {
            record.lost_attempts += 1;
        }
        record.status = DeliveryStatus::Sending;
        record.lease_until = Some(lease_until);
        record.not_before = None;
        record.due_at = Some(lease_until);
        record.attempts += 1;
        record.updated_at = now;
        Ok(Claim::Claimed(Box::new(record)))
    }

    async fn record_outcome(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if !outcome.status.is_final() {
            return Err(not_final(outcome));
        }
        // Most deliveries never lost an attempt; one that did is a possible duplicate if sent.
        // Each guess is checked by the transaction's condition, so the counts cannot be wrong.
        for lost_before in [false, true] {
            let duplicate = lost_before && outcome.status == DeliveryStatus::Sent;
            let mut items = vec![
                self.outcome_update(
                    notification,
                    delivery,
                    claimed_until,
                    outcome,
                    lost_before,
                    now,
                )?,
                self.outcome_counts(notification, outcome.status, duplicate)?,
            ];
            if let Some(copy) = &outcome.copy {
                items.push(put(&self.table, copy_item(copy)?, None)?);
            }
            if self.transact_on_delivery(notification, items).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn release_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        release: &Release,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut sets = vec![
            "#st = :pending",
            "notBefore = :notBefore",
            "notBeforeMs = :notBeforeMs",
            "#error = :error",
            "updatedAt = :now",
            SET_DUE,
        ];
        if !release.attempt_counted {
            sets.push("attempts = attempts - :one");
        }
        if release.outcome_unknown {
            sets.push("lostAttempts = if_not_exists(lostAttempts, :zero) + :one");
        }
        let mut request = self
            .update_delivery(notification, delivery)
            .update_expression(format!(
                "SET {} REMOVE leaseUntil, leaseMs",
                sets.join(", ")
            ))
            .condition_expression("#st = :sending AND leaseMs = :claimedMs")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":sending", s(DeliveryStatus::Sending.as_str()))
            .expression_attribute_values(":claimedMs", n(claimed_until.timestamp_millis()))
            .expression_attribute_values(":notBefore", s(&release.not_before.to_rfc3339()))
            .expression_attribute_values(":notBeforeMs", n(release.not_before.timestamp_millis()))
            .expression_attribute_values(":error", s(&release.error))
            .expression_attribute_values(":now", s(&now.to_rfc3339()));
        if !release.attempt_counted || release.outcome_unknown {
            request = request.expression_attribute_values(":one", n(1));
        }
        if release.outcome_unknown {
            request = request.expression_attribute_values(":zero", n(0));
        }
        for (name, value) in due_values(notification, Some(delivery), release.not_before) {
            request = request.expression_attribute_values(name, value);
        }
        written(request.send().await)
    }

    async fn get_delivery(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let key = delivery_key(notification, delivery);
        get_record(&self.client, &self.table, key).await
    }

    async fn list_notifications(
        &self,
        page: &PageRequest,
    ) -> Result<Page<NotificationRecord>, StoreError> {
        self.notifications_newest_first(page).await
    }

    async fn list_deliveries(
        &self,
        notification: &NotificationId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<DeliveryRecord>, StoreError> {
        self.deliveries_page(notification, status, page).await
    }

    async fn revise_content(
        &self,
        id: &NotificationId,
        revision: &Revision,
        now: DateTime<Utc>,
        hold: Option<DateTime<Utc>>,
    ) -> Result<Option<u32>, StoreError> {
        let mut conflicts = Conflicts::default();
        let version = loop {
            // A transaction returns no values, and the caller records copies with this version:
            // it is read, then written on the condition that it did not move meanwhile.
            let Some(current) = self.get_notification(id).await? else {
                return Ok(None);
            };
            let items = self.revision_items(id, revision, current.content_version, now, hold)?;
            let Transaction::Cancelled { reasons, error } = self.transact(items).await? else {
                break current.content_version + 1;
            };
            let moved = reasons.first().is_some_and(reason_condition_failed);
            if (moved || reasons_conflict(&reasons)) && conflicts.retry().await {
                continue;
            }
            return Err(error);
        };
        if let Revision::Update(activity) = revision {
            self.set_settings_card(id, activity).await?;
        }
        Ok(Some(version))
    }

    async fn set_activity_id(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        activity_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let request = self
            .update_delivery(notification, delivery)
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
            Err(e) if condition_failed(&e) => {
                Err(StoreError::NotFound(format!("{notification}/{delivery}")))
            }
            Err(e) => Err(map_sdk_error(e)),
        }
    }

    async fn mark_edited(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        activity_id: &str,
        version: u32,
    ) -> Result<(), StoreError> {
        let result = self
            .update_delivery(notification, delivery)
            .update_expression("SET contentVersion = :version, activityId = :activity")
            .condition_expression(
                "attribute_exists(#pk) AND \
                 (attribute_not_exists(contentVersion) OR contentVersion < :version)",
            )
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":version", n(i64::from(version)))
            .expression_attribute_values(":activity", s(activity_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => {
                // Newer already, or gone.
                match self.get_delivery(notification, delivery).await? {
                    Some(_) => Ok(()),
                    None => Err(StoreError::NotFound(format!("{notification}/{delivery}"))),
                }
            }
            Err(e) => Err(map_sdk_error(e)),
        }
    }
}
