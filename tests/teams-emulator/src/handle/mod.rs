//! [`TeamsEmulator`], the running emulator a test holds: it starts the server and is how the test
//! shapes the world, injects faults and reads what happened.

mod controls;
mod directory;
mod graph;
mod interact;
mod traffic;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::EmulatorConfig;
use crate::http::{Shared, serve};
use crate::identity::Identity;
use crate::world::World;

/// A running emulator. Dropping it stops the server.
pub struct TeamsEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for TeamsEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsEmulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TeamsEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TeamsEmulator {
    /// Binds 127.0.0.1 (on a free port unless `config.port` names one) and starts serving.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let identity = Identity::new(&config.app_id);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            world: Mutex::new(World::new(config.limits.clone(), config.latency)),
            config,
            identity: identity.clone(),
            http,
            base: format!("http://{addr}"),
        });
        let router = crate::connector::router(&shared)
            .merge(crate::graph::router(&shared))
            .merge(identity.router());
        let task = tokio::spawn(serve(listener, router));
        Ok(Self { addr, shared, task })
    }

    #[must_use]
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// The inbound identity (OpenID metadata, JWKS, minted tokens) this server also serves.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    /// `127.0.0.1:PORT`, the entry for `HERALD_TRUSTED_SERVICE_HOSTS`.
    #[must_use]
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`: stands in for `https://login.microsoftonline.com`.
    #[must_use]
    pub fn login_host(&self) -> String {
        self.shared.base.clone()
    }

    /// The serviceUrl of every conversation here, like `https://smba.trafficmanager.net/amer/`.
    #[must_use]
    pub fn service_url(&self) -> String {
        self.shared.service_url()
    }

    /// `{login_host}/{app tenant}`, the OAuth authority of the bot.
    #[must_use]
    pub fn authority(&self) -> String {
        format!("{}/{}", self.login_host(), self.shared.config.app_tenant_id)
    }

    /// The client-credentials token endpoint (`HERALD_TOKEN_URL`).
    #[must_use]
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v2.0/token", self.authority())
    }

    /// The variables a deployment sets to point a connector here (herald-connector's
    /// `ConnectorConfig::from_lookup` reads them): the bot registration, its token endpoint and
    /// this host, trusted with the token.
    #[must_use]
    pub fn connector_env(&self) -> HashMap<&'static str, String> {
        let config = self.config();
        HashMap::from([
            ("MicrosoftAppId", config.app_id.clone()),
            ("MicrosoftAppPassword", config.app_password.clone()),
            ("MicrosoftAppTenantId", config.app_tenant_id.clone()),
            ("HERALD_TOKEN_URL", self.token_url()),
            ("HERALD_TRUSTED_SERVICE_HOSTS", self.host_port()),
        ])
    }

    /// Stands in for `https://login.botframework.com/v1/.well-known/openidconfiguration`.
    #[must_use]
    pub fn openid_metadata_url(&self) -> String {
        format!(
            "{}{}",
            self.login_host(),
            crate::identity::OPENID_METADATA_PATH
        )
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.shared.world()
    }
}
