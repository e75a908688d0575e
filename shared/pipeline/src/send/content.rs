//! What a copy says: the notification's content as it stands when the copy goes out. An update
//! or a retraction (`PUT` / `DELETE /api/notifications/{id}/message`) revises the stored content
//! and its version while copies are still going out, so the sender reads both before each send,
//! and again after recording a copy sent: a revision made during the send is applied to that
//! copy here, since the editor may have listed the sent copies before this one was recorded.
//! Editing a sent copy is updating or deleting its activity
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/update-and-delete-bot-messages>).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError};

use herald_connector::{Activity, ActivityId, Call, Deadline};
use herald_store::{DeliveryRecord, NotificationId, NotificationRecord};

use super::Sender;
use crate::PipelineError;

/// Time a follow-up edit of one copy may take.
const EDIT_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// The content a copy goes out with.
pub(super) struct Content {
    pub(super) version: u32,
    pub(super) retracted: bool,
    pub(super) activity: Arc<Activity>,
}

/// Decoded activities by notification and content version, at most [`ActivityCache::CAP`] (the
/// oldest goes first): a long-lived instance sends for many notifications.
#[derive(Default)]
pub(super) struct ActivityCache {
    entries: HashMap<(NotificationId, u32), Arc<Activity>>,
    order: VecDeque<(NotificationId, u32)>,
}

impl ActivityCache {
    const CAP: usize = 256;

    fn get(&self, key: &(NotificationId, u32)) -> Option<Arc<Activity>> {
        self.entries.get(key).cloned()
    }

    fn insert(&mut self, key: (NotificationId, u32), activity: Arc<Activity>) {
        if self.entries.insert(key.clone(), activity).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > Self::CAP {
            if let Some(oldest) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
    }
}

impl Sender {
    /// The notification's content now (a consistent read of its header).
    pub(super) async fn content(&self, id: &NotificationId) -> Result<Content, PipelineError> {
        let notification = self
            .outbox
            .get_notification(id)
            .await?
            .ok_or_else(|| invalid(id, "not found".to_owned()))?;
        self.decoded(&notification)
    }

    fn decoded(&self, notification: &NotificationRecord) -> Result<Content, PipelineError> {
        let key = (notification.id.clone(), notification.content_version);
        let cached = self
            .activities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key);
        let activity = if let Some(activity) = cached {
            activity
        } else {
            let activity: Activity = serde_json::from_value(notification.activity.clone())
                .map_err(|e| invalid(&notification.id, format!("activity does not decode: {e}")))?;
            let activity = Arc::new(activity);
            self.activities
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, Arc::clone(&activity));
            activity
        };
        Ok(Content {
            version: notification.content_version,
            retracted: notification.retracted,
            activity,
        })
    }

    /// After a copy was recorded sent with content `sent_version`: if the content was revised
    /// since, the copy is updated to the new content, or deleted if retracted. Best effort: a
    /// failure is logged and the editor's answer lists the copy for a repeat.
    pub(super) async fn follow_revision(
        &self,
        sent: &DeliveryRecord,
        activity_id: &str,
        sent_version: u32,
    ) {
        let notification = match self.outbox.get_notification(&sent.notification_id).await {
            Ok(Some(notification)) if notification.content_version != sent_version => notification,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, notification = %sent.notification_id,
                    "cannot read the content after a send; a revision during it may miss this copy");
                return;
            }
        };
        let (Some(conversation), Some(service_url), Ok(activity_id)) = (
            sent.conversation_id.as_ref(),
            sent.service_url.as_ref(),
            ActivityId::new(activity_id),
        ) else {
            return;
        };
        let call = Call::new(service_url, &sent.tenant_id).deadline(Deadline::after(EDIT_TIME));
        let result = if notification.retracted {
            let deleted = self
                .connector
                .delete_activity(call, conversation, &activity_id)
                .await;
            if deleted.is_ok()
                && let Err(e) = self
                    .outbox
                    .set_activity_id(&sent.notification_id, &sent.delivery_id, None)
                    .await
            {
                tracing::warn!(error = %e, delivery = %sent.delivery_id, "cannot clear a retracted copy's id");
            }
            deleted
        } else {
            match self.decoded(&notification) {
                Ok(content) => self
                    .connector
                    .update_activity(call, conversation, &activity_id, &content.activity)
                    .await
                    .map(|_| ()),
                Err(e) => {
                    tracing::error!(error = %e, "revised content does not decode");
                    return;
                }
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, delivery = %sent.delivery_id,
                "cannot bring a copy sent during a revision in line");
        } else {
            tracing::info!(delivery = %sent.delivery_id, retracted = notification.retracted,
                "a copy sent during a revision brought in line");
        }
    }
}

fn invalid(id: &NotificationId, problem: String) -> PipelineError {
    PipelineError::InvalidNotification {
        id: id.to_string(),
        problem,
    }
}
