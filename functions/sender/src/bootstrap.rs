//! The sender as the shared bootstrap builds it, for the Lambda and the local runner alike.

use std::sync::Arc;
use std::time::Duration;

use herald_bootstrap::{BootstrapError, Deps};
use herald_pipeline::{Editor, Expander, ProactiveInstall, Sender};

use crate::{ConfigError, Gate, Helper, SenderConfig, SenderFunction};

/// Work stops this long before the invocation's deadline, so outcomes get recorded.
const SAFETY_MARGIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error(transparent)]
    Install(#[from] herald_pipeline::InstallConfigError),
}

impl SenderFunction {
    /// `HERALD_GRAPH_INSTALL` on: people without a personal chat get the app installed through
    /// Microsoft Graph, as the bot (its credentials), waiting in the outbox.
    pub fn from_deps(deps: &Deps) -> Result<Self, BuildError> {
        let config = SenderConfig::from_lookup(deps.lookup())?;
        let references = deps.stores.references()?;
        let outbox = deps.stores.outbox()?;
        let connector = deps.connector()?;
        let install = ProactiveInstall::from_lookup(
            deps.lookup(),
            &deps.connector_config()?.credentials,
            deps.stores.install_waits()?,
        )?;
        let proactive_install = install.is_some();
        let sender = Sender::new(
            references.clone(),
            outbox.clone(),
            connector.clone(),
            deps.events()?,
            deps.clock.clone(),
            deps.bot_app_id.clone(),
        )
        .with_install(install);
        let helper = Helper::new(deps.stores.stranded()?, sender.lease);
        Ok(Self {
            expander: Expander {
                references: references.clone(),
                outbox: outbox.clone(),
                connector: connector.clone(),
                clock: deps.clock.clone(),
                retention: deps.retention,
                proactive_install,
            },
            sender,
            editor: Some(Editor {
                outbox: outbox.clone(),
                edits: deps.stores.edit_jobs()?,
                connector,
                clock: deps.clock.clone(),
                concurrency: config.concurrency,
            }),
            outbox,
            router: config.router,
            retention: deps.retention,
            clock: deps.clock.clone(),
            in_flight: Arc::new(Gate::new(deps.in_flight(config.concurrency)?)),
            safety_margin: SAFETY_MARGIN,
            helper: Some(helper),
        })
    }
}
