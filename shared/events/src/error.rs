use thiserror::Error;

use crate::PublishReport;

/// What went wrong publishing events, in terms a caller can act on.
#[derive(Debug, Error)]
pub enum EventError {
    /// An event could not be turned into its `detail` JSON.
    #[error("cannot encode event: {0}")]
    Encode(String),
    /// A `detail-type`/`detail` pair that is not a Herald event (or a newer schema).
    #[error("cannot decode event: {0}")]
    Decode(String),
    /// One event alone exceeds PutEvents' request size limit; nothing was sent.
    #[error("event {index} ({detail_type}) is {size} bytes, over the {max}-byte PutEvents limit")]
    TooLarge {
        index: usize,
        detail_type: &'static str,
        size: usize,
        max: usize,
    },
    /// The configured event bus does not exist.
    #[error("event bus not found: {0}")]
    BusNotFound(String),
    /// EventBridge kept throttling the call after every retry.
    #[error("throttled by EventBridge: {0}")]
    Throttled(String),
    /// EventBridge could not be reached or failed internally after every retry.
    #[error("EventBridge unavailable: {0}")]
    Unavailable(String),
    /// EventBridge refused the request itself (access denied, validation); retrying cannot help.
    #[error("EventBridge rejected the request: {0}")]
    Rejected(String),
    /// Some entries were not accepted: permanently refused, or still failing after the last
    /// retry. The report says which (by input index) and which were published.
    #[error("{} of {} events not published (first: {})", .0.failed.len(), .0.event_ids.len(), .0.first_failure())]
    EntriesFailed(Box<PublishReport>),
}

impl EventError {
    /// Worth trying the call again later (the publisher already did, within its policy).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Throttled(_) | Self::Unavailable(_))
    }
}
