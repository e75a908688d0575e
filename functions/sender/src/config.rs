use thiserror::Error;

use crate::{RouteError, Router};

/// Deliveries in flight per instance at most, unless `HERALD_SENDER_CONCURRENCY` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 256;

/// The sender's settings, from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct SenderConfig {
    /// `HERALD_SENDER_CONCURRENCY` (default 256): deliveries in flight per instance at most;
    /// below it, as many as the active tenants' rate x Teams' latency need.
    pub concurrency: usize,
    /// `HERALD_EVENT_ROUTES`: a JSON array of event routes.
    pub router: Router,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error(transparent)]
    Routes(#[from] RouteError),
}

fn number<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    valid: impl Fn(&T) -> bool,
) -> Result<T, ConfigError> {
    match lookup(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<T>()
            .ok()
            .filter(valid)
            .ok_or(ConfigError::Invalid {
                name,
                problem: format!("{v:?} is out of range"),
            }),
    }
}

impl SenderConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let router = match lookup("HERALD_EVENT_ROUTES").filter(|v| !v.trim().is_empty()) {
            Some(routes) => Router::from_json(&routes)?,
            None => Router::default(),
        };
        Ok(Self {
            concurrency: number(
                &lookup,
                "HERALD_SENDER_CONCURRENCY",
                DEFAULT_CONCURRENCY,
                |c| (1..=1000).contains(c),
            )?,
            router,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_defaults_and_rejects_nonsense() {
        let config = SenderConfig::from_lookup(|_| None).unwrap();
        assert_eq!(config.concurrency, DEFAULT_CONCURRENCY);
        let bad = SenderConfig::from_lookup(|n| match n {
            "HERALD_SENDER_CONCURRENCY" => Some("0".into()),
            _ => None,
        });
        assert!(matches!(bad, Err(ConfigError::Invalid { .. })));
    }
}
