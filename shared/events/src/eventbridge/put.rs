//! Sending entries in planned batches, retrying transient call errors and exactly the entries an
//! answer reports failed, under the publisher's retry policy.

use std::future::Future;

use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use herald_retry::RetryPolicy;

use super::answer::{EntryError, classify};
use super::entries::{Entry, plan_batches};
use crate::{EventError, FailedEntry, PublishReport};

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
    use std::time::Duration;

    use aws_sdk_eventbridge::types::PutEventsResultEntry;

    use super::super::put_events;
    use super::super::test_support::{QUICK, answer, failed, ok, raw_entry};
    use super::*;

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
        let result = put_all(&entries, &QUICK, |batch| put_events(client.clone(), batch)).await;
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
                let real = put_events(client, forward).await?;
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
}
