//! Shared setup: the probe fixture as a function, a stream table on DynamoDB Local, and a
//! stream mapping spec whose every number a test chooses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use herald_lambda_bed::template::{StartingPosition, StreamMappingSpec};
use herald_lambda_bed::{
    BedLog, Function, FunctionConfig, Pattern, StreamMapping, StreamSource, clients,
    lambda_environment,
};

/// The probe binary cargo built for these tests.
pub fn probe_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_probe"))
}

/// A probe function, its log, and the directory holding its output.
pub struct Probe {
    pub function: Arc<Function>,
    pub log: BedLog,
    pub _dir: tempfile::TempDir,
}

/// The probe as a function named `name` with this timeout and concurrency.
pub fn probe(name: &str, timeout: Duration, concurrency: u32, extra: &[(&str, &str)]) -> Probe {
    let dir = tempfile::tempdir().unwrap();
    let log = BedLog::new();
    let spec = herald_lambda_bed::template::FunctionSpec {
        logical_id: name.to_owned(),
        binary: "probe".to_owned(),
        timeout,
        memory_mb: 128,
        reserved_concurrency: Some(concurrency),
        log_format: Some("JSON".to_owned()),
        environment: BTreeMap::new(),
        routes: Vec::new(),
        streams: Vec::new(),
        rules: Vec::new(),
        schedules: Vec::new(),
        async_config: herald_lambda_bed::template::AsyncSpec::default(),
    };
    let mut environment = lambda_environment(&spec, "us-east-1", dir.path());
    environment.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let function = Function::new(
        FunctionConfig {
            name: name.to_owned(),
            binary: probe_binary(),
            timeout,
            memory_mb: 128,
            concurrency,
            environment,
            log_dir: dir.path().to_path_buf(),
            region: "us-east-1".to_owned(),
        },
        log.clone(),
    );
    Probe {
        function,
        log,
        _dir: dir,
    }
}

/// A fresh table (`pk`, `sk`) with a `NEW_IMAGE` stream on DynamoDB Local.
pub async fn stream_table() -> String {
    let name = herald_testkit::unique_name("bed-stream");
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    herald_testkit::dynamodb_client()
        .create_table()
        .table_name(&name)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create a table on DynamoDB Local (is .ci/with-services running it?)");
    name
}

/// Writes an item whose `action` the probe performs.
pub async fn put(table: &str, pk: &str, sk: &str, action: &str) {
    herald_testkit::dynamodb_client()
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.to_owned()))
        .item("sk", AttributeValue::S(sk.to_owned()))
        .item("action", AttributeValue::S(action.to_owned()))
        .send()
        .await
        .unwrap();
}

/// A mapping spec: batches of `batch_size` gathered for `window`, partial batch responses on,
/// bisection off, `retries` retries, no filter.
pub fn mapping(batch_size: usize, window: Duration, retries: u32) -> StreamMappingSpec {
    StreamMappingSpec {
        table: "ProbeTable".to_owned(),
        starting_position: StartingPosition::TrimHorizon,
        batch_size,
        batching_window: window,
        parallelization_factor: 1,
        report_batch_item_failures: true,
        bisect_on_error: false,
        max_retries: Some(retries),
        max_record_age: None,
        filters: Vec::<Pattern>::new(),
        on_failure: Some("ProbeFailures".to_owned()),
    }
}

/// Starts `spec` over `table` into the probe.
pub fn start_mapping(probe: &Probe, spec: StreamMappingSpec, table: &str) -> StreamMapping {
    let endpoint = herald_testkit::dynamodb_endpoint();
    StreamMapping::start(
        probe.function.clone(),
        spec,
        StreamSource {
            dynamodb: clients::dynamodb(&endpoint),
            streams: clients::streams(&endpoint),
            table: table.to_owned(),
            region: "us-east-1".to_owned(),
        },
        probe.log.clone(),
    )
}

/// Waits until the log holds `count` batches (or fails the test after `timeout`).
pub async fn batches(
    log: &BedLog,
    count: usize,
    timeout: Duration,
) -> Vec<herald_lambda_bed::BatchRecord> {
    log.wait(timeout, |log| {
        let batches = log.batches();
        (batches.len() >= count).then_some(batches)
    })
    .await
    .unwrap_or_else(|| panic!("expected {count} batches, saw {:#?}", log.batches()))
}
