//! AWS clients for DynamoDB Local at a given endpoint, with fixed test credentials (nothing is
//! read from the environment or an instance-metadata address).

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

fn credentials() -> Credentials {
    Credentials::new("test", "test", None, None, "herald-lambda-bed")
}

#[must_use]
pub fn dynamodb(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(credentials())
            .build(),
    )
}

#[must_use]
pub fn streams(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(credentials())
            .build(),
    )
}
