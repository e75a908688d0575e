//! Updating or retracting every delivered copy of a notification, inline in the request.
//!
//! A copy is a sent delivery with a stored activity id. Copies are edited page by page with a
//! bounded number of connector calls in flight, and the work stops at a deadline so the API
//! answers before API Gateway gives up; the answer says whether every copy was reached. Both
//! edits can be repeated safely: an update rewrites the same content, and a retraction clears
//! each id it deleted, so a second call continues with what is left.

use futures::StreamExt as _;
use herald_connector::{Activity, ActivityId, Call, ConnectorError, Deadline};
use herald_domain::{DeliveryId, DeliveryStatus};
use herald_store::{DeliveryRecord, NotificationId, PageRequest};
use serde_json::{Value, json};
use tokio::time::Instant;

use axum::http::StatusCode;
use herald_http::ApiError;

use crate::Notify;
use crate::error::store_error;

/// Deliveries read per page while editing.
const PAGE: u32 = 100;
/// A retryable failure this close to the deadline is the deadline's doing.
const SLACK: std::time::Duration = std::time::Duration::from_millis(100);
/// Errors listed in the answer; the counts cover the rest.
const MAX_ERRORS: usize = 20;

pub(crate) enum Edit<'a> {
    /// Replace each copy with this activity JSON.
    Update(&'a Value),
    Delete,
}

enum Outcome {
    Done,
    /// Teams no longer has the message (404): its stored id is dropped.
    Gone,
    Failed(String),
    /// Not attempted before the deadline.
    Skipped,
}

#[derive(Debug, Default)]
pub(crate) struct Report {
    done: usize,
    gone: usize,
    failed: usize,
    skipped: usize,
    errors: Vec<Value>,
}

impl Report {
    pub(crate) fn to_json(&self, id: &NotificationId, done_name: &str) -> Value {
        let mut body = json!({
            "notificationId": id,
            "gone": self.gone,
            "failed": self.failed,
            "skipped": self.skipped,
            "complete": self.skipped == 0,
            "errors": self.errors,
        });
        body[done_name] = json!(self.done);
        body
    }
}

pub(crate) async fn run(
    notify: &Notify,
    id: &NotificationId,
    edit: Edit<'_>,
) -> Result<Report, ApiError> {
    let activity = match edit {
        Edit::Update(value) => Some(serde_json::from_value::<Activity>(value.clone()).map_err(
            |e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidMessage",
                    format!("not an activity: {e}"),
                )
            },
        )?),
        Edit::Delete => None,
    };
    let until = Instant::now() + notify.config.edit_deadline;
    let mut report = Report::default();
    let mut request = PageRequest {
        cursor: None,
        limit: Some(PAGE),
    };
    loop {
        let page = notify
            .outbox
            .list_deliveries(id, Some(DeliveryStatus::Sent), &request)
            .await
            .map_err(|e| store_error(&e))?;
        let copies: Vec<DeliveryRecord> = page
            .items
            .into_iter()
            .filter(|d| d.activity_id.is_some())
            .collect();
        let activity = activity.as_ref();
        // Owned items: futures borrowing from the closure's argument would not be `Send`.
        let outcomes: Vec<(DeliveryId, Outcome)> = futures::stream::iter(copies)
            .map(|delivery| async move {
                let outcome = if Instant::now() >= until {
                    Outcome::Skipped
                } else {
                    tokio::time::timeout_at(until, edit_one(notify, &delivery, activity, until))
                        .await
                        .unwrap_or(Outcome::Skipped)
                };
                (delivery.delivery_id, outcome)
            })
            .buffer_unordered(notify.config.edit_concurrency)
            .collect()
            .await;
        for (delivery, outcome) in outcomes {
            match outcome {
                Outcome::Done => report.done += 1,
                Outcome::Gone => report.gone += 1,
                Outcome::Skipped => report.skipped += 1,
                Outcome::Failed(error) => {
                    report.failed += 1;
                    if report.errors.len() < MAX_ERRORS {
                        report
                            .errors
                            .push(json!({"deliveryId": delivery, "error": error}));
                    }
                }
            }
        }
        match page.next_cursor {
            Some(cursor) if Instant::now() < until => request.cursor = Some(cursor),
            Some(_) => {
                // Copies on later pages were not even read: say the answer is partial.
                report.skipped += 1;
                break;
            }
            None => break,
        }
    }
    tracing::info!(
        %id,
        done = report.done,
        gone = report.gone,
        failed = report.failed,
        skipped = report.skipped,
        "edited delivered copies"
    );
    Ok(report)
}

async fn edit_one(
    notify: &Notify,
    delivery: &DeliveryRecord,
    activity: Option<&Activity>,
    until: Instant,
) -> Outcome {
    let (Some(stored_id), Some(conversation), Some(service_url)) = (
        delivery.activity_id.as_deref(),
        delivery.conversation_id.as_ref(),
        delivery.service_url.as_ref(),
    ) else {
        return Outcome::Failed("the delivery has no conversation or serviceUrl".into());
    };
    let activity_id = match ActivityId::new(stored_id) {
        Ok(id) => id,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let call = Call::new(service_url, &delivery.tenant_id).deadline(Deadline::at(until));
    let result = match activity {
        Some(activity) => notify
            .connector
            .update_activity(call, conversation, &activity_id, activity)
            .await
            .map(|r| Some(r.id)),
        None => notify
            .connector
            .delete_activity(call, conversation, &activity_id)
            .await
            .map(|()| None),
    };
    let (outcome, keep) = match result {
        // Teams keeps the id on update; store whatever it answered.
        Ok(Some(new_id)) if new_id.as_str() == stored_id => return Outcome::Done,
        Ok(Some(new_id)) => (Outcome::Done, Some(new_id.as_str().to_owned())),
        // A retracted copy has no id left to edit.
        Ok(None) => (Outcome::Done, None),
        Err(ConnectorError::ActivityNotFound(_) | ConnectorError::ConversationNotFound(_)) => {
            (Outcome::Gone, None)
        }
        Err(ConnectorError::DeadlineExceeded { .. }) => return Outcome::Skipped,
        // The connector cut the call short at our deadline: not reached, rather than failed.
        Err(e) if e.is_retryable() && until.saturating_duration_since(Instant::now()) < SLACK => {
            return Outcome::Skipped;
        }
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    if let Err(e) = notify
        .outbox
        .set_activity_id(
            &delivery.notification_id,
            &delivery.delivery_id,
            keep.as_deref(),
        )
        .await
    {
        // The copy was edited; only the bookkeeping failed, and a repeat will find it again.
        tracing::error!(error = %e, delivery = %delivery.delivery_id, "cannot store activity id");
    }
    outcome
}
