//! What a delivery is sent with: the notification's activity as it is now (an update of every
//! copy replaces it, and copies not sent yet must get the new content), decoded once per content
//! version, and the copy a sent delivery leaves for card actions and read receipts.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError};

use herald_connector::Activity;
use herald_domain::ConversationId;
use herald_store::{DeliveryRecord, NotificationId, SentCopy};

use super::Sender;
use crate::PipelineError;

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
    /// The notification's activity and content version, read right before the send (one
    /// consistent read; decoding happens once per version).
    pub(super) async fn activity(
        &self,
        id: &NotificationId,
    ) -> Result<(Arc<Activity>, u32), PipelineError> {
        let invalid = |problem: String| PipelineError::InvalidNotification {
            id: id.to_string(),
            problem,
        };
        let notification = self
            .outbox
            .get_notification(id)
            .await?
            .ok_or_else(|| invalid("not found".to_owned()))?;
        let key = (id.clone(), notification.content_version);
        if let Some(found) = self
            .activities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Ok((found, key.1));
        }
        let activity: Activity = serde_json::from_value(notification.activity)
            .map_err(|e| invalid(format!("activity does not decode: {e}")))?;
        let activity = Arc::new(activity);
        self.activities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Arc::clone(&activity));
        Ok((activity, key.1))
    }

    /// The copy a delivery sent as `activity_id` leaves, in the conversation it was sent to.
    pub(super) fn copy_of(
        &self,
        delivery: &DeliveryRecord,
        created: Option<&ConversationId>,
        activity_id: &str,
        content_version: u32,
    ) -> Option<Box<SentCopy>> {
        let conversation = created.or(delivery.conversation_id.as_ref())?;
        Some(Box::new(SentCopy {
            tenant_id: delivery.tenant_id.clone(),
            conversation_id: conversation.clone(),
            activity_id: activity_id.to_owned(),
            notification_id: delivery.notification_id.clone(),
            delivery_id: delivery.delivery_id.clone(),
            conversation_type: delivery.conversation_type,
            recipient: delivery.recipient.clone(),
            content_version,
            sent_at: self.clock.now(),
            read_at: None,
            expires_at: delivery.expires_at,
        }))
    }
}
