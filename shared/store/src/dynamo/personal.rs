//! One personal record per person on DynamoDB (see [`crate::personal`]): after a personal
//! reference is written, the person's other records are read through the user index, then
//! folded in one transaction that replaces the kept record and deletes the others, each
//! conditional on the version read, so that a status changed meanwhile is never lost
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html>).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use herald_domain::ConversationReference;

use super::error::{
    CONFLICT_RETRIES, back_off, invalid, reason_condition_failed, reasons_conflict,
};
use super::item::{Item, n};
use super::read::{get_item, query_all};
use super::references::{DynamoReferenceStore, stored_item};
use super::transact::{Transaction, transact};
use crate::StoreError;
use crate::keys::{index_user, user_key};
use crate::personal::fold;
use crate::schema::{self, attr};

/// The condition that an item is still the version read.
const UNCHANGED: &str = "#u = :u AND #sms = :sms";

/// The names and values of [`UNCHANGED`] for a record as it was read.
fn unchanged(read: &ConversationReference) -> (HashMap<String, String>, Item) {
    let names = HashMap::from([
        ("#u".to_owned(), attr::UPDATED_MS.to_owned()),
        ("#sms".to_owned(), attr::STATUS_MS.to_owned()),
    ]);
    let values = HashMap::from([
        (":u".to_owned(), n(read.updated_at.timestamp_millis())),
        (
            ":sms".to_owned(),
            n(read.status_changed_at.timestamp_millis()),
        ),
    ]);
    (names, values)
}

impl DynamoReferenceStore {
    /// Folds the person's other records into one after `written` was stored. Returns whether
    /// there were any. Writes that collide are retried from a fresh read; after
    /// [`CONFLICT_RETRIES`] the next write of the person folds them.
    pub(super) async fn fold_person(
        &self,
        written: &ConversationReference,
    ) -> Result<bool, StoreError> {
        let Some(user) = index_user(written) else {
            return Ok(false);
        };
        let user_key = user_key(&written.tenant_id, user);
        for attempt in 0..=CONFLICT_RETRIES {
            if attempt > 0 {
                back_off(attempt).await;
            }
            let Some(records) = self.person_records(&user_key, written).await? else {
                return Ok(false);
            };
            let (written, others) = records;
            let originals: Vec<ConversationReference> =
                others.iter().cloned().chain([written.clone()]).collect();
            let folded = fold(written, others);
            let mut items = Vec::with_capacity(originals.len());
            for original in &originals {
                let (names, values) = unchanged(original);
                let item = if original.key() == folded.kept.key() {
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(stored_item(&folded.kept)?))
                        .condition_expression(UNCHANGED)
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(Some(values))
                        .build()
                        .map_err(invalid)?;
                    TransactWriteItem::builder().put(put).build()
                } else {
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key_item(&original.key())))
                        .condition_expression(UNCHANGED)
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(Some(values))
                        .build()
                        .map_err(invalid)?;
                    TransactWriteItem::builder().delete(delete).build()
                };
                items.push(item);
            }
            let Transaction::Cancelled { reasons, error } = transact(&self.client, items).await?
            else {
                return Ok(true);
            };
            if !(reasons_conflict(&reasons) || reasons.iter().any(reason_condition_failed)) {
                return Err(error);
            }
        }
        tracing::warn!(user = %user_key, "a person's records keep changing; the next write folds them");
        Ok(true)
    }

    /// `written` and the person's other records of this bot, each read consistently; `None`
    /// when there are no others.
    async fn person_records(
        &self,
        user_key: &str,
        written: &ConversationReference,
    ) -> Result<Option<(ConversationReference, Vec<ConversationReference>)>, StoreError> {
        let query = self.query_equal(Some(schema::BY_USER.name), attr::USER_KEY, user_key);
        let keys: Vec<_> = query_all(query)
            .await?
            .into_iter()
            .filter_map(|item| self.decode(item).ok())
            .map(|r| r.key())
            .filter(|key| *key != written.key())
            .collect();
        if keys.is_empty() {
            return Ok(None);
        }
        let mut others = Vec::with_capacity(keys.len());
        for key in keys {
            let item = get_item(&self.client, &self.table, Self::key_item(&key)).await?;
            if let Some(reference) = item.and_then(|item| self.decode(item).ok()) {
                others.push(reference);
            }
        }
        let stored = get_item(&self.client, &self.table, Self::key_item(&written.key())).await?;
        let Some(written) = stored.and_then(|item| self.decode(item).ok()) else {
            return Ok(None);
        };
        Ok((!others.is_empty()).then_some((written, others)))
    }
}
