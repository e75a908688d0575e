use chrono::Duration;
use herald_domain::TimeZone;
use thiserror::Error;

/// The scheduler's settings, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// `HERALD_MAX_LATENESS` (minutes, default 60): older missed fires are recorded, not sent.
    pub max_lateness: Duration,
    /// `HERALD_DEFAULT_TIME_ZONE` (default UTC): for recipients whose zone Herald does not know.
    pub default_zone: TimeZone,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_lateness: Duration::hours(1),
            default_zone: TimeZone::from(chrono_tz::UTC),
        }
    }
}

/// Why the scheduler could not be built: its own settings, or what every function shares.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error(transparent)]
    Bootstrap(#[from] herald_bootstrap::BootstrapError),
}

impl SchedulerConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let defaults = Self::default();
        let minutes = |name: &'static str, default: i64, max: i64| match get(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or(ConfigError::Invalid {
                    name,
                    problem: format!("{v:?} is not a whole number from 1 to {max}"),
                }),
        };
        let default_zone = match get("HERALD_DEFAULT_TIME_ZONE") {
            None => defaults.default_zone,
            Some(v) => v
                .parse()
                .map_err(|e: herald_domain::DomainError| ConfigError::Invalid {
                    name: "HERALD_DEFAULT_TIME_ZONE",
                    problem: e.to_string(),
                })?,
        };
        Ok(Self {
            max_lateness: Duration::minutes(minutes("HERALD_MAX_LATENESS", 60, 7 * 24 * 60)?),
            default_zone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings() {
        let config = SchedulerConfig::from_lookup(|n| match n {
            "HERALD_MAX_LATENESS" => Some("90".into()),
            "HERALD_DEFAULT_TIME_ZONE" => Some("Europe/Paris".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.max_lateness, Duration::minutes(90));
        assert_eq!(config.default_zone.name(), "Europe/Paris");
        assert!(SchedulerConfig::from_lookup(|_| Some("Mars/Base".into())).is_err());
    }
}
