//! What the connector's emulator tests and its benchmark share: the deployment variables that
//! point a connector at a running Teams emulator.

use std::collections::HashMap;

use herald_connector::ConnectorConfig;
use herald_teams_emulator::TeamsEmulator;

/// The variables a deployment would set, pointing at `emulator`: its bot registration, its token
/// endpoint, and its host trusted with the token.
pub fn emulator_env(emulator: &TeamsEmulator) -> HashMap<&'static str, String> {
    let config = emulator.config();
    HashMap::from([
        ("MicrosoftAppId", config.app_id.clone()),
        ("MicrosoftAppPassword", config.app_password.clone()),
        ("MicrosoftAppTenantId", config.app_tenant_id.clone()),
        ("HERALD_TOKEN_URL", emulator.token_url()),
        ("HERALD_TRUSTED_SERVICE_HOSTS", emulator.host_port()),
    ])
}

/// The connector configuration `env` reads as.
pub fn config_from(env: &HashMap<&'static str, String>) -> ConnectorConfig {
    ConnectorConfig::from_lookup(|name| env.get(name).cloned()).expect("a valid configuration")
}
