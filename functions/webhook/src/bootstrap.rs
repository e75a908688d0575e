//! The webhook as the shared bootstrap builds it, for the Lambda and the local runner alike.

use herald_bootstrap::{BootstrapError, Deps};
use herald_connector::inbound::{ConfigError as InboundConfigError, JwtValidator};

use crate::{InboundAuth, Webhook, WebhookConfig, inbound_auth_config};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error("inbound token validation: {0}")]
    Inbound(#[from] InboundConfigError),
}

impl Webhook {
    /// Validates Bot Framework tokens for `MicrosoftAppId`; only a local run without one
    /// ([`Deps::anonymous`]) accepts unauthenticated activities, and those from loopback only.
    /// Deliveries waiting for an installation through Graph are resumed when the outbox is set.
    pub fn from_deps(deps: &Deps) -> Result<Self, BuildError> {
        let config = WebhookConfig::with_app(deps.bot_app_id.clone(), deps.lookup())?;
        let auth = if deps.anonymous()? {
            InboundAuth::LoopbackOnly
        } else {
            InboundAuth::BotFramework(JwtValidator::new(inbound_auth_config(
                &config.bot_app_id,
                deps.lookup(),
            ))?)
        };
        Ok(Self {
            store: deps.stores.references()?,
            schedules: deps.stores.schedules()?,
            connector: deps.connector()?,
            auth,
            events: deps.events()?,
            clock: deps.clock.clone(),
            config,
            // Without an outbox (no HERALD_OUTBOX_TABLE) there are no installation waits, and
            // no copies to act on or read.
            install_waits: deps.stores.install_waits().ok(),
            interactions: deps.stores.interactions().ok(),
        })
    }
}
