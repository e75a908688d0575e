//! What a copy says: the notification's content as it stands when the copy goes out, decoded
//! once per content version. An update or a retraction (`PUT` / `DELETE
//! /api/notifications/{id}/message`) revises the stored content and its version while copies are
//! still going out, so the sender reads both before each send; each sent copy records the version
//! it shows, and the edit job ([`crate::edit`]) brings older copies in line.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError};

use herald_connector::Activity;
use herald_domain::ConversationId;
use herald_store::{DeliveryRecord, NotificationId, NotificationRecord, SentCopy};

use super::Sender;
use crate::PipelineError;

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

    /// The copy a delivery sent as `activity_id` leaves, in the conversation it was sent to: card
    /// actions and read receipts name it, and the edit job brings it to newer content.
    pub(super) fn copy_of(
        &self,
        delivery: &DeliveryRecord,
        created: Option<&ConversationId>,
        activity_id: &str,
        content_version: u32,
    ) -> Option<Box<SentCopy>> {
        let conversation = created.or(delivery.conversation_id.as_ref())?;
        Some(Box::new(SentCopy::of(
            delivery,
            conversation.clone(),
            activity_id,
            content_version,
            self.clock.now(),
        )))
    }
}

fn invalid(id: &NotificationId, problem: String) -> PipelineError {
    PipelineError::InvalidNotification {
        id: id.to_string(),
        problem,
    }
}
