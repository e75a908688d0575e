//! Conversation references in one DynamoDB table keyed by (tenant, conversation), with sparse
//! indexes for type, team, user, zone and previous-zone lookups. Items are mapped with
//! `serde_dynamo`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationKey, ConversationReference,
    ConversationType, NO_ZONE, ReferenceStatus, TenantId, TimeZone,
};

use super::error::{condition_failed, invalid, map_sdk_error};
use super::item::{Item, ItemExt, key, n, next_cursor, s, start_key, to_item};
use super::read::{get_item, query_all};
use super::zone_moves::{record_move, returned, zone_after_clear, zone_after_upsert};
use crate::keys::{index_team, index_user, user_key};
use crate::personal::person_view;
use crate::references::{CREATE_ONLY_FIELDS, ZONE_MOVE_FIELDS, point_read, usable};
use crate::schema::{self, attr};
use crate::{
    ListFilter, Page, PageRequest, ReferenceLister, ReferenceReader, ReferenceWriter, SkippedItem,
    StatusOutcome, StatusUpdate, StoreConfig, StoreError, UpsertOutcome,
};

/// Whether an upsert writes `name` only when it creates the item: the create-only fields, and
/// the epoch milliseconds of the status change that the stale-status condition compares.
fn create_only(name: &str) -> bool {
    CREATE_ONLY_FIELDS.contains(&name) || name == attr::STATUS_MS
}

/// Conversation references in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoReferenceStore {
    pub(super) client: Client,
    pub(super) table: String,
    bot_app_id: BotAppId,
}

impl DynamoReferenceStore {
    #[must_use]
    pub fn new(client: Client, config: &StoreConfig) -> Self {
        Self {
            client,
            table: config.references_table.clone(),
            bot_app_id: config.bot_app_id.clone(),
        }
    }

    /// Creates the table from [`schema::REFERENCES`] if it does not exist (tests, local runner).
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        schema::REFERENCES.create(&self.client, &self.table).await
    }

    pub(super) fn key_item(conversation: &ConversationKey) -> Item {
        key(
            conversation.tenant_id.as_str(),
            conversation.conversation_id.as_str(),
        )
    }

    /// A query of `index` (the table itself when `None`) for the items whose `attribute` is
    /// `value`.
    pub(super) fn query_equal(
        &self,
        index: Option<&str>,
        attribute: &str,
        value: &str,
    ) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#k = :k")
            .expression_attribute_names("#k", attribute)
            .expression_attribute_values(":k", s(value))
    }

    /// Decodes an item into a reference this bot may use, or says why it is skipped.
    pub(super) fn decode(&self, item: Item) -> Result<ConversationReference, SkippedItem> {
        let key = item.key_name();
        usable(item.decode(key.clone())?, &self.bot_app_id, key)
    }

    /// A page of a listing (`index`: the table or index read, naming its cursors).
    fn page(
        &self,
        items: Vec<Item>,
        last_key: Option<&Item>,
        index: &str,
        filter: &ListFilter,
    ) -> Page<ConversationReference> {
        let mut page = Page {
            items: Vec::with_capacity(items.len()),
            next_cursor: next_cursor(last_key, index),
            skipped: Vec::new(),
        };
        for item in items {
            page.add(self.decode(item), filter);
        }
        page
    }
}

/// The stored form of a reference: its fields plus key and index attributes.
fn reference_item(reference: &ConversationReference) -> Result<Item, StoreError> {
    reference.validate().map_err(invalid)?;
    let mut item = to_item(reference)?;
    item.extend(DynamoReferenceStore::key_item(&reference.key()));
    if let Some(team) = index_team(reference) {
        item.insert(attr::TEAM_KEY.into(), s(team.as_str()));
    }
    if let Some(user) = index_user(reference) {
        item.insert(
            attr::USER_KEY.into(),
            s(&user_key(&reference.tenant_id, user)),
        );
    }
    item.insert(
        attr::UPDATED_MS.into(),
        n(reference.updated_at.timestamp_millis()),
    );
    item.insert(
        attr::STATUS_MS.into(),
        n(reference.status_changed_at.timestamp_millis()),
    );
    Ok(item)
}

/// A reference as a whole item, with the zone index attribute the upsert otherwise computes in
/// its update expression.
pub(super) fn stored_item(reference: &ConversationReference) -> Result<Item, StoreError> {
    let mut item = reference_item(reference)?;
    item.insert(attr::ZONE_KEY.into(), s(reference.zone_key()));
    Ok(item)
}

#[async_trait]
impl ReferenceReader for DynamoReferenceStore {
    async fn get(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<ConversationReference>, StoreError> {
        let Some(item) = get_item(&self.client, &self.table, Self::key_item(key)).await? else {
            return Ok(None);
        };
        point_read(self.decode(item))
    }

    async fn find_by_conversation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<ConversationReference>, StoreError> {
        // The type index is keyed (type, conversation id); the id's shape names the type.
        let types = match ConversationType::guess_from_id(conversation.as_str()) {
            Some(kind) => vec![kind],
            None => ConversationType::ALL.to_vec(),
        };
        for kind in types {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(schema::BY_TYPE.name)
                .key_condition_expression("#t = :t AND #sk = :sk")
                .expression_attribute_names("#t", attr::CONVERSATION_TYPE)
                .expression_attribute_names("#sk", attr::SK)
                .expression_attribute_values(":t", s(kind.as_str()))
                .expression_attribute_values(":sk", s(conversation.as_str()))
                .send()
                .await
                .map_err(map_sdk_error)?;
            let page = self.page(
                output.items.unwrap_or_default(),
                None,
                schema::BY_TYPE.name,
                &ListFilter::all(),
            );
            if let Some(found) = page.items.into_iter().next() {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    async fn find_personal(
        &self,
        tenant: &TenantId,
        user: &AadObjectId,
    ) -> Result<Option<ConversationReference>, StoreError> {
        let query = self.query_equal(
            Some(schema::BY_USER.name),
            attr::USER_KEY,
            &user_key(tenant, user),
        );
        let items = query_all(query).await?;
        let found = self
            .page(items, None, schema::BY_USER.name, &ListFilter::all())
            .items;
        Ok(person_view(found))
    }
}

#[async_trait]
impl ReferenceWriter for DynamoReferenceStore {
    async fn upsert(&self, reference: &ConversationReference) -> Result<UpsertOutcome, StoreError> {
        let item = reference_item(reference)?;
        let mut names = HashMap::from([
            ("#cpk".to_owned(), attr::PK.to_owned()),
            ("#cupd".to_owned(), attr::UPDATED_MS.to_owned()),
            ("#cbot".to_owned(), attr::BOT_APP_ID.to_owned()),
        ]);
        let mut values = HashMap::from([
            (
                ":cupd".to_owned(),
                n(reference.updated_at.timestamp_millis()),
            ),
            (":cbot".to_owned(), s(reference.bot_app_id.as_str())),
        ]);
        let mut sets = Vec::with_capacity(item.len());
        let personal = reference.conversation_type == ConversationType::Personal;
        for (i, (name, value)) in item.into_iter().enumerate() {
            if name == attr::PK
                || name == attr::SK
                || ZONE_MOVE_FIELDS.contains(&name.as_str())
                || (!personal && name == "timeZone")
            {
                continue;
            }
            let (placeholder, value_placeholder) = (format!("#a{i}"), format!(":a{i}"));
            sets.push(if create_only(&name) {
                format!("{placeholder} = if_not_exists({placeholder}, {value_placeholder})")
            } else {
                format!("{placeholder} = {value_placeholder}")
            });
            names.insert(placeholder, name);
            values.insert(value_placeholder, value);
        }
        // The zone index follows the user's override when there is one. A channel or group
        // chat has no client zone (`ConversationReference::effective_time_zone`): one stored
        // before is removed, and only an override sets its zone.
        names.insert("#zk".to_owned(), attr::ZONE_KEY.to_owned());
        let mut removes = Vec::new();
        if !personal {
            names.insert("#tzo".to_owned(), "timeZoneOverride".to_owned());
            names.insert("#tzr".to_owned(), "timeZone".to_owned());
            values.insert(":zk".to_owned(), s(NO_ZONE));
            sets.push("#zk = if_not_exists(#tzo, :zk)".to_owned());
            removes.push("#tzr");
        } else if let Some(zone) = reference.time_zone {
            names.insert("#tzo".to_owned(), "timeZoneOverride".to_owned());
            values.insert(":zk".to_owned(), s(zone.name()));
            sets.push("#zk = if_not_exists(#tzo, :zk)".to_owned());
        } else {
            values.insert(":zk".to_owned(), s(NO_ZONE));
            sets.push("#zk = if_not_exists(#zk, :zk)".to_owned());
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_item(&reference.key())))
            .update_expression(if removes.is_empty() {
                format!("SET {}", sets.join(", "))
            } else {
                format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "))
            })
            // A missing updatedAtMs means an unreadable item: let a fresh activity repair it.
            .condition_expression(
                "attribute_not_exists(#cpk) OR attribute_not_exists(#cupd) \
                 OR #cupd <= :cupd OR #cbot <> :cbot",
            )
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let outcome = match result {
            Ok(output) => match returned(output.attributes.as_ref()) {
                Some(old) => {
                    let zone = zone_after_upsert(old, reference);
                    let key = Self::key_item(&reference.key());
                    record_move(
                        &self.client,
                        &self.table,
                        key,
                        Some(old),
                        zone,
                        reference.updated_at,
                    )
                    .await?;
                    UpsertOutcome::Updated
                }
                None => UpsertOutcome::Created,
            },
            Err(e) if condition_failed(&e) => return Ok(UpsertOutcome::Stale),
            Err(e) => return Err(map_sdk_error(e)),
        };
        Ok(if self.fold_person(reference).await? {
            UpsertOutcome::Updated
        } else {
            outcome
        })
    }

    async fn set_status(
        &self,
        key: &ConversationKey,
        update: &StatusUpdate,
    ) -> Result<StatusOutcome, StoreError> {
        let at = update.at.timestamp_millis();
        let mut values = HashMap::from([
            (":s".to_owned(), s(update.status.as_str())),
            (":sc".to_owned(), s(&update.at.to_rfc3339())),
            (":sms".to_owned(), n(at)),
        ]);
        let mut expression = "SET #s = :s, #sc = :sc, #sms = :sms".to_owned();
        match &update.reason {
            Some(reason) => {
                values.insert(":sr".to_owned(), s(reason));
                expression.push_str(", #sr = :sr");
            }
            None => expression.push_str(" REMOVE #sr"),
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_item(key)))
            .update_expression(expression)
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#sms) OR #sms <= :sms)",
            )
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#sc", "statusChangedAt")
            .expression_attribute_names("#sms", attr::STATUS_MS)
            .expression_attribute_names("#sr", "statusReason")
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let previous = output
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get_s("status"))
                    .and_then(|s| s.parse::<ReferenceStatus>().ok())
                    .ok_or_else(|| {
                        StoreError::InvalidData(format!("{key}: stored status unreadable"))
                    })?;
                Ok(StatusOutcome::Applied { previous })
            }
            Err(e) => match e.as_service_error() {
                // The condition failed on a stored item (returned): a newer status is stored.
                Some(UpdateItemError::ConditionalCheckFailedException(c)) if c.item.is_some() => {
                    Ok(StatusOutcome::Stale)
                }
                Some(service) if service.is_conditional_check_failed_exception() => {
                    Err(StoreError::NotFound(key.to_string()))
                }
                _ => Err(map_sdk_error(e)),
            },
        }
    }

    async fn set_time_zone_override(
        &self,
        key: &ConversationKey,
        zone: Option<TimeZone>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_item(key)))
            .return_values(ReturnValue::AllOld)
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#z", "timeZoneOverride");
        let request = request.expression_attribute_names("#zk", attr::ZONE_KEY);
        let request = match zone {
            Some(zone) => request
                .update_expression("SET #z = :z, #zk = :z")
                .expression_attribute_values(":z", s(zone.name())),
            None => request
                .update_expression("SET #zk = if_not_exists(#tz, :none) REMOVE #z")
                .expression_attribute_names("#tz", "timeZone")
                .expression_attribute_values(":none", s(NO_ZONE)),
        };
        match request.send().await {
            Ok(output) => {
                let old = returned(output.attributes.as_ref());
                let now_zone = match (zone, old) {
                    (Some(zone), _) => zone.name(),
                    (None, Some(old)) => zone_after_clear(old),
                    (None, None) => NO_ZONE,
                };
                record_move(
                    &self.client,
                    &self.table,
                    Self::key_item(key),
                    old,
                    now_zone,
                    at,
                )
                .await
            }
            Err(e) if condition_failed(&e) => Err(StoreError::NotFound(key.to_string())),
            Err(e) => Err(map_sdk_error(e)),
        }
    }

    async fn delete(&self, key: &ConversationKey) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_item(key)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(output.attributes.as_ref().is_some_and(|a| !a.is_empty()))
    }
}

#[async_trait]
impl ReferenceLister for DynamoReferenceStore {
    async fn list(
        &self,
        filter: &ListFilter,
        page: &PageRequest,
    ) -> Result<Page<ConversationReference>, StoreError> {
        // Pick the most selective key the filter names; the rest filters the page.
        let (index, key_attr, key_value) = if let Some(zone) = &filter.zone {
            (Some(schema::BY_ZONE.name), attr::ZONE_KEY, zone.as_str())
        } else if let Some(zone) = &filter.previous_zone {
            (
                Some(schema::BY_PREVIOUS_ZONE.name),
                attr::PREVIOUS_ZONE_KEY,
                zone.as_str(),
            )
        } else if let Some(team) = &filter.team {
            (Some(schema::BY_TEAM.name), attr::TEAM_KEY, team.as_str())
        } else if let Some(tenant) = &filter.tenant {
            (None, attr::PK, tenant.as_str())
        } else if let Some(kind) = filter.conversation_type {
            (
                Some(schema::BY_TYPE.name),
                attr::CONVERSATION_TYPE,
                kind.as_str(),
            )
        } else {
            (None, "", "")
        };
        let cursor_name = match (index, key_attr) {
            (Some(index), _) => index,
            (None, attr::PK) => "tenant",
            _ => "scan",
        };
        let start = start_key(page.cursor.as_ref(), cursor_name)?;
        let limit = page.limit.map(|l| l.clamp(1, 10_000).cast_signed());
        let (items, last_key) = if key_attr.is_empty() {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .set_limit(limit)
                .send()
                .await
                .map_err(map_sdk_error)?;
            (output.items, output.last_evaluated_key)
        } else {
            let output = self
                .query_equal(index, key_attr, key_value)
                .set_exclusive_start_key(start)
                .set_limit(limit)
                .send()
                .await
                .map_err(map_sdk_error)?;
            (output.items, output.last_evaluated_key)
        };
        Ok(self.page(
            items.unwrap_or_default(),
            last_key.as_ref(),
            cursor_name,
            filter,
        ))
    }
}
