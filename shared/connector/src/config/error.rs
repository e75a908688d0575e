//! Why the connector's configuration could not be built.

use thiserror::Error;

/// Why the configuration could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{name} has an invalid value {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    /// `value` of variable `name` cannot be used, for `reason`.
    #[must_use]
    pub fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            name,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}
