//! A local emulator of the Teams side of Bot Framework, for Herald's tests: the connector routes
//! with realistic answers
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference>),
//! a client-credentials token endpoint
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication>),
//! the identity routes (OpenID metadata, JWKS, minted inbound tokens), Teams' rate limits
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>), injectable
//! faults and a log of every request, and the slice of Microsoft Graph that installs the app for a
//! user (see the `graph` module docs). It also acts as the organisation's people towards the bot:
//! card actions and read receipts, signed like Teams' ([`TeamsEmulator::interact`]). It binds
//! 127.0.0.1 on a free port; nothing leaves the machine.
//!
//! # For load and resilience tests
//!
//! - **Rate limits, lenient or strict.** [`EmulatorLimits::teams`] enforces Teams' published
//!   limits leniently (a token bucket per tenant, windows with a small tolerance, counted when
//!   admitted). [`EmulatorLimits::strict`] enforces the same limits exactly: every request counts
//!   at the instant it arrives, windows have no tolerance, and the tenant rate is a sliding window
//!   of one second ([`TenantModel::SlidingWindow`]): a request is answered 429 with `Retry-After`
//!   when the tenant already had `tenant_rate` *accepted* requests in the second before it
//!   (refused requests do not count). [`CountAt`] and [`TenantModel`] can also be chosen apart.
//! - **Counters.** [`TeamsEmulator::counters`] ([`EmulatorCounters`]: requests, 429s answered,
//!   requests refused by the limiter, requests accepted, activities posted, duplicates);
//!   [`TeamsEmulator::accepted_arrivals`] / [`TeamsEmulator::accepted_arrivals_in`] with
//!   [`busiest_window`] (or [`TeamsEmulator::busiest_tenant_window`]) check that no window ever
//!   held more than N accepted requests; [`TeamsEmulator::activity_counts`] and
//!   [`TeamsEmulator::duplicates`] check that each chat got exactly one copy of a message.
//! - **Latency jitter.** [`EmulatorConfig::latency`] / [`TeamsEmulator::set_latency`] with a
//!   [`Latency`] delay each connector answer by a uniformly random time in `[min, max]`, after the
//!   limiter counted the arrival: paced requests arrive in order and are answered out of order.
//! - **Outages.** [`TeamsEmulator::outage`] with an [`Outage`] for a duration: the token endpoint
//!   down (503) or unreachable (connections closed), a 429 storm on every send, 5xx on every
//!   send; [`TeamsEmulator::inject_sends_times`] answers the next N sends with a fault (a burst of
//!   502/503), [`TeamsEmulator::inject_token_times`] the next N token requests;
//!   [`TeamsEmulator::end_outages`] ends them all. A conversation's own faults
//!   ([`TeamsEmulator::inject`]) answer first.

mod config;
mod connector;
mod fault;
mod graph;
mod handle;
mod http;
pub mod identity;
mod interact;
mod limits;
mod log;
mod world;

pub use config::{EmulatorConfig, Latency};
pub use connector::MESSAGE_WRITES_BLOCKED_BODY;
pub use fault::{Fault, GraphFault, Outage, RetryAfter};
pub use graph::{APP_NOT_FOUND_MESSAGE, MISSING_PERMISSION_MESSAGE};
pub use handle::TeamsEmulator;
pub use interact::Interaction;
pub use limits::{CountAt, EmulatorLimits, TenantModel, busiest_window};
pub use log::{EmulatorCounters, RequestRecord};
pub use world::{
    BotDelivery, BotExchange, ConversationKind, Duplicate, EmulatedInstallation, EmulatedTeam,
    EmulatedUser, StoredActivity,
};
