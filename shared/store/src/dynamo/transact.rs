//! Transactions on the outbox table
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html>):
//! a cancelled one answers with its reasons, item by item, and writes that collide with another
//! transaction on the same items are retried.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};

use super::DynamoOutboxStore;
use super::error::{
    Conflicts, cancellation_reasons, map_sdk_error, reason_condition_failed, reasons_conflict,
};
use crate::{NotificationId, StoreError};

/// What became of a transaction.
pub(super) enum Transaction {
    Written,
    /// Cancelled: why, item by item in the order given, and the cancellation as an error.
    Cancelled {
        reasons: Vec<CancellationReason>,
        error: StoreError,
    },
}

/// Runs a transaction; a cancelled one is no error yet, since callers act on its reasons.
pub(super) async fn transact(
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> Result<Transaction, StoreError> {
    let result = client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await;
    let Err(e) = result else {
        return Ok(Transaction::Written);
    };
    match cancellation_reasons(&e) {
        Some(reasons) => Ok(Transaction::Cancelled {
            reasons,
            error: map_sdk_error(e),
        }),
        None => Err(map_sdk_error(e)),
    }
}

impl DynamoOutboxStore {
    /// Runs a transaction on the outbox's client ([`transact`]).
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Transaction, StoreError> {
        transact(&self.client, items).await
    }

    /// Runs a transaction whose first item is a delivery's conditional update and whose second
    /// is its notification's counts. Returns `false` if the delivery's condition failed (nothing
    /// was written); collisions with other transactions on the same items are retried.
    pub(super) async fn transact_on_delivery(
        &self,
        id: &NotificationId,
        items: Vec<TransactWriteItem>,
    ) -> Result<bool, StoreError> {
        let what = format!("notification {id}: transaction");
        self.transact_conditional(items, Some(&what), |reasons, _| {
            if reasons.get(1).is_some_and(reason_condition_failed) {
                return Err(StoreError::NotFound(format!("notification {id}")));
            }
            Ok(false)
        })
        .await
    }

    /// Runs a transaction whose first item carries the write's own condition: `true` once
    /// written, `false` if that condition failed (nothing was written). `other` sees any other
    /// cancellation first: it may end the write with an error, or change `items` and answer
    /// `true` to try them at once. Collisions with other transactions are retried
    /// [`CONFLICT_RETRIES`](super::error::CONFLICT_RETRIES) times, then end as `what`'s conflict if given, else as the
    /// cancellation.
    pub(super) async fn transact_conditional(
        &self,
        mut items: Vec<TransactWriteItem>,
        what: Option<&str>,
        mut other: impl FnMut(
            &[CancellationReason],
            &mut Vec<TransactWriteItem>,
        ) -> Result<bool, StoreError>
        + Send,
    ) -> Result<bool, StoreError> {
        let mut conflicts = Conflicts::default();
        loop {
            let Transaction::Cancelled { reasons, error } = self.transact(items.clone()).await?
            else {
                return Ok(true);
            };
            if reasons.first().is_some_and(reason_condition_failed) {
                return Ok(false);
            }
            if other(&reasons, &mut items)? {
                continue;
            }
            if reasons_conflict(&reasons) {
                match what {
                    Some(what) => conflicts.retry_or_fail(what).await?,
                    None if conflicts.retry().await => {}
                    None => return Err(error),
                }
                continue;
            }
            return Err(error);
        }
    }
}
