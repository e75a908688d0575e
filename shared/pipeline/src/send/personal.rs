//! Personal conversations Herald found or created itself (a 1:1 chat created for a team member,
//! one Graph named once the app was installed), stored so that the next notification to the
//! person reuses them instead of creating or looking them up again.

use chrono::{DateTime, Utc};
use herald_domain::{
    BotAppId, ConversationId, ConversationReference, ServiceUrl, UserId, UserInfo,
};
use herald_store::{DeliveryRecord, ReferenceStore};

/// A personal chat with the recipient of `delivery` (its tenant and Entra object id).
pub(super) struct FoundChat<'a> {
    pub delivery: &'a DeliveryRecord,
    pub conversation: &'a ConversationId,
    pub service_url: &'a ServiceUrl,
    /// The person's id in the chat (`29:...`).
    pub member: &'a UserId,
    /// How Herald came by it, kept as the reference's status reason.
    pub reason: &'static str,
}

impl FoundChat<'_> {
    /// Stores the chat as an active personal conversation of `bot_app_id`. Best effort: the
    /// delivery goes ahead either way.
    pub(super) async fn remember(
        &self,
        references: &dyn ReferenceStore,
        bot_app_id: &BotAppId,
        now: DateTime<Utc>,
    ) {
        let reference = ConversationReference {
            status_reason: Some(self.reason.to_owned()),
            ..ConversationReference::personal(
                self.delivery.tenant_id.clone(),
                self.conversation.clone(),
                self.service_url.clone(),
                bot_app_id,
                UserInfo {
                    id: self.member.clone(),
                    aad_object_id: self.delivery.recipient.clone(),
                    name: None,
                },
                now,
            )
        };
        if let Err(e) = references.upsert(&reference).await {
            tracing::warn!(error = %e, conversation = %self.conversation, "could not store created conversation");
        }
    }
}
