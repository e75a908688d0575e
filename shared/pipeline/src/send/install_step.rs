//! The sender's install step, for a person Herald has no conversation with: find the one stored
//! since expansion, or install the app for them through Microsoft Graph and leave the delivery
//! waiting for the installation's conversationUpdate
//! (<https://learn.microsoft.com/microsoftteams/platform/graph-api/proactive-bots-and-messages/graph-proactive-bots-and-messages>).

use herald_connector::{Call, Connector, ConversationParameters, Deadline};
use herald_domain::{
    AadObjectId, BotAppId, BotId, Clock, ConversationId, ConversationReference, ConversationType,
    DeliveryStatus, ServiceUrl, TenantId, UserId,
};
use herald_graph::{GraphError, Installation};
use herald_store::{
    DeliveryRecord, InstallResolution, InstallWait, ListFilter, OutboxStore, Outcome, PageRequest,
    ReferenceStore, StoreError,
};

use super::personal::FoundChat;
use crate::PipelineError;
use crate::expand::status_for_reference;
use crate::install::ProactiveInstall;
use crate::outcome::Delivered;

/// What the install step reads and writes, borrowed from the sender.
pub(super) struct InstallStep<'a> {
    pub install: &'a ProactiveInstall,
    pub references: &'a dyn ReferenceStore,
    pub outbox: &'a dyn OutboxStore,
    pub connector: &'a dyn Connector,
    pub clock: &'a dyn Clock,
    pub bot_app_id: &'a BotAppId,
    /// Attempts before a delivery whose installation keeps failing transiently is final.
    pub max_attempts: u32,
}

/// Where the install step left a delivery.
pub(super) enum Resolution {
    /// Send it now, to this conversation.
    Ready(Box<DeliveryRecord>),
    /// The installation failed for good; the outcome is recorded and is to be announced.
    Finished {
        delivery: Box<DeliveryRecord>,
        outcome: Outcome,
    },
    /// Nothing more to do in this invocation.
    Done(Delivered),
}

impl InstallStep<'_> {
    /// Finds the person's conversation, or installs the app for them and waits.
    pub(super) async fn resolve(
        &self,
        claimed: DeliveryRecord,
        deadline: Deadline,
    ) -> Result<Resolution, PipelineError> {
        let install = self.install;
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
                let service_url = self.tenant_service_url(&tenant).await?;
                let conversation_id = self
                    .connector_chat(&claimed, &chat_id, &service_url, deadline)
                    .await;
                InstallResolution::Resolved {
                    conversation_id,
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
                    service_url: None,
                    copy: None,
                })
            }
        };
        let ended = install
            .waits
            .end_install(&wait, &resolution, self.clock.now())
            .await?;
        Ok(match resolution {
            _ if !ended => Resolution::Done(Delivered::AlreadyDone),
            InstallResolution::Finished(outcome) => Resolution::Finished {
                delivery: Box::new(claimed),
                outcome,
            },
            InstallResolution::Resolved { .. } => Resolution::Done(Delivered::Requeued),
            InstallResolution::Retry { .. } => Resolution::Done(Delivered::Released),
        })
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
            service_url: None,
            copy: None,
        };
        let Some(claimed_until) = claimed.lease_until else {
            return Ok(Resolution::Done(Delivered::AlreadyDone));
        };
        self.outbox
            .record_outcome(
                &claimed.notification_id,
                &claimed.delivery_id,
                claimed_until,
                &outcome,
                self.clock.now(),
            )
            .await?;
        Ok(Resolution::Done(Delivered::Finished(status)))
    }

    /// The serviceUrl Teams uses for the tenant, as its stored conversations tell.
    async fn tenant_service_url(&self, tenant: &TenantId) -> Result<ServiceUrl, StoreError> {
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
            || self.install.default_service_url.clone(),
            |r| r.service_url.clone(),
        ))
    }

    /// The chat Graph named, by the connector's id (`a:...`), the one Teams speaks of in
    /// activities, stored so that the next notification needs no Graph call: the person's
    /// member id is read from the chat, and create conversation with it returns the bot's
    /// existing 1:1 chat with them
    /// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages>).
    /// Storing Graph's own id (`19:...@unq.gbl.spaces`) would make the person two recipients.
    /// If the connector cannot say, the delivery goes to Graph's id, which is not stored.
    async fn connector_chat(
        &self,
        claimed: &DeliveryRecord,
        chat: &ConversationId,
        service_url: &ServiceUrl,
        deadline: Deadline,
    ) -> ConversationId {
        let call = || Call::new(service_url, &claimed.tenant_id).deadline(deadline);
        let member = match self
            .connector
            .get_paged_members(call(), chat, None, None)
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
        let Some(member) = member.and_then(|m| UserId::new(m.id).ok()) else {
            return chat.clone();
        };
        let bot = BotId::for_app(self.bot_app_id);
        let parameters = ConversationParameters::personal(&bot, &member, &claimed.tenant_id);
        let conversation = match self
            .connector
            .create_conversation(call(), &parameters)
            .await
        {
            Ok(created) => created.id,
            Err(e) => {
                tracing::warn!(error = %e, conversation = %chat, "cannot find the chat's connector id");
                return chat.clone();
            }
        };
        let found = FoundChat {
            delivery: claimed,
            conversation: &conversation,
            service_url,
            member: &member,
            reason: "app already installed; chat found through Graph",
        };
        found
            .remember(self.references, self.bot_app_id, self.clock.now())
            .await;
        conversation
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
