//! Herald's events: installation lifecycle changes (added, removed, archived, restored),
//! delivery outcomes (delivered, failed, recipient blocked) and what people did with a
//! notification (card actions, reads), published so other systems can react without polling
//! Herald.
//!
//! [`HeraldEvent`] fixes the wire form (`detail-type` and `detail` JSON). [`EventPublisher`] is
//! what functions depend on; [`EventBridgePublisher`] sends with `PutEvents` (batches of 10 under
//! 256 KB, retrying exactly the entries EventBridge reports failed) and
//! [`EmbeddedEventPublisher`] keeps them in memory for the local runner, with live subscribers.

mod config;
mod embedded;
mod error;
mod event;
mod eventbridge;
mod interaction;

pub use config::{ConfigError, DEFAULT_BUS, DEFAULT_SOURCE, EventsConfig};
pub use embedded::{DEFAULT_CAPACITY, EmbeddedEventPublisher, PublishedEvent};
pub use error::EventError;
pub use event::{DeliveryEvent, EventKind, HeraldEvent, InstallationEvent, SCHEMA_VERSION};
pub use eventbridge::{EventBridgePublisher, MAX_ENTRIES_PER_CALL, MAX_REQUEST_BYTES, entry_size};
pub use herald_retry::{Jitter, RetryPolicy};
pub use interaction::{CardActionEvent, ReadEvent};

use async_trait::async_trait;

/// Publishes Herald's events. An `Ok` means every event was accepted; anything less is an error,
/// so a partial failure can never pass for success.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes `events` in order. On an error other than [`EventError::EntriesFailed`] the
    /// batches before the failing call may already have been published.
    async fn publish(&self, events: &[HeraldEvent]) -> Result<PublishReport, EventError>;
}

#[async_trait]
impl<T: EventPublisher + ?Sized> EventPublisher for std::sync::Arc<T> {
    async fn publish(&self, events: &[HeraldEvent]) -> Result<PublishReport, EventError> {
        (**self).publish(events).await
    }
}

/// What a publish did, per input event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// One slot per input event, in input order: the id the bus gave it, `None` if it was not
    /// published.
    pub event_ids: Vec<Option<String>>,
    /// The events that were not published, by input index.
    pub failed: Vec<FailedEntry>,
    /// PutEvents calls made, retries included.
    pub calls: u32,
    /// Entries sent again after EventBridge reported them failed.
    pub retried_entries: u32,
}

impl PublishReport {
    /// How many events were published.
    #[must_use]
    pub fn published(&self) -> usize {
        self.event_ids.iter().filter(|id| id.is_some()).count()
    }

    fn first_failure(&self) -> String {
        self.failed.first().map_or_else(String::new, |f| {
            format!("event {} {}: {}", f.index, f.detail_type, f.error_code)
        })
    }
}

/// An event EventBridge did not accept, with the per-entry error it gave last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEntry {
    /// Position in the slice given to [`EventPublisher::publish`].
    pub index: usize,
    pub detail_type: &'static str,
    /// EventBridge's per-entry `ErrorCode` (`ThrottlingException`, `InternalFailure`,
    /// `MalformedDetail`...).
    pub error_code: String,
    pub error_message: Option<String>,
    /// Times it was sent.
    pub attempts: u32,
    /// Whether EventBridge would refuse it again (`false`: it ran out of retries).
    pub permanent: bool,
}
