//! Proactive installation: reaching a person Herald has no conversation with by installing the
//! Teams app for them through Microsoft Graph
//! (<https://learn.microsoft.com/microsoftteams/platform/graph-api/proactive-bots-and-messages/graph-proactive-bots-and-messages>).
//!
//! The sender records the wait (`installing`) *before* asking Graph, so the installation's
//! conversationUpdate, which can reach the webhook before Graph has even answered, always finds
//! it. Nothing polls: the webhook resumes the delivery when the conversation is stored
//! ([`resume_installed`]), and the scheduler's minute tick ends the waits whose time ran out
//! ([`InstallSweep`]).

use std::sync::Arc;

use chrono::Duration;
use herald_domain::{
    Clock, ConversationReference, ConversationType, DeliveryStatus, ReferenceStatus, ServiceUrl,
};
use herald_events::EventPublisher;
use herald_graph::Installer;
use herald_store::{
    DeliveryRecord, InstallResolution, InstallWait, InstallWaits, OutboxStore, Outcome,
    ReferenceStore, StoreError,
};

use crate::outcome::{announce, outcome_event};

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
        announce(self.events.as_ref(), &events, "installation timeouts").await;
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
                service_url: None,
                copy: None,
            })
        })
    }
}
