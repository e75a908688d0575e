//! A DynamoDB Streams record, as `GetRecords` returns it, in the JSON shape Lambda hands the
//! sender (<https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>): the local runner's
//! stream poller and the tests that read the stream themselves feed the sender this way.

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record};
use chrono::Utc;
use serde_json::{Value, json};

/// The record as one of a Lambda event's `Records` (new images only, as the outbox table's
/// stream is configured); `None` for a record without its `dynamodb` part.
#[must_use]
pub fn lambda_record(record: &Record, region: &str) -> Option<Value> {
    let change = record.dynamodb()?;
    Some(json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str().to_owned()),
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.1",
        "awsRegion": region,
        "dynamodb": {
            "ApproximateCreationDateTime": Utc::now().timestamp(),
            "Keys": image(change.keys.as_ref()),
            "NewImage": image(change.new_image.as_ref()),
            "SequenceNumber": change.sequence_number(),
            "SizeBytes": change.size_bytes().unwrap_or(0),
            "StreamViewType": "NEW_IMAGE",
        },
    }))
}

/// An item image in DynamoDB's JSON (`{"S": ...}`); `null` when absent or unconvertible.
fn image(image: Option<&HashMap<String, AttributeValue>>) -> Value {
    image
        .and_then(|i| serde_json::to_value(serde_dynamo::Item::from(i.clone())).ok())
        .unwrap_or(Value::Null)
}
