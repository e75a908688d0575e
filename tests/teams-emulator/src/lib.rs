//! A local emulator of the Teams side of Bot Framework, for Herald's tests: the connector routes
//! (PROTOCOL 1) with realistic answers, a client-credentials token endpoint, the identity routes
//! (OpenID metadata, JWKS, minted inbound tokens), Teams' rate limits, injectable faults and a
//! log of every request. It binds 127.0.0.1 on a free port; nothing leaves the machine.

mod config;
pub mod identity;
mod server;
mod state;

pub use config::{EmulatorConfig, EmulatorLimits, Fault, RetryAfter};
pub use server::{MESSAGE_WRITES_BLOCKED_BODY, TeamsEmulator};
pub use state::{ConversationKind, EmulatedTeam, EmulatedUser, RequestRecord, StoredActivity};
