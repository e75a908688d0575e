//! A DynamoDB Streams record in the JSON shape Lambda hands to a function
//! (<https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>, "Example event").

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// One record, ready for a batch.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    pub sequence: String,
    /// Seconds since the epoch the change was written (`ApproximateCreationDateTime`).
    pub created: f64,
    /// The `Keys` attribute of the partition key, as JSON (records of one key stay in order).
    pub partition: String,
    pub json: Value,
    /// The record's size in the invocation's payload.
    pub bytes: usize,
}

impl StreamRecord {
    /// The sequence number as a number, for ordering (`SequenceNumber` is decimal digits).
    #[must_use]
    pub fn sequence_number(&self) -> u128 {
        self.sequence.parse().unwrap_or(u128::MAX)
    }
}

/// DynamoDB's JSON for an attribute value (`{"S": "x"}`, `{"N": "1"}`, ...).
#[must_use]
pub fn attribute(value: &AttributeValue) -> Value {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::B(b) => json!({"B": b64(b.as_ref())}),
        AttributeValue::Ss(items) => json!({"SS": items}),
        AttributeValue::Ns(items) => json!({"NS": items}),
        AttributeValue::Bs(items) => {
            json!({"BS": items.iter().map(|b| b64(b.as_ref())).collect::<Vec<_>>()})
        }
        AttributeValue::M(map) => json!({"M": item(map)}),
        AttributeValue::L(items) => json!({"L": items.iter().map(attribute).collect::<Vec<_>>()}),
        AttributeValue::Null(n) => json!({"NULL": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        _ => Value::Null,
    }
}

/// An item (attribute name → value) as DynamoDB JSON.
#[must_use]
pub fn item<S: std::hash::BuildHasher>(map: &HashMap<String, AttributeValue, S>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect::<Map<String, Value>>(),
    )
}

/// The Lambda event record of `record`, or `None` when it carries no change.
#[must_use]
pub fn lambda_record(
    record: &Record,
    region: &str,
    stream_arn: &str,
    hash_key: &str,
) -> Option<StreamRecord> {
    let change = record.dynamodb()?;
    let sequence = change.sequence_number()?.to_owned();
    let created = change.approximate_creation_date_time().map_or(
        0.0,
        aws_sdk_dynamodbstreams::primitives::DateTime::as_secs_f64,
    );
    let keys = change.keys().map_or(Value::Null, item);
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": created.floor(),
        "Keys": keys,
        "SequenceNumber": sequence,
        "SizeBytes": change.size_bytes().unwrap_or(0),
        "StreamViewType": change.stream_view_type().map_or("NEW_IMAGE", |v| v.as_str()),
    });
    if let Some(image) = change.new_image() {
        dynamodb["NewImage"] = item(image);
    }
    if let Some(image) = change.old_image() {
        dynamodb["OldImage"] = item(image);
    }
    let partition = keys.get(hash_key).map(Value::to_string).unwrap_or_default();
    let json = json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str().to_owned()),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    });
    Some(StreamRecord {
        bytes: json.to_string().len(),
        json,
        sequence,
        created,
        partition,
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodbstreams::primitives::{Blob, DateTime};
    use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord as Change, StreamViewType};

    use super::*;

    #[test]
    fn a_record_has_lambdas_shape() {
        let keys = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("n#1".into())),
            ("sk".to_owned(), AttributeValue::S("h".into())),
        ]);
        let mut image = keys.clone();
        image.insert("count".into(), AttributeValue::N("3".into()));
        image.insert("blob".into(), AttributeValue::B(Blob::new(b"hi".to_vec())));
        image.insert(
            "list".into(),
            AttributeValue::L(vec![AttributeValue::Bool(true), AttributeValue::Null(true)]),
        );
        let record = Record::builder()
            .event_id("e1")
            .event_name(OperationType::Insert)
            .event_version("1.1")
            .dynamodb(
                Change::builder()
                    .set_keys(Some(keys))
                    .set_new_image(Some(image))
                    .sequence_number("000100")
                    .size_bytes(42)
                    .stream_view_type(StreamViewType::NewImage)
                    .approximate_creation_date_time(DateTime::from_secs(1_700_000_000))
                    .build(),
            )
            .build();
        let out = lambda_record(&record, "us-east-1", "arn:stream", "pk").unwrap();
        assert_eq!(out.sequence_number(), 100);
        assert_eq!(out.partition, "{\"S\":\"n#1\"}");
        assert_eq!(
            out.json,
            json!({
                "eventID": "e1", "eventName": "INSERT", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:stream",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000.0,
                    "Keys": {"pk": {"S": "n#1"}, "sk": {"S": "h"}},
                    "NewImage": {"pk": {"S": "n#1"}, "sk": {"S": "h"}, "count": {"N": "3"},
                                 "blob": {"B": "aGk="}, "list": {"L": [{"BOOL": true}, {"NULL": true}]}},
                    "SequenceNumber": "000100", "SizeBytes": 42, "StreamViewType": "NEW_IMAGE"
                }
            })
        );
    }
}
