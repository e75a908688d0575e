//! The DynamoDB fault proxy in front of DynamoDB Local: requests forwarded untouched, chosen
//! operations answered `ProvisionedThroughputExceededException` or `InternalServerError` as
//! DynamoDB answers them, a share of them when asked, and counters that tell what happened.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
use aws_sdk_dynamodb::types::AttributeValue;
use herald_lambda_bed::{DynamoFaults, DynamoProxy};

use crate::support::stream_table;

/// A client of the proxy that does not retry, so each call is one request.
fn client(proxy: &DynamoProxy) -> aws_sdk_dynamodb::Client {
    let config = herald_lambda_bed::clients::dynamodb(&proxy.url())
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

async fn put(client: &aws_sdk_dynamodb::Client, table: &str, pk: &str) -> Result<(), String> {
    client
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.to_owned()))
        .item("sk", AttributeValue::S("item".to_owned()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.code().unwrap_or("no code").to_owned())
}

#[tokio::test]
async fn the_proxy_forwards_and_answers_the_chosen_operations_with_dynamodb_errors() {
    let table = stream_table().await;
    let proxy = DynamoProxy::start(&herald_testkit::dynamodb_endpoint())
        .await
        .unwrap();
    let client = client(&proxy);
    put(&client, &table, "a").await.unwrap();
    let read = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("a".to_owned()))
        .key("sk", AttributeValue::S("item".to_owned()))
        .send()
        .await
        .unwrap();
    assert!(
        read.item.is_some(),
        "the write went through to DynamoDB Local"
    );

    proxy.set_faults(DynamoFaults {
        throttle: 1.0,
        operations: BTreeSet::from(["PutItem".to_owned()]),
        ..DynamoFaults::default()
    });
    assert_eq!(
        put(&client, &table, "b").await,
        Err("ProvisionedThroughputExceededException".to_owned())
    );
    // Other operations still pass.
    client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("b".to_owned()))
        .key("sk", AttributeValue::S("item".to_owned()))
        .send()
        .await
        .unwrap();

    proxy.set_faults(DynamoFaults {
        internal_error: 1.0,
        ..DynamoFaults::default()
    });
    assert_eq!(
        put(&client, &table, "c").await,
        Err("InternalServerError".to_owned())
    );

    let counters = proxy.counters();
    assert_eq!(counters.requests, 5);
    assert_eq!(counters.forwarded, 3);
    assert_eq!((counters.throttled, counters.internal_errors), (1, 1));
    assert_eq!(counters.operations["PutItem"], 3);
    assert_eq!(counters.operations["GetItem"], 2);
}

#[tokio::test]
async fn a_share_of_requests_fails_and_the_rest_is_forwarded() {
    let table = stream_table().await;
    let proxy = DynamoProxy::start(&herald_testkit::dynamodb_endpoint())
        .await
        .unwrap();
    let client = client(&proxy);
    proxy.set_faults(DynamoFaults {
        throttle: 0.25,
        internal_error: 0.25,
        ..DynamoFaults::default()
    });
    let mut refused = 0;
    for n in 0..200 {
        if put(&client, &table, &format!("p{n}")).await.is_err() {
            refused += 1;
        }
    }
    let counters = proxy.counters();
    assert_eq!(counters.throttled + counters.internal_errors, refused);
    assert_eq!(counters.forwarded, 200 - refused);
    // Half of the requests on average: far outside 60..140 only once in billions of runs.
    assert!((60..=140).contains(&refused), "{counters:?}");
    assert!(
        counters.throttled > 0 && counters.internal_errors > 0,
        "{counters:?}"
    );
    proxy.set_faults(DynamoFaults::default());
    put(&client, &table, "after").await.unwrap();
}
