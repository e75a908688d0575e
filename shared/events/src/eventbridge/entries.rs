//! Herald's events as PutEvents entries, and how they are grouped into calls under PutEvents'
//! limits (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html>).

use std::ops::Range;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::{EventError, HeraldEvent};

/// PutEvents takes at most this many entries per call.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// PutEvents' request size limit (256 KB), counted as AWS documents it (see [`entry_size`]).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// What a `Time` field adds to an entry's size.
const TIME_BYTES: usize = 14;

/// An entry's size as EventBridge counts it against [`MAX_REQUEST_BYTES`]: the UTF-8 bytes of
/// source, detail-type and detail, plus 14 for a time (Herald sends no resources, which would
/// count too).
#[must_use]
pub fn entry_size(source: &str, detail_type: &str, detail: &str, has_time: bool) -> usize {
    source.len() + detail_type.len() + detail.len() + if has_time { TIME_BYTES } else { 0 }
}

/// An event in wire form, checked against the size limit.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) event: HeraldEvent,
    pub(crate) source: String,
    pub(crate) detail: String,
    pub(crate) size: usize,
}

/// Encodes every event before anything is sent, so an unencodable or oversized event fails the
/// publish as a whole instead of after part of it went out.
pub(crate) fn encode(events: &[HeraldEvent], source: &str) -> Result<Vec<Encoded>, EventError> {
    events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let detail = event.detail()?;
            let size = entry_size(source, event.detail_type(), &detail, true);
            if size > MAX_REQUEST_BYTES {
                return Err(EventError::TooLarge {
                    index,
                    detail_type: event.detail_type(),
                    size,
                    max: MAX_REQUEST_BYTES,
                });
            }
            Ok(Encoded {
                event: event.clone(),
                source: source.to_owned(),
                detail,
                size,
            })
        })
        .collect()
}

/// One PutEvents entry and what the report needs to know about it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) detail_type: &'static str,
    pub(crate) size: usize,
    pub(crate) request: PutEventsRequestEntry,
}

impl Encoded {
    pub(super) fn into_entry(self, bus: &str) -> Entry {
        let at = self.event.occurred_at();
        let time = aws_smithy_types::DateTime::from_millis(at.timestamp_millis());
        Entry {
            detail_type: self.event.detail_type(),
            size: self.size,
            request: PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source(self.source)
                .detail_type(self.event.detail_type())
                .detail(self.detail)
                .time(time)
                .build(),
        }
    }
}

/// Splits entries, in order, into calls of at most [`MAX_ENTRIES_PER_CALL`] entries and
/// [`MAX_REQUEST_BYTES`]. Every size must be within the limit (checked by [`encode`]).
pub(crate) fn plan_batches(sizes: &[usize]) -> Vec<Range<usize>> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, &size) in sizes.iter().enumerate() {
        if i > start && (i - start == MAX_ENTRIES_PER_CALL || bytes + size > MAX_REQUEST_BYTES) {
            batches.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        batches.push(start..sizes.len());
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_at_most_ten_entries_and_256_kb() {
        assert_eq!(plan_batches(&[100; 25]), vec![0..10, 10..20, 20..25]);
        assert_eq!(plan_batches(&[]), Vec::<Range<usize>>::new());
        let big = 100 * 1024;
        // Two 100 KB entries fit in a call, a third does not.
        assert_eq!(plan_batches(&[big; 5]), vec![0..2, 2..4, 4..5]);
        assert_eq!(
            plan_batches(&[MAX_REQUEST_BYTES, 1, MAX_REQUEST_BYTES - 1]),
            vec![0..1, 1..3]
        );
        for batch in plan_batches(&[big, 10, 10, big, big, 7, big]) {
            assert!(batch.len() <= MAX_ENTRIES_PER_CALL);
        }
    }

    #[test]
    fn sizes_count_what_aws_counts() {
        assert_eq!(entry_size("herald", "herald.X", "{}", true), 6 + 8 + 2 + 14);
        // Bytes, not characters: `é` is two.
        assert_eq!(
            entry_size("herald", "herald.X", "{\"é\":1}", false),
            6 + 8 + 8
        );
    }
}
