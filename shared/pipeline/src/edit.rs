//! Editing sent copies: one copy ([`edit_copy`], which the notify API's inline edits use too), and
//! the edit job that brings every copy of a notification to its current content (or deletes it,
//! once retracted) after [`herald_store::OutboxStore::revise_content`], through the connector stack (its throttle
//! paces edits like every send) and resumable: each copy records the content version it shows,
//! and a job that runs out of time asks to be run again.
//!
//! Updating a message keeps its id
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/update-and-delete-bot-messages>);
//! the id Teams answers is stored all the same.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use herald_connector::{Activity, ActivityId, Call, Connector, ConnectorError, Deadline};
use herald_domain::{Clock, DeliveryId, DeliveryStatus};
use herald_store::{DeliveryRecord, EditJobs, NotificationId, OutboxStore, PageRequest};
use tokio::time::Instant;

use crate::PipelineError;

/// A retryable failure this close to the deadline is the deadline's doing.
const SLACK: StdDuration = StdDuration::from_millis(100);
/// Deliveries read per page.
const PAGE: u32 = 100;
/// How often a copy that was being sent when the job started is looked at again.
const IN_FLIGHT_POLL: StdDuration = StdDuration::from_millis(250);

/// What to do to a copy.
#[derive(Clone, Copy)]
pub enum CopyEdit<'a> {
    /// Replace it with this activity, content version `version`.
    Update {
        activity: &'a Activity,
        version: u32,
    },
    Delete,
}

/// What became of one copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    Done,
    /// Teams no longer has the message (404): its stored id is dropped.
    Gone,
    Failed(String),
    /// Failed in a way a later try may not (Teams throttled or failed after the retries).
    Transient(String),
    /// Not attempted before the deadline.
    Skipped,
}

/// Edits one sent copy before `until` and records what became of it.
pub async fn edit_copy(
    outbox: &dyn OutboxStore,
    connector: &dyn Connector,
    delivery: &DeliveryRecord,
    edit: CopyEdit<'_>,
    until: Instant,
) -> Edited {
    let (Some(stored_id), Some(conversation), Some(service_url)) = (
        delivery.activity_id.as_deref(),
        delivery.conversation_id.as_ref(),
        delivery.service_url.as_ref(),
    ) else {
        return Edited::Failed("the delivery has no conversation or serviceUrl".into());
    };
    let activity_id = match ActivityId::new(stored_id) {
        Ok(id) => id,
        Err(e) => return Edited::Failed(e.to_string()),
    };
    let call = Call::new(service_url, &delivery.tenant_id).deadline(Deadline::at(until));
    let result = match edit {
        CopyEdit::Update { activity, .. } => connector
            .update_activity(call, conversation, &activity_id, activity)
            .await
            .map(|r| Some(r.id)),
        CopyEdit::Delete => connector
            .delete_activity(call, conversation, &activity_id)
            .await
            .map(|()| None),
    };
    let (edited, bookkeeping) = match (result, edit) {
        (Ok(Some(new_id)), CopyEdit::Update { version, .. }) => (
            Edited::Done,
            outbox
                .mark_edited(
                    &delivery.notification_id,
                    &delivery.delivery_id,
                    new_id.as_str(),
                    version,
                )
                .await,
        ),
        // A retracted copy has no id left to edit.
        (Ok(_), _) => (Edited::Done, clear_id(outbox, delivery).await),
        (Err(ConnectorError::ActivityNotFound(_) | ConnectorError::ConversationNotFound(_)), _) => {
            (Edited::Gone, clear_id(outbox, delivery).await)
        }
        (Err(ConnectorError::DeadlineExceeded { .. }), _) => return Edited::Skipped,
        // The connector cut the call short at our deadline: not reached, rather than failed.
        (Err(e), _)
            if e.is_retryable() && until.saturating_duration_since(Instant::now()) < SLACK =>
        {
            return Edited::Skipped;
        }
        (Err(e), _) if e.is_retryable() => return Edited::Transient(e.to_string()),
        (Err(e), _) => return Edited::Failed(e.to_string()),
    };
    if let Err(e) = bookkeeping {
        // The copy was edited; only the bookkeeping failed, and a repeat finds it again.
        tracing::error!(error = %e, delivery = %delivery.delivery_id, "cannot record an edited copy");
    }
    edited
}

async fn clear_id(
    outbox: &dyn OutboxStore,
    delivery: &DeliveryRecord,
) -> Result<(), herald_store::StoreError> {
    outbox
        .set_activity_id(&delivery.notification_id, &delivery.delivery_id, None)
        .await
}

/// What one run of the edit job did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditPass {
    /// Copies brought to the current content.
    pub edited: usize,
    /// Copies Teams no longer has.
    pub gone: usize,
    /// Copies Teams refused to update (reported, not retried).
    pub failed: usize,
    /// Whether every copy shows the current content (else the job asked to run again).
    pub complete: bool,
}

/// The edit job, run by the sender when a notification's edit request changes.
pub struct Editor {
    pub outbox: Arc<dyn OutboxStore>,
    pub edits: Arc<dyn EditJobs>,
    pub connector: Arc<dyn Connector>,
    pub clock: Arc<dyn Clock>,
    /// Copies edited at once; the connector's throttle paces them.
    pub concurrency: usize,
}

impl Editor {
    /// Brings every sent copy of `id` to its current content before `until`; asks to run again
    /// if that was not enough time.
    pub async fn run(
        &self,
        id: &NotificationId,
        until: DateTime<Utc>,
    ) -> Result<EditPass, PipelineError> {
        let Some(request) = self.edits.edit_request(id).await? else {
            return Ok(EditPass {
                complete: true,
                ..EditPass::default()
            });
        };
        if request
            .held_until
            .is_some_and(|held| held > self.clock.now())
        {
            // An API request edits the copies itself and starts the job when it is done (or the
            // stranded-work sweep does once the hold has run out).
            tracing::info!(notification = %id, "the edit job waits for an inline edit");
            return Ok(EditPass::default());
        }
        let Some(header) = self.outbox.get_notification(id).await? else {
            self.edits.finish_edit(id, &request).await?;
            return Ok(EditPass::default());
        };
        let activity: Option<Activity> = if header.retracted {
            None
        } else {
            Some(serde_json::from_value(header.activity).map_err(|e| {
                PipelineError::InvalidNotification {
                    id: id.to_string(),
                    problem: format!("activity does not decode: {e}"),
                }
            })?)
        };
        let version = header.content_version;
        let edit = match &activity {
            Some(activity) => CopyEdit::Update { activity, version },
            None => CopyEdit::Delete,
        };
        let left = (until - self.clock.now()).to_std().unwrap_or_default();
        let deadline = Instant::now() + left;
        let mut pass = EditPass::default();
        let (in_flight, mut complete) = self.pages(id, edit, deadline, &mut pass).await?;
        for delivery in in_flight {
            complete &= self
                .after_in_flight(id, &delivery, edit, deadline, &mut pass)
                .await?;
        }
        pass.complete = complete;
        if !complete {
            self.edits.rearm_edit(id, self.clock.now()).await?;
        } else if !self.edits.finish_edit(id, &request).await? {
            // Another request came meanwhile: its own trigger runs the job again.
            tracing::info!(notification = %id, "content replaced again during the edit job");
        }
        tracing::info!(notification = %id, version, edited = pass.edited, gone = pass.gone,
            failed = pass.failed, complete, "edited sent copies");
        Ok(pass)
    }

    /// Edits the stale copies page by page; returns the deliveries that were being sent, and
    /// whether every page was done in time.
    async fn pages(
        &self,
        id: &NotificationId,
        edit: CopyEdit<'_>,
        deadline: Instant,
        pass: &mut EditPass,
    ) -> Result<(Vec<DeliveryId>, bool), PipelineError> {
        let mut in_flight = Vec::new();
        let mut request = PageRequest {
            cursor: None,
            limit: Some(PAGE),
        };
        loop {
            let page = self.outbox.list_deliveries(id, None, &request).await?;
            in_flight.extend(
                page.items
                    .iter()
                    .filter(|d| d.status == DeliveryStatus::Sending)
                    .map(|d| d.delivery_id.clone()),
            );
            let stale: Vec<DeliveryRecord> =
                page.items.into_iter().filter(|d| stale(d, edit)).collect();
            let outcomes: Vec<Edited> = futures::stream::iter(stale)
                .map(|delivery| async move {
                    let outbox = self.outbox.as_ref();
                    edit_copy(outbox, self.connector.as_ref(), &delivery, edit, deadline).await
                })
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
            let mut skipped = false;
            for outcome in outcomes {
                skipped |= count(pass, outcome);
            }
            match page.next_cursor {
                _ if skipped || Instant::now() >= deadline => return Ok((in_flight, false)),
                Some(cursor) => request.cursor = Some(cursor),
                None => return Ok((in_flight, true)),
            }
        }
    }

    /// A copy that was being sent when the job read it may carry the old content: waits for its
    /// outcome and edits it if it does. Returns whether it is settled.
    async fn after_in_flight(
        &self,
        id: &NotificationId,
        delivery: &DeliveryId,
        edit: CopyEdit<'_>,
        deadline: Instant,
        pass: &mut EditPass,
    ) -> Result<bool, PipelineError> {
        loop {
            let Some(record) = self.outbox.get_delivery(id, delivery).await? else {
                return Ok(true);
            };
            if record.status.is_final() || record.status == DeliveryStatus::Pending {
                if !stale(&record, edit) {
                    return Ok(true);
                }
                let outcome = edit_copy(
                    self.outbox.as_ref(),
                    self.connector.as_ref(),
                    &record,
                    edit,
                    deadline,
                )
                .await;
                return Ok(!count(pass, outcome));
            }
            if Instant::now() + IN_FLIGHT_POLL >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(IN_FLIGHT_POLL).await;
        }
    }
}

/// Whether a delivery is a sent copy the edit still has to reach: one showing older content than
/// the update's, or any copy left of a retracted notification.
fn stale(delivery: &DeliveryRecord, edit: CopyEdit<'_>) -> bool {
    delivery.status == DeliveryStatus::Sent
        && delivery.activity_id.is_some()
        && match edit {
            CopyEdit::Update { version, .. } => delivery.content_version < version,
            CopyEdit::Delete => true,
        }
}

/// Counts an outcome; returns whether the copy is left for a later run (no time, or a failure
/// that may pass).
fn count(pass: &mut EditPass, outcome: Edited) -> bool {
    match outcome {
        Edited::Done => pass.edited += 1,
        Edited::Gone => pass.gone += 1,
        Edited::Failed(error) => {
            pass.failed += 1;
            tracing::warn!(%error, "a copy could not be updated");
        }
        Edited::Transient(error) => {
            tracing::warn!(%error, "a copy could not be updated now; the job runs again");
            return true;
        }
        Edited::Skipped => return true,
    }
    false
}
