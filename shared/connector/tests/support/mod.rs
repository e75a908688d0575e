//! What the connector's emulator tests and its benchmark share: reading the deployment variables
//! that point a connector at a running Teams emulator (`TeamsEmulator::connector_env`).

use std::collections::HashMap;

use herald_connector::ConnectorConfig;

/// The connector configuration `env` reads as.
pub fn config_from(env: &HashMap<&'static str, String>) -> ConnectorConfig {
    ConnectorConfig::from_lookup(|name| env.get(name).cloned()).expect("a valid configuration")
}
