//! Start-up settings for Herald's Lambda functions.
//!
//! Secrets (the bot password `MicrosoftAppPassword`, the notify API's `HERALD_API_KEY_SHA256`)
//! live in one AWS Secrets Manager secret holding a JSON object, named by `HERALD_SECRET_ARN`.
//! A function reads it once at start-up and hands [`Settings::lookup`] to the configuration
//! constructors (`StoreConfig::from_lookup`, `ConnectorConfig::from_lookup`, ...): a key of the
//! secret wins over a variable of the same name, anything else comes from the environment. The
//! process environment is never changed (that is `unsafe` in edition 2024).
//!
//! Without `HERALD_SECRET_ARN` the settings are the environment alone (local runs and tests).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;
use thiserror::Error;

/// The variable naming the secret (an ARN or a secret name).
pub const SECRET_VARIABLE: &str = "HERALD_SECRET_ARN";

#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("cannot read secret {secret}: {message}")]
    Read { secret: String, message: String },
    #[error("secret {secret} has no SecretString (store the settings as a JSON object)")]
    NoString { secret: String },
    #[error("secret {secret} is not a JSON object of settings: {problem}")]
    NotObject { secret: String, problem: String },
    #[error("secret {secret}, key {key}: expected a string, number, boolean or array of strings")]
    InvalidValue { secret: String, key: String },
}

/// The secret's keys overlaid on an environment.
pub struct Settings {
    secret: BTreeMap<String, String>,
    environment: fn(&str) -> Option<String>,
}

/// Values are secrets: only the key names are shown.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("secret_keys", &self.secret.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn process_environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn no_environment(_: &str) -> Option<String> {
    None
}

impl Settings {
    /// The process environment alone.
    #[must_use]
    pub fn environment_only() -> Self {
        Self {
            secret: BTreeMap::new(),
            environment: process_environment,
        }
    }

    /// Reads the secret named by `HERALD_SECRET_ARN` (if set) with the default AWS configuration
    /// already loaded by the function.
    pub async fn load(aws: &aws_config::SdkConfig) -> Result<Self, SettingsError> {
        let Some(secret_id) = process_environment(SECRET_VARIABLE).filter(|v| !v.trim().is_empty())
        else {
            tracing::info!("{SECRET_VARIABLE} is not set: settings come from the environment");
            return Ok(Self::environment_only());
        };
        let client = aws_sdk_secretsmanager::Client::new(aws);
        Self::load_from(&client, secret_id.trim()).await
    }

    /// Reads one secret with the given client; the result overlays the process environment.
    pub async fn load_from(
        client: &aws_sdk_secretsmanager::Client,
        secret_id: &str,
    ) -> Result<Self, SettingsError> {
        let output = client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| SettingsError::Read {
                secret: secret_id.to_owned(),
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
            })?;
        let text = output.secret_string().ok_or(SettingsError::NoString {
            secret: secret_id.to_owned(),
        })?;
        let settings = Self::from_secret_json(secret_id, text)?;
        tracing::info!(
            secret = secret_id,
            keys = ?settings.secret.keys().collect::<Vec<_>>(),
            "settings loaded from the secret"
        );
        Ok(settings)
    }

    /// Parses a secret's JSON text. Numbers and booleans are taken as their JSON text, arrays of
    /// strings joined with commas (so `HERALD_API_KEY_SHA256` may be a list of hashes).
    pub fn from_secret_json(secret_id: &str, text: &str) -> Result<Self, SettingsError> {
        let not_object = |problem: String| SettingsError::NotObject {
            secret: secret_id.to_owned(),
            problem,
        };
        let value: Value = serde_json::from_str(text).map_err(|e| not_object(e.to_string()))?;
        let Value::Object(object) = value else {
            return Err(not_object("the top level is not an object".to_owned()));
        };
        let mut secret = BTreeMap::new();
        for (key, value) in object {
            let text = match value {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Array(items) => items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(s) => Some(s),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
                    .map(|items| items.join(",")),
                Value::Null | Value::Object(_) => None,
            };
            let text = text.ok_or_else(|| SettingsError::InvalidValue {
                secret: secret_id.to_owned(),
                key: key.clone(),
            })?;
            secret.insert(key, text);
        }
        Ok(Self {
            secret,
            environment: process_environment,
        })
    }

    /// Settings given as name/value pairs, with no process environment underneath: what a test
    /// or an embedding program passes instead of a secret.
    #[must_use]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self {
            secret: pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            environment: no_environment,
        }
    }

    /// The same settings without the process environment underneath (tests).
    #[must_use]
    pub fn without_environment(mut self) -> Self {
        self.environment = no_environment;
        self
    }

    /// A setting: the secret's key if it has one, else the environment variable.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<String> {
        self.secret
            .get(name)
            .cloned()
            .or_else(|| (self.environment)(name))
    }

    /// [`Settings::get`] as the lookup the configuration constructors take. It borrows the
    /// settings and is `Copy`, so one lookup serves every constructor.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + Copy + '_ {
        move |name| self.get(name)
    }

    /// The names the secret provides (never the values).
    pub fn secret_keys(&self) -> impl Iterator<Item = &str> {
        self.secret.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_win_over_the_environment() {
        // PATH is set in every test process; a key of the same name must shadow it.
        let settings = Settings::from_secret_json(
            "s",
            r#"{"PATH":"from-secret","MicrosoftAppPassword":"pw"}"#,
        )
        .unwrap();
        let lookup = settings.lookup();
        assert_eq!(lookup("PATH").as_deref(), Some("from-secret"));
        assert_eq!(lookup("MicrosoftAppPassword").as_deref(), Some("pw"));
        // Not in the secret: the environment answers.
        assert_eq!(lookup("HOME"), std::env::var("HOME").ok());
        assert_eq!(lookup("HERALD_NOT_A_SETTING_ANYWHERE"), None);
    }

    #[test]
    fn values_are_read_as_settings_text() {
        let settings = Settings::from_secret_json(
            "s",
            r#"{"HERALD_API_KEY_SHA256":["ab","cd"],"N":7,"B":true}"#,
        )
        .unwrap()
        .without_environment();
        assert_eq!(
            settings.get("HERALD_API_KEY_SHA256").as_deref(),
            Some("ab,cd")
        );
        assert_eq!(settings.get("N").as_deref(), Some("7"));
        assert_eq!(settings.get("B").as_deref(), Some("true"));
        assert_eq!(settings.get("PATH"), None);
        assert_eq!(
            settings.secret_keys().collect::<Vec<_>>(),
            ["B", "HERALD_API_KEY_SHA256", "N"]
        );
    }

    #[test]
    fn rejects_what_is_not_an_object_of_settings() {
        for text in [
            "",
            "not json",
            "[1,2]",
            "\"pw\"",
            r#"{"A":null}"#,
            r#"{"A":{"b":1}}"#,
            r#"{"A":[1]}"#,
        ] {
            assert!(
                Settings::from_secret_json("s", text).is_err(),
                "{text:?} was accepted"
            );
        }
        let error = Settings::from_secret_json("arn:x", r#"{"Key":null}"#).unwrap_err();
        assert!(error.to_string().contains("Key") && error.to_string().contains("arn:x"));
    }

    #[test]
    fn debug_shows_keys_not_values() {
        let settings =
            Settings::from_secret_json("s", r#"{"MicrosoftAppPassword":"hunter2"}"#).unwrap();
        let shown = format!("{settings:?}");
        assert!(shown.contains("MicrosoftAppPassword"));
        assert!(!shown.contains("hunter2"));
    }
}
