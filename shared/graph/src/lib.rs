//! Microsoft Graph, for one job: installing Herald's Teams app in a user's personal scope so that
//! Herald can message people who never installed it (the "company communicator" case).
//!
//! `POST /users/{id}/teamwork/installedApps` installs; Teams then sends the bot a
//! conversationUpdate, which the webhook stores as the personal conversation. 409 means the app
//! is already installed: the chat is looked up instead
//! (`GET /users/{id}/teamwork/installedApps/{installationId}/chat`).

use async_trait::async_trait;
use herald_connector::Deadline;
use herald_domain::{AadObjectId, ConversationId, TenantId};

/// What an installation request achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installation {
    /// Installed now (201): the conversationUpdate follows.
    Installed,
    /// It was installed already (409); this is the personal chat's id.
    AlreadyInstalled { chat_id: ConversationId },
}

/// Installs the Teams app for users; the boundary the sender depends on.
#[async_trait]
pub trait Installer: Send + Sync {
    async fn install_for_user(
        &self,
        tenant: &TenantId,
        user: &AadObjectId,
        deadline: Deadline,
    ) -> Result<Installation, GraphError>;
}

/// Why an installation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// 403: the application permission is missing or not consented by an admin.
    #[error("Graph refused the installation (403 {code}): {message}")]
    Forbidden { code: String, message: String },
    /// 404 for the user: no such user in the tenant.
    #[error("Graph does not know this user (404 {code}): {message}")]
    UserNotFound { code: String, message: String },
    /// The Teams app id is not in the tenant's app catalog.
    #[error("the Teams app is not in the organisation's app catalog ({status} {code}): {message}")]
    AppNotInCatalog {
        status: u16,
        code: String,
        message: String,
    },
}

impl GraphError {
    /// Whether trying again later may succeed (throttling, outages, timeouts).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        false
    }
}
