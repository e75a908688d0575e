//! How a claim ends on DynamoDB: a final outcome fenced by the claim's lease, moving the
//! notification's counts in the same transaction, and why a claim was refused.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use herald_domain::{DeliveryId, DeliveryStatus};

use super::DynamoOutboxStore;
use super::error::invalid;
use super::item::{n, s};
use super::outbox_items::{REMOVE_DUE, delivery_key, header_counts_item, outcome_changes};
use crate::outbox::count_deltas;
use crate::{Claim, DeliveryRecord, NotificationId, Outcome, StoreError};

impl DynamoOutboxStore {
    /// A final outcome on the delivery, fenced by the claim's lease; `lost_before` says whether
    /// the delivery is expected to have lost an attempt (the condition checks it).
    pub(super) fn outcome_update(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        outcome: &Outcome,
        lost_before: bool,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let changes = outcome_changes(outcome);
        let mut sets = vec!["#st = :status", "updatedAt = :now"];
        sets.extend(changes.sets);
        let mut removes = vec![
            "leaseUntil",
            "leaseMs",
            "notBefore",
            "notBeforeMs",
            REMOVE_DUE,
        ];
        removes.extend(changes.removes);
        let lost = if lost_before {
            "lostAttempts > :zero"
        } else {
            "(attribute_not_exists(lostAttempts) OR lostAttempts = :zero)"
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(delivery_key(notification, delivery)))
            .update_expression(format!(
                "SET {} REMOVE {}",
                sets.join(", "),
                removes.join(", ")
            ))
            .condition_expression(format!(
                "#st = :sending AND leaseMs = :claimedMs AND {lost}"
            ))
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":status", s(outcome.status.as_str()))
            .expression_attribute_values(":sending", s(DeliveryStatus::Sending.as_str()))
            .expression_attribute_values(":claimedMs", n(claimed_until.timestamp_millis()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", s(&now.to_rfc3339()));
        for (name, value) in changes.values {
            update = update.expression_attribute_values(name, value);
        }
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(invalid)?)
            .build())
    }

    /// The header's side of a final outcome: pending to `status`, and a possible duplicate.
    pub(super) fn outcome_counts(
        &self,
        notification: &NotificationId,
        status: DeliveryStatus,
        duplicate: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let deltas = count_deltas(&[(DeliveryStatus::Pending, -1), (status, 1)]);
        header_counts_item(&self.table, notification, &deltas, duplicate)
    }
}

/// Whether `record` is held by a claim whose lease ran out (a sender that stopped before it
/// recorded an outcome): another sender may take it over.
pub(super) fn lease_ran_out(record: &DeliveryRecord, now: DateTime<Utc>) -> bool {
    record.status == DeliveryStatus::Sending
        && record
            .lease_until
            .is_none_or(|until| until.timestamp_millis() < now.timestamp_millis())
}

/// Why a delivery could not be claimed, from what is stored.
pub(super) fn refused_claim(record: &DeliveryRecord, now: DateTime<Utc>) -> Claim {
    match (record.status, record.lease_until, record.not_before) {
        (DeliveryStatus::Sending, Some(until), _) => Claim::Held { until },
        (DeliveryStatus::Pending, _, Some(until)) if until > now => Claim::NotYet { until },
        // Installing: the end of the wait makes it pending again, and that change triggers the
        // sender; this trigger has nothing to do.
        (status, _, _) if status.is_final() || status == DeliveryStatus::Installing => Claim::Done,
        _ => Claim::Held { until: now },
    }
}
