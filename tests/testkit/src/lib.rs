//! Test support shared by Herald's crates: a DynamoDB client for DynamoDB Local and unique names,
//! so every test has its own tables and tests run in parallel.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

/// Where DynamoDB Local listens unless `HERALD_TEST_DYNAMODB_ENDPOINT` says otherwise. `.ci/run`
/// starts it there inside a private network namespace.
pub const DEFAULT_DYNAMODB_ENDPOINT: &str = "http://127.0.0.1:8000";

#[must_use]
pub fn dynamodb_endpoint() -> String {
    std::env::var("HERALD_TEST_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_DYNAMODB_ENDPOINT.to_owned())
}

/// A client for DynamoDB Local with fixed test credentials: nothing is read from the environment
/// or probed from an instance-metadata address.
#[must_use]
pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(dynamodb_endpoint())
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "herald-testkit",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A name no other test uses: `prefix-<uuid>`.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
