//! A local emulator of the Teams side of Bot Framework, for Herald's tests: the connector routes
//! (PROTOCOL 1) with realistic answers, a client-credentials token endpoint, the identity routes
//! (OpenID metadata, JWKS, minted inbound tokens), Teams' rate limits, injectable faults and a
//! log of every request, and the slice of Microsoft Graph that installs the app for a user (see
//! the `graph` module docs). It binds 127.0.0.1 on a free port; nothing leaves the machine.

mod config;
mod graph;
pub mod identity;
mod server;
mod state;

pub use config::{EmulatorConfig, EmulatorLimits, Fault, GraphFault, RetryAfter};
pub use graph::{APP_NOT_FOUND_MESSAGE, MISSING_PERMISSION_MESSAGE};
pub use server::{MESSAGE_WRITES_BLOCKED_BODY, TeamsEmulator};
pub use state::{
    BotDelivery, ConversationKind, EmulatedInstallation, EmulatedTeam, EmulatedUser, RequestRecord,
    StoredActivity,
};
