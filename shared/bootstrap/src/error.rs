use thiserror::Error;

/// Why a function could not be built.
#[derive(Debug, Error)]
pub enum BootstrapError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error(transparent)]
    Settings(#[from] herald_settings::SettingsError),
    #[error(transparent)]
    Connector(#[from] herald_connector::ConfigError),
    #[error(transparent)]
    Events(#[from] herald_events::ConfigError),
    #[error(transparent)]
    Store(#[from] herald_store::StoreError),
}
