//! The Bot Framework connector for Teams: every message Herald sends goes through here, and every
//! activity Herald receives is authenticated here.
//!
//! Outbound, the layers stack in the teloxide style, each testable alone:
//!
//! ```no_run
//! # use herald_connector::*;
//! # fn build() -> Result<(), ConfigError> {
//! let connector = HttpConnector::new(&ConnectorConfig::from_env()?)?
//!     .throttle(Limits::teams())
//!     .retry(RetryPolicy::default());
//! # Ok(()) }
//! ```
//!
//! Throttle sits inside retry so that every attempt, retries included, takes a permit.

mod config;
mod connector;
mod error;
mod http;
pub mod inbound;
mod model;
mod retry;
mod throttle;
mod token;
mod trust;
mod variables;

pub use config::{AppType, Cloud, ConfigError, ConnectorConfig, Credentials, Secret};
pub use connector::{Call, Connector, Deadline, Operation, RateClass, Response};
pub use error::{ConnectorError, ServiceError};
pub use herald_retry::{Jitter, RetryPolicy, parse_retry_after};
pub use http::{HttpConnector, retry_after_header};
pub use model::{
    Activity, ActivityId, Attachment, ChannelAccount, ChannelData, ConversationAccount,
    ConversationList, ConversationParameters, ConversationResourceResponse, IdRef, Notification,
    PagedMembersResult, ResourceResponse, TeamDetails, TenantRef,
};
pub use retry::Retry;
pub use throttle::{Decision, Limiter, Limits, Throttle, Window};
pub use token::{AccessToken, TokenError, TokenProvider};
pub use trust::{DEFAULT_TRUSTED_HOSTS, TrustedHosts, is_loopback};
pub use variables::Variables;

use std::sync::Arc;

use herald_domain::Clock;

/// The connector every Herald function sends with: HTTP, paced to Teams' limits, retried.
pub fn teams_connector(
    config: &ConnectorConfig,
) -> Result<Retry<Throttle<HttpConnector>>, ConfigError> {
    Ok(HttpConnector::new(config)?
        .throttle(Limits::teams())
        .retry(RetryPolicy::default()))
}

/// Stacks the layers on any connector: `http.throttle(limits).retry(policy)`.
pub trait ConnectorExt: Connector + Sized {
    /// Retries retryable failures per `policy`.
    fn retry(self, policy: RetryPolicy) -> Retry<Self> {
        Retry::new(self, policy)
    }

    /// Paces calls to `limits` on the real clock.
    fn throttle(self, limits: Limits) -> Throttle<Self> {
        Throttle::new(self, limits)
    }

    /// Paces calls to `limits` on `clock` (tests drive a `herald_domain::ManualClock`).
    fn throttle_with_clock(self, limits: Limits, clock: Arc<dyn Clock>) -> Throttle<Self> {
        Throttle::with_clock(self, limits, clock)
    }
}

impl<C: Connector + Sized> ConnectorExt for C {}
