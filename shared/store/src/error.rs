use thiserror::Error;

/// What went wrong in the store, in terms a caller can act on.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    /// A conditional write lost to a concurrent one.
    #[error("conflict: {0}")]
    Conflict(String),
    /// DynamoDB throttled the request; retry later.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The store could not be reached or failed internally.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Data that cannot be written or was stored in a form Herald cannot read.
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// A paging cursor that this store did not issue for this listing.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
}
