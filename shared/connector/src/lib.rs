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
//!
//! # The service, and the facts this crate depends on
//!
//! - Operations (`POST /v3/conversations`, `.../activities`, `pagedmembers`, `teams/{id}`...)
//!   are those of the connector REST API reference
//!   (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference>),
//!   sent to the conversation's `serviceUrl`. A proactive message needs a stored
//!   `ConversationReference`, or a 1:1 conversation created once and reused
//!   (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages>).
//! - Authentication, both directions
//!   (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication>):
//!   outbound, a client-credentials token for `https://api.botframework.com/.default`, sent only
//!   to the connector's own hosts; inbound, an RS256 JWT from the Bot Connector whose key is in
//!   the OpenID metadata's JWKS and endorsed for the channel, issued by
//!   `https://api.botframework.com` for the bot's app id, valid within 5 minutes of skew, and
//!   naming the activity's `serviceUrl` ([`inbound`]).
//! - Rate limits (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>):
//!   per bot and thread, writes 7 per second, 8 per 2 s, 60 per 30 s and 1800 per hour (reads
//!   twice that), and a rate per tenant; a 429 asks for backoff ([`Limits::teams`]).
//! - Status codes (<https://learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability>):
//!   403 with `MessageWritesBlocked`/`ConversationBlockedByUser` means blocked by the user,
//!   `BotNotInConversationRoster` removed, 404 `ConversationNotFound` gone; 412, 429, 502, 503
//!   and 504 are worth retrying ([`ConnectorError`]).

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
pub use connector::{Call, Connector, Deadline, Executed, Operation, RateClass, Response};
pub use error::{ConnectorError, ServiceError};
pub use herald_retry::{Jitter, RetryPolicy, parse_retry_after};
pub use http::{HttpConnector, retry_after_header};
pub use model::{
    Activity, ActivityId, Attachment, ChannelAccount, ChannelData, ConversationAccount,
    ConversationList, ConversationParameters, ConversationResourceResponse, IdRef, Notification,
    PagedMembersResult, ResourceResponse, TeamDetails, TenantRef,
};
pub use retry::Retry;
pub use throttle::{
    Decision, EdgePacing, InFlight, Limiter, Limits, PaceCounters, PaceMeter, Throttle, Window,
};
pub use token::{AccessToken, TokenError, TokenProvider};
pub use trust::{DEFAULT_TRUSTED_HOSTS, TrustedHosts, is_loopback};
pub use variables::Variables;

use std::sync::Arc;

use herald_domain::pace::{MemoryPace, TenantPace};
use herald_domain::{Clock, SystemClock};

/// The connector every Herald function sends with: HTTP, paced to Teams' limits (the tenant rate
/// `HERALD_TENANT_RATE`) in this process, retried.
pub fn teams_connector(
    config: &ConnectorConfig,
) -> Result<Retry<Throttle<HttpConnector>>, ConfigError> {
    teams_connector_paced(config, Arc::new(MemoryPace::new()), Arc::new(SystemClock))
}

/// [`teams_connector`] drawing each tenant's slots from `pace`, shared with other instances.
pub fn teams_connector_paced(
    config: &ConnectorConfig,
    pace: Arc<dyn TenantPace>,
    clock: Arc<dyn Clock>,
) -> Result<Retry<Throttle<HttpConnector>>, ConfigError> {
    let limits = Limits::teams().tenant_rate(Some(config.tenant_rate));
    Ok(
        Throttle::with_pace(HttpConnector::new(config)?, limits, pace, clock)
            .retry(RetryPolicy::default()),
    )
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

    /// Paces calls to `limits`, drawing each tenant's slots from `pace` shared with other
    /// instances.
    fn throttle_shared(
        self,
        limits: Limits,
        pace: Arc<dyn TenantPace>,
        clock: Arc<dyn Clock>,
    ) -> Throttle<Self> {
        Throttle::with_pace(self, limits, pace, clock)
    }
}

impl<C: Connector + Sized> ConnectorExt for C {}
