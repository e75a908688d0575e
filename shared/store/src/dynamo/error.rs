//! DynamoDB errors in the store's terms, by their error codes
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html>).

use std::fmt::{Debug, Display};
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;

use crate::StoreError;

/// Writes that collide with a transaction on the same items are retried this often.
pub(crate) const CONFLICT_RETRIES: u32 = 20;

/// Maps an SDK error to what a caller can act on.
#[allow(clippy::needless_pass_by_value)] // used as `.map_err(map_sdk_error)`
pub(crate) fn map_sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: Debug,
{
    let text = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::ServiceError(service) => match service.err().code().unwrap_or_default() {
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded" => StoreError::Throttled(text),
            "ConditionalCheckFailedException" | "TransactionConflictException" => {
                StoreError::Conflict(text)
            }
            "ResourceNotFoundException" => StoreError::NotFound(text),
            "ValidationException" => StoreError::InvalidData(text),
            _ => StoreError::Unavailable(text),
        },
        _ => StoreError::Unavailable(text),
    }
}

/// A conditional write's answer: `true` if written, `false` if its condition did not hold.
pub(crate) fn written<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if condition_failed(&e) => Ok(false),
        Err(e) => Err(map_sdk_error(e)),
    }
}

/// Whether a request failed only because its condition expression did not hold.
pub(crate) fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    service_code(err) == Some("ConditionalCheckFailedException")
}

fn service_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
}

/// Why a cancelled transaction was cancelled, item by item in the order the items were given;
/// `None` if the transaction failed otherwise.
pub(crate) fn cancellation_reasons<R>(
    err: &SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<CancellationReason>> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            Some(c.cancellation_reasons().to_vec())
        }
        _ => None,
    }
}

/// Whether one item of a cancelled transaction failed its condition
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html>).
pub(crate) fn reason_condition_failed(reason: &CancellationReason) -> bool {
    reason.code() == Some("ConditionalCheckFailed")
}

/// Whether a cancelled transaction collided with another one.
pub(crate) fn reasons_conflict(reasons: &[CancellationReason]) -> bool {
    reasons
        .iter()
        .any(|r| r.code() == Some("TransactionConflict"))
}

/// Waits a little longer before each retry of a collided write.
pub(crate) async fn back_off(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
}

/// The retries of one write that collided with other transactions, at most
/// [`CONFLICT_RETRIES`].
#[derive(Default)]
pub(crate) struct Conflicts(u32);

impl Conflicts {
    /// Backs off before one more try; `false` (no wait) once the retries are spent.
    pub(crate) async fn retry(&mut self) -> bool {
        if self.0 >= CONFLICT_RETRIES {
            return false;
        }
        self.0 += 1;
        back_off(self.0).await;
        true
    }

    /// [`Self::retry`], or once the retries are spent the conflict of `what`'s transaction.
    pub(crate) async fn retry_or_fail(&mut self, what: &str) -> Result<(), StoreError> {
        if self.retry().await {
            return Ok(());
        }
        Err(StoreError::Conflict(format!(
            "{what} conflicts after {} retries",
            self.0
        )))
    }
}

/// Data that cannot be converted to or from an item.
pub(crate) fn invalid(e: impl Display) -> StoreError {
    StoreError::InvalidData(e.to_string())
}
