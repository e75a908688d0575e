//! What the publisher's unit tests share: quick retries, raw entries and scripted answers.

use std::time::Duration;

use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};
use herald_retry::RetryPolicy;

use super::EventBridgePublisher;
use super::entries::{Entry, entry_size};

/// Fast retries: these tests check what is resent, not how long the pauses are.
pub(super) const QUICK: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    base_delay: Duration::from_millis(1),
    max_delay: Duration::from_millis(5),
    ..EventBridgePublisher::DEFAULT_RETRY
};

pub(super) fn raw_entry(bus: &str, detail: &str) -> Entry {
    Entry {
        detail_type: "herald.Test",
        size: entry_size("herald", "herald.Test", detail, false),
        request: PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source("herald")
            .detail_type("herald.Test")
            .detail(detail)
            .build(),
    }
}

pub(super) fn ok(id: &str) -> PutEventsResultEntry {
    PutEventsResultEntry::builder().event_id(id).build()
}

pub(super) fn failed(code: &str) -> PutEventsResultEntry {
    PutEventsResultEntry::builder()
        .error_code(code)
        .error_message(format!("{code} happened"))
        .build()
}

pub(super) fn answer(entries: Vec<PutEventsResultEntry>) -> PutEventsOutput {
    let failed = entries.iter().filter(|e| e.error_code().is_some()).count();
    PutEventsOutput::builder()
        .failed_entry_count(i32::try_from(failed).unwrap())
        .set_entries(Some(entries))
        .build()
}
