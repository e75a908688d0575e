//! `POST /api/notify`, the notifications list, and a notification's status, deliveries and
//! delivered copies.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use herald_domain::DeliveryStatus;
use herald_http::{ApiError, Reply};
use herald_pipeline::request::{Message, NotifyRequest};
use herald_store::{DeliveryRecord, NotificationId, NotificationRecord};
use serde_json::{Map, Value, json};

use crate::error::{request_error, store_error};
use crate::extract::{Id, Json, Params};
use crate::query::page_reply;
use crate::{Notify, SOURCE, edit};

/// `POST /api/notify`: store the notification and answer; expansion happens elsewhere.
pub(crate) async fn create(
    State(notify): State<Arc<Notify>>,
    Json(body): Json,
) -> Result<Reply, ApiError> {
    let request = NotifyRequest::from_json(&body).map_err(|e| request_error(&e))?;
    let record = request.into_notification(SOURCE, notify.clock.now(), notify.retention);
    let existing = notify
        .outbox
        .create_notification(&record)
        .await
        .map_err(|e| store_error(&e))?;
    let duplicate = existing.is_some();
    if duplicate {
        tracing::info!(id = %record.id, "idempotency key seen before; not notifying again");
    } else {
        tracing::info!(id = %record.id, target = ?record.target, "notification accepted");
    }
    Ok(Reply::json(
        StatusCode::ACCEPTED,
        json!({"notificationId": record.id, "status": "accepted", "duplicate": duplicate}),
    ))
}

impl Notify {
    pub(crate) async fn load_notification(&self, id: &str) -> Result<NotificationRecord, ApiError> {
        let not_found = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NotificationNotFound",
                format!("no notification {id:?}"),
            )
        };
        let id = NotificationId::parse(id).map_err(|_| not_found())?;
        self.outbox
            .get_notification(&id)
            .await
            .map_err(|e| store_error(&e))?
            .ok_or_else(not_found)
    }
}

/// `GET /api/notifications/{id}`: where it stands and how many deliveries ended how.
pub(crate) async fn status(
    State(notify): State<Arc<Notify>>,
    Id(id): Id,
) -> Result<Reply, ApiError> {
    let record = notify.load_notification(&id).await?;
    Ok(Reply::json(StatusCode::OK, notification_json(&record)))
}

/// `GET /api/notifications`: every notification, newest first, paged.
pub(crate) async fn list(
    State(notify): State<Arc<Notify>>,
    Params(query): Params,
) -> Result<Reply, ApiError> {
    query.only(&["cursor", "limit"])?;
    let page = query.page()?;
    let page = notify
        .outbox
        .list_notifications(&page)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(page_reply("notifications", &page, notification_json))
}

/// A notification as the API shows it: where it stands and its counts per delivery status.
fn notification_json(record: &NotificationRecord) -> Value {
    let counts: Map<String, Value> = DeliveryStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), json!(record.count(*s))))
        .collect();
    let total: i64 = DeliveryStatus::ALL.iter().map(|s| record.count(*s)).sum();
    json!({
        "notificationId": record.id,
        "status": record.status(),
        "source": record.source,
        "target": record.target,
        "idempotencyKey": record.idempotency_key,
        "createdAt": record.created_at,
        "expanded": record.expanded,
        "total": total,
        "counts": counts,
        "possibleDuplicates": record.possible_duplicates,
    })
}

/// `GET /api/notifications/{id}/deliveries`: per-recipient outcomes, paged.
pub(crate) async fn deliveries(
    State(notify): State<Arc<Notify>>,
    Id(id): Id,
    Params(query): Params,
) -> Result<Reply, ApiError> {
    query.only(&["cursor", "status", "limit"])?;
    let status = query.value::<DeliveryStatus>(
        "status",
        "one of pending, sending, sent, blocked, uninstalled, notFound, tooLarge, failed, skippedOptedOut, skippedUninstalled, skippedArchived, skippedBlocked, unresolved",
    )?;
    let page = query.page()?;
    let record = notify.load_notification(&id).await?;
    let page = notify
        .outbox
        .list_deliveries(&record.id, status, &page)
        .await
        .map_err(|e| store_error(&e))?;
    let items: Vec<Value> = page.items.iter().map(delivery_json).collect();
    Ok(Reply::json(
        StatusCode::OK,
        json!({"items": items, "nextCursor": page.next_cursor}),
    ))
}

/// `PUT /api/notifications/{id}/message`: replace every delivered copy.
pub(crate) async fn update_message(
    State(notify): State<Arc<Notify>>,
    Id(id): Id,
    Json(body): Json,
) -> Result<Reply, ApiError> {
    let activity = Message::from_json(&body)
        .and_then(|m| m.render())
        .map_err(|e| request_error(&e))?;
    let record = notify.load_notification(&id).await?;
    let report = edit::run(&notify, &record.id, edit::Edit::Update(&activity)).await?;
    Ok(Reply::json(
        StatusCode::OK,
        report.to_json(&record.id, "updated"),
    ))
}

/// `DELETE /api/notifications/{id}/message`: retract every delivered copy.
pub(crate) async fn retract_message(
    State(notify): State<Arc<Notify>>,
    Id(id): Id,
) -> Result<Reply, ApiError> {
    let record = notify.load_notification(&id).await?;
    let report = edit::run(&notify, &record.id, edit::Edit::Delete).await?;
    Ok(Reply::json(
        StatusCode::OK,
        report.to_json(&record.id, "deleted"),
    ))
}

fn delivery_json(d: &DeliveryRecord) -> Value {
    json!({
        "deliveryId": d.delivery_id,
        "tenantId": d.tenant_id,
        "conversationId": d.conversation_id,
        "conversationType": d.conversation_type,
        "recipient": d.recipient,
        "memberId": d.member_id,
        "status": d.status,
        "attempts": d.attempts,
        "activityId": d.activity_id,
        "error": d.error,
        "installDeadline": d.install_deadline,
        "notBefore": d.not_before,
        "lostAttempts": d.lost_attempts,
        "updatedAt": d.updated_at,
    })
}
