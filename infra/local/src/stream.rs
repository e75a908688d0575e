//! In DynamoDB mode: the outbox table's stream, read with the DynamoDB Streams API and handed to
//! the sender in Lambda's event shape, shard by shard, replaying a batch from its lowest failed
//! record as Lambda's event source mapping does.
//!
//! DynamoDB Local cannot open a `TRIM_HORIZON` iterator on a shard that holds no record yet, so a
//! shard without an iterator is retried at every poll until it has one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use chrono::Utc;
use herald_sender::{SenderFunction, lambda_record};
use serde_json::{Value, json};
use tokio::sync::watch;

const POLL: Duration = Duration::from_millis(250);
const REDESCRIBE: Duration = Duration::from_secs(10);
const REPLAY_PAUSE: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Shard {
    iterator: Option<String>,
    /// The last record handed to the sender, to resume after an expired iterator.
    last_sequence: Option<String>,
    closed: bool,
}

/// Runs until `stop` turns true.
pub async fn run(
    dynamodb: aws_sdk_dynamodb::Client,
    streams: StreamsClient,
    table: String,
    function: Arc<SenderFunction>,
    mut stop: watch::Receiver<bool>,
) {
    let mut arn: Option<String> = None;
    let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
    let mut described: Option<Instant> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let mut busy = false;
        if arn.is_none() {
            arn = stream_arn(&dynamodb, &table).await;
        }
        if let Some(arn) = &arn {
            if described.is_none_or(|at| at.elapsed() >= REDESCRIBE) {
                discover(&streams, arn, &mut shards).await;
                described = Some(Instant::now());
            }
            for (id, shard) in &mut shards {
                if shard.closed {
                    continue;
                }
                if shard.iterator.is_none() {
                    shard.iterator =
                        iterator(&streams, arn, id, shard.last_sequence.as_deref()).await;
                }
                let Some(current) = shard.iterator.clone() else {
                    continue;
                };
                match streams
                    .get_records()
                    .shard_iterator(current)
                    .limit(100)
                    .send()
                    .await
                {
                    Ok(output) => {
                        shard.iterator = output.next_shard_iterator().map(str::to_owned);
                        shard.closed = shard.iterator.is_none();
                        if output.records().is_empty() {
                            continue;
                        }
                        busy = true;
                        shard.last_sequence = output
                            .records()
                            .iter()
                            .filter_map(|r| r.dynamodb().and_then(|d| d.sequence_number()))
                            .next_back()
                            .map(str::to_owned);
                        let batch = lambda_event(output.records());
                        if !deliver(&function, batch, &mut stop).await {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::debug!(shard = %id, error = %e, "stream read failed; reopening");
                        shard.iterator = None;
                    }
                }
            }
        }
        if !busy {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

async fn stream_arn(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Option<String> {
    match dynamodb.describe_table().table_name(table).send().await {
        Ok(out) => {
            let arn = out
                .table()
                .and_then(|t| t.latest_stream_arn())
                .map(str::to_owned);
            if arn.is_none() {
                tracing::error!(
                    table,
                    "the outbox table has no stream; nothing will be sent"
                );
            }
            arn
        }
        Err(e) => {
            tracing::warn!(table, error = %e, "cannot describe the outbox table");
            None
        }
    }
}

async fn discover(streams: &StreamsClient, arn: &str, shards: &mut BTreeMap<String, Shard>) {
    match streams.describe_stream().stream_arn(arn).send().await {
        Ok(out) => {
            for shard in out
                .stream_description()
                .map(aws_sdk_dynamodbstreams::types::StreamDescription::shards)
                .unwrap_or_default()
            {
                if let Some(id) = shard.shard_id() {
                    shards.entry(id.to_owned()).or_default();
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot describe the outbox stream"),
    }
}

async fn iterator(
    streams: &StreamsClient,
    arn: &str,
    shard: &str,
    after: Option<&str>,
) -> Option<String> {
    let request = streams.get_shard_iterator().stream_arn(arn).shard_id(shard);
    let request = match after {
        Some(sequence) => request
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .sequence_number(sequence),
        None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
    };
    match request.send().await {
        Ok(out) => out.shard_iterator().map(str::to_owned),
        Err(e) => {
            // DynamoDB Local: no TRIM_HORIZON iterator on an empty shard. Try again next poll.
            tracing::trace!(shard, error = %e, "no shard iterator yet");
            None
        }
    }
}

/// Hands a batch to the sender until no record fails, replaying from the lowest failed one.
/// Returns false when stopped.
async fn deliver(
    function: &SenderFunction,
    mut batch: DynamoDbEvent,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        let deadline = Utc::now() + chrono::Duration::seconds(60);
        let response = function.handle_stream(batch.clone(), Some(deadline)).await;
        let Some(lowest) = response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.as_deref())
            .filter_map(|s| s.parse::<u128>().ok())
            .min()
        else {
            return true;
        };
        batch.records.retain(|r| {
            r.change
                .sequence_number
                .as_deref()
                .and_then(|s| s.parse::<u128>().ok())
                >= Some(lowest)
        });
        tracing::debug!(records = batch.records.len(), "replaying stream records");
        tokio::select! {
            () = tokio::time::sleep(REPLAY_PAUSE) => {}
            _ = stop.changed() => return false,
        }
    }
}

/// Stream records in the JSON shape Lambda hands to a function.
fn lambda_event(records: &[Record]) -> DynamoDbEvent {
    let records: Vec<Value> = records
        .iter()
        .filter_map(|record| lambda_record(record, "local"))
        .collect();
    serde_json::from_value(json!({"Records": records})).unwrap_or_else(|e| {
        tracing::error!(error = %e, "stream records did not convert to Lambda's shape");
        DynamoDbEvent::default()
    })
}
