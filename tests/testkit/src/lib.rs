//! Test support shared by Herald's crates: a DynamoDB client for DynamoDB Local and unique names,
//! so every test has its own tables and tests run in parallel.

mod backend;
mod fixtures;
pub mod http;
pub mod schedules;

pub use backend::{Backend, TestStores, stores};
pub use fixtures::{person, reference};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};

/// Where DynamoDB Local listens unless `HERALD_TEST_DYNAMODB_ENDPOINT` says otherwise. `.ci/run`
/// starts it there inside a private network namespace.
pub const DEFAULT_DYNAMODB_ENDPOINT: &str = "http://127.0.0.1:8000";

#[must_use]
pub fn dynamodb_endpoint() -> String {
    endpoint("HERALD_TEST_DYNAMODB_ENDPOINT", DEFAULT_DYNAMODB_ENDPOINT)
}

/// `variable` when set and not empty, else `default`.
fn endpoint(variable: &str, default: &str) -> String {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// What every test client shares: the service at `endpoint`, a fixed region and fixed test
/// credentials, so nothing is read from the environment or probed from an instance-metadata
/// address.
#[must_use]
pub fn aws_config(endpoint: impl Into<String>) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test",
            "test",
            None,
            None,
            "herald-testkit",
        )))
        .build()
}

/// A client for DynamoDB Local.
#[must_use]
pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&aws_config(dynamodb_endpoint()))
}

/// A name no other test uses: `prefix-<uuid>`.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A benchmark's size from the environment (`BENCH_SENDS=2000`), else `default`: benchmarks run
/// short in CI and long by hand.
#[must_use]
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Which parts of a benchmark to run: `cargo bench` passes `--bench`, and any other argument
/// is a filter; a part runs when no filter is given or its name contains one.
pub fn bench_parts() -> impl Fn(&str) -> bool {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    move |name| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()))
}

/// Where moto's server (EventBridge, SQS) listens unless `HERALD_TEST_MOTO_ENDPOINT` says
/// otherwise. `.ci/with-services` starts it there inside the private network namespace.
pub const DEFAULT_MOTO_ENDPOINT: &str = "http://127.0.0.1:5000";

#[must_use]
pub fn moto_endpoint() -> String {
    endpoint("HERALD_TEST_MOTO_ENDPOINT", DEFAULT_MOTO_ENDPOINT)
}

/// An EventBridge client for moto.
#[must_use]
pub fn eventbridge_client() -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(&aws_config(moto_endpoint()))
}

/// An SQS client for moto, to read back what EventBridge rules delivered.
#[must_use]
pub fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&aws_config(moto_endpoint()))
}

/// A fresh event bus on moto whose rule sends every event of one `source` to a fresh SQS queue,
/// so a test reads back exactly what reached the bus, isolated from tests running beside it.
#[derive(Debug, Clone)]
pub struct EventCapture {
    pub bus_name: String,
    pub queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

/// Creates the bus, the queue, a rule matching `{"source": [source]}` and its SQS target.
pub async fn capture_events(source: &str) -> EventCapture {
    let events = eventbridge_client();
    let sqs = sqs_client();
    let bus_name = unique_name("herald-bus");
    events
        .create_event_bus()
        .name(&bus_name)
        .send()
        .await
        .expect("create event bus on moto (is .ci/with-services running it?)");
    let queue_url = sqs
        .create_queue()
        .queue_name(unique_name("herald-events"))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("queue arn");
    let rule = unique_name("herald-rule");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus_name)
        .event_pattern(serde_json::json!({ "source": [source] }).to_string())
        .send()
        .await
        .expect("put rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(queue_arn)
        .build()
        .expect("target");
    let answer = events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus_name)
        .targets(target)
        .send()
        .await
        .expect("put targets");
    assert_eq!(answer.failed_entry_count(), 0, "put targets: {answer:?}");
    EventCapture {
        bus_name,
        queue_url,
        sqs,
    }
}

impl EventCapture {
    /// Reads and deletes messages until `expected` have arrived or `timeout` passes, then polls
    /// once more (one second) so extra deliveries (duplicates) are returned too. Each item is
    /// the EventBridge event envelope (`source`, `detail-type`, `detail`...) as JSON.
    pub async fn receive(
        &self,
        expected: usize,
        timeout: std::time::Duration,
    ) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + timeout;
        let mut received = Vec::new();
        let mut extra_poll_done = false;
        loop {
            let enough = received.len() >= expected;
            if enough && extra_poll_done || !enough && std::time::Instant::now() > deadline {
                return received;
            }
            extra_poll_done = enough;
            let answer = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive message");
            for message in answer.messages() {
                let body = message.body().expect("message body");
                received.push(serde_json::from_str(body).expect("event JSON"));
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete message");
                }
            }
        }
    }
}

/// A DynamoDB Streams client for DynamoDB Local, to read an outbox stream as Lambda would.
#[must_use]
pub fn dynamodb_streams_client() -> aws_sdk_dynamodbstreams::Client {
    aws_sdk_dynamodbstreams::Client::new(&aws_config(dynamodb_endpoint()))
}
