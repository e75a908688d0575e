//! The sender: each delivery is claimed with a conditional write, sent through the connector
//! (throttle + retry), and its outcome recorded once. A replayed trigger finds the delivery
//! claimed or recorded and does nothing; a sender that died mid-send leaves a lease that expires,
//! after which another sender takes over. A person known only by their Entra object id goes
//! through the install step first (`install_step`): their stored conversation, or the app
//! installed for them through Graph.

mod content;
mod install_step;
mod personal;

use std::sync::{Arc, Mutex, PoisonError};

use chrono::Duration;
use herald_connector::RetryPolicy;
use herald_connector::{
    Activity, Call, Connector, ConnectorError, ConversationParameters, Deadline,
};
use herald_domain::{
    BotAppId, BotId, Clock, ConversationId, ConversationKey, DeliveryId, DeliveryStatus,
    ReferenceStatus,
};
use herald_events::{EventPublisher, HeraldEvent};
use herald_store::{
    Claim, DeliveryRecord, NotificationId, OutboxStore, Outcome, ReferenceStore, Release,
    StatusUpdate,
};

use content::ActivityCache;
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
    /// Backoff between attempts of a released delivery.
    pub backoff: RetryPolicy,
    /// Activities by notification and content version, decoded once per process (a bounded
    /// number).
    activities: Mutex<ActivityCache>,
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
            backoff: RetryPolicy {
                base_delay: RELEASE_BACKOFF,
                max_delay: RELEASE_BACKOFF_CAP.to_std().unwrap_or(RELEASE_BACKOFF),
                jitter: herald_connector::Jitter::Equal,
                ..RetryPolicy::default()
            },
            activities: Mutex::new(ActivityCache::default()),
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
    ///
    /// The send's deadline is also capped by the claim's lease, so no send outlives the lease
    /// that protects it from a second sender. Failures after the claim give the delivery back
    /// (released with a backoff) rather than leaving it to the lease.
    pub async fn deliver(
        &self,
        notification: &NotificationId,
        delivery: &DeliveryId,
        deadline: Deadline,
    ) -> Result<Delivered, PipelineError> {
        let now = self.clock.now();
        let lease_until = now + self.lease;
        let claimed = match self
            .outbox
            .claim_delivery(notification, delivery, now, lease_until)
            .await?
        {
            Claim::Claimed(record) => *record,
            Claim::Done => return Ok(Delivered::AlreadyDone),
            Claim::Held { until } => return Ok(Delivered::Held(until)),
            Claim::NotYet { until } => return Ok(Delivered::NotYet(until)),
            Claim::Missing => return Ok(Delivered::Missing),
        };
        let deadline = self.within_lease(deadline);
        match self
            .deliver_claimed(claimed.clone(), lease_until, deadline)
            .await
        {
            Ok(delivered) => Ok(delivered),
            Err(error) => {
                // Given back untouched when nothing was sent; a copy sent whose outcome the store
                // did not take is sent again by the next attempt, which counts as a possible
                // duplicate.
                let sent = matches!(error, PipelineError::SentNotRecorded(_));
                let release = Release {
                    not_before: self.clock.now(),
                    error: error.to_string(),
                    attempt_counted: sent,
                    outcome_unknown: sent,
                };
                if let Err(e) = self
                    .outbox
                    .release_delivery(
                        notification,
                        delivery,
                        lease_until,
                        &release,
                        self.clock.now(),
                    )
                    .await
                {
                    tracing::warn!(notification = %notification, delivery = %delivery, error = %e,
                        "cannot release a claimed delivery; the sweep wakes it when its lease ends");
                }
                Err(error)
            }
        }
    }

    /// The caller's deadline, but never later than the lease allows a send to finish (and its
    /// outcome to be recorded).
    fn within_lease(&self, deadline: Deadline) -> Deadline {
        let margin = LEASE_MARGIN.min(self.lease / 5);
        let lease = (self.lease - margin).to_std().unwrap_or_default();
        let cap = Deadline::after(lease);
        match (deadline.instant(), cap.instant()) {
            (Some(asked), Some(capped)) => Deadline::at(asked.min(capped)),
            _ => cap,
        }
    }

    async fn deliver_claimed(
        &self,
        claimed: DeliveryRecord,
        lease_until: chrono::DateTime<chrono::Utc>,
        deadline: Deadline,
    ) -> Result<Delivered, PipelineError> {
        let (notification, delivery) =
            (claimed.notification_id.clone(), claimed.delivery_id.clone());
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
        // Read before each send: an update or a retraction applies to copies not sent yet.
        let content = self.content(&notification).await?;
        let outcome = if content.retracted {
            Outcome {
                status: DeliveryStatus::Retracted,
                activity_id: None,
                error: Some("the notification was retracted before this copy was sent".into()),
                conversation_id: resolved,
                service_url: None,
                copy: None,
            }
        } else {
            // A write started without the time to finish is a write whose outcome is unknown.
            let budget = MIN_SEND_BUDGET.min(self.lease.to_std().unwrap_or_default() / 4);
            if deadline.remaining().is_some_and(|left| left < budget) {
                let release = Release {
                    not_before: self.clock.now(),
                    error: "too little time left to send; given back".to_owned(),
                    attempt_counted: false,
                    outcome_unknown: false,
                };
                return self.release(&claimed, lease_until, &release).await;
            }
            match self.send(&claimed, &content.activity, deadline).await {
                Ok((activity_id, created)) => {
                    // A chat found at send time: the delivery learns where it went.
                    let service_url = resolved
                        .is_some()
                        .then(|| claimed.service_url.clone())
                        .flatten();
                    let conversation_id = created.or(resolved);
                    let copy = self.copy_of(
                        &claimed,
                        conversation_id.as_ref(),
                        &activity_id,
                        content.version,
                    );
                    Outcome {
                        status: DeliveryStatus::Sent,
                        activity_id: Some(activity_id),
                        error: None,
                        conversation_id,
                        service_url,
                        copy,
                    }
                }
                Err(error) => match self.failure(&claimed, &error).await? {
                    Failure::Final(outcome) => outcome,
                    Failure::Release(release) => {
                        return self.release(&claimed, lease_until, &release).await;
                    }
                },
            }
        };
        let recorded = self
            .outbox
            .record_outcome(
                &notification,
                &delivery,
                lease_until,
                &outcome,
                self.clock.now(),
            )
            .await
            .map_err(|e| match outcome.status {
                DeliveryStatus::Sent => PipelineError::SentNotRecorded(e),
                _ => PipelineError::Store(e),
            })?;
        if !recorded {
            tracing::warn!(notification = %notification, delivery = %delivery,
                "the claim's lease ran out before the outcome was recorded; another sender has it");
            return Ok(Delivered::AlreadyDone);
        }
        self.publish(&claimed, &outcome).await;
        Ok(Delivered::Finished(outcome.status))
    }

    async fn release(
        &self,
        claimed: &DeliveryRecord,
        lease_until: chrono::DateTime<chrono::Utc>,
        release: &Release,
    ) -> Result<Delivered, PipelineError> {
        let released = self
            .outbox
            .release_delivery(
                &claimed.notification_id,
                &claimed.delivery_id,
                lease_until,
                release,
                self.clock.now(),
            )
            .await?;
        if !released {
            tracing::warn!(notification = %claimed.notification_id, delivery = %claimed.delivery_id,
                "the claim's lease ran out before the delivery was given back");
        }
        Ok(Delivered::Released)
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

    /// Maps a failure to a final outcome (marking the reference where Teams said the
    /// conversation is blocked or gone) or to a release with a backoff.
    async fn failure(
        &self,
        delivery: &DeliveryRecord,
        error: &SendError,
    ) -> Result<Failure, PipelineError> {
        if let SendError::Connector(e) = error
            && let Some(release) = self.transient_release(delivery, e)
        {
            return Ok(Failure::Release(release));
        }
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
        Ok(Failure::Final(Outcome {
            status,
            activity_id: None,
            error: Some(reason),
            conversation_id: None,
            service_url: None,
            copy: None,
        }))
    }

    /// A failure worth another try later, as a release: a deadline that ran out (not counted
    /// as an attempt), a send whose outcome is unknown (counted, and the next send a possible
    /// duplicate), or a retryable answer while the delivery has attempts left. Backoff doubles
    /// per attempt, with jitter, from [`RELEASE_BACKOFF`].
    fn transient_release(
        &self,
        delivery: &DeliveryRecord,
        error: &ConnectorError,
    ) -> Option<Release> {
        let deadline = matches!(error, ConnectorError::DeadlineExceeded { .. });
        let unknown = error.outcome_unknown();
        if !(deadline || unknown || error.is_retryable()) {
            return None;
        }
        if !deadline && delivery.attempts >= self.max_attempts {
            return None;
        }
        let backoff = self.backoff.backoff(delivery.attempts);
        let wait = error
            .retry_after()
            .map_or(backoff, |after| after.max(backoff));
        Some(Release {
            not_before: self.clock.now()
                + chrono::Duration::from_std(wait).unwrap_or(RELEASE_BACKOFF_CAP),
            error: error.to_string(),
            attempt_counted: !deadline,
            outcome_unknown: unknown,
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

/// What a failed send comes to.
enum Failure {
    Final(Outcome),
    Release(Release),
}

/// A claim's lease outlives its send by this much (or a fifth of the lease, if shorter), time to
/// record the outcome.
const LEASE_MARGIN: Duration = Duration::seconds(10);
/// Less time than this left (or a quarter of the lease, if shorter) and a send is not started: it
/// could not be relied on to finish.
const MIN_SEND_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);
/// The first backoff of a released delivery; it doubles per attempt up to the cap.
const RELEASE_BACKOFF: std::time::Duration = std::time::Duration::from_secs(10);
const RELEASE_BACKOFF_CAP: Duration = Duration::minutes(5);

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("no conversation and no member id to create one with")]
    Unresolvable,
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}
