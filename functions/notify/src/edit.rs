//! Updating or retracting every delivered copy of a notification, inline in the request.
//!
//! A copy is a sent delivery with a stored activity id. Copies are edited page by page with a
//! bounded number of connector calls in flight (each one as the sender's edit job edits it,
//! `herald_pipeline::edit`), and the work stops at a deadline so the API answers before API
//! Gateway gives up; the answer says whether every copy was reached. Both edits can be repeated
//! safely: an update rewrites the same content (and the copies it reached record the content
//! version they show, which the edit job then skips), and a retraction clears each id it
//! deleted, so a second call continues with what is left.

use futures::StreamExt as _;
use herald_connector::Activity;
use herald_domain::{DeliveryId, DeliveryStatus};
use herald_pipeline::edit::{CopyEdit, Edited, edit_copy};
use herald_store::{DeliveryRecord, NotificationId, PageRequest};
use serde_json::{Value, json};
use tokio::time::Instant;

use axum::http::StatusCode;
use herald_http::ApiError;

use crate::Notify;
use crate::error::store_error;

/// Deliveries read per page while editing.
const PAGE: u32 = 100;
/// Errors listed in the answer; the counts cover the rest.
const MAX_ERRORS: usize = 20;

pub(crate) enum Edit<'a> {
    /// Replace each copy with this activity JSON, content version `version`.
    Update {
        activity: &'a Value,
        version: u32,
    },
    Delete,
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
    let (activity, version) = match edit {
        Edit::Update { activity, version } => (
            Some(
                serde_json::from_value::<Activity>(activity.clone()).map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "InvalidMessage",
                        format!("not an activity: {e}"),
                    )
                })?,
            ),
            version,
        ),
        Edit::Delete => (None, 0),
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
        let edit = match activity.as_ref() {
            Some(activity) => CopyEdit::Update { activity, version },
            None => CopyEdit::Delete,
        };
        // Owned items: futures borrowing from the closure's argument would not be `Send`.
        let outcomes: Vec<(DeliveryId, Edited)> = futures::stream::iter(copies)
            .map(|delivery| async move {
                let outcome = if Instant::now() >= until {
                    Edited::Skipped
                } else {
                    let (outbox, connector) = (notify.outbox.as_ref(), notify.connector.as_ref());
                    let one = edit_copy(outbox, connector, &delivery, edit, until);
                    tokio::time::timeout_at(until, one)
                        .await
                        .unwrap_or(Edited::Skipped)
                };
                (delivery.delivery_id, outcome)
            })
            .buffer_unordered(notify.config.edit_concurrency)
            .collect()
            .await;
        for (delivery, outcome) in outcomes {
            match outcome {
                Edited::Done => report.done += 1,
                Edited::Gone => report.gone += 1,
                Edited::Skipped => report.skipped += 1,
                Edited::Failed(error) | Edited::Transient(error) => {
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
