//! Microsoft Graph, for one job: installing Herald's Teams app in a user's personal scope so that
//! Herald can message people who never installed it (the "company communicator" case).
//!
//! `POST /users/{id}/teamwork/installedApps` installs; Teams then sends the bot a
//! conversationUpdate, which the webhook stores as the personal conversation. 409 means the app
//! is already installed: the chat is looked up instead
//! (`GET /users/{id}/teamwork/installedApps/{installationId}/chat`).
//!
//! [`GraphInstaller`] is the HTTP implementation of [`Installer`]: app-only tokens per customer
//! tenant, retries of throttling and outages within the caller's deadline, typed errors.

mod config;
mod installer;

use std::time::Duration;

use async_trait::async_trait;
use herald_connector::{ConfigError, Deadline, TokenError};
use herald_domain::{AadObjectId, ConversationId, TenantId};

pub use config::{GraphConfig, TENANT_PLACEHOLDER};
pub use installer::GraphInstaller;

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
    /// 403: the application permission (`TeamsAppInstallation.ReadWriteForUser.All`) is missing
    /// or not consented by the tenant's admin.
    #[error("Graph refused the installation (403 {code}): {message}")]
    Forbidden { code: String, message: String },
    /// 404 (or 400) for the user: no such user in the tenant.
    #[error("Graph does not know this user (404 {code}): {message}")]
    UserNotFound { code: String, message: String },
    /// The Teams app id is not in the tenant's app catalog (404, or 400, about the app).
    #[error("the Teams app is not in the organisation's app catalog ({status} {code}): {message}")]
    AppNotInCatalog {
        status: u16,
        code: String,
        message: String,
    },
    /// 401 even with a freshly fetched token.
    #[error("Graph rejected the token (401 {code}): {message}")]
    Unauthorized { code: String, message: String },
    /// 429, retries exhausted or the wait would pass the deadline; retryable.
    #[error("Graph throttled the request (429), retry after {retry_after:?}")]
    Throttled { retry_after: Option<Duration> },
    /// 5xx, or no answer at all (`status` `None`: connection failure, timeout); retryable.
    #[error("Graph unavailable (HTTP {status:?}): {message}")]
    Unavailable {
        status: Option<u16>,
        retry_after: Option<Duration>,
        message: String,
    },
    /// Any other answer Graph refused the request with (4xx).
    #[error("Graph rejected the request ({status} {code}): {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    /// 409 said installed, but the installation (or its chat) is not visible yet: another
    /// request installed it moments ago. Its conversationUpdate is on the way; retryable.
    #[error("Graph says the app is installed, but its installation or chat is not visible yet")]
    InstallationNotFound,
    /// No Graph token could be had from the tenant's token endpoint.
    #[error("no Graph token: {0}")]
    Token(#[from] TokenError),
    /// A 2xx answer Herald could not use.
    #[error("invalid Graph response: {0}")]
    InvalidResponse(String),
    /// The token URL for the tenant could not be formed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The caller's deadline passed (or would have, waiting for a retry); retryable.
    #[error("deadline exceeded before Graph answered")]
    DeadlineExceeded,
}

impl GraphError {
    /// Whether trying again later may succeed (throttling, outages, timeouts).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Throttled { .. }
            | Self::Unavailable { .. }
            | Self::DeadlineExceeded
            | Self::InstallationNotFound => true,
            Self::Token(error) => error.is_retryable(),
            Self::Forbidden { .. }
            | Self::UserNotFound { .. }
            | Self::AppNotInCatalog { .. }
            | Self::Unauthorized { .. }
            | Self::Rejected { .. }
            | Self::InvalidResponse(_)
            | Self::Config(_) => false,
        }
    }

    /// How long Graph asked to wait (`Retry-After`), if it did.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after } | Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status Graph answered, if this error is one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Forbidden { .. } => Some(403),
            Self::UserNotFound { .. } => Some(404),
            Self::Unauthorized { .. } => Some(401),
            Self::Throttled { .. } => Some(429),
            Self::AppNotInCatalog { status, .. } | Self::Rejected { status, .. } => Some(*status),
            Self::Unavailable { status, .. } => *status,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_kinds() {
        let token_down = TokenError::Unavailable {
            status: Some(503),
            message: String::new(),
        };
        let token_refused = TokenError::Rejected {
            status: 401,
            error: None,
            description: None,
        };
        let text = |s: &str| s.to_owned();
        assert!(GraphError::Throttled { retry_after: None }.is_retryable());
        assert!(
            GraphError::Unavailable {
                status: Some(503),
                retry_after: None,
                message: text("")
            }
            .is_retryable()
        );
        assert!(GraphError::DeadlineExceeded.is_retryable());
        assert!(GraphError::Token(token_down).is_retryable());
        assert!(!GraphError::Token(token_refused).is_retryable());
        assert!(
            !GraphError::Forbidden {
                code: text("Forbidden"),
                message: text("")
            }
            .is_retryable()
        );
        assert!(GraphError::InstallationNotFound.is_retryable());
        assert_eq!(
            GraphError::Throttled {
                retry_after: Some(Duration::from_secs(3))
            }
            .retry_after(),
            Some(Duration::from_secs(3))
        );
    }
}
