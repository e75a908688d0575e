//! The sender: each delivery is claimed with a conditional write, sent through the connector
//! (throttle + retry), and its outcome recorded once. A replayed trigger finds the delivery
//! claimed or recorded and does nothing; a sender that died mid-send leaves a lease that expires,
//! after which another sender takes over. A person known only by their Entra object id goes
//! through the install step first (`install_step`): their stored conversation, or the app
//! installed for them through Graph.

mod install_step;
mod personal;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::Duration;
use herald_connector::{
    Activity, Call, Connector, ConnectorError, ConversationParameters, Deadline,
};
use herald_domain::{
    BotAppId, BotId, Clock, ConversationId, ConversationKey, DeliveryId, DeliveryStatus,
    ReferenceStatus,
};
use herald_events::{EventPublisher, HeraldEvent};
use herald_store::{
    Claim, DeliveryRecord, NotificationId, OutboxStore, Outcome, ReferenceStore, StatusUpdate,
};

use install_step::{InstallStep, Resolution};
use personal::FoundChat;

use crate::PipelineError;
use crate::install::ProactiveInstall;
use crate::outcome::{announce, outcome_event};

pub use crate::outcome::Delivered;

/// What sending needs.
pub struct Sender {
    pub references: Arc<dyn ReferenceStore>,
    pub outbox: Arc<dyn OutboxStore>,
    pub connector: Arc<dyn Connector>,
    pub events: Arc<dyn EventPublisher>,
    pub clock: Arc<dyn Clock>,
    /// The bot that creates 1:1 conversations.
    pub bot_app_id: BotAppId,
    /// How long a claim holds; longer than any single send with its retries.
    pub lease: Duration,
    /// Attempts before a delivery that keeps failing transiently is recorded failed.
    pub max_attempts: u32,
    /// Activities by notification, decoded once per process.
    activities: Mutex<HashMap<NotificationId, Arc<Activity>>>,
    /// Outcome events waiting to go out in a batch of ten.
    outcome_events: Mutex<Vec<HeraldEvent>>,
    /// Proactive installation through Graph, when enabled.
    install: Option<ProactiveInstall>,
}

impl Sender {
    #[must_use]
    pub fn new(
        references: Arc<dyn ReferenceStore>,
        outbox: Arc<dyn OutboxStore>,
        connector: Arc<dyn Connector>,
        events: Arc<dyn EventPublisher>,
        clock: Arc<dyn Clock>,
        bot_app_id: BotAppId,
    ) -> Self {
        Self {
            references,
            outbox,
            connector,
            events,
            clock,
            bot_app_id,
            lease: Duration::minutes(2),
            max_attempts: 5,
            activities: Mutex::new(HashMap::new()),
            outcome_events: Mutex::new(Vec::new()),
            install: None,
        }
    }

    /// Reaches people without a personal conversation by installing the app for them (`None`:
    /// they are reported unresolved).
    #[must_use]
    pub fn with_install(mut self, install: Option<ProactiveInstall>) -> Self {
        self.install = install;
        self
    }

    /// Delivers one delivery, at most once, before `deadline`.
    pub async fn deliver(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        deadline: Deadline,
    ) -> Result<Delivered, PipelineError> {
        let now = self.clock.now();
        let claimed = match self
            .outbox
            .claim_delivery(notification, delivery, now, now + self.lease)
            .await?
        {
            Claim::Claimed(record) => *record,
            Claim::Done => return Ok(Delivered::AlreadyDone),
            Claim::Held { until } => return Ok(Delivered::Held(until)),
            Claim::Missing => return Ok(Delivered::Missing),
        };
        // A person known only by their Entra object id: find or install their conversation.
        let (claimed, resolved) = match self.install_step(&claimed) {
            Some(step) => match step.resolve(claimed, deadline).await? {
                Resolution::Ready(ready) => {
                    let conversation = ready.conversation_id.clone();
                    (*ready, conversation)
                }
                Resolution::Finished { delivery, outcome } => {
                    self.publish(&delivery, &outcome).await;
                    return Ok(Delivered::Finished(outcome.status));
                }
                Resolution::Done(delivered) => return Ok(delivered),
            },
            None => (claimed, None),
        };
        let activity = self.activity(notification).await?;
        let outcome = match self.send(&claimed, &activity, deadline).await {
            Ok((activity_id, created)) => Outcome {
                status: DeliveryStatus::Sent,
                activity_id: Some(activity_id),
                error: None,
                conversation_id: created.or(resolved),
            },
            Err(error) => self.failure_outcome(&claimed, &error).await?,
        };
        let recorded = self
            .outbox
            .record_outcome(notification, delivery, &outcome, self.clock.now())
            .await?;
        if !recorded {
            tracing::warn!(notification = %notification, delivery = %delivery, "outcome recorded by another sender");
        }
        if outcome.status == DeliveryStatus::Pending {
            return Ok(Delivered::Released);
        }
        self.publish(&claimed, &outcome).await;
        Ok(Delivered::Finished(outcome.status))
    }

    /// The install step, if this claimed delivery is a person to install the app for.
    fn install_step(&self, claimed: &DeliveryRecord) -> Option<InstallStep<'_>> {
        let to_install = claimed.conversation_id.is_none()
            && claimed.member_id.is_none()
            && claimed.recipient.is_some();
        let install = self.install.as_ref().filter(|_| to_install)?;
        Some(InstallStep {
            install,
            references: self.references.as_ref(),
            outbox: self.outbox.as_ref(),
            connector: self.connector.as_ref(),
            clock: self.clock.as_ref(),
            bot_app_id: &self.bot_app_id,
            max_attempts: self.max_attempts,
        })
    }

    async fn activity(&self, id: &NotificationId) -> Result<Arc<Activity>, PipelineError> {
        if let Some(found) = self
            .activities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(Arc::clone(found));
        }
        let invalid = |problem: String| PipelineError::InvalidNotification {
            id: id.to_string(),
            problem,
        };
        let notification = self
            .outbox
            .get_notification(id)
            .await?
            .ok_or_else(|| invalid("not found".to_owned()))?;
        let activity: Activity = serde_json::from_value(notification.activity)
            .map_err(|e| invalid(format!("activity does not decode: {e}")))?;
        let activity = Arc::new(activity);
        self.activities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), Arc::clone(&activity));
        Ok(activity)
    }

    /// Sends, creating the 1:1 conversation first for a member who has none (and storing it, so
    /// the next notification reuses it). Returns the activity id and the created conversation.
    async fn send(
        &self,
        delivery: &DeliveryRecord,
        activity: &Activity,
        deadline: Deadline,
    ) -> Result<(String, Option<ConversationId>), SendError> {
        let service_url = delivery
            .service_url
            .as_ref()
            .ok_or(SendError::Unresolvable)?;
        let call = || Call::new(service_url, &delivery.tenant_id).deadline(deadline);
        let (conversation, created) = match (&delivery.conversation_id, &delivery.member_id) {
            (Some(conversation), _) => (conversation.clone(), None),
            (None, Some(member)) => {
                let bot = BotId::for_app(&self.bot_app_id);
                let parameters =
                    ConversationParameters::personal(&bot, member, &delivery.tenant_id);
                let created = self
                    .connector
                    .create_conversation(call(), &parameters)
                    .await?;
                self.remember_conversation(delivery, &created.id).await;
                (created.id.clone(), Some(created.id))
            }
            (None, None) => return Err(SendError::Unresolvable),
        };
        let sent = self
            .connector
            .send_to_conversation(call(), &conversation, activity)
            .await?;
        Ok((sent.id.as_str().to_owned(), created))
    }

    /// Stores the personal conversation created for a team member.
    async fn remember_conversation(
        &self,
        delivery: &DeliveryRecord,
        conversation: &ConversationId,
    ) {
        let (Some(service_url), Some(member)) = (&delivery.service_url, &delivery.member_id) else {
            return;
        };
        let found = FoundChat {
            delivery,
            conversation,
            service_url,
            member,
            reason: "created by Herald for a team member",
        };
        found
            .remember(self.references.as_ref(), &self.bot_app_id, self.clock.now())
            .await;
    }

    /// Maps a failure to the recorded outcome, and marks the reference where Teams said the
    /// conversation is blocked or gone.
    async fn failure_outcome(
        &self,
        delivery: &DeliveryRecord,
        error: &SendError,
    ) -> Result<Outcome, PipelineError> {
        let (status, reference_status) = match error {
            SendError::Unresolvable => (DeliveryStatus::Unresolved, None),
            SendError::Connector(e) => match e {
                ConnectorError::BlockedByUser(_) => {
                    (DeliveryStatus::Blocked, Some(ReferenceStatus::Blocked))
                }
                ConnectorError::BotNotInConversation(_) => (
                    DeliveryStatus::Uninstalled,
                    Some(ReferenceStatus::Uninstalled),
                ),
                ConnectorError::ConversationNotFound(_) => {
                    (DeliveryStatus::NotFound, Some(ReferenceStatus::Uninstalled))
                }
                ConnectorError::TooLarge(_) => (DeliveryStatus::TooLarge, None),
                e if e.is_retryable() || matches!(e, ConnectorError::DeadlineExceeded { .. }) => {
                    // Give it back for a later trigger, unless it has had its chances.
                    if delivery.attempts < self.max_attempts {
                        (DeliveryStatus::Pending, None)
                    } else {
                        (DeliveryStatus::Failed, None)
                    }
                }
                _ => (DeliveryStatus::Failed, None),
            },
        };
        let reason = error.to_string();
        if let (Some(new_status), Some(conversation)) =
            (reference_status, &delivery.conversation_id)
        {
            let key = ConversationKey::new(delivery.tenant_id.clone(), conversation.clone());
            let update = StatusUpdate {
                status: new_status,
                at: self.clock.now(),
                reason: Some(reason.clone()),
            };
            match self.references.set_status(&key, &update).await {
                Ok(_) | Err(herald_store::StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Outcome {
            status,
            activity_id: None,
            error: Some(reason),
            conversation_id: None,
        })
    }

    async fn publish(&self, delivery: &DeliveryRecord, outcome: &Outcome) {
        let event = outcome_event(delivery, outcome, self.clock.now());
        let full = {
            let mut buffer = self
                .outcome_events
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            buffer.push(event);
            (buffer.len() >= herald_events::MAX_ENTRIES_PER_CALL)
                .then(|| std::mem::take(&mut *buffer))
        };
        if let Some(batch) = full {
            self.publish_batch(&batch).await;
        }
    }

    /// Publishes the outcome events still buffered; call at the end of every batch.
    pub async fn flush_events(&self) {
        let batch = std::mem::take(
            &mut *self
                .outcome_events
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if !batch.is_empty() {
            self.publish_batch(&batch).await;
        }
    }

    async fn publish_batch(&self, batch: &[HeraldEvent]) {
        announce(self.events.as_ref(), batch, "delivery outcomes").await;
    }
}

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("no conversation and no member id to create one with")]
    Unresolvable,
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}
