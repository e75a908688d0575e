//! One lane of a shard (`ParallelizationFactor` lanes per shard; a partition key always maps to
//! the same lane, so its records stay in order): batches of up to `BatchSize` records and 6 MB
//! gathered for at most `MaximumBatchingWindowInSeconds`, each processed to the end before the
//! next, with Lambda's error handling
//! (<https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html>,
//! <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html>):
//! retries at once (no delay), a partial batch response resuming from the lowest failed
//! sequence number, a failed batch bisected (halves do not count against `MaximumRetryAttempts`),
//! records past `MaximumRecordAgeInSeconds` or out of retries sent to the `OnFailure`
//! destination.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::esm::record::StreamRecord;
use crate::function::{Function, Invocation};
use crate::log::{BatchRecord, BedLog, FailureRecord, FailureSource, OutcomeKind};
use crate::template::StreamMappingSpec;

/// A batch ends before its records' payload passes a synchronous invocation's 6 MB
/// (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html>, "Batching
/// behavior").
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// Why records were given up (`requestContext.condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Self::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Self::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// Records still to deliver, and what happened to them so far.
struct Work {
    records: Vec<StreamRecord>,
    retries: u32,
    invocations: u32,
    bisected: bool,
}

/// What the lane needs to deliver.
pub struct Lane {
    pub function: Arc<Function>,
    pub spec: StreamMappingSpec,
    pub shard: String,
    pub stream_arn: String,
    pub log: BedLog,
}

/// How one invocation of a batch ended.
enum Result {
    Done,
    /// Records from this sequence number on failed (`batchItemFailures`).
    FailedFrom(u128),
    Failed,
}

impl Lane {
    /// Gathers and delivers batches until the channel closes.
    pub async fn run(self, mut records: mpsc::UnboundedReceiver<StreamRecord>) {
        let mut carried = None;
        loop {
            let first = match carried.take() {
                Some(first) => first,
                None => match records.recv().await {
                    Some(first) => first,
                    None => return,
                },
            };
            let mut bytes = first.bytes;
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + self.spec.batching_window;
            while batch.len() < self.spec.batch_size {
                let next = if let Ok(next) = records.try_recv() {
                    next
                } else {
                    tokio::select! {
                        next = records.recv() => match next {
                            Some(next) => next,
                            None => break,
                        },
                        () = tokio::time::sleep_until(deadline) => break,
                    }
                };
                if bytes + next.bytes > MAX_PAYLOAD {
                    carried = Some(next);
                    break;
                }
                bytes += next.bytes;
                batch.push(next);
            }
            self.deliver(batch).await;
        }
    }

    async fn deliver(&self, batch: Vec<StreamRecord>) {
        let mut queue = VecDeque::from([Work {
            records: batch,
            retries: 0,
            invocations: 0,
            bisected: false,
        }]);
        while let Some(mut work) = queue.pop_front() {
            self.expire(&mut work);
            if work.records.is_empty() {
                continue;
            }
            let started = Instant::now();
            let event =
                json!({"Records": work.records.iter().map(|r| &r.json).collect::<Vec<_>>()});
            work.invocations += 1;
            let invocation = self.function.invoke(&event).await;
            let (result, outcome, failures) = match &invocation {
                Ok(invocation) => self.read(invocation, &work.records),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot invoke the function; retrying");
                    (Result::Failed, OutcomeKind::InitError, Vec::new())
                }
            };
            self.log.batch(BatchRecord {
                function: self.function.name().to_owned(),
                shard: self.shard.clone(),
                first_sequence: work.records[0].sequence.clone(),
                last_sequence: work.records[work.records.len() - 1].sequence.clone(),
                size: work.records.len(),
                attempt: work.retries + 1,
                bisected: work.bisected,
                outcome,
                item_failures: failures,
                start: started,
            });
            match result {
                Result::Done => {}
                Result::FailedFrom(lowest) => {
                    work.records.retain(|r| r.sequence_number() >= lowest);
                    self.retry(work, invocation.ok().as_ref(), &mut queue);
                }
                Result::Failed if self.spec.bisect_on_error && work.records.len() > 1 => {
                    let second = work.records.split_off(work.records.len() / 2);
                    let half = |records| Work {
                        records,
                        retries: work.retries,
                        invocations: 0,
                        bisected: true,
                    };
                    queue.push_front(half(second));
                    queue.push_front(half(std::mem::take(&mut work.records)));
                }
                Result::Failed => self.retry(work, invocation.ok().as_ref(), &mut queue),
            }
        }
    }

    /// Retries `work` at once, or gives it up when its retries are spent.
    fn retry(&self, mut work: Work, last: Option<&Invocation>, queue: &mut VecDeque<Work>) {
        if self.spec.max_retries.is_some_and(|max| work.retries >= max) {
            self.give_up(&work, Condition::RetryAttemptsExhausted, last);
            return;
        }
        work.retries += 1;
        queue.push_front(work);
    }

    /// Sends records older than `MaximumRecordAgeInSeconds` to the destination.
    fn expire(&self, work: &mut Work) {
        let Some(max_age) = self.spec.max_record_age else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let fresh_from = work
            .records
            .iter()
            .position(|r| now - r.created <= max_age.as_secs_f64())
            .unwrap_or(work.records.len());
        if fresh_from > 0 {
            let expired = Work {
                records: work.records.drain(..fresh_from).collect(),
                retries: work.retries,
                invocations: work.invocations,
                bisected: work.bisected,
            };
            self.give_up(&expired, Condition::RecordAgeExceeded, None);
        }
    }

    /// Reads the function's answer: done, partial failure (with `ReportBatchItemFailures`), or failed.
    fn read(
        &self,
        invocation: &Invocation,
        records: &[StreamRecord],
    ) -> (Result, OutcomeKind, Vec<String>) {
        if invocation.outcome.failed() {
            return (Result::Failed, invocation.outcome, Vec::new());
        }
        if !self.spec.report_batch_item_failures {
            return (Result::Done, invocation.outcome, Vec::new());
        }
        let answer = invocation.json();
        let Some(failures) = answer.get("batchItemFailures").and_then(Value::as_array) else {
            return (Result::Done, invocation.outcome, Vec::new());
        };
        let ids: Vec<Option<String>> = failures
            .iter()
            .map(|f| {
                f.get("itemIdentifier")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        let reported: Vec<String> = ids.iter().flatten().cloned().collect();
        // An identifier that is missing, empty or not in the batch fails the whole batch.
        let known = |id: &String| records.iter().any(|r| &r.sequence == id);
        if ids
            .iter()
            .any(|id| !id.as_ref().is_some_and(|id| !id.is_empty() && known(id)))
        {
            return (Result::Failed, invocation.outcome, reported);
        }
        match reported
            .iter()
            .filter_map(|id| id.parse::<u128>().ok())
            .min()
        {
            Some(lowest) => (Result::FailedFrom(lowest), invocation.outcome, reported),
            None => (Result::Done, invocation.outcome, reported),
        }
    }

    /// Records the invocation record Lambda sends to the `OnFailure` destination.
    fn give_up(&self, work: &Work, condition: Condition, last: Option<&Invocation>) {
        let (Some(first), Some(last_record)) = (work.records.first(), work.records.last()) else {
            return;
        };
        let arrival = |seconds: f64| {
            chrono::DateTime::from_timestamp(seconds as i64, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        };
        let mut response = json!({"statusCode": 200, "executedVersion": "$LATEST"});
        if last.is_some_and(|i| i.outcome.failed()) {
            response["functionError"] = json!("Unhandled");
        }
        let body = json!({
            "requestContext": {
                "requestId": last.map_or_else(|| uuid::Uuid::new_v4().to_string(), |i| i.request_id.clone()),
                "functionArn": self.function.config().arn(),
                "condition": condition.as_str(),
                "approximateInvokeCount": work.invocations,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "DDBStreamBatchInfo": {
                "shardId": self.shard,
                "startSequenceNumber": first.sequence,
                "endSequenceNumber": last_record.sequence,
                "approximateArrivalOfFirstRecord": arrival(first.created),
                "approximateArrivalOfLastRecord": arrival(last_record.created),
                "batchSize": work.records.len(),
                "streamArn": self.stream_arn,
            }
        });
        self.log.failure(FailureRecord {
            source: FailureSource::Stream,
            function: self.function.name().to_owned(),
            destination: self.spec.on_failure.clone(),
            body,
        });
    }
}
