use thiserror::Error;

/// The bus used when `HERALD_EVENT_BUS` is unset: the account's default bus.
pub const DEFAULT_BUS: &str = "default";
/// The `source` of Herald's events when `HERALD_EVENT_SOURCE` is unset.
pub const DEFAULT_SOURCE: &str = "herald";

/// Where events go and what they are signed as, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// Event bus name or ARN (`HERALD_EVENT_BUS`, default `default`).
    pub bus: String,
    /// The events' `source` (`HERALD_EVENT_SOURCE`, default `herald`); rules match on it.
    pub source: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        reason: &'static str,
    },
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            bus: DEFAULT_BUS.to_owned(),
            source: DEFAULT_SOURCE.to_owned(),
        }
    }
}

impl EventsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str, default: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let config = Self {
            bus: var("HERALD_EVENT_BUS", DEFAULT_BUS),
            source: var("HERALD_EVENT_SOURCE", DEFAULT_SOURCE),
        };
        config.validate()?;
        Ok(config)
    }

    /// EventBridge's own limits, checked at start-up rather than on the first failed publish.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name, reason| Err(ConfigError::Invalid { name, reason });
        if self.bus.len() > 1600 {
            return invalid("HERALD_EVENT_BUS", "longer than 1600 characters");
        }
        if self.source.len() > 256 {
            return invalid("HERALD_EVENT_SOURCE", "longer than 256 characters");
        }
        if self.source.starts_with("aws.") {
            return invalid("HERALD_EVENT_SOURCE", "the aws. prefix is reserved for AWS");
        }
        if self
            .bus
            .chars()
            .chain(self.source.chars())
            .any(char::is_control)
        {
            return invalid(
                "HERALD_EVENT_BUS/HERALD_EVENT_SOURCE",
                "contains control characters",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(
            EventsConfig::from_lookup(|_| None).unwrap(),
            EventsConfig::default()
        );
        assert_eq!(EventsConfig::default().bus, "default");
        assert_eq!(EventsConfig::default().source, "herald");
        let config = EventsConfig::from_lookup(|n| match n {
            "HERALD_EVENT_BUS" => Some(" herald-bus ".into()),
            "HERALD_EVENT_SOURCE" => Some("acme.herald".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.bus, "herald-bus");
        assert_eq!(config.source, "acme.herald");
        let blank = EventsConfig::from_lookup(|_| Some("  ".into())).unwrap();
        assert_eq!(blank, EventsConfig::default());
    }

    #[test]
    fn rejects_reserved_and_oversized_values() {
        let aws =
            EventsConfig::from_lookup(|n| (n == "HERALD_EVENT_SOURCE").then(|| "aws.s3".into()));
        assert!(matches!(
            aws,
            Err(ConfigError::Invalid {
                name: "HERALD_EVENT_SOURCE",
                ..
            })
        ));
        let long =
            EventsConfig::from_lookup(|n| (n == "HERALD_EVENT_BUS").then(|| "b".repeat(1601)));
        assert!(long.is_err());
    }
}
