//! Reads the DynamoDB stores share: a record by key, every page of a query, the items of a
//! partition due by a time.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::error::map_sdk_error;
use super::item::{Item, from_item, s};
use crate::StoreError;
use crate::keys::due_bound;
use crate::schema::{IndexSchema, attr};

/// The item stored under `key`, read consistently (a write just made is seen).
pub(crate) async fn get_item(
    client: &Client,
    table: &str,
    key: Item,
) -> Result<Option<Item>, StoreError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(map_sdk_error)?;
    Ok(output.item)
}

/// The record stored under `key`, read consistently.
pub(crate) async fn get_record<T: DeserializeOwned>(
    client: &Client,
    table: &str,
    key: Item,
) -> Result<Option<T>, StoreError> {
    get_item(client, table, key)
        .await?
        .map(from_item)
        .transpose()
}

/// Every item `query` finds, page after page (a page holds at most 1 MB).
pub(crate) async fn query_all(query: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let output = query
            .clone()
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(map_sdk_error)?;
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key.filter(|k| !k.is_empty());
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// The query of the items under `partition` due by `now` (sort keys below [`due_bound`]): on
/// `index`'s keys, or without one on the table's (`pk`, `sk`). Due markers and due indexes are
/// read this way.
pub(crate) fn due_by(
    client: &Client,
    table: &str,
    index: Option<&IndexSchema>,
    partition: &str,
    now: DateTime<Utc>,
) -> QueryFluentBuilder {
    let (hash, range) = index.map_or((attr::PK, attr::SK), |i| (i.hash_key, i.range_key));
    client
        .query()
        .table_name(table)
        .set_index_name(index.map(|i| i.name.to_owned()))
        .key_condition_expression("#h = :h AND #r < :bound")
        .expression_attribute_names("#h", hash)
        .expression_attribute_names("#r", range)
        .expression_attribute_values(":h", s(partition))
        .expression_attribute_values(":bound", s(&due_bound(now)))
}

/// Index entries of `partition` due after `after` and at or before `until`.
pub(crate) fn due_between(
    client: &Client,
    table: &str,
    index: &IndexSchema,
    partition: &str,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> QueryFluentBuilder {
    client
        .query()
        .table_name(table)
        .index_name(index.name)
        .key_condition_expression("#h = :h AND #r BETWEEN :from AND :bound")
        .expression_attribute_names("#h", index.hash_key)
        .expression_attribute_names("#r", index.range_key)
        .expression_attribute_values(":h", s(partition))
        .expression_attribute_values(":from", s(&due_bound(after)))
        .expression_attribute_values(":bound", s(&due_bound(until)))
}
