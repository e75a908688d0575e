//! Creating a table from its [`TableSchema`], for tests and the local runner (deployments get
//! theirs from `template.yaml`).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TableDescription, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};

use super::error::{invalid, map_sdk_error};
use crate::StoreError;
use crate::schema::{IndexSchema, TableSchema};

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(invalid)
}

/// A key attribute: every key attribute is a string.
fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(invalid)
}

/// An index's hash and range keys.
/// An index as `CreateTable` takes it; `UpdateTable` takes the same parts.
fn global_index(index: &IndexSchema) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(index.name)
        .key_schema(key(index.hash_key, KeyType::Hash)?)
        .key_schema(key(index.range_key, KeyType::Range)?)
        .projection(all_attributes())
        .build()
        .map_err(invalid)
}

/// Polls of a table's status, 500 ms apart, before giving up (five minutes).
const WAIT_POLLS: u32 = 600;

/// Every index projects every attribute, so listings need no second read.
fn all_attributes() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::All)
        .build()
}

impl TableSchema {
    /// Creates the table (on-demand billing) and waits until it is active. An existing table
    /// gains the indexes it lacks and is otherwise left as it is.
    pub async fn create(&self, client: &Client, table_name: &str) -> Result<(), StoreError> {
        let mut request = client
            .create_table()
            .table_name(table_name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(self.hash_key, KeyType::Hash)?)
            .key_schema(key(self.range_key, KeyType::Range)?);
        for name in self.key_attributes() {
            request = request.attribute_definitions(string_attribute(name)?);
        }
        for index in self.indexes {
            request = request.global_secondary_indexes(global_index(index)?);
        }
        if let Some(view) = self.stream {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(view))
                    .build()
                    .map_err(invalid)?,
            );
        }
        match request.send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(CreateTableError::is_resource_in_use_exception) => {}
            Err(e) => return Err(map_sdk_error(e)),
        }
        let table = self.wait_active(client, table_name).await?;
        self.add_missing_indexes(client, &table).await?;
        if let Some(ttl) = self.ttl_attribute
            && !ttl_enabled(client, table_name).await?
        {
            client
                .update_time_to_live()
                .table_name(table_name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .enabled(true)
                        .attribute_name(ttl)
                        .build()
                        .map_err(invalid)?,
                )
                .send()
                .await
                .map_err(map_sdk_error)?;
        }
        Ok(())
    }

    /// Adds the indexes of the schema that an existing table lacks (one made before the index
    /// was), one per `UpdateTable` call as DynamoDB allows
    /// (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html>),
    /// each waited for until active: until then it cannot be queried.
    async fn add_missing_indexes(
        &self,
        client: &Client,
        table: &TableDescription,
    ) -> Result<(), StoreError> {
        let table_name = table.table_name().unwrap_or_default();
        let existing: Vec<&str> = table
            .global_secondary_indexes()
            .iter()
            .filter_map(|i| i.index_name())
            .collect();
        for index in self.indexes.iter().filter(|i| !existing.contains(&i.name)) {
            let gsi = global_index(index)?;
            let mut request = client.update_table().table_name(table_name);
            for name in [index.hash_key, index.range_key] {
                request = request.attribute_definitions(string_attribute(name)?);
            }
            request
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder()
                        .create(
                            CreateGlobalSecondaryIndexAction::builder()
                                .index_name(gsi.index_name)
                                .set_key_schema(Some(gsi.key_schema))
                                .set_projection(gsi.projection)
                                .build()
                                .map_err(invalid)?,
                        )
                        .build(),
                )
                .send()
                .await
                .map_err(map_sdk_error)?;
            self.wait_active(client, table_name).await?;
        }
        Ok(())
    }

    /// Waits until the table and every index it has are active; returns its description then.
    async fn wait_active(
        &self,
        client: &Client,
        table_name: &str,
    ) -> Result<TableDescription, StoreError> {
        // A new index on an existing table can take minutes (DynamoDB backfills it; DynamoDB
        // Local under load is slow too): this runs at start-up of the local runner and tests.
        for _ in 0..WAIT_POLLS {
            let described = client
                .describe_table()
                .table_name(table_name)
                .send()
                .await
                .map_err(map_sdk_error)?;
            if let Some(table) = described.table
                && table.table_status() == Some(&TableStatus::Active)
                && table
                    .global_secondary_indexes()
                    .iter()
                    .all(|i| i.index_status() == Some(&IndexStatus::Active))
            {
                return Ok(table);
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(StoreError::Unavailable(format!(
            "table {table_name} or one of its indexes did not become active in {} s",
            WAIT_POLLS / 2
        )))
    }
}

/// Whether time to live is on (or turning on) for `table_name`: DynamoDB refuses to enable it
/// twice, so a second start on existing tables asks first
/// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html).
async fn ttl_enabled(client: &Client, table_name: &str) -> Result<bool, StoreError> {
    let described = client
        .describe_time_to_live()
        .table_name(table_name)
        .send()
        .await
        .map_err(map_sdk_error)?;
    Ok(described
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status())
        .is_some_and(|s| matches!(s, TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)))
}
