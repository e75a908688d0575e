//! Installation waits: deliveries to people Herald has no conversation with yet. The sender
//! installs the app for them through Microsoft Graph
//! (<https://learn.microsoft.com/en-us/microsoftteams/platform/graph-api/proactive-bots-and-messages/graph-proactive-bots-and-messages>),
//! and the delivery waits until the installation's conversationUpdate brings the personal
//! conversation
//! (<https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events>).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{
    AadObjectId, ConversationId, DeliveryId, DeliveryStatus, ServiceUrl, TenantId,
};
use serde::{Deserialize, Serialize};

use crate::keys::time_key;
use crate::{DeliveryRecord, NotificationId, Outcome, StoreError};

/// A delivery waiting for its recipient's app installation (made through Microsoft Graph) to
/// announce itself with a conversationUpdate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallWait {
    pub notification_id: NotificationId,
    pub delivery_id: DeliveryId,
    pub tenant_id: TenantId,
    pub recipient: AadObjectId,
    /// When the wait ends as `installTimedOut` if no installation arrived.
    pub deadline: DateTime<Utc>,
}

impl InstallWait {
    /// `{notificationId}#{deliveryId}`: the wait's key among its recipient's waits. Notification
    /// ids hold no `#`, so the key is unique however the delivery id is spelled.
    pub(crate) fn delivery_key(&self) -> String {
        format!("{}#{}", self.notification_id, self.delivery_id)
    }

    /// `{deadline}#{notificationId}#{deliveryId}`: the wait's due key, sorting by deadline like
    /// the schedules' due keys; a sweep reads the keys below [`crate::keys::due_bound`].
    pub(crate) fn due_key(&self) -> String {
        time_key(self.deadline, &self.delivery_key())
    }
}

/// How an installation wait ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallResolution {
    /// The personal conversation is known: the delivery becomes pending with it, and the stream
    /// (or the embedded change feed) hands it to the sender.
    Resolved {
        conversation_id: ConversationId,
        service_url: ServiceUrl,
    },
    /// A transient failure: pending again without a conversation, to be installed again.
    Retry { error: String },
    /// A final outcome (install refused, user unknown, timed out).
    Finished(Outcome),
}

impl DeliveryRecord {
    /// Ends the delivery's wait for an installation as `resolution` says.
    pub(crate) fn end_install(&mut self, resolution: InstallResolution, now: DateTime<Utc>) {
        match resolution {
            InstallResolution::Resolved {
                conversation_id,
                service_url,
            } => {
                self.status = DeliveryStatus::Pending;
                self.conversation_id = Some(conversation_id);
                self.service_url = Some(service_url);
                self.error = None;
            }
            InstallResolution::Retry { error } => {
                self.status = DeliveryStatus::Pending;
                self.error = Some(error);
            }
            InstallResolution::Finished(outcome) => self.apply_outcome(&outcome),
        }
        self.install_deadline = None;
        self.lease_until = None;
        // Pending again: the change triggers the sender, and the sweep backs that trigger up.
        self.due_at = (!self.status.is_final()).then(|| now + crate::STRANDED_AFTER);
        self.updated_at = now;
    }
}

impl InstallResolution {
    /// Refuses to finish an installation in a state that is not final.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        match self {
            Self::Finished(outcome) if !outcome.status.is_final() => Err(StoreError::InvalidData(
                format!("an installation cannot finish as {}", outcome.status),
            )),
            _ => Ok(()),
        }
    }
}

/// The installation waits of the outbox. Writes are conditional on the delivery's state, so the
/// webhook, the sender and the scheduler's timeout sweep can race and only one of them wins.
#[async_trait]
pub trait InstallWaits: Send + Sync {
    /// Turns a delivery this sender claimed (`sending`, its lease `claimed_until`) into
    /// `installing` until `deadline`, and records the wait where the webhook (by recipient) and
    /// the sweep (by deadline) find it. Returns `false` if the delivery is not this claim's any
    /// more (another sender took it over after the lease ran out).
    async fn begin_install(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The waits for one recipient, read consistently (the webhook calls it on every personal
    /// installation).
    async fn waits_for(
        &self,
        tenant: &TenantId,
        recipient: &AadObjectId,
    ) -> Result<Vec<InstallWait>, StoreError>;

    /// Up to `limit` waits whose deadline is at or before `now`, earliest first.
    async fn due_waits(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<InstallWait>, StoreError>;

    /// Ends a wait if the delivery is still `installing`, moving the notification's counts and
    /// removing the wait. Returns whether this call ended it.
    async fn end_install(
        &self,
        wait: &InstallWait,
        resolution: &InstallResolution,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}
