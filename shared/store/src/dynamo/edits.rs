//! Edits of every copy and follow-ups on DynamoDB: a notification's edit request (`#edit` beside
//! its header, whose stream record starts the sender's edit job and which the stranded-work sweep
//! wakes like any unfinished item), and the follow-ups' due markers (partition
//! [`FOLLOW_UP_DUE_PK`], sorted by due time, read by the scheduler's tick through their key).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};
use herald_domain::NotificationId;

use super::DynamoOutboxStore;
use super::error::{invalid, map_sdk_error, written};
use super::interactions::{interact_pk, put, settings_item};
use super::item::{Item, ItemExt, key, n, to_value};
use super::outbox_items::{SET_DUE, edit_due_values, edit_key, header_key};
use super::read::{due_by, get_item};
use crate::schema::{FOLLOW_UP_DUE_PK, SETTINGS_SK, attr};
use crate::{
    EditJobs, EditRequest, FollowUpDue, FollowUps, InteractionSettings, NotificationRecord,
    Revision, STRANDED_AFTER, StoreError, adaptive_card,
};

/// How long an edit request nobody finished is kept (TTL); the job deletes it when done.
const EDIT_REQUEST_TTL: Duration = Duration::days(7);

/// The items a new notification brings besides its header: its interaction settings and its
/// follow-up's due marker.
pub(super) fn creation_extras(
    table: &str,
    record: &NotificationRecord,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut items = Vec::new();
    if let Some(settings) = InteractionSettings::of(record) {
        items.push(put(table, settings_item(&settings)?, None)?);
    }
    if let Some(follow_up) = &record.follow_up {
        let due = FollowUpDue {
            notification_id: record.id.clone(),
            due_at: follow_up.due_at,
        };
        let mut item = super::item::to_item(&due)?;
        item.extend(key(FOLLOW_UP_DUE_PK, &due.key()));
        item.insert("expiresAt".into(), n(record.expires_at));
        items.push(put(table, item, None)?);
    }
    Ok(items)
}

impl DynamoOutboxStore {
    /// The header's new content and version, and one more request for the edit job, held until
    /// `hold` if given.
    pub(super) fn revision_items(
        &self,
        id: &NotificationId,
        revision: &Revision,
        current: u32,
        now: DateTime<Utc>,
        hold: Option<DateTime<Utc>>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let header = Update::builder()
            .table_name(&self.table)
            .set_key(Some(header_key(id)))
            .condition_expression(if current == 0 {
                "attribute_exists(#pk) AND (attribute_not_exists(#v) OR #v = :current)"
            } else {
                "attribute_exists(#pk) AND #v = :current"
            })
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#v", "contentVersion")
            .expression_attribute_values(":current", n(i64::from(current)))
            .expression_attribute_values(":next", n(i64::from(current) + 1));
        let header = match revision {
            Revision::Update(activity) => header
                .update_expression("SET #v = :next, activity = :activity")
                .expression_attribute_values(":activity", to_value(activity)?),
            Revision::Retract => header
                .update_expression("SET #v = :next, retracted = :true")
                .expression_attribute_values(":true", AttributeValue::Bool(true)),
        };
        let held_clause = match hold {
            Some(_) => ", heldUntil = :held",
            None => " REMOVE heldUntil",
        };
        let mut request = Update::builder()
            .table_name(&self.table)
            .set_key(Some(edit_key(id)))
            .update_expression(format!(
                "ADD requests :one SET expiresAt = if_not_exists(expiresAt, :expires), {SET_DUE}{held_clause}"
            ))
            .expression_attribute_values(":one", n(1))
            // DynamoDB's TTL compares with the real time, whatever clock `now` comes from.
            .expression_attribute_values(
                ":expires",
                n((Utc::now() + EDIT_REQUEST_TTL).timestamp()),
            );
        if let Some(hold) = hold {
            request = request.expression_attribute_values(":held", n(hold.timestamp_millis()));
        }
        for (name, value) in edit_due_values(id, hold.unwrap_or(now) + STRANDED_AFTER) {
            request = request.expression_attribute_values(name, value);
        }
        Ok(vec![
            TransactWriteItem::builder()
                .update(header.build().map_err(invalid)?)
                .build(),
            TransactWriteItem::builder()
                .update(request.build().map_err(invalid)?)
                .build(),
        ])
    }

    /// A refresh answers the settings' card: it is the new one from now on.
    pub(super) async fn set_settings_card(
        &self,
        id: &NotificationId,
        activity: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let settings = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(&interact_pk(id), SETTINGS_SK)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK);
        let settings = match adaptive_card(activity) {
            Some(card) => settings
                .update_expression("SET card = :card")
                .expression_attribute_values(":card", to_value(card)?),
            None => settings.update_expression("REMOVE card"),
        };
        written(settings.send().await).map(drop)
    }

    /// Moves an edit request's due time on, triggering the job again through the stream;
    /// `false` if there is none.
    pub(super) async fn touch_edit(
        &self,
        id: &NotificationId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(edit_key(id)))
            // A touch ends any hold: the job runs now.
            .update_expression(format!(
                "SET {SET_DUE}, wakes = if_not_exists(wakes, :zero) + :one REMOVE heldUntil"
            ))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1));
        for (name, value) in edit_due_values(id, now + STRANDED_AFTER) {
            request = request.expression_attribute_values(name, value);
        }
        written(request.send().await)
    }
}

/// The number attribute `name` of an item.
fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

#[async_trait]
impl EditJobs for DynamoOutboxStore {
    async fn edit_request(
        &self,
        notification: &NotificationId,
    ) -> Result<Option<EditRequest>, StoreError> {
        let item = get_item(&self.client, &self.table, edit_key(notification)).await?;
        Ok(item.map(|item| EditRequest {
            requests: number(&item, "requests").unwrap_or(0),
            held_until: number(&item, "heldUntil")
                .and_then(|ms| DateTime::from_timestamp_millis(ms.cast_signed())),
        }))
    }

    async fn finish_edit(
        &self,
        notification: &NotificationId,
        seen: &EditRequest,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(edit_key(notification)))
            .condition_expression("requests = :seen")
            .expression_attribute_values(":seen", n(seen.requests.cast_signed()))
            .send()
            .await;
        written(result)
    }

    async fn rearm_edit(
        &self,
        notification: &NotificationId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.touch_edit(notification, now).await.map(|_| ())
    }
}

#[async_trait]
impl FollowUps for DynamoOutboxStore {
    async fn due_follow_ups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FollowUpDue>, StoreError> {
        let output = due_by(&self.client, &self.table, None, FOLLOW_UP_DUE_PK, now)
            .consistent_read(true)
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(map_sdk_error)?;
        let mut due = Vec::new();
        for item in output.items.unwrap_or_default() {
            let name = item.key_name();
            let follow_up: FollowUpDue = serde_dynamo::from_item(item)
                .map_err(|e| StoreError::InvalidData(format!("follow-up {name}: {e}")))?;
            if follow_up.due_at <= now {
                due.push(follow_up);
            }
        }
        Ok(due)
    }

    async fn end_follow_up(&self, due: &FollowUpDue) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(FOLLOW_UP_DUE_PK, &due.key())))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }
}
