//! Herald's notify API: `POST /api/notify` and the reports and edits around it.
//!
//! The handler is a plain function over its dependencies and a framework-free request (method,
//! path, query, `Authorization`, body), answering an [`HttpReply`]: the Lambda binary and the
//! local runner both mount it, and tests call it directly. Every route is described in
//! `openapi.json` beside this crate, which the tests check against this code.

mod auth;
mod config;
mod edit;
mod query;
mod schedules;

use std::sync::Arc;

use herald_connector::Connector;
use herald_domain::{Clock, DeliveryStatus, ReferenceStatus};
use herald_pipeline::request::{NotifyRequest, RequestError};
use herald_store::{
    DeliveryRecord, ListFilter, NotificationId, NotificationRecord, OutboxStore, ReferenceLister,
    ScheduleStore, StoreError,
};
use serde_json::{Map, Value, json};

pub use auth::{ApiKeys, AuthFailure};
pub use config::{
    ConfigError, DEFAULT_EDIT_CONCURRENCY, DEFAULT_EDIT_DEADLINE, DEFAULT_RETENTION_DAYS,
    MAX_BODY_BYTES, NotifyConfig,
};
pub use query::{DEFAULT_LIMIT, MAX_LIMIT};
pub use schedules::{DEFAULT_PREVIEW_COUNT, MAX_PREVIEW_COUNT};

/// Recorded as the notification's `source`.
pub const SOURCE: &str = "api";

/// What the API works with; built once per process and shared by every request.
pub struct Notify {
    /// Installations report (`GET /api/installations`).
    pub references: Arc<dyn ReferenceLister>,
    pub outbox: Arc<dyn OutboxStore>,
    /// `/api/schedules`.
    pub schedules: Arc<dyn ScheduleStore>,
    /// Updates and retracts delivered copies.
    pub connector: Arc<dyn Connector>,
    pub clock: Arc<dyn Clock>,
    pub config: NotifyConfig,
}

/// The HTTP answer, independent of Lambda or axum types.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: u16,
    pub body: Value,
}

impl HttpReply {
    #[must_use]
    pub fn json(status: u16, body: Value) -> Self {
        Self { status, body }
    }

    /// `{"error": {"code", "message", "field"?}}`, Herald's error shape everywhere.
    #[must_use]
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self::json(
            status,
            json!({"error": {"code": code, "message": message.into()}}),
        )
    }

    /// An error about one field or query parameter, which the body names (an empty name means
    /// the whole body and is left out).
    #[must_use]
    pub fn field_error(status: u16, code: &str, field: &str, message: impl Into<String>) -> Self {
        let mut reply = Self::error(status, code, message);
        if field.is_empty() {
            return reply;
        }
        if let Some(error) = reply.body.get_mut("error").and_then(Value::as_object_mut) {
            error.insert("field".into(), Value::String(field.to_owned()));
        }
        reply
    }

    fn from_request_error(e: &RequestError) -> Self {
        let mut reply = Self::field_error(e.status(), e.code(), e.field(), e.to_string());
        if let RequestError::MissingPlaceholders { paths, .. } = e
            && let Some(error) = reply.body.get_mut("error").and_then(Value::as_object_mut)
        {
            error.insert("missing".into(), json!(paths));
        }
        reply
    }

    fn store(e: &StoreError) -> Self {
        match e {
            StoreError::InvalidCursor(why) => Self::field_error(
                400,
                "InvalidParameter",
                "cursor",
                format!("cursor: {why}; pass back nextCursor unchanged"),
            ),
            StoreError::Throttled(_) => {
                tracing::warn!(error = %e, "store throttled");
                Self::error(503, "StoreUnavailable", e.to_string())
            }
            _ => {
                tracing::error!(error = %e, "store failure");
                Self::error(503, "StoreUnavailable", e.to_string())
            }
        }
    }
}

/// The routes, as the OpenAPI document lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Notify,
    Notification(String),
    Deliveries(String),
    Message(String),
    Installations,
    Schedules,
    Schedule(String),
    Preview(String),
}

impl Route {
    fn parse(path: &str) -> Option<Self> {
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        let segments: Vec<&str> = path.strip_prefix("/api/")?.split('/').collect();
        match segments.as_slice() {
            ["notify"] => Some(Self::Notify),
            ["installations"] => Some(Self::Installations),
            ["notifications", id] if !id.is_empty() => Some(Self::Notification((*id).to_owned())),
            ["notifications", id, "deliveries"] if !id.is_empty() => {
                Some(Self::Deliveries((*id).to_owned()))
            }
            ["notifications", id, "message"] if !id.is_empty() => {
                Some(Self::Message((*id).to_owned()))
            }
            ["schedules"] => Some(Self::Schedules),
            ["schedules", id] if !id.is_empty() => Some(Self::Schedule((*id).to_owned())),
            ["schedules", id, "preview"] if !id.is_empty() => Some(Self::Preview((*id).to_owned())),
            _ => None,
        }
    }

    fn methods(&self) -> &'static [&'static str] {
        match self {
            Self::Notify => &["POST"],
            Self::Notification(_)
            | Self::Deliveries(_)
            | Self::Installations
            | Self::Preview(_) => &["GET"],
            Self::Message(_) => &["PUT", "DELETE"],
            Self::Schedules => &["GET", "POST"],
            Self::Schedule(_) => &["GET", "PATCH", "DELETE"],
        }
    }
}

impl Notify {
    /// Handles one request. `authorization` is the raw header; `query` the raw query string.
    pub async fn handle(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> HttpReply {
        if let Err(failure) = self.config.api_keys.check(authorization) {
            tracing::warn!(reason = failure.message(), %path, "rejected API request");
            return HttpReply::error(401, "Unauthorized", failure.message());
        }
        let Some(route) = Route::parse(path) else {
            return HttpReply::error(404, "NotFound", format!("no route {path}"));
        };
        let method = method.to_ascii_uppercase();
        if !route.methods().contains(&method.as_str()) {
            return HttpReply::error(
                405,
                "MethodNotAllowed",
                format!("{path} accepts {}", route.methods().join(", ")),
            );
        }
        if body.len() > MAX_BODY_BYTES {
            return HttpReply::error(
                413,
                "PayloadTooLarge",
                format!(
                    "the body is {} bytes; the limit is {MAX_BODY_BYTES}",
                    body.len()
                ),
            );
        }
        let query = match query::Query::parse(query.unwrap_or_default()) {
            Ok(query) => query,
            Err(reply) => return reply,
        };
        let result = match (&route, method.as_str()) {
            (Route::Notify, _) => self.notify(body).await,
            (Route::Notification(id), _) => self.notification(id).await,
            (Route::Deliveries(id), _) => self.deliveries(id, &query).await,
            (Route::Message(id), "PUT") => self.update_message(id, body).await,
            (Route::Message(id), _) => self.retract_message(id).await,
            (Route::Installations, _) => self.installations(&query).await,
            (Route::Schedules, "POST") => self.create_schedule(body).await,
            (Route::Schedules, _) => self.list_schedules(&query).await,
            (Route::Schedule(id), "PATCH") => self.patch_schedule(id, body).await,
            (Route::Schedule(id), "DELETE") => self.delete_schedule(id).await,
            (Route::Schedule(id), _) => self.get_schedule(id).await,
            (Route::Preview(id), _) => self.preview_schedule(id, &query).await,
        };
        result.unwrap_or_else(|reply| reply)
    }

    /// `POST /api/notify`: store the notification and answer; expansion happens elsewhere.
    async fn notify(&self, body: &[u8]) -> Result<HttpReply, HttpReply> {
        let request =
            NotifyRequest::from_slice(body).map_err(|e| HttpReply::from_request_error(&e))?;
        let record = request.into_notification(SOURCE, self.clock.now(), self.config.retention);
        let existing = self
            .outbox
            .create_notification(&record)
            .await
            .map_err(|e| HttpReply::store(&e))?;
        let duplicate = existing.is_some();
        if duplicate {
            tracing::info!(id = %record.id, "idempotency key seen before; not notifying again");
        } else {
            tracing::info!(id = %record.id, target = ?record.target, "notification accepted");
        }
        Ok(HttpReply::json(
            202,
            json!({"notificationId": record.id, "status": "accepted", "duplicate": duplicate}),
        ))
    }

    async fn load(&self, id: &str) -> Result<NotificationRecord, HttpReply> {
        let not_found = || {
            HttpReply::error(
                404,
                "NotificationNotFound",
                format!("no notification {id:?}"),
            )
        };
        let id = NotificationId::parse(id).map_err(|_| not_found())?;
        self.outbox
            .get_notification(&id)
            .await
            .map_err(|e| HttpReply::store(&e))?
            .ok_or_else(not_found)
    }

    /// `GET /api/notifications/{id}`: where it stands and how many deliveries ended how.
    async fn notification(&self, id: &str) -> Result<HttpReply, HttpReply> {
        let record = self.load(id).await?;
        let counts: Map<String, Value> = DeliveryStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), json!(record.count(*s))))
            .collect();
        let total: i64 = DeliveryStatus::ALL.iter().map(|s| record.count(*s)).sum();
        Ok(HttpReply::json(
            200,
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
            }),
        ))
    }

    /// `GET /api/notifications/{id}/deliveries`: per-recipient outcomes, paged.
    async fn deliveries(&self, id: &str, query: &query::Query) -> Result<HttpReply, HttpReply> {
        query.only(&["cursor", "status", "limit"])?;
        let status = query.value::<DeliveryStatus>(
            "status",
            "one of pending, sending, sent, blocked, uninstalled, notFound, tooLarge, failed, skippedOptedOut, skippedUninstalled, skippedArchived, skippedBlocked, unresolved",
        )?;
        let page = query.page()?;
        let record = self.load(id).await?;
        let page = self
            .outbox
            .list_deliveries(&record.id, status, &page)
            .await
            .map_err(|e| HttpReply::store(&e))?;
        let items: Vec<Value> = page.items.iter().map(delivery_json).collect();
        Ok(HttpReply::json(
            200,
            json!({"items": items, "nextCursor": page.next_cursor}),
        ))
    }

    /// `PUT /api/notifications/{id}/message`: replace every delivered copy.
    async fn update_message(&self, id: &str, body: &[u8]) -> Result<HttpReply, HttpReply> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            HttpReply::from_request_error(&RequestError::InvalidJson(e.to_string()))
        })?;
        let activity = herald_pipeline::request::Message::from_json(&value)
            .and_then(|m| m.render())
            .map_err(|e| HttpReply::from_request_error(&e))?;
        let record = self.load(id).await?;
        let report = edit::run(self, &record.id, edit::Edit::Update(&activity)).await?;
        Ok(HttpReply::json(200, report.to_json(&record.id, "updated")))
    }

    /// `DELETE /api/notifications/{id}/message`: retract every delivered copy.
    async fn retract_message(&self, id: &str) -> Result<HttpReply, HttpReply> {
        let record = self.load(id).await?;
        let report = edit::run(self, &record.id, edit::Edit::Delete).await?;
        Ok(HttpReply::json(200, report.to_json(&record.id, "deleted")))
    }

    /// `GET /api/installations`: stored conversation references, filtered and paged. With
    /// `status=blocked` (or uninstalled, optedOut) it is the report of who turned the bot away,
    /// when, and what showed it.
    async fn installations(&self, query: &query::Query) -> Result<HttpReply, HttpReply> {
        query.only(&["type", "tenantId", "teamId", "status", "cursor", "limit"])?;
        let filter = ListFilter {
            tenant: query.value("tenantId", "a tenant id")?,
            conversation_type: query.value("type", "one of personal, groupChat, channel")?,
            team: query.value("teamId", "a team id")?,
            status: query.value::<ReferenceStatus>(
                "status",
                "one of active, uninstalled, blocked, optedOut, archived",
            )?,
            zone: None,
        };
        let page = query.page()?;
        let page = self
            .references
            .list(&filter, &page)
            .await
            .map_err(|e| HttpReply::store(&e))?;
        if !page.skipped.is_empty() {
            tracing::warn!(
                skipped = page.skipped.len(),
                "installations skipped unreadable items"
            );
        }
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|reference| {
                let mut item = serde_json::to_value(reference).unwrap_or_default();
                if let Some(object) = item.as_object_mut() {
                    object.entry("statusReason").or_insert(Value::Null);
                }
                item
            })
            .collect();
        Ok(HttpReply::json(
            200,
            json!({"items": items, "nextCursor": page.next_cursor}),
        ))
    }
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
        "updatedAt": d.updated_at,
    })
}
