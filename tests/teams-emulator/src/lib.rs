//! A local emulator of the Teams side of Bot Framework, for Herald's tests: the connector routes
//! with realistic answers
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference>),
//! a client-credentials token endpoint
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication>),
//! the identity routes (OpenID metadata, JWKS, minted inbound tokens), Teams' rate limits
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>), injectable
//! faults and a log of every request, and the slice of Microsoft Graph that installs the app for a
//! user (see the `graph` module docs). It binds 127.0.0.1 on a free port; nothing leaves the
//! machine.

mod config;
mod connector;
mod fault;
mod graph;
mod handle;
mod http;
pub mod identity;
mod limits;
mod log;
mod world;

pub use config::{EmulatorConfig, Latency};
pub use connector::MESSAGE_WRITES_BLOCKED_BODY;
pub use fault::{Fault, GraphFault, RetryAfter};
pub use graph::{APP_NOT_FOUND_MESSAGE, MISSING_PERMISSION_MESSAGE};
pub use handle::TeamsEmulator;
pub use limits::{CountAt, EmulatorLimits, TenantModel, busiest_window};
pub use log::{EmulatorCounters, RequestRecord};
pub use world::{
    BotDelivery, ConversationKind, Duplicate, EmulatedInstallation, EmulatedTeam, EmulatedUser,
    StoredActivity,
};
