//! The scheduler as the shared bootstrap builds it, for the Lambda and the local runner alike.

use herald_bootstrap::Deps;
use herald_pipeline::{FollowUpSweep, InstallSweep, StrandedSweep};

use crate::{ConfigError, Scheduler, SchedulerConfig};

impl Scheduler {
    /// Fires schedules, ends installation waits whose time ran out (cheap when nothing waits:
    /// one query, and it ends waits left from when proactive installation was on), wakes
    /// stranded work and sends follow-ups that came due.
    pub fn from_deps(deps: &Deps) -> Result<Self, ConfigError> {
        let outbox = deps.stores.outbox()?;
        let references = deps.stores.references()?;
        Ok(Self {
            schedules: deps.stores.schedules()?,
            outbox: outbox.clone(),
            references: references.clone(),
            clock: deps.clock.clone(),
            retention: deps.retention,
            config: SchedulerConfig::from_lookup(deps.lookup())?,
            install_sweep: Some(InstallSweep::new(
                deps.stores.install_waits()?,
                outbox.clone(),
                references,
                deps.events()?,
                deps.clock.clone(),
            )),
            stranded_sweep: Some(StrandedSweep::new(
                deps.stores.stranded()?,
                deps.clock.clone(),
            )),
            follow_up_sweep: Some(FollowUpSweep {
                follow_ups: deps.stores.follow_ups()?,
                outbox: outbox.clone(),
                clock: deps.clock.clone(),
                retention: deps.retention,
            }),
        })
    }
}
