//! DynamoDB items: building attribute values, reading them back, mapping records with
//! `serde_dynamo`, and turning `LastEvaluatedKey`s into cursors and back.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::invalid;
use crate::schema::attr;
use crate::{Cursor, SkipReason, SkippedItem, StoreError};

/// An item as the SDK reads and writes it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub(crate) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// A number attribute.
pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The primary key of an item: every Herald table is keyed (`pk`, `sk`).
pub(crate) fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([(attr::PK.to_owned(), s(pk)), (attr::SK.to_owned(), s(sk))])
}

/// A record's attributes as `serde_dynamo` stores them.
pub(crate) fn to_item<T: Serialize>(record: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(record).map_err(invalid)
}

/// A value as `serde_dynamo` stores it, for conditions that compare with a stored field.
pub(crate) fn to_value<T: Serialize>(value: T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(invalid)
}

/// Where a listing starts: the `ExclusiveStartKey` a cursor of `listing` carries.
pub(crate) fn start_key(
    cursor: Option<&Cursor>,
    listing: &str,
) -> Result<Option<Item>, StoreError> {
    Ok(cursor
        .map(|c| c.decode(listing))
        .transpose()?
        .map(|key| key.into_iter().map(|(k, v)| (k, s(&v))).collect()))
}

/// The cursor of a listing's next page, from the `LastEvaluatedKey` of this one.
pub(crate) fn next_cursor(last_key: Option<&Item>, listing: &str) -> Option<Cursor> {
    let key: BTreeMap<String, String> = last_key
        .filter(|k| !k.is_empty())?
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone())))
        .collect();
    Some(Cursor::encode(listing, key))
}

/// Reading an item's attributes (the extension-trait pattern of the AWS serverless Rust demo).
pub(crate) trait ItemExt {
    /// A string attribute, if the item has one by that name.
    fn get_s(&self, name: &str) -> Option<&str>;

    /// `{pk}/{sk}`, naming the item in errors and skip reports.
    fn key_name(&self) -> String {
        format!(
            "{}/{}",
            self.get_s(attr::PK).unwrap_or("?"),
            self.get_s(attr::SK).unwrap_or("?")
        )
    }

    /// The record the item holds; an item that does not decode is reported under `key`.
    fn decode<T: DeserializeOwned>(self, key: String) -> Result<T, SkippedItem>;
}

impl ItemExt for Item {
    fn get_s(&self, name: &str) -> Option<&str> {
        self.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    }

    fn decode<T: DeserializeOwned>(self, key: String) -> Result<T, SkippedItem> {
        serde_dynamo::from_item(self).map_err(|e| SkippedItem {
            key,
            reason: SkipReason::Corrupt(e.to_string()),
        })
    }
}

/// A record read by key: an item that does not decode is an error, not a missing record.
pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_carry_the_last_key_and_its_listing() {
        let last = key("n-1", "d#tenant|a:1");
        let cursor = next_cursor(Some(&last), "deliveries").unwrap();
        assert_eq!(
            start_key(Some(&cursor), "deliveries").unwrap(),
            Some(last.clone())
        );
        assert!(matches!(
            start_key(Some(&cursor), "schedules"),
            Err(StoreError::InvalidCursor(_))
        ));
        assert_eq!(start_key(None, "deliveries").unwrap(), None);
        assert_eq!(next_cursor(Some(&Item::new()), "deliveries"), None);
        assert_eq!(next_cursor(None, "deliveries"), None);
        assert_eq!(last.key_name(), "n-1/d#tenant|a:1");
        assert_eq!(Item::new().key_name(), "?/?");
    }
}
