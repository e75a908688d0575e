//! Herald's deployed shape under load, end to end, on the bed with DynamoDB Local and the Teams
//! emulator as Teams: people install the app through the webhook (signed `installationUpdate`
//! activities posted to the HTTP API, as Teams posts them), then a broadcast (`POST /api/notify`),
//! a schedule fired at each recipient's own wall-clock time (`POST /api/schedules` with
//! `timeZone: "recipient"`, fired by scheduler ticks) and an EventBridge event matched by an event
//! route all go out through the real functions, optionally under a [`ChaosPlan`]. The run ends
//! when every notification is `done`; [`Report`] then sets what Herald says (`GET
//! /api/notifications/{id}` and its deliveries) against what the emulator received.
//!
//! The chaos test (`tests/chaos`) runs it with every fault; the `deployed` benchmark without.

mod chaos;
mod deployment;
mod load;
mod people;
mod report;

use std::time::{Duration, Instant};

use thiserror::Error;

pub use chaos::{ChaosPlan, FaultTally, Injection};
pub use deployment::{API_KEY, Deployment, bed_config_for};
pub use load::{Expected, Load};
pub use people::{Person, ZONES, tenant_ids};
pub use report::{NotificationReport, Report, Sends};

use crate::error::BedError;

/// Why a scenario could not run to its end (what it found at the end is a [`Report`]).
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error(transparent)]
    Bed(#[from] BedError),
    #[error("the Teams emulator: {0}")]
    Emulator(#[source] std::io::Error),
    #[error("HTTP API: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{what} answered {status}: {body}")]
    Api {
        what: String,
        status: u16,
        body: String,
    },
    #[error("{0}")]
    Stalled(String),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ScenarioConfig {
    pub tenants: usize,
    pub people_per_tenant: usize,
    /// Teams' tenant rate the emulator enforces and Herald paces to (requests per second per
    /// tenant; the template's `TenantRate`).
    pub tenant_rate: u32,
    /// Installs posted to the webhook at once.
    pub install_concurrency: usize,
    /// How often the scheduler's tick is fired (production: once a minute). Its stranded-work
    /// sweep wakes released and orphaned deliveries, so a faster tick shortens the run.
    pub tick_every: Duration,
    /// How long the deliveries may take to finish after the load was posted.
    pub drain_timeout: Duration,
    /// Faults to inject while the load runs; `None` for a clean run.
    pub chaos: Option<ChaosPlan>,
}

impl ScenarioConfig {
    /// 3,000 people over 3 tenants at Teams' published tenant rate of 50 requests per second
    /// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>).
    #[must_use]
    pub fn standard() -> Self {
        Self {
            tenants: 3,
            people_per_tenant: 1000,
            tenant_rate: 50,
            install_concurrency: 8,
            tick_every: Duration::from_secs(2),
            drain_timeout: Duration::from_secs(600),
            chaos: None,
        }
    }

    /// The most sends per second the emulator accepts over every tenant: the ceiling a run's
    /// throughput is measured against.
    #[must_use]
    pub fn ceiling(&self) -> f64 {
        f64::from(self.tenant_rate) * self.tenants as f64
    }
}

/// Deploys, installs everyone, posts the load, injects the faults, waits for every notification to
/// be done and reports. A deployment that cannot finish is an error; what went wrong in the
/// deliveries is in the report's [`Report::problems`].
pub async fn run(config: &ScenarioConfig) -> Result<Report, ScenarioError> {
    let deployment = Deployment::start(config.tenant_rate, &tenant_ids(config.tenants)).await?;
    let installing = Instant::now();
    let people = deployment
        .install(
            config.tenants,
            config.people_per_tenant,
            config.install_concurrency,
        )
        .await?;
    let install_time = installing.elapsed();
    let ticker = deployment.tick_every(config.tick_every)?;
    let load = Load::post(&deployment, &people).await?;
    let started = Instant::now();
    let injected = chaos::Injected::default();
    let drain = load.drain(&deployment, config.drain_timeout);
    let drained = match &config.chaos {
        None => drain.await,
        Some(plan) => {
            tokio::pin!(drain);
            let drained = tokio::select! {
                result = &mut drain => result,
                () = chaos::inject(&deployment, plan, started, &injected) => drain.await,
            };
            chaos::clear(&deployment);
            drained
        }
    };
    let duration = started.elapsed();
    drop(ticker);
    let faults = injected.tally(&deployment);
    let mut report =
        Report::read(&deployment, &load, &people, faults, duration, install_time).await?;
    report.stalled = drained.err().map(|e| e.to_string());
    report.ceiling = config.ceiling();
    report.tenant_rate = f64::from(config.tenant_rate);
    Ok(report)
}
