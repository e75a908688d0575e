use std::time::Duration;

use herald_pipeline::request::CallbackHosts;

use crate::auth::ApiKeys;
use crate::error::ConfigError;

/// The notify API's settings, from the environment (the retention is the bootstrap's).
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub api_keys: ApiKeys,
    /// Connector calls in flight at once while updating or retracting, `HERALD_EDIT_CONCURRENCY`.
    pub edit_concurrency: usize,
    /// When an update or retraction stops and answers, `HERALD_EDIT_DEADLINE_SECONDS`: API
    /// Gateway gives up on a Lambda after 29 s, so the default leaves room to answer.
    pub edit_deadline: Duration,
    /// Hosts a notification's `callback` may name, `HERALD_CALLBACK_HOSTS` (comma-separated).
    pub callback_hosts: CallbackHosts,
}

/// Larger bodies get 413 before parsing; a valid request renders to under 28 KB anyway, and the
/// data bound into a card is the only part that can legitimately be bigger.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub const DEFAULT_EDIT_CONCURRENCY: usize = 8;
pub const DEFAULT_EDIT_DEADLINE: Duration = Duration::from_secs(20);

impl NotifyConfig {
    /// Reads the keys (required) and the optional tuning variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let api_keys = ApiKeys::from_lookup(&lookup)?;
        let number = |name: &'static str, min: u64, max: u64| -> Result<Option<u64>, ConfigError> {
            let Some(raw) = lookup(name).filter(|v| !v.trim().is_empty()) else {
                return Ok(None);
            };
            raw.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(Some)
                .ok_or_else(|| ConfigError::Invalid {
                    name,
                    problem: format!("{raw:?} is not a whole number from {min} to {max}"),
                })
        };
        Ok(Self {
            api_keys,
            edit_concurrency: number("HERALD_EDIT_CONCURRENCY", 1, 64)?
                .map_or(DEFAULT_EDIT_CONCURRENCY, |n| n as usize),
            edit_deadline: number("HERALD_EDIT_DEADLINE_SECONDS", 1, 900)?
                .map_or(DEFAULT_EDIT_DEADLINE, Duration::from_secs),
            callback_hosts: CallbackHosts::parse(
                &lookup("HERALD_CALLBACK_HOSTS").unwrap_or_default(),
            ),
        })
    }

    /// Defaults with the given keys (tests, the local runner).
    #[must_use]
    pub fn with_keys(api_keys: ApiKeys) -> Self {
        Self {
            api_keys,
            edit_concurrency: DEFAULT_EDIT_CONCURRENCY,
            edit_deadline: DEFAULT_EDIT_DEADLINE,
            callback_hosts: CallbackHosts::default(),
        }
    }

    /// The same, allowing callbacks to these hosts.
    #[must_use]
    pub fn with_callback_hosts(mut self, hosts: CallbackHosts) -> Self {
        self.callback_hosts = hosts;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tuning_and_names_bad_values() {
        let config = NotifyConfig::from_lookup(|n| match n {
            "HERALD_API_KEY" => Some("k".into()),
            "HERALD_EDIT_CONCURRENCY" => Some("4".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.edit_concurrency, 4);
        assert_eq!(config.edit_deadline, DEFAULT_EDIT_DEADLINE);
        for (name, value) in [
            ("HERALD_EDIT_CONCURRENCY", "0"),
            ("HERALD_EDIT_CONCURRENCY", "many"),
            ("HERALD_EDIT_DEADLINE_SECONDS", "-1"),
        ] {
            let error = NotifyConfig::from_lookup(|n| match n {
                "HERALD_API_KEY" => Some("k".into()),
                n if n == name => Some(value.into()),
                _ => None,
            })
            .unwrap_err();
            assert!(matches!(error, ConfigError::Invalid { name: n, .. } if n == name));
        }
        assert!(matches!(
            NotifyConfig::from_lookup(|_| None),
            Err(ConfigError::NoApiKey)
        ));
    }
}
