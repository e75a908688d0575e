use herald_domain::{BotAppId, DomainError};
use thiserror::Error;

/// Where the store keeps its data, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// DynamoDB table of conversation references (`HERALD_REFERENCES_TABLE`).
    pub references_table: String,
    /// The bot this deployment sends as (`MicrosoftAppId`); references of other app ids are
    /// never returned.
    pub bot_app_id: BotAppId,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {source}")]
    Invalid {
        name: &'static str,
        source: DomainError,
    },
}

impl StoreConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let bot_app_id =
            BotAppId::new(var("MicrosoftAppId")?).map_err(|source| ConfigError::Invalid {
                name: "MicrosoftAppId",
                source,
            })?;
        Ok(Self {
            references_table: var("HERALD_REFERENCES_TABLE")?,
            bot_app_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_names_missing_variables() {
        let config = StoreConfig::from_lookup(|n| match n {
            "MicrosoftAppId" => Some("app".into()),
            "HERALD_REFERENCES_TABLE" => Some("herald-references".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.references_table, "herald-references");
        let missing = StoreConfig::from_lookup(|n| (n == "MicrosoftAppId").then(|| "a".into()));
        assert!(matches!(
            missing,
            Err(ConfigError::Missing("HERALD_REFERENCES_TABLE"))
        ));
    }
}
