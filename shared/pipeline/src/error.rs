use herald_connector::ConnectorError;
use herald_store::StoreError;
use thiserror::Error;

/// Why a pipeline step could not finish; the caller retries the trigger later.
#[derive(Debug, Error)]
pub enum PipelineError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A connector call needed for expansion (team roster) failed.
    #[error("connector: {0}")]
    Connector(#[from] ConnectorError),
    /// A stored notification that cannot be used (its activity does not decode...).
    #[error("invalid notification {id}: {problem}")]
    InvalidNotification { id: String, problem: String },
    /// A copy was sent but the store did not take its outcome: the next attempt sends it again.
    #[error("sent, but the outcome was not recorded: {0}")]
    SentNotRecorded(StoreError),
}
