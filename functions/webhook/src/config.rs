use std::time::Duration;

use herald_domain::{BotAppId, DomainError, TimeZone};
use herald_pipeline::request::CallbackHosts;
use thiserror::Error;

use crate::WelcomeText;
use crate::callback::CallbackConfig;

/// The webhook's settings, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `MicrosoftAppId`: the bot registration; tokens must be issued for it.
    pub bot_app_id: BotAppId,
    pub welcome: WelcomeText,
    /// Larger bodies get 413 before any parsing (`HERALD_MAX_ACTIVITY_BYTES`).
    pub max_body_bytes: usize,
    /// The zone chat reminders use for a user whose zone Herald does not know
    /// (`HERALD_DEFAULT_TIME_ZONE`, default UTC), as the scheduler uses it.
    pub default_time_zone: TimeZone,
    /// Where card actions may be POSTed, how they are signed, how long Herald waits.
    pub callbacks: CallbackConfig,
}

/// How long a callback may take by default: Teams waits about 15 s for an invoke's answer.
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Shorter secrets are too easy to guess.
const MIN_CALLBACK_SECRET_LEN: usize = 16;

/// Activities are a few KB; Teams caps messages at about 28 KB and card submits stay small.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{0} is not set; the webhook cannot validate Bot Framework tokens without it")]
    Missing(&'static str),
    #[error("{name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
}

impl WebhookConfig {
    /// Reads `MicrosoftAppId` (required), `HERALD_BOT_NAME`, `HERALD_WELCOME_TEXT`,
    /// `HERALD_MAX_ACTIVITY_BYTES`, `HERALD_DEFAULT_TIME_ZONE` and the callbacks'
    /// `HERALD_CALLBACK_HOSTS`, `HERALD_CALLBACK_SECRET` and `HERALD_CALLBACK_TIMEOUT_MS` through
    /// `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let app = get("MicrosoftAppId").ok_or(ConfigError::Missing("MicrosoftAppId"))?;
        let bot_app_id = BotAppId::new(app).map_err(|e: DomainError| ConfigError::Invalid {
            name: "MicrosoftAppId",
            problem: e.to_string(),
        })?;
        Self::with_app(bot_app_id, lookup)
    }

    /// The same, for an app id decided by the caller (the local runner's placeholder app).
    pub fn with_app(
        bot_app_id: BotAppId,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let defaults = WelcomeText::default();
        let max_body_bytes = match get("HERALD_MAX_ACTIVITY_BYTES") {
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1024)
                .ok_or(ConfigError::Invalid {
                    name: "HERALD_MAX_ACTIVITY_BYTES",
                    problem: format!("{v:?} is not a byte count of at least 1024"),
                })?,
            None => DEFAULT_MAX_BODY_BYTES,
        };
        let default_time_zone = match get("HERALD_DEFAULT_TIME_ZONE") {
            Some(v) => v
                .trim()
                .parse()
                .map_err(|e: DomainError| ConfigError::Invalid {
                    name: "HERALD_DEFAULT_TIME_ZONE",
                    problem: e.to_string(),
                })?,
            None => TimeZone::from(chrono_tz::UTC),
        };
        Ok(Self {
            bot_app_id,
            welcome: WelcomeText {
                bot_name: get("HERALD_BOT_NAME").unwrap_or(defaults.bot_name),
                offer: get("HERALD_WELCOME_TEXT").unwrap_or(defaults.offer),
            },
            max_body_bytes,
            default_time_zone,
            callbacks: callback_config(&get)?,
        })
    }
}

fn callback_config(get: &impl Fn(&str) -> Option<String>) -> Result<CallbackConfig, ConfigError> {
    let secret = get("HERALD_CALLBACK_SECRET").map(|s| s.trim().to_owned());
    if secret
        .as_ref()
        .is_some_and(|s| s.len() < MIN_CALLBACK_SECRET_LEN)
    {
        return Err(ConfigError::Invalid {
            name: "HERALD_CALLBACK_SECRET",
            problem: format!("must have at least {MIN_CALLBACK_SECRET_LEN} characters"),
        });
    }
    let timeout = match get("HERALD_CALLBACK_TIMEOUT_MS") {
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|ms| (100..=10_000).contains(ms))
            .map(Duration::from_millis)
            .ok_or(ConfigError::Invalid {
                name: "HERALD_CALLBACK_TIMEOUT_MS",
                problem: format!("{v:?} is not a number of milliseconds from 100 to 10000"),
            })?,
        None => DEFAULT_CALLBACK_TIMEOUT,
    };
    Ok(CallbackConfig {
        hosts: CallbackHosts::parse(&get("HERALD_CALLBACK_HOSTS").unwrap_or_default()),
        secret,
        timeout,
    })
}

/// Inbound token settings: the cloud (`HERALD_CLOUD=USGov`) and, for emulators, another OpenID
/// metadata document (`HERALD_OPENID_METADATA_URL`).
#[must_use]
pub fn inbound_auth_config(
    app: &BotAppId,
    lookup: impl Fn(&str) -> Option<String>,
) -> herald_connector::inbound::InboundAuthConfig {
    use herald_connector::inbound::InboundAuthConfig;
    let config = match lookup("HERALD_CLOUD") {
        Some(cloud) if cloud.eq_ignore_ascii_case("USGov") => {
            InboundAuthConfig::us_government(app.as_str())
        }
        _ => InboundAuthConfig::new(app.as_str()),
    };
    match lookup("HERALD_OPENID_METADATA_URL").filter(|v| !v.trim().is_empty()) {
        Some(url) => config.with_openid_metadata_url(url),
        None => config,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_app_id_and_reads_wording() {
        assert!(matches!(
            WebhookConfig::from_lookup(|_| None),
            Err(ConfigError::Missing("MicrosoftAppId"))
        ));
        let config = WebhookConfig::from_lookup(|n| match n {
            "MicrosoftAppId" => Some("app".into()),
            "HERALD_BOT_NAME" => Some("Contoso Alerts".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.welcome.bot_name, "Contoso Alerts");
        assert_eq!(config.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(config.default_time_zone.name(), "UTC");
        let paris = WebhookConfig::from_lookup(|n| match n {
            "MicrosoftAppId" => Some("app".into()),
            "HERALD_DEFAULT_TIME_ZONE" => Some("Europe/Paris".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(paris.default_time_zone.name(), "Europe/Paris");
        assert!(
            WebhookConfig::from_lookup(|n| match n {
                "MicrosoftAppId" => Some("app".into()),
                "HERALD_DEFAULT_TIME_ZONE" => Some("Paris".into()),
                _ => None,
            })
            .is_err()
        );
        assert!(
            WebhookConfig::from_lookup(|n| match n {
                "MicrosoftAppId" => Some("app".into()),
                "HERALD_MAX_ACTIVITY_BYTES" => Some("lots".into()),
                _ => None,
            })
            .is_err()
        );
    }

    #[test]
    fn reads_the_callback_settings() {
        let config =
            WebhookConfig::from_lookup(|n| (n == "MicrosoftAppId").then(|| "app".into())).unwrap();
        assert_eq!(config.callbacks.secret, None);
        assert!(config.callbacks.hosts.is_empty());
        assert_eq!(config.callbacks.timeout, DEFAULT_CALLBACK_TIMEOUT);
        let config = WebhookConfig::from_lookup(|n| match n {
            "MicrosoftAppId" => Some("app".into()),
            "HERALD_CALLBACK_HOSTS" => Some("hooks.contoso.com".into()),
            "HERALD_CALLBACK_SECRET" => Some("0123456789abcdef0123".into()),
            "HERALD_CALLBACK_TIMEOUT_MS" => Some("2500".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.callbacks.timeout, Duration::from_millis(2500));
        assert!(!format!("{:?}", config.callbacks).contains("0123456789abcdef"));
        for (name, bad) in [
            ("HERALD_CALLBACK_SECRET", "short"),
            ("HERALD_CALLBACK_TIMEOUT_MS", "60000"),
            ("HERALD_CALLBACK_TIMEOUT_MS", "soon"),
        ] {
            let result = WebhookConfig::from_lookup(|n| match n {
                "MicrosoftAppId" => Some("app".into()),
                _ if n == name => Some(bad.into()),
                _ => None,
            });
            assert!(
                matches!(result, Err(ConfigError::Invalid { .. })),
                "{name}={bad}"
            );
        }
    }
}
