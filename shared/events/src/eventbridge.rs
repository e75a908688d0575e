//! The production publisher: EventBridge `PutEvents` on the configured bus.
//!
//! A 200 answer can still carry failed entries (`FailedEntryCount`, a per-entry `ErrorCode`), so
//! every answer is read entry by entry: accepted entries are done, entries failing with a
//! transient code (throttling, internal failure) are sent again, alone, after a bounded
//! exponential backoff with jitter, and entries EventBridge refuses for good are reported at once.

use std::future::Future;
use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use herald_retry::{Jitter, RetryPolicy};

use crate::{EventError, EventPublisher, EventsConfig, FailedEntry, HeraldEvent, PublishReport};

/// PutEvents takes at most this many entries per call.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// PutEvents' request size limit (256 KB), counted as AWS documents it (see [`entry_size`]).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// What a `Time` field adds to an entry's size.
const TIME_BYTES: usize = 14;

/// Per-entry error codes that fail the same way however often they are sent. Anything else
/// (`ThrottlingException`, `InternalFailure`, codes added later) is retried.
const PERMANENT_CODES: [&str; 7] = [
    "AccessDeniedException",
    "InvalidAccountIdException",
    "InvalidArgument",
    "MalformedDetail",
    "NotAuthorizedForDetailTypeException",
    "NotAuthorizedForSourceException",
    "RedactionFailure",
];

/// An entry's size as EventBridge counts it against [`MAX_REQUEST_BYTES`]: the UTF-8 bytes of
/// source, detail-type and detail, plus 14 for a time (Herald sends no resources, which would
/// count too).
#[must_use]
pub fn entry_size(source: &str, detail_type: &str, detail: &str, has_time: bool) -> usize {
    source.len() + detail_type.len() + detail.len() + if has_time { TIME_BYTES } else { 0 }
}

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
        let client = self.client.clone();
        put_all(&entries, &self.retry, move |batch| {
            let client = client.clone();
            async move {
                client
                    .put_events()
                    .set_entries(Some(batch))
                    .send()
                    .await
                    .map_err(|e| call_error(&e))
            }
        })
        .await
    }
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
    fn into_entry(self, bus: &str) -> Entry {
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

/// A per-entry error from a PutEvents answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryError {
    pub(crate) code: String,
    pub(crate) message: Option<String>,
}

/// One PutEvents answer, read entry by entry. Positions index the entries that were sent.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct BatchOutcome {
    pub(crate) accepted: Vec<(usize, Option<String>)>,
    pub(crate) retry: Vec<(usize, EntryError)>,
    pub(crate) rejected: Vec<(usize, EntryError)>,
}

/// Reads a PutEvents answer for `sent` entries. Result entries line up with request entries; a
/// result missing from a short answer is treated as a transient failure rather than a success.
pub(crate) fn classify(sent: usize, output: &PutEventsOutput) -> BatchOutcome {
    let results = output.entries();
    let mut outcome = BatchOutcome::default();
    for position in 0..sent {
        match results.get(position) {
            Some(result) => match result.error_code() {
                Some(code) => {
                    let error = EntryError {
                        code: code.to_owned(),
                        message: result.error_message().map(str::to_owned),
                    };
                    if PERMANENT_CODES.contains(&code) {
                        outcome.rejected.push((position, error));
                    } else {
                        outcome.retry.push((position, error));
                    }
                }
                None => outcome
                    .accepted
                    .push((position, result.event_id().map(str::to_owned))),
            },
            None => outcome.retry.push((
                position,
                EntryError {
                    code: "MissingResult".to_owned(),
                    message: Some(format!(
                        "PutEvents answered {} results for {sent} entries",
                        results.len()
                    )),
                },
            )),
        }
    }
    let counted = outcome.retry.len() + outcome.rejected.len();
    let reported = output.failed_entry_count();
    if usize::try_from(reported).ok() != Some(counted) {
        tracing::warn!(
            reported,
            counted,
            "PutEvents FailedEntryCount disagrees with its entries"
        );
    }
    outcome
}

/// Maps a failed PutEvents call to what the caller can do about it.
fn call_error(
    err: &SdkError<aws_sdk_eventbridge::operation::put_events::PutEventsError>,
) -> EventError {
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

/// Sends `entries` in planned batches through `send`, retrying transient call errors and
/// exactly the entries an answer reports failed, within `policy`. Separate from the client so
/// the retry logic can run against any PutEvents answer.
pub(crate) async fn put_all<S, F>(
    entries: &[Entry],
    policy: &RetryPolicy,
    mut send: S,
) -> Result<PublishReport, EventError>
where
    S: FnMut(Vec<PutEventsRequestEntry>) -> F,
    F: Future<Output = Result<PutEventsOutput, EventError>>,
{
    let mut report = PublishReport {
        event_ids: vec![None; entries.len()],
        ..PublishReport::default()
    };
    let sizes: Vec<usize> = entries.iter().map(|e| e.size).collect();
    for batch in plan_batches(&sizes) {
        // Input indexes still to send; after an answer, only those it reported as transient failures.
        let mut pending: Vec<usize> = batch.collect();
        // Sends of the batch's entries, and failed calls, each bounded by the policy.
        let mut sends = policy.attempts(None);
        let mut calls = policy.attempts(None);
        while !pending.is_empty() {
            let request = pending
                .iter()
                .map(|&i| entries[i].request.clone())
                .collect();
            report.calls += 1;
            let output = match send(request).await {
                Ok(output) => output,
                Err(e) if e.is_transient() => match calls.retry(None) {
                    Ok(pause) => {
                        tracing::warn!(error = %e, attempt = pause.failed_attempt, "PutEvents call failed; retrying");
                        pause.await;
                        continue;
                    }
                    Err(_) => return Err(e),
                },
                Err(e) => return Err(e),
            };
            let attempt = sends.made();
            let outcome = classify(pending.len(), &output);
            for (position, id) in outcome.accepted {
                report.event_ids[pending[position]] = Some(id.unwrap_or_default());
            }
            let failed = |position: usize, error: EntryError, permanent: bool| FailedEntry {
                index: pending[position],
                detail_type: entries[pending[position]].detail_type,
                error_code: error.code,
                error_message: error.message,
                attempts: attempt,
                permanent,
            };
            for (position, error) in outcome.rejected {
                let entry = failed(position, error, true);
                tracing::error!(index = entry.index, code = %entry.error_code, "EventBridge refused an event");
                report.failed.push(entry);
            }
            if outcome.retry.is_empty() {
                break;
            }
            let Ok(pause) = sends.retry(None) else {
                for (position, error) in outcome.retry {
                    report.failed.push(failed(position, error, false));
                }
                break;
            };
            let retry: Vec<usize> = outcome.retry.iter().map(|(p, _)| pending[*p]).collect();
            tracing::warn!(
                entries = retry.len(),
                attempt,
                "PutEvents reported failed entries; retrying them"
            );
            report.retried_entries += retry.len() as u32;
            pause.await;
            pending = retry;
        }
    }
    if report.failed.is_empty() {
        Ok(report)
    } else {
        report.failed.sort_by_key(|f| f.index);
        Err(EventError::EntriesFailed(Box::new(report)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use aws_sdk_eventbridge::types::PutEventsResultEntry;

    use super::*;

    /// Fast retries: these tests check what is resent, not how long the pauses are.
    const QUICK: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..EventBridgePublisher::DEFAULT_RETRY
    };

    fn raw_entry(bus: &str, detail: &str) -> Entry {
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

    fn ok(id: &str) -> PutEventsResultEntry {
        PutEventsResultEntry::builder().event_id(id).build()
    }

    fn failed(code: &str) -> PutEventsResultEntry {
        PutEventsResultEntry::builder()
            .error_code(code)
            .error_message(format!("{code} happened"))
            .build()
    }

    fn answer(entries: Vec<PutEventsResultEntry>) -> PutEventsOutput {
        let failed = entries.iter().filter(|e| e.error_code().is_some()).count();
        PutEventsOutput::builder()
            .failed_entry_count(i32::try_from(failed).unwrap())
            .set_entries(Some(entries))
            .build()
    }

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

    #[test]
    fn answers_are_read_entry_by_entry() {
        let output = answer(vec![
            ok("e0"),
            failed("ThrottlingException"),
            failed("MalformedDetail"),
            failed("InternalFailure"),
            ok("e4"),
        ]);
        let outcome = classify(5, &output);
        assert_eq!(
            outcome.accepted,
            vec![(0, Some("e0".to_owned())), (4, Some("e4".to_owned()))]
        );
        let retry: Vec<_> = outcome
            .retry
            .iter()
            .map(|(p, e)| (*p, e.code.as_str()))
            .collect();
        assert_eq!(retry, [(1, "ThrottlingException"), (3, "InternalFailure")]);
        assert_eq!(outcome.rejected.len(), 1);
        assert_eq!(outcome.rejected[0].0, 2);
        assert_eq!(
            outcome.rejected[0].1.message.as_deref(),
            Some("MalformedDetail happened")
        );
        // A short answer never counts the missing entries as published.
        let short = classify(3, &answer(vec![ok("e0")]));
        assert_eq!(short.accepted.len(), 1);
        assert_eq!(
            short.retry.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [1, 2]
        );
    }

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

    /// Drives `put_all` with scripted answers (real `PutEventsOutput` values) and records what
    /// each call sent.
    async fn scripted(
        entries: &[Entry],
        policy: &RetryPolicy,
        answers: Vec<Result<Vec<PutEventsResultEntry>, EventError>>,
    ) -> (Result<PublishReport, EventError>, Vec<Vec<String>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(answers.into_iter()));
        let seen = calls.clone();
        let result = put_all(entries, policy, move |batch| {
            let sent: Vec<String> = batch
                .iter()
                .map(|e| e.detail().unwrap_or_default().to_owned())
                .collect();
            seen.lock().unwrap().push(sent);
            let next = answers.lock().unwrap().next().expect("an answer per call");
            async move { next.map(answer) }
        })
        .await;
        let calls = calls.lock().unwrap().clone();
        (result, calls)
    }

    fn details(n: usize) -> Vec<Entry> {
        (0..n)
            .map(|i| raw_entry("b", &format!("{{\"n\":{i}}}")))
            .collect()
    }

    #[tokio::test]
    async fn resends_exactly_the_failed_entries() {
        let entries = details(12);
        let mut first: Vec<_> = (0..10).map(|i| ok(&format!("e{i}"))).collect();
        first[3] = failed("ThrottlingException");
        first[7] = failed("InternalFailure");
        let (result, calls) = scripted(
            &entries,
            &QUICK,
            vec![
                Ok(first),
                Ok(vec![ok("e3"), ok("e7")]),
                Ok(vec![ok("e10"), ok("e11")]),
            ],
        )
        .await;
        let report = result.unwrap();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].len(), 10);
        assert_eq!(calls[1], ["{\"n\":3}", "{\"n\":7}"]);
        assert_eq!(calls[2], ["{\"n\":10}", "{\"n\":11}"]);
        assert_eq!(report.calls, 3);
        assert_eq!(report.retried_entries, 2);
        let ids: Vec<_> = report
            .event_ids
            .iter()
            .map(|i| i.clone().unwrap())
            .collect();
        assert_eq!(ids, (0..12).map(|i| format!("e{i}")).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn permanent_failures_are_not_resent_and_fail_the_publish() {
        let entries = details(3);
        let (result, calls) = scripted(
            &entries,
            &QUICK,
            vec![
                Ok(vec![
                    ok("e0"),
                    failed("MalformedDetail"),
                    failed("ThrottlingException"),
                ]),
                Ok(vec![ok("e2")]),
            ],
        )
        .await;
        assert_eq!(calls[1], ["{\"n\":2}"]);
        let Err(EventError::EntriesFailed(report)) = result else {
            panic!("expected EntriesFailed, got {result:?}");
        };
        assert_eq!(report.published(), 2);
        assert_eq!(report.failed.len(), 1);
        let f = &report.failed[0];
        assert_eq!(
            (f.index, f.error_code.as_str(), f.permanent, f.attempts),
            (1, "MalformedDetail", true, 1)
        );
    }

    #[tokio::test]
    async fn retries_are_bounded() {
        let entries = details(2);
        let throttled = || Ok(vec![ok("e0"), failed("ThrottlingException")]);
        let again = || Ok(vec![failed("ThrottlingException")]);
        let (result, calls) = scripted(
            &entries,
            &QUICK,
            vec![throttled(), again(), again(), again()],
        )
        .await;
        assert_eq!(calls.len(), 4, "max_attempts sends, then give up");
        let Err(EventError::EntriesFailed(report)) = result else {
            panic!("expected EntriesFailed, got {result:?}");
        };
        assert_eq!(report.event_ids[0].as_deref(), Some("e0"));
        let f = &report.failed[0];
        assert_eq!((f.index, f.attempts, f.permanent), (1, 4, false));
        assert_eq!(report.retried_entries, 3);
    }

    #[tokio::test]
    async fn transient_call_errors_are_retried_and_others_are_not() {
        let entries = details(1);
        let (result, calls) = scripted(
            &entries,
            &QUICK,
            vec![
                Err(EventError::Throttled("slow down".into())),
                Err(EventError::Unavailable("502".into())),
                Ok(vec![ok("e0")]),
            ],
        )
        .await;
        assert_eq!(calls.len(), 3);
        assert_eq!(result.unwrap().event_ids, [Some("e0".to_owned())]);

        let (result, calls) = scripted(
            &entries,
            &QUICK,
            vec![Err(EventError::Rejected("AccessDenied".into()))],
        )
        .await;
        assert_eq!(calls.len(), 1);
        assert!(matches!(result, Err(EventError::Rejected(_))));

        let always = (0..QUICK.max_attempts)
            .map(|_| Err(EventError::Throttled("slow down".into())))
            .collect();
        let (result, calls) = scripted(&entries, &QUICK, always).await;
        assert_eq!(calls.len(), QUICK.max_attempts as usize);
        assert!(matches!(result, Err(EventError::Throttled(_))));
    }

    #[tokio::test]
    async fn nothing_to_publish_makes_no_call() {
        let (result, calls) = scripted(&[], &QUICK, vec![]).await;
        assert!(calls.is_empty());
        assert_eq!(result.unwrap(), PublishReport::default());
    }

    /// Moto's real per-entry failure: an entry whose detail is not JSON is refused with
    /// `MalformedDetail` in a 200 answer, beside accepted entries. It is reported, never resent,
    /// and the others reach the bus once.
    #[tokio::test]
    async fn moto_refuses_malformed_detail_per_entry() {
        let capture = herald_testkit::capture_events("herald").await;
        let bus = &capture.bus_name;
        let entries = vec![
            raw_entry(bus, "{\"n\":0}"),
            raw_entry(bus, "{not json"),
            raw_entry(bus, "{\"n\":2}"),
        ];
        let client = herald_testkit::eventbridge_client();
        let result = put_all(&entries, &QUICK, move |batch| {
            let client = client.clone();
            async move {
                client
                    .put_events()
                    .set_entries(Some(batch))
                    .send()
                    .await
                    .map_err(|e| call_error(&e))
            }
        })
        .await;
        let Err(EventError::EntriesFailed(report)) = result else {
            panic!("expected EntriesFailed, got {result:?}");
        };
        assert_eq!(report.calls, 1, "a permanent failure is not resent");
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].index, 1);
        assert_eq!(report.failed[0].error_code, "MalformedDetail");
        assert!(report.failed[0].permanent);
        assert!(report.event_ids[0].is_some() && report.event_ids[2].is_some());

        let got = capture.receive(2, Duration::from_secs(20)).await;
        let mut ns: Vec<_> = got
            .iter()
            .map(|e| e["detail"]["n"].as_i64().unwrap())
            .collect();
        ns.sort_unstable();
        assert_eq!(ns, [0, 2]);
    }

    /// EventBridge throttling part of a batch, reproduced on moto: the first call forwards only
    /// some entries to moto and answers `ThrottlingException` for the rest (merged with moto's
    /// own answer); the retry must send exactly those, so every event reaches the queue once.
    #[tokio::test]
    async fn partially_throttled_batches_arrive_exactly_once_on_moto() {
        let capture = herald_testkit::capture_events("herald").await;
        let entries: Vec<_> = (0..14)
            .map(|i| raw_entry(&capture.bus_name, &format!("{{\"n\":{i}}}")))
            .collect();
        let client = herald_testkit::eventbridge_client();
        let throttle_first: Arc<Mutex<HashSet<usize>>> = Arc::default();
        let calls = Arc::new(Mutex::new(0usize));
        let (calls_seen, throttled) = (calls.clone(), throttle_first.clone());
        let result = put_all(&entries, &QUICK, move |batch| {
            let client = client.clone();
            let call = {
                let mut c = calls_seen.lock().unwrap();
                *c += 1;
                *c
            };
            let throttled = throttled.clone();
            async move {
                // On the first call, positions 2, 5 and 9 "are throttled" and not forwarded.
                let hold: Vec<usize> = if call == 1 { vec![2, 5, 9] } else { vec![] };
                let forward: Vec<_> = batch
                    .iter()
                    .enumerate()
                    .filter(|(p, _)| !hold.contains(p))
                    .map(|(_, e)| e.clone())
                    .collect();
                let real = client
                    .put_events()
                    .set_entries(Some(forward))
                    .send()
                    .await
                    .map_err(|e| call_error(&e))?;
                let mut real = real.entries().iter().cloned();
                let merged = (0..batch.len())
                    .map(|p| {
                        if hold.contains(&p) {
                            throttled.lock().unwrap().insert(p);
                            failed("ThrottlingException")
                        } else {
                            real.next().expect("moto answers every entry")
                        }
                    })
                    .collect();
                Ok(answer(merged))
            }
        })
        .await;
        let report = result.unwrap();
        assert_eq!(throttle_first.lock().unwrap().len(), 3);
        // Batch 1 (10 entries) needed a retry of 3; batch 2 (4 entries) went through at once.
        assert_eq!(report.calls, 3);
        assert_eq!(report.retried_entries, 3);
        assert_eq!(report.published(), 14);

        let got = capture.receive(14, Duration::from_secs(20)).await;
        let mut ns: Vec<_> = got
            .iter()
            .map(|e| e["detail"]["n"].as_i64().unwrap())
            .collect();
        ns.sort_unstable();
        assert_eq!(ns, (0..14).collect::<Vec<i64>>(), "each event exactly once");
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
