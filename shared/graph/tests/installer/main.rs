//! `GraphInstaller` against the Teams emulator's Graph (real HTTP on 127.0.0.1): installing and
//! finding an existing installation (`install`), Graph's refusals (`refusals`), retries and the
//! deadline (`retry`), and the per-tenant Graph tokens (`tokens`).

mod install;
mod refusals;
mod retry;
mod tokens;

use std::time::Duration;

use herald_connector::{AppType, Cloud, Credentials, Deadline, RetryPolicy, Secret};
use herald_domain::{AadObjectId, BotAppId, TenantId};
use herald_graph::{GraphConfig, GraphError, GraphInstaller, Installation, Installer};
use herald_teams_emulator::{EmulatedUser, EmulatorConfig, TeamsEmulator};
use serde_json::Value;

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const OTHER_TENANT: &str = "22222222-2222-2222-2222-222222222222";
const TEAMS_APP: &str = "6c7b2ab8-1f42-4b5e-9e0a-1234567890ab";

struct Harness {
    emulator: TeamsEmulator,
    installer: GraphInstaller,
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(10),
        ..RetryPolicy::default()
    }
}

fn credentials(emulator: &TeamsEmulator) -> Credentials {
    let config = emulator.config();
    Credentials::App {
        app_id: BotAppId::new(&config.app_id).unwrap(),
        password: Secret::new(&config.app_password),
        app_type: AppType::SingleTenant,
        tenant_id: Some(TenantId::new(&config.app_tenant_id).unwrap()),
        cloud: Cloud::Public,
        token_url: None,
    }
}

fn graph_config(emulator: &TeamsEmulator, teams_app_id: &str) -> GraphConfig {
    GraphConfig::new(teams_app_id, Cloud::Public)
        .base_url(emulator.graph_base_url().parse().unwrap())
        .token_url(emulator.graph_token_url())
        .request_timeout(Duration::from_secs(5))
}

/// An installer for `config` authenticating with `credentials`, retrying per [`policy`].
fn installer(config: GraphConfig, credentials: Credentials) -> GraphInstaller {
    GraphInstaller::new(config, credentials, reqwest::Client::new(), policy())
}

/// Installs the app for `user`, in the user's own tenant, through `installer`.
async fn install_for(
    installer: &GraphInstaller,
    user: &EmulatedUser,
    deadline: Deadline,
) -> Result<Installation, GraphError> {
    installer
        .install_for_user(
            &TenantId::new(&user.tenant_id).unwrap(),
            &AadObjectId::new(&user.aad_object_id).unwrap(),
            deadline,
        )
        .await
}

impl Harness {
    async fn new() -> Self {
        Self::with(EmulatorConfig::default(), TEAMS_APP).await
    }

    async fn with(config: EmulatorConfig, teams_app_id: &str) -> Self {
        let emulator = TeamsEmulator::start(config).await.unwrap();
        emulator.add_catalog_app(TEAMS_APP);
        let installer = installer(
            graph_config(&emulator, teams_app_id),
            credentials(&emulator),
        );
        Self {
            emulator,
            installer,
        }
    }

    fn user(&self, tenant: &str, name: &str) -> EmulatedUser {
        self.emulator.add_user(tenant, name)
    }

    async fn install(&self, user: &EmulatedUser) -> Result<Installation, GraphError> {
        self.install_by(user, Deadline::after(Duration::from_secs(20)))
            .await
    }

    async fn install_by(
        &self,
        user: &EmulatedUser,
        deadline: Deadline,
    ) -> Result<Installation, GraphError> {
        install_for(&self.installer, user, deadline).await
    }

    fn graph_ops(&self, operation: &str) -> usize {
        self.emulator
            .graph_requests()
            .iter()
            .filter(|r| r.operation == operation)
            .count()
    }

    fn token_requests(&self) -> Vec<(String, Value)> {
        self.emulator
            .requests()
            .into_iter()
            .filter(|r| r.operation == "token")
            .map(|r| (r.tenant.unwrap_or_default(), r.body.unwrap_or_default()))
            .collect()
    }
}
