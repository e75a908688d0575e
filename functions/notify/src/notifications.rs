//! `POST /api/notify`, the notifications list, and a notification's status, deliveries and
//! delivered copies.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_domain::DeliveryStatus;
use herald_http::{ApiError, Reply};
use herald_pipeline::request::{Message, NotifyRequest};
use herald_store::{NotificationId, NotificationRecord, Revision};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::error::{request_error, store_error};
use crate::extract::{Id, JsonBody, Params};
use crate::report::{csv, delivery_json, wants_csv};
use crate::{Notify, SOURCE, edit};

/// How long the edit job's hold outlasts a request's own edit deadline.
const HOLD_MARGIN: chrono::Duration = chrono::Duration::seconds(5);

/// `POST /api/notify`: store the notification and answer; expansion happens elsewhere.
///
/// An idempotency key names one notification per caller (API key): the same body again is the
/// duplicate answer, another body under the same key is a 409 naming the notification it holds.
pub(crate) async fn create(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Reply, ApiError> {
    let request = NotifyRequest::from_json(&body).map_err(|e| request_error(&e))?;
    notify
        .config
        .callback_hosts
        .check(request.callback.as_deref())
        .map_err(|e| request_error(&e))?;
    caller.allow_target(&request.target)?;
    let request = request.from_caller(caller.key_sha256);
    let record = request.into_notification(SOURCE, notify.clock.now(), notify.retention);
    let existing = notify
        .outbox
        .create_notification(&record)
        .await
        .map_err(|e| store_error(&e))?;
    if let Some(existing) = existing.as_ref().filter(|e| !e.same_request(&record)) {
        return Err(key_reused(existing));
    }
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

/// 409: the idempotency key already names a notification made from another body.
fn key_reused(existing: &NotificationRecord) -> ApiError {
    tracing::warn!(id = %existing.id, "idempotency key reused with a different body");
    ApiError::new(
        StatusCode::CONFLICT,
        "IdempotencyKeyReused",
        format!(
            "idempotency key {:?} was already used with a different body, for notification {}; \
             send that body again to get the same answer, or use a new key for a new notification",
            existing.idempotency_key.as_deref().unwrap_or_default(),
            existing.id
        ),
    )
    .field("idempotencyKey")
    .with("notificationId", json!(existing.id))
}

impl Notify {
    /// The notification `id`, if the caller may see it (one it may not see is not found).
    pub(crate) async fn load_notification(
        &self,
        id: &str,
        caller: &Caller,
    ) -> Result<NotificationRecord, ApiError> {
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
            .filter(|record| caller.may_see(&record.target))
            .ok_or_else(not_found)
    }
}

/// `GET /api/notifications/{id}`: where it stands, how many deliveries ended how, how many were
/// read and which buttons people pressed.
pub(crate) async fn status(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Id(id): Id,
) -> Result<Reply, ApiError> {
    let record = notify.load_notification(&id, &caller).await?;
    Ok(Reply::json(StatusCode::OK, notification_json(&record)))
}

/// `GET /api/notifications`: every notification the caller may see, newest first, paged.
pub(crate) async fn list(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Params(query): Params,
) -> Result<Reply, ApiError> {
    let page = notify
        .outbox
        .list_notifications(&query.page_only()?)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(caller.visible_page("notifications", &page, notification_json))
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
        "read": record.read,
        "actions": record.actions,
    })
}

/// `GET /api/notifications/{id}/deliveries`: per-recipient outcomes, paged; with
/// `Accept: text/csv`, the whole report as a CSV download.
pub(crate) async fn deliveries(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Id(id): Id,
    Params(query): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.only(&["cursor", "status", "limit"])?;
    let status = query.value::<DeliveryStatus>(
        "status",
        "one of pending, sending, sent, blocked, uninstalled, notFound, tooLarge, failed, skippedOptedOut, skippedUninstalled, skippedArchived, skippedBlocked, unresolved, retracted",
    )?;
    let page = query.page()?;
    let record = notify.load_notification(&id, &caller).await?;
    if wants_csv(&headers) {
        return Ok(csv(notify.clone(), record.id, status));
    }
    let page = notify
        .outbox
        .list_deliveries(&record.id, status, &page)
        .await
        .map_err(|e| store_error(&e))?;
    let items: Vec<Value> = page.items.iter().map(delivery_json).collect();
    Ok(Reply::json(
        StatusCode::OK,
        json!({"items": items, "nextCursor": page.next_cursor}),
    )
    .into_response())
}

/// Revises the stored content (copies not sent yet go out with it, or not at all) and asks for
/// the sender's edit job, held while this request edits the sent copies itself (so that none is
/// edited twice); returns the new content version.
async fn revise(
    notify: &Notify,
    id: &NotificationId,
    revision: &Revision,
) -> Result<u32, ApiError> {
    let now = notify.clock.now();
    let hold = chrono::Duration::from_std(notify.config.edit_deadline)
        .map_or(now, |deadline| now + deadline + HOLD_MARGIN);
    let version = notify
        .outbox
        .revise_content(id, revision, now, Some(hold))
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NotificationNotFound",
                format!("no notification {id:?}"),
            )
        })?;
    tracing::info!(notification = %id, version, "content revised");
    Ok(version)
}

/// Ends the edit job's hold: it runs now, for the copies in flight during the request or not
/// reached before its deadline. A failure here only delays it until the hold runs out.
async fn release(notify: &Notify, id: &NotificationId) {
    if let Err(e) = notify.edits.rearm_edit(id, notify.clock.now()).await {
        tracing::warn!(notification = %id, error = %e, "cannot start the edit job; it starts when its hold runs out");
    }
}

/// `PUT /api/notifications/{id}/message`: replace every copy: the ones sent (inline, until the
/// deadline; the sender's edit job finishes what is left, paced like every send) and the ones
/// not sent yet (they are sent with the new content).
pub(crate) async fn update_message(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Id(id): Id,
    JsonBody(body): JsonBody,
) -> Result<Reply, ApiError> {
    let activity = Message::from_json(&body)
        .and_then(|m| m.render())
        .map_err(|e| request_error(&e))?;
    let record = notify.load_notification(&id, &caller).await?;
    let version = revise(&notify, &record.id, &Revision::Update(activity.clone())).await?;
    let update = edit::Edit::Update {
        activity: &activity,
        version,
    };
    let report = edit::run(&notify, &record.id, update).await;
    release(&notify, &record.id).await;
    let report = report?;
    Ok(Reply::json(
        StatusCode::OK,
        report.to_json(&record.id, "updated"),
    ))
}

/// `DELETE /api/notifications/{id}/message`: retract every delivered copy; the copies not sent
/// yet end `retracted`.
pub(crate) async fn retract_message(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Id(id): Id,
) -> Result<Reply, ApiError> {
    let record = notify.load_notification(&id, &caller).await?;
    // First the stored content, so that no further copy goes out; then the sent copies.
    revise(&notify, &record.id, &Revision::Retract).await?;
    let report = edit::run(&notify, &record.id, edit::Edit::Delete).await;
    release(&notify, &record.id).await;
    let report = report?;
    Ok(Reply::json(
        StatusCode::OK,
        report.to_json(&record.id, "deleted"),
    ))
}
