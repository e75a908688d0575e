//! Herald's notify API: `POST /api/notify` and the reports and edits around it.
//!
//! [`router`] builds one `axum::Router` from a [`Notify`]: the Lambda binary hands it to
//! `lambda_http::run`, the local runner mounts it beside the webhook's, and tests call it in
//! process. Every route is described in `openapi.json` beside this crate, which the tests check
//! against this code.

mod audience;
mod auth;
mod config;
mod edit;
mod error;
mod extract;
mod installations;
mod notifications;
mod query;
mod reach;
mod render;
mod report;
mod routes;
mod schedule_preview;
mod schedules;

use std::sync::Arc;

use herald_bootstrap::Deps;
use herald_connector::Connector;
use herald_domain::Clock;
use herald_store::{EditJobs, OutboxStore, ReferenceStore, ScheduleStore};

pub use audience::AUDIENCE_DEADLINE;
pub use auth::{ApiKeys, AuthFailure, Caller};
pub use config::{DEFAULT_EDIT_CONCURRENCY, DEFAULT_EDIT_DEADLINE, MAX_BODY_BYTES, NotifyConfig};
pub use error::ConfigError;
pub use extract::JsonBody;
pub use query::{DEFAULT_LIMIT, MAX_LIMIT};
pub use routes::{router, with_api_key};
pub use schedule_preview::{DEFAULT_PREVIEW_COUNT, MAX_PREVIEW_COUNT};

/// Recorded as the notification's `source`.
pub const SOURCE: &str = "api";

/// What the API works with; built once per process and shared by every request.
pub struct Notify {
    /// Installations report (`GET /api/installations`) and audience estimates (read only).
    pub references: Arc<dyn ReferenceStore>,
    pub outbox: Arc<dyn OutboxStore>,
    /// The sender's edit job, held while a request edits the sent copies itself.
    pub edits: Arc<dyn EditJobs>,
    /// `/api/schedules`.
    pub schedules: Arc<dyn ScheduleStore>,
    /// Updates and retracts delivered copies.
    pub connector: Arc<dyn Connector>,
    pub clock: Arc<dyn Clock>,
    /// How long notifications and deliveries are kept (DynamoDB TTL).
    pub retention: chrono::Duration,
    pub config: NotifyConfig,
}

impl Notify {
    /// The API over the bootstrap's stores and connector; refuses to start without an API key.
    pub fn from_deps(deps: &Deps) -> Result<Self, ConfigError> {
        Ok(Self {
            references: deps.stores.references()?,
            outbox: deps.stores.outbox()?,
            edits: deps.stores.edit_jobs()?,
            schedules: deps.stores.schedules()?,
            connector: deps.connector()?,
            clock: deps.clock.clone(),
            retention: deps.retention,
            config: NotifyConfig::from_lookup(deps.lookup())?,
        })
    }
}
