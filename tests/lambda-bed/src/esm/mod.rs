//! The DynamoDB Streams event source mapping
//! (<https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>): each shard of the table's
//! stream is read with the DynamoDB Streams API (four polls a second, as Lambda's pollers), its
//! records filtered by `FilterCriteria` (a record that matches no filter is dropped, as Lambda
//! drops it) and spread over `ParallelizationFactor` lanes by partition key; see [`lane`] for the
//! batching and error handling. Unlike the local runner this keeps Lambda's harsh semantics:
//! retries at once, bisection, give-up after `MaximumRetryAttempts`.
//!
//! DynamoDB Local cannot open a `TRIM_HORIZON` iterator on a shard that holds no record yet: a
//! shard without an iterator is asked again at every poll.

pub mod lane;
pub mod record;

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::function::Function;
use crate::log::BedLog;
use crate::template::{StartingPosition, StreamMappingSpec};
use lane::Lane;
use record::{StreamRecord, lambda_record};

const POLL: Duration = Duration::from_millis(250);
const REDESCRIBE: Duration = Duration::from_secs(5);

/// Where the mapping reads.
#[derive(Clone)]
pub struct StreamSource {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub streams: StreamsClient,
    pub table: String,
    pub region: String,
}

/// A running mapping; dropping it stops it.
pub struct StreamMapping {
    tasks: JoinSet<()>,
}

impl StreamMapping {
    /// Starts reading `source`'s stream into `function`.
    #[must_use]
    pub fn start(
        function: Arc<Function>,
        spec: StreamMappingSpec,
        source: StreamSource,
        log: BedLog,
    ) -> Self {
        let mut tasks = JoinSet::new();
        tasks.spawn(poll(function, spec, source, log));
        Self { tasks }
    }

    /// Stops reading and delivering.
    pub fn stop(&mut self) {
        self.tasks.abort_all();
    }
}

/// The stream ARN and the table's partition key name, once the table has a stream.
async fn describe(source: &StreamSource) -> Option<(String, String)> {
    let table = source
        .dynamodb
        .describe_table()
        .table_name(&source.table)
        .send()
        .await
        .map_err(|e| tracing::debug!(error = %e, "describe table"))
        .ok()?
        .table?;
    let arn = table.latest_stream_arn()?.to_owned();
    let hash_key = table
        .key_schema()
        .iter()
        .find(|k| k.key_type().as_str() == "HASH")
        .map(|k| k.attribute_name().to_owned())?;
    Some((arn, hash_key))
}

async fn poll(function: Arc<Function>, spec: StreamMappingSpec, source: StreamSource, log: BedLog) {
    let (arn, hash_key) = loop {
        if let Some(found) = describe(&source).await {
            break found;
        }
        tokio::time::sleep(POLL).await;
    };
    let mut shards = JoinSet::new();
    let mut known = BTreeSet::new();
    loop {
        match source
            .streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
        {
            Ok(out) => {
                let found = out
                    .stream_description()
                    .map(aws_sdk_dynamodbstreams::types::StreamDescription::shards)
                    .unwrap_or_default();
                for shard in found {
                    let Some(id) = shard.shard_id() else { continue };
                    if known.insert(id.to_owned()) {
                        let reader = ShardReader {
                            function: function.clone(),
                            spec: spec.clone(),
                            source: source.clone(),
                            log: log.clone(),
                            arn: arn.clone(),
                            hash_key: hash_key.clone(),
                            shard: id.to_owned(),
                        };
                        shards.spawn(reader.run());
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "describe stream"),
        }
        tokio::time::sleep(REDESCRIBE).await;
    }
}

struct ShardReader {
    function: Arc<Function>,
    spec: StreamMappingSpec,
    source: StreamSource,
    log: BedLog,
    arn: String,
    hash_key: String,
    shard: String,
}

impl ShardReader {
    async fn iterator(&self, kind: ShardIteratorType) -> Option<String> {
        self.source
            .streams
            .get_shard_iterator()
            .stream_arn(&self.arn)
            .shard_id(&self.shard)
            .shard_iterator_type(kind)
            .send()
            .await
            .map_err(|e| tracing::trace!(shard = %self.shard, error = %e, "no iterator yet"))
            .ok()?
            .shard_iterator
    }

    fn lanes(&self, tasks: &mut JoinSet<()>) -> Vec<mpsc::UnboundedSender<StreamRecord>> {
        (0..self.spec.parallelization_factor.max(1))
            .map(|_| {
                let (sender, receiver) = mpsc::unbounded_channel();
                let lane = Lane {
                    function: self.function.clone(),
                    spec: self.spec.clone(),
                    shard: self.shard.clone(),
                    stream_arn: self.arn.clone(),
                    log: self.log.clone(),
                };
                tasks.spawn(lane.run(receiver));
                sender
            })
            .collect()
    }

    async fn run(self) {
        let kind = match self.spec.starting_position {
            StartingPosition::TrimHorizon => ShardIteratorType::TrimHorizon,
            StartingPosition::Latest => ShardIteratorType::Latest,
        };
        let mut lane_tasks = JoinSet::new();
        let lanes = self.lanes(&mut lane_tasks);
        let mut iterator = None;
        let mut last: Option<String> = None;
        loop {
            if iterator.is_none() {
                iterator = match &last {
                    Some(sequence) => self.after(sequence).await,
                    None => self.iterator(kind.clone()).await,
                };
            }
            let Some(current) = iterator.clone() else {
                tokio::time::sleep(POLL).await;
                continue;
            };
            match self
                .source
                .streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
            {
                Ok(out) => {
                    iterator = out.next_shard_iterator().map(str::to_owned);
                    let closed = iterator.is_none();
                    let records = out.records();
                    for record in records {
                        let Some(record) =
                            lambda_record(record, &self.source.region, &self.arn, &self.hash_key)
                        else {
                            continue;
                        };
                        last = Some(record.sequence.clone());
                        if !self.spec.filters.is_empty()
                            && !self.spec.filters.iter().any(|f| f.matches(&record.json))
                        {
                            continue;
                        }
                        let lane = lane_of(&record.partition, lanes.len());
                        let _ = lanes[lane].send(record);
                    }
                    if closed {
                        break;
                    }
                    if records.is_empty() {
                        tokio::time::sleep(POLL).await;
                    }
                }
                Err(e) => {
                    tracing::debug!(shard = %self.shard, error = %e, "get records failed; reopening");
                    iterator = None;
                    tokio::time::sleep(POLL).await;
                }
            }
        }
        drop(lanes);
        while lane_tasks.join_next().await.is_some() {}
    }

    async fn after(&self, sequence: &str) -> Option<String> {
        self.source
            .streams
            .get_shard_iterator()
            .stream_arn(&self.arn)
            .shard_id(&self.shard)
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .sequence_number(sequence)
            .send()
            .await
            .ok()?
            .shard_iterator
    }
}

/// The lane a partition key goes to.
fn lane_of(partition: &str, lanes: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    partition.hash(&mut hasher);
    (hasher.finish() % lanes.max(1) as u64) as usize
}
