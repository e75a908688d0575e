//! The DynamoDB Streams event source mapping, proven on the probe over a stream table.

use std::time::Duration;

use herald_lambda_bed::{FailureSource, OutcomeKind, Pattern};
use serde_json::json;

use crate::support::{batches, mapping, probe, put, start_mapping, stream_table};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn batches_keep_shard_order_never_exceed_the_batch_size_and_wait_for_the_window() {
    let table = stream_table().await;
    let probe = probe("Ordered", Duration::from_secs(10), 1, &[]);
    let _mapping = start_mapping(&probe, mapping(3, Duration::from_secs(2), 0), &table);
    for i in 0..7 {
        put(&table, &format!("p{}", i % 3), &format!("s{i}"), "echo").await;
    }
    let seen = probe
        .log
        .wait(WAIT, |log| {
            let batches = log.batches();
            (batches.iter().map(|b| b.size).sum::<usize>() >= 7).then_some(batches)
        })
        .await
        .expect("all seven records delivered");
    assert!(
        seen.iter()
            .all(|b| b.size <= 3 && b.attempt == 1 && b.outcome == OutcomeKind::Ok),
        "{seen:#?}"
    );
    let sequence = |s: &str| s.parse::<u128>().unwrap();
    for pair in seen.windows(2) {
        assert!(
            sequence(&pair[0].last_sequence) < sequence(&pair[1].first_sequence),
            "batches out of order: {seen:#?}"
        );
    }
    // Seven records written at once in a 2-second window: full batches first.
    assert_eq!(seen.iter().map(|b| b.size).collect::<Vec<_>>(), [3, 3, 1]);
    // A lone record waits for the window before it is handed over.
    let before = std::time::Instant::now();
    put(&table, "late", "s", "echo").await;
    let last = batches(&probe.log, 4, WAIT).await.pop().unwrap();
    assert_eq!(last.size, 1);
    assert!(
        last.start.duration_since(before) >= Duration::from_millis(1500),
        "{:?}",
        last.start.duration_since(before)
    );
}

#[tokio::test]
async fn a_partial_batch_response_resumes_from_the_lowest_failed_record_until_retries_run_out() {
    let table = stream_table().await;
    let probe = probe("Partial", Duration::from_secs(10), 1, &[]);
    // A window long enough for the four writes to land in one batch on a busy machine.
    let _mapping = start_mapping(&probe, mapping(10, Duration::from_secs(3), 1), &table);
    for (sk, action) in [("a", "echo"), ("b", "echo"), ("c", "fail"), ("d", "echo")] {
        put(&table, "p", sk, action).await;
    }
    let seen = batches(&probe.log, 2, WAIT).await;
    let failures = probe
        .log
        .wait(WAIT, |log| log.failures().first().cloned())
        .await
        .unwrap();
    let (first, retry) = (&seen[0], &seen[1]);
    assert_eq!((first.size, first.attempt), (4, 1), "{seen:#?}");
    assert_eq!(first.item_failures.len(), 1);
    let failed = &first.item_failures[0];
    assert_eq!(
        &retry.first_sequence, failed,
        "resumed from the failed record"
    );
    assert_eq!(
        (retry.size, retry.attempt),
        (2, 2),
        "records before it are done"
    );
    assert_eq!(failures.source, FailureSource::Stream);
    assert_eq!(failures.destination.as_deref(), Some("ProbeFailures"));
    let info = &failures.body["DDBStreamBatchInfo"];
    assert_eq!(info["startSequenceNumber"], json!(failed));
    assert_eq!(info["endSequenceNumber"], json!(retry.last_sequence));
    assert_eq!(info["batchSize"], 2);
    assert_eq!(
        failures.body["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(failures.body["requestContext"]["approximateInvokeCount"], 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        probe.log.batches().len(),
        2,
        "nothing is retried after the give-up"
    );
}

#[tokio::test]
async fn a_failed_batch_is_bisected_and_retried_without_delay_down_to_the_bad_record() {
    let table = stream_table().await;
    let probe = probe("Bisect", Duration::from_secs(10), 1, &[]);
    let mut spec = mapping(10, Duration::from_secs(1), 1);
    spec.report_batch_item_failures = false;
    spec.bisect_on_error = true;
    let _mapping = start_mapping(&probe, spec, &table);
    for (sk, action) in [("a", "echo"), ("b", "echo"), ("c", "error"), ("d", "echo")] {
        put(&table, "p", sk, action).await;
    }
    let failure = probe
        .log
        .wait(WAIT, |log| log.failures().first().cloned())
        .await
        .unwrap();
    let seen = batches(&probe.log, 6, WAIT).await;
    let shape: Vec<(usize, bool, u32, OutcomeKind)> = seen
        .iter()
        .map(|b| (b.size, b.bisected, b.attempt, b.outcome))
        .collect();
    assert_eq!(
        shape,
        [
            (4, false, 1, OutcomeKind::Error),
            (2, true, 1, OutcomeKind::Ok),
            (2, true, 1, OutcomeKind::Error),
            (1, true, 1, OutcomeKind::Error),
            (1, true, 2, OutcomeKind::Error),
            (1, true, 1, OutcomeKind::Ok),
        ]
    );
    let retry_gap = seen[4].start.duration_since(seen[3].start);
    assert!(
        retry_gap < Duration::from_millis(1500),
        "Lambda retries stream batches at once: {retry_gap:?}"
    );
    let info = &failure.body["DDBStreamBatchInfo"];
    assert_eq!(info["startSequenceNumber"], json!(seen[3].first_sequence));
    assert_eq!(info["batchSize"], 1);
    assert_eq!(
        failure.body["responseContext"]["functionError"],
        "Unhandled"
    );
}

#[tokio::test]
async fn filter_criteria_drop_records_that_match_no_filter() {
    let table = stream_table().await;
    let probe = probe("Filtered", Duration::from_secs(10), 1, &[]);
    let mut spec = mapping(10, Duration::from_millis(500), 0);
    spec.filters = vec![Pattern::new(
        json!({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sk": {"S": [{"prefix": "keep"}]}}}}),
    )];
    let _mapping = start_mapping(&probe, spec, &table);
    put(&table, "p", "keep-1", "echo").await;
    put(&table, "p", "drop-1", "echo").await;
    // A MODIFY of a kept item: not an INSERT.
    put(&table, "p", "keep-1", "sleep:1").await;
    put(&table, "p", "keep-2", "echo").await;
    let delivered = probe
        .log
        .wait(WAIT, |log| {
            let total: usize = log.batches().iter().map(|b| b.size).sum();
            (total >= 2).then_some(total)
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let total: usize = probe.log.batches().iter().map(|b| b.size).sum();
    assert_eq!((delivered, total), (2, 2), "{:#?}", probe.log.batches());
}
