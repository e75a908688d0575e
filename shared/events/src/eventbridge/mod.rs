//! The production publisher: EventBridge `PutEvents` on the configured bus.
//!
//! A 200 answer can still carry failed entries (`FailedEntryCount`, a per-entry `ErrorCode`), so
//! every answer is read entry by entry: accepted entries are done, entries failing with a
//! transient code (throttling, internal failure) are sent again, alone, after a bounded
//! exponential backoff with jitter, and entries EventBridge refuses for good are reported at once
//! (<https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html>).
//!
//! `entries.rs` holds the wire form and the batching, `answer.rs` the reading of one answer,
//! `put.rs` the sending with retries.

mod answer;
mod entries;
mod put;
#[cfg(test)]
mod test_support;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsOutput};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use herald_retry::{Jitter, RetryPolicy};

pub(crate) use entries::encode;
pub use entries::{MAX_ENTRIES_PER_CALL, MAX_REQUEST_BYTES, entry_size};
use put::put_all;

use crate::{EventError, EventPublisher, EventsConfig, HeraldEvent, PublishReport};

/// Publishes to an EventBridge bus.
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    config: EventsConfig,
    retry: RetryPolicy,
}

impl EventBridgePublisher {
    /// Six sends over about three seconds, shared by failed entries and failed calls: enough to
    /// ride out a throttling burst, short enough for a Lambda deadline. Equal jitter, so a
    /// throttled entry is never sent again at once.
    pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(5),
        max_retry_after: Duration::from_secs(5),
        jitter: Jitter::Equal,
    };

    /// The client is built by the caller (once, in `main`) so tests can point it anywhere.
    #[must_use]
    pub fn new(client: Client, config: EventsConfig) -> Self {
        Self {
            client,
            config,
            retry: Self::DEFAULT_RETRY,
        }
    }

    #[must_use]
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    #[must_use]
    pub fn config(&self) -> &EventsConfig {
        &self.config
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[HeraldEvent]) -> Result<PublishReport, EventError> {
        let entries = encode(events, &self.config.source)?
            .into_iter()
            .map(|e| e.into_entry(&self.config.bus))
            .collect::<Vec<_>>();
        let client = &self.client;
        put_all(&entries, &self.retry, |batch| {
            put_events(client.clone(), batch)
        })
        .await
    }
}

/// One PutEvents call sending `batch`.
async fn put_events(
    client: Client,
    batch: Vec<PutEventsRequestEntry>,
) -> Result<PutEventsOutput, EventError> {
    client
        .put_events()
        .set_entries(Some(batch))
        .send()
        .await
        .map_err(|e| call_error(&e))
}

/// Maps a failed PutEvents call to what the caller can do about it.
fn call_error(err: &SdkError<PutEventsError>) -> EventError {
    let text = DisplayErrorContext(err).to_string();
    match err {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            match err.code() {
                Some("ResourceNotFoundException") => EventError::BusNotFound(text),
                Some(code) if code.contains("Throttl") || code == "LimitExceededException" => {
                    EventError::Throttled(text)
                }
                _ if status == 429 => EventError::Throttled(text),
                Some("InternalException" | "InternalFailure" | "ServiceUnavailable") => {
                    EventError::Unavailable(text)
                }
                _ if status >= 500 => EventError::Unavailable(text),
                _ => EventError::Rejected(text),
            }
        }
        SdkError::ConstructionFailure(_) => EventError::Rejected(text),
        _ => EventError::Unavailable(text),
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::QUICK;
    use super::*;

    fn service_error(status: u16, code: &str) -> EventError {
        use aws_sdk_eventbridge::config::http::HttpResponse;
        use aws_sdk_eventbridge::error::ErrorMetadata;
        use aws_sdk_eventbridge::operation::put_events::PutEventsError;
        let raw = HttpResponse::new(
            status.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        let err = PutEventsError::generic(ErrorMetadata::builder().code(code).build());
        call_error(&SdkError::service_error(err, raw))
    }

    #[test]
    fn call_errors_map_to_what_a_caller_can_do() {
        assert!(matches!(
            service_error(400, "ThrottlingException"),
            EventError::Throttled(_)
        ));
        assert!(matches!(
            service_error(429, "Other"),
            EventError::Throttled(_)
        ));
        assert!(matches!(
            service_error(500, "InternalException"),
            EventError::Unavailable(_)
        ));
        assert!(matches!(
            service_error(503, "Whatever"),
            EventError::Unavailable(_)
        ));
        assert!(matches!(
            service_error(400, "ResourceNotFoundException"),
            EventError::BusNotFound(_)
        ));
        assert!(matches!(
            service_error(400, "AccessDeniedException"),
            EventError::Rejected(_)
        ));
        assert!(service_error(400, "ThrottlingException").is_transient());
        assert!(!service_error(400, "ValidationException").is_transient());
    }

    #[tokio::test]
    async fn a_missing_bus_is_reported_as_such() {
        let publisher = EventBridgePublisher::new(
            herald_testkit::eventbridge_client(),
            EventsConfig {
                bus: herald_testkit::unique_name("no-such-bus"),
                source: "herald".into(),
            },
        )
        .with_retry_policy(QUICK);
        let event = crate::HeraldEvent::InstallationRemoved(crate::InstallationEvent {
            tenant_id: herald_domain::TenantId::new("t").unwrap(),
            conversation_id: herald_domain::ConversationId::new("a:1").unwrap(),
            conversation_type: herald_domain::ConversationType::Personal,
            team_id: None,
            channel_id: None,
            by: None,
            at: chrono::Utc::now(),
            cause: None,
        });
        let result = publisher.publish(&[event]).await;
        assert!(
            matches!(result, Err(EventError::BusNotFound(_))),
            "{result:?}"
        );
    }
}
