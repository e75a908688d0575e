//! Proactive installation: reaching a person Herald has no conversation with by installing the
//! Teams app for them through Microsoft Graph (the seeds' "company communicator" answer).
//!
//! The sender records the wait (`installing`) *before* asking Graph, so the installation's
//! conversationUpdate, which can reach the webhook before Graph has even answered, always finds
//! it. Nothing polls: the webhook resumes the delivery when the conversation is stored
//! ([`resume_installed`]), and the scheduler's minute tick ends the waits whose time ran out
//! ([`InstallSweep`]).

use std::sync::Arc;

use chrono::Duration;
use herald_connector::{Call, Deadline};
use herald_domain::{
    AadObjectId, Clock, ConversationId, ConversationReference, ConversationType, DeliveryStatus,
    ReferenceStatus, ServiceUrl, TenantId, UserId,
};
use herald_events::EventPublisher;
use herald_graph::{GraphError, Installation, Installer};
use herald_store::{
    DeliveryRecord, InstallResolution, InstallWait, InstallWaits, ListFilter, OutboxStore, Outcome,
    PageRequest, ReferenceStore, StoreError,
};

use crate::PipelineError;
use crate::expand::status_for_reference;
use crate::send::{Delivered, Sender, outcome_event};

/// What the sender needs to install the app for people.
pub struct ProactiveInstall {
    pub installer: Arc<dyn Installer>,
    pub waits: Arc<dyn InstallWaits>,
    /// How long a delivery waits for the installation's conversationUpdate.
    pub timeout: Duration,
    /// The serviceUrl for a chat found through Graph in a tenant with no stored conversation
    /// (`HERALD_DEFAULT_SERVICE_URL`; Teams' public one by default).
    pub default_service_url: ServiceUrl,
}

/// Teams' public serviceUrl, for chats Graph names in a tenant Herald has no conversation in.
pub const PUBLIC_SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";

/// Why proactive installation could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InstallConfigError {
    #[error(transparent)]
    Graph(#[from] herald_connector::ConfigError),
    #[error("HERALD_DEFAULT_SERVICE_URL: {0}")]
    ServiceUrl(#[from] herald_domain::DomainError),
    #[error("cannot build the Graph HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

impl ProactiveInstall {
    /// From the environment (`HERALD_GRAPH_INSTALL` and the rest, see `herald_graph::GraphConfig`),
    /// authenticating as the bot: `None` when proactive installation is off.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        credentials: &herald_connector::Credentials,
        waits: Arc<dyn InstallWaits>,
    ) -> Result<Option<Self>, InstallConfigError> {
        let Some(config) = herald_graph::GraphConfig::from_lookup(&lookup)? else {
            return Ok(None);
        };
        let timeout = Duration::from_std(config.install_timeout).unwrap_or(Duration::minutes(10));
        let default_service_url = Self::default_service_url(&lookup)?;
        let installer = herald_graph::GraphInstaller::from_config(config, credentials.clone())?;
        Ok(Some(Self {
            installer: Arc::new(installer),
            waits,
            timeout,
            default_service_url,
        }))
    }

    /// `HERALD_DEFAULT_SERVICE_URL`, or Teams' public one.
    pub fn default_service_url(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ServiceUrl, herald_domain::DomainError> {
        let value = lookup("HERALD_DEFAULT_SERVICE_URL").filter(|v| !v.trim().is_empty());
        ServiceUrl::parse(value.as_deref().unwrap_or(PUBLIC_SERVICE_URL).trim())
    }
}

/// Where the install step left a delivery.
pub(crate) enum Resolution {
    /// Send it now, to this conversation.
    Ready(Box<DeliveryRecord>),
    /// Nothing more to do in this invocation.
    Done(Delivered),
}

impl Sender {
    /// The installation settings, if this claimed delivery is a person to install for.
    pub(crate) fn needs_install(&self, claimed: &DeliveryRecord) -> Option<&ProactiveInstall> {
        let to_install = claimed.conversation_id.is_none()
            && claimed.member_id.is_none()
            && claimed.recipient.is_some();
        self.install.as_ref().filter(|_| to_install)
    }

    /// Finds the person's conversation, or installs the app for them and waits.
    pub(crate) async fn install(
        &self,
        install: &ProactiveInstall,
        claimed: DeliveryRecord,
        deadline: Deadline,
    ) -> Result<Resolution, PipelineError> {
        let Some(recipient) = claimed.recipient.clone() else {
            return Ok(Resolution::Ready(Box::new(claimed)));
        };
        let tenant = claimed.tenant_id.clone();
        // Installed since expansion (an earlier notification, or the person opened the app).
        if let Some(reference) = self.references.find_personal(&tenant, &recipient).await? {
            return self.with_stored(claimed, &reference).await;
        }
        let now = self.clock.now();
        let wait = InstallWait {
            notification_id: claimed.notification_id.clone(),
            delivery_id: claimed.delivery_id.clone(),
            tenant_id: tenant.clone(),
            recipient: recipient.clone(),
            deadline: now + install.timeout,
        };
        // Only this claim may start the installation: a sender that stalled past its lease has
        // lost the delivery to another, which may have sent it already.
        let Some(claimed_until) = claimed.lease_until else {
            return Ok(Resolution::Done(Delivered::AlreadyDone));
        };
        if !install
            .waits
            .begin_install(
                &wait.notification_id,
                &wait.delivery_id,
                claimed_until,
                wait.deadline,
                now,
            )
            .await?
        {
            return Ok(Resolution::Done(Delivered::AlreadyDone));
        }
        let resolution = match install
            .installer
            .install_for_user(&tenant, &recipient, deadline)
            .await
        {
            Ok(Installation::Installed) => {
                tracing::info!(notification = %wait.notification_id, tenant = %tenant, recipient = %recipient,
                    "app installed through Graph; waiting for its conversationUpdate");
                return Ok(Resolution::Done(Delivered::Installing));
            }
            Ok(Installation::AlreadyInstalled { chat_id }) => {
                let service_url = self.tenant_service_url(&tenant, install).await?;
                self.remember_installed_chat(&claimed, &chat_id, &service_url, deadline)
                    .await;
                InstallResolution::Resolved {
                    conversation_id: chat_id,
                    service_url,
                }
            }
            Err(GraphError::InstallationNotFound) => {
                // Installed moments ago by another request: its conversationUpdate resumes
                // this wait too (the sweep, if it never comes).
                tracing::info!(tenant = %tenant, recipient = %recipient, "installation in progress; waiting for its conversationUpdate");
                return Ok(Resolution::Done(Delivered::Installing));
            }
            Err(error) if error.is_retryable() && claimed.attempts < self.max_attempts => {
                tracing::warn!(tenant = %tenant, recipient = %recipient, error = %error, "installation failed; will retry");
                InstallResolution::Retry {
                    error: error.to_string(),
                }
            }
            Err(error) => {
                tracing::warn!(tenant = %tenant, recipient = %recipient, error = %error, "installation failed");
                InstallResolution::Finished(Outcome {
                    status: install_failure_status(&error),
                    activity_id: None,
                    error: Some(error.to_string()),
                    conversation_id: None,
                })
            }
        };
        let ended = install
            .waits
            .end_install(&wait, &resolution, self.clock.now())
            .await?;
        Ok(Resolution::Done(match resolution {
            _ if !ended => Delivered::AlreadyDone,
            InstallResolution::Finished(outcome) => {
                self.publish(&claimed, &outcome).await;
                Delivered::Finished(outcome.status)
            }
            InstallResolution::Resolved { .. } => Delivered::Requeued,
            InstallResolution::Retry { .. } => Delivered::Released,
        }))
    }

    /// A stored personal conversation: sent to if active, else recorded skipped like expansion
    /// would have.
    async fn with_stored(
        &self,
        mut claimed: DeliveryRecord,
        reference: &ConversationReference,
    ) -> Result<Resolution, PipelineError> {
        let status = status_for_reference(reference.status);
        if status == DeliveryStatus::Pending {
            claimed.conversation_id = Some(reference.conversation_id.clone());
            claimed.service_url = Some(reference.service_url.clone());
            claimed.conversation_type = ConversationType::Personal;
            return Ok(Resolution::Ready(Box::new(claimed)));
        }
        let outcome = Outcome {
            status,
            activity_id: None,
            error: Some(format!(
                "the personal conversation is {}",
                reference.status.as_str()
            )),
            conversation_id: Some(reference.conversation_id.clone()),
        };
        self.outbox
            .record_outcome(
                &claimed.notification_id,
                &claimed.delivery_id,
                &outcome,
                self.clock.now(),
            )
            .await?;
        Ok(Resolution::Done(Delivered::Finished(status)))
    }

    /// The serviceUrl Teams uses for the tenant, as its stored conversations tell.
    async fn tenant_service_url(
        &self,
        tenant: &TenantId,
        install: &ProactiveInstall,
    ) -> Result<ServiceUrl, StoreError> {
        let filter = ListFilter {
            tenant: Some(tenant.clone()),
            ..ListFilter::default()
        };
        let page = self
            .references
            .list(
                &filter,
                &PageRequest {
                    cursor: None,
                    limit: Some(1),
                },
            )
            .await?;
        Ok(page.items.first().map_or_else(
            || install.default_service_url.clone(),
            |r| r.service_url.clone(),
        ))
    }

    /// Stores the chat Graph named (its member id from the connector), so the next notification
    /// needs no Graph call. Best effort: the delivery goes ahead either way.
    async fn remember_installed_chat(
        &self,
        claimed: &DeliveryRecord,
        chat: &ConversationId,
        service_url: &ServiceUrl,
        deadline: Deadline,
    ) {
        let call = Call::new(service_url, &claimed.tenant_id).deadline(deadline);
        let member = match self
            .connector
            .get_paged_members(call, chat, None, None)
            .await
        {
            Ok(page) => page.members.into_iter().find(|m| {
                m.aad_object_id.as_deref() == claimed.recipient.as_ref().map(AadObjectId::as_str)
            }),
            Err(e) => {
                tracing::warn!(error = %e, conversation = %chat, "cannot read the chat's member");
                None
            }
        };
        if let Some(member) = member.and_then(|m| UserId::new(m.id).ok()) {
            let mut delivery = claimed.clone();
            delivery.service_url = Some(service_url.clone());
            self.remember_personal(
                &delivery,
                chat,
                service_url,
                &member,
                "app already installed; chat found through Graph",
            )
            .await;
        }
    }
}

fn install_failure_status(error: &GraphError) -> DeliveryStatus {
    match error {
        GraphError::Forbidden { .. } => DeliveryStatus::InstallForbidden,
        GraphError::UserNotFound { .. } => DeliveryStatus::InstallUserNotFound,
        GraphError::AppNotInCatalog { .. } => DeliveryStatus::InstallAppNotInCatalog,
        _ => DeliveryStatus::Failed,
    }
}

/// Resumes the deliveries waiting for this personal conversation (the webhook calls it when an
/// installation is stored). Returns how many it resumed.
pub async fn resume_installed(
    waits: &dyn InstallWaits,
    reference: &ConversationReference,
    clock: &dyn Clock,
) -> Result<usize, StoreError> {
    let Some(recipient) = reference
        .user
        .as_ref()
        .and_then(|u| u.aad_object_id.as_ref())
        .filter(|_| reference.conversation_type == ConversationType::Personal)
    else {
        return Ok(0);
    };
    let resolution = InstallResolution::Resolved {
        conversation_id: reference.conversation_id.clone(),
        service_url: reference.service_url.clone(),
    };
    let mut resumed = 0;
    let waiting = waits.waits_for(&reference.tenant_id, recipient).await?;
    // Keys join ids with '#'; only this very person's waits are theirs.
    for wait in waiting
        .iter()
        .filter(|w| w.tenant_id == reference.tenant_id && &w.recipient == recipient)
    {
        if waits.end_install(wait, &resolution, clock.now()).await? {
            tracing::info!(notification = %wait.notification_id, delivery = %wait.delivery_id, "installation arrived; delivery resumed");
            resumed += 1;
        }
    }
    Ok(resumed)
}

/// Ends the waits whose time ran out: the scheduler runs it every minute.
pub struct InstallSweep {
    pub waits: Arc<dyn InstallWaits>,
    pub outbox: Arc<dyn OutboxStore>,
    pub references: Arc<dyn ReferenceStore>,
    /// Where `installTimedOut` outcomes are announced, as the sender announces its own.
    pub events: Arc<dyn EventPublisher>,
    pub clock: Arc<dyn Clock>,
    /// Installation attempts (each a Graph request and a wait) before `installTimedOut`.
    pub max_attempts: u32,
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// The conversation had been stored after all (its conversationUpdate was missed).
    pub resumed: usize,
    /// Given back to the sender to install again (a 409 then finds the chat).
    pub retried: usize,
    pub timed_out: usize,
    /// Waits that could not be ended now (store errors); the next tick tries again.
    pub failed: usize,
}

impl InstallSweep {
    /// Waits read per sweep at most; the rest wait for the next minute.
    pub const BATCH: usize = 200;
    /// Installation attempts before a delivery is recorded `installTimedOut`.
    pub const DEFAULT_ATTEMPTS: u32 = 3;

    #[must_use]
    pub fn new(
        waits: Arc<dyn InstallWaits>,
        outbox: Arc<dyn OutboxStore>,
        references: Arc<dyn ReferenceStore>,
        events: Arc<dyn EventPublisher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            waits,
            outbox,
            references,
            events,
            clock,
            max_attempts: Self::DEFAULT_ATTEMPTS,
        }
    }

    pub async fn sweep(&self) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        let mut events = Vec::new();
        for wait in self.waits.due_waits(self.clock.now(), Self::BATCH).await? {
            // One wait that cannot be ended (its notification expired, a throttled write) must
            // not hold up the others behind it.
            match self.end(&wait).await {
                Ok(Some((InstallResolution::Resolved { .. }, _))) => report.resumed += 1,
                Ok(Some((InstallResolution::Retry { .. }, _))) => report.retried += 1,
                Ok(Some((InstallResolution::Finished(outcome), delivery))) => {
                    report.timed_out += 1;
                    // Announced like the sender's own failures.
                    if let Some(delivery) = delivery {
                        events.push(outcome_event(&delivery, &outcome, self.clock.now()));
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(notification = %wait.notification_id, delivery = %wait.delivery_id, error = %e, "cannot end installation wait");
                }
            }
        }
        for batch in events.chunks(herald_events::MAX_ENTRIES_PER_CALL) {
            // The outcome is recorded per delivery; the event is a notification of it.
            if let Err(e) = self.events.publish(batch).await {
                tracing::error!(error = %e, count = batch.len(), "publishing installation timeouts failed");
            }
        }
        if report != SweepReport::default() {
            tracing::info!(?report, "installation waits ended");
        }
        Ok(report)
    }

    /// Ends one wait, with the delivery as it was; `None` if someone else ended it first.
    async fn end(
        &self,
        wait: &InstallWait,
    ) -> Result<Option<(InstallResolution, Option<DeliveryRecord>)>, StoreError> {
        let delivery = self
            .outbox
            .get_delivery(&wait.notification_id, &wait.delivery_id)
            .await?;
        let resolution = self.resolution(wait, delivery.as_ref()).await?;
        let ended = self
            .waits
            .end_install(wait, &resolution, self.clock.now())
            .await?;
        Ok(ended.then_some((resolution, delivery)))
    }

    async fn resolution(
        &self,
        wait: &InstallWait,
        delivery: Option<&DeliveryRecord>,
    ) -> Result<InstallResolution, StoreError> {
        if let Some(reference) = self
            .references
            .find_personal(&wait.tenant_id, &wait.recipient)
            .await?
            .filter(|r| r.status == ReferenceStatus::Active)
        {
            return Ok(InstallResolution::Resolved {
                conversation_id: reference.conversation_id,
                service_url: reference.service_url,
            });
        }
        let attempts = delivery.map_or(u32::MAX, |d| d.attempts);
        let error = format!(
            "no installation event arrived by {} after installing the app through Graph",
            wait.deadline.to_rfc3339()
        );
        Ok(if attempts < self.max_attempts {
            InstallResolution::Retry { error }
        } else {
            InstallResolution::Finished(Outcome {
                status: DeliveryStatus::InstallTimedOut,
                activity_id: None,
                error: Some(error),
                conversation_id: None,
            })
        })
    }
}
