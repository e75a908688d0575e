//! Connector configuration, read from the environment with Bot Framework's variable names.
//!
//! | variable | meaning |
//! |---|---|
//! | `MicrosoftAppId` | the bot's app id; absent or empty = anonymous (local runner, loopback only) |
//! | `MicrosoftAppPassword` | client secret (required with an app id) |
//! | `MicrosoftAppTenantId` | the bot's tenant (required for `SingleTenant`) |
//! | `MicrosoftAppType` | `SingleTenant` (default) or `MultiTenant` (legacy, `botframework.com` authority) |
//! | `HERALD_CLOUD` | `Public` (default) or `USGov` (login.microsoftonline.us, api.botframework.us scope) |
//! | `HERALD_TOKEN_URL` | full token endpoint URL, replacing the computed one (tests, emulator) |
//! | `HERALD_TRUSTED_SERVICE_HOSTS` | extra `host[:port]` entries trusted with the token, comma separated |
//! | `HERALD_CONNECTOR_TIMEOUT_MS` | per-request timeout (default 30 000) |
//! | `HERALD_TENANT_RATE` | requests per second per tenant (default 50; for tenants Microsoft has raised) |

use std::fmt;
use std::time::Duration;

use herald_domain::{BotAppId, TenantId};
use url::Url;

pub(crate) mod cloud;
pub(crate) mod error;

pub use cloud::{AppType, Cloud};
pub use error::ConfigError;

use crate::trust::TrustedHosts;
use crate::variables::Variables;

/// A client secret; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the connector authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Client credentials of a bot registration.
    App {
        app_id: BotAppId,
        password: Secret,
        app_type: AppType,
        /// Required for single-tenant bots.
        tenant_id: Option<TenantId>,
        cloud: Cloud,
        /// Replaces `{login_host}/{tenant}/oauth2/v2.0/token` (tests point it at the emulator).
        token_url: Option<Url>,
    },
    /// No app id: no token is fetched or sent, and only loopback service URLs are allowed.
    Anonymous,
}

impl Credentials {
    /// The client-credentials token endpoint for these credentials.
    #[must_use]
    pub fn token_url(&self) -> Option<Result<Url, ConfigError>> {
        let Self::App {
            app_type,
            tenant_id,
            cloud,
            token_url,
            ..
        } = self
        else {
            return None;
        };
        if let Some(url) = token_url {
            return Some(Ok(url.clone()));
        }
        let authority = match (app_type, tenant_id) {
            (AppType::MultiTenant, _) => "botframework.com".to_owned(),
            (AppType::SingleTenant, Some(tenant)) => tenant.as_str().to_owned(),
            (AppType::SingleTenant, None) => {
                return Some(Err(ConfigError::Missing("MicrosoftAppTenantId")));
            }
        };
        let text = format!("{}/{authority}/oauth2/v2.0/token", cloud.login_host());
        Some(
            Url::parse(&text).map_err(|e| {
                ConfigError::invalid("MicrosoftAppTenantId", &authority, e.to_string())
            }),
        )
    }
}

/// Everything the HTTP connector needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorConfig {
    pub credentials: Credentials,
    pub trusted_hosts: TrustedHosts,
    /// Per-request timeout; the caller's deadline shortens it further.
    pub request_timeout: Duration,
    /// How long before expiry a cached token is replaced.
    pub token_refresh_margin: Duration,
    /// Requests per second Teams allows the bot per tenant
    /// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>).
    pub tenant_rate: u32,
}

impl ConnectorConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);
    /// Teams' documented tenant rate.
    pub const DEFAULT_TENANT_RATE: u32 = 50;

    /// A configuration for a bot registration, trusting only Microsoft hosts.
    #[must_use]
    pub fn app(credentials: Credentials) -> Self {
        Self {
            credentials,
            trusted_hosts: TrustedHosts::microsoft(),
            request_timeout: Self::DEFAULT_TIMEOUT,
            token_refresh_margin: Self::DEFAULT_REFRESH_MARGIN,
            tenant_rate: Self::DEFAULT_TENANT_RATE,
        }
    }

    /// No credentials: loopback service URLs only (the local runner).
    #[must_use]
    pub fn anonymous() -> Self {
        Self::app(Credentials::Anonymous)
    }

    #[must_use]
    pub fn trusted_hosts(mut self, trusted_hosts: TrustedHosts) -> Self {
        self.trusted_hosts = trusted_hosts;
        self
    }

    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    #[must_use]
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.token_refresh_margin = margin;
        self
    }

    #[must_use]
    pub fn tenant_rate(mut self, per_second: u32) -> Self {
        self.tenant_rate = per_second.max(1);
        self
    }

    /// Reads the process environment (see the module docs for the variables).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Variables::new(lookup);
        let get = |name: &str| vars.get(name);

        let credentials = match get("MicrosoftAppId") {
            None => Credentials::Anonymous,
            Some(app_id) => {
                let app_id = BotAppId::new(&app_id)
                    .map_err(|e| ConfigError::invalid("MicrosoftAppId", &app_id, e.to_string()))?;
                let password = get("MicrosoftAppPassword")
                    .ok_or(ConfigError::Missing("MicrosoftAppPassword"))?;
                let app_type = match get("MicrosoftAppType") {
                    None => AppType::SingleTenant,
                    Some(v) if v.eq_ignore_ascii_case("SingleTenant") => AppType::SingleTenant,
                    Some(v) if v.eq_ignore_ascii_case("MultiTenant") => AppType::MultiTenant,
                    Some(v) => {
                        return Err(ConfigError::invalid(
                            "MicrosoftAppType",
                            &v,
                            "expected SingleTenant or MultiTenant",
                        ));
                    }
                };
                let tenant_id = get("MicrosoftAppTenantId")
                    .map(|t| {
                        TenantId::new(&t).map_err(|e| {
                            ConfigError::invalid("MicrosoftAppTenantId", &t, e.to_string())
                        })
                    })
                    .transpose()?;
                let cloud = vars.cloud()?;
                let token_url = get("HERALD_TOKEN_URL")
                    .map(|u| {
                        let url = Url::parse(&u).map_err(|e| {
                            ConfigError::invalid("HERALD_TOKEN_URL", &u, e.to_string())
                        })?;
                        if matches!(url.scheme(), "http" | "https") {
                            Ok(url)
                        } else {
                            Err(ConfigError::invalid(
                                "HERALD_TOKEN_URL",
                                &u,
                                "expected an http(s) URL",
                            ))
                        }
                    })
                    .transpose()?;
                let credentials = Credentials::App {
                    app_id,
                    password: Secret::new(password),
                    app_type,
                    tenant_id,
                    cloud,
                    token_url,
                };
                // Fail at start-up, not on the first send, when the token URL cannot be formed.
                if let Some(Err(e)) = credentials.token_url() {
                    return Err(e);
                }
                credentials
            }
        };

        let trusted_hosts = match get("HERALD_TRUSTED_SERVICE_HOSTS") {
            Some(list) => TrustedHosts::microsoft().with_explicit(&list)?,
            None => TrustedHosts::microsoft(),
        };
        let request_timeout = vars
            .millis("HERALD_CONNECTOR_TIMEOUT_MS")?
            .unwrap_or(Self::DEFAULT_TIMEOUT);
        let tenant_rate = match get("HERALD_TENANT_RATE") {
            None => Self::DEFAULT_TENANT_RATE,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|r| (1..=100_000).contains(r))
                .ok_or_else(|| {
                    ConfigError::invalid(
                        "HERALD_TENANT_RATE",
                        &v,
                        "expected requests per second, from 1 to 100000",
                    )
                })?,
        };
        Ok(Self {
            credentials,
            trusted_hosts,
            request_timeout,
            token_refresh_margin: Self::DEFAULT_REFRESH_MARGIN,
            tenant_rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use herald_settings::Settings;

    use herald_domain::ServiceUrl;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<ConnectorConfig, ConfigError> {
        ConnectorConfig::from_lookup(Settings::from_pairs(vars).lookup())
    }

    fn url(s: &str) -> ServiceUrl {
        ServiceUrl::parse(s).unwrap()
    }

    #[test]
    fn single_tenant_is_default_and_needs_a_tenant() {
        let config = load(&[
            ("MicrosoftAppId", "app"),
            ("MicrosoftAppPassword", "pw"),
            ("MicrosoftAppTenantId", "tenant-1"),
        ])
        .unwrap();
        assert_eq!(
            config.credentials.token_url().unwrap().unwrap().as_str(),
            "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
        );
        assert_eq!(
            load(&[("MicrosoftAppId", "app"), ("MicrosoftAppPassword", "pw")]),
            Err(ConfigError::Missing("MicrosoftAppTenantId"))
        );
        assert_eq!(
            load(&[("MicrosoftAppId", "app")]),
            Err(ConfigError::Missing("MicrosoftAppPassword"))
        );
    }

    #[test]
    fn multi_tenant_and_government() {
        let config = load(&[
            ("MicrosoftAppId", "app"),
            ("MicrosoftAppPassword", "pw"),
            ("MicrosoftAppType", "MultiTenant"),
            ("HERALD_CLOUD", "USGov"),
        ])
        .unwrap();
        assert_eq!(
            config.credentials.token_url().unwrap().unwrap().as_str(),
            "https://login.microsoftonline.us/botframework.com/oauth2/v2.0/token"
        );
        assert!(matches!(
            config.credentials,
            Credentials::App {
                cloud: Cloud::UsGov,
                ..
            }
        ));
        assert_eq!(Cloud::UsGov.scope(), "https://api.botframework.us/.default");
        assert!(matches!(
            load(&[
                ("MicrosoftAppId", "a"),
                ("MicrosoftAppPassword", "p"),
                ("MicrosoftAppType", "UserAssignedMSI")
            ]),
            Err(ConfigError::Invalid {
                name: "MicrosoftAppType",
                ..
            })
        ));
    }

    #[test]
    fn anonymous_without_app_id_and_bad_values_are_typed() {
        let config = load(&[(
            "HERALD_TRUSTED_SERVICE_HOSTS",
            "127.0.0.1:4000, localhost:9",
        )])
        .unwrap();
        assert_eq!(config.credentials, Credentials::Anonymous);
        assert!(
            config
                .trusted_hosts
                .is_trusted(&url("http://127.0.0.1:4000/amer/"))
        );
        assert!(matches!(
            load(&[("HERALD_TRUSTED_SERVICE_HOSTS", "http://x/y")]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            load(&[("HERALD_CONNECTOR_TIMEOUT_MS", "soon")]),
            Err(ConfigError::Invalid { .. })
        ));
        assert_eq!(config.tenant_rate, ConnectorConfig::DEFAULT_TENANT_RATE);
        assert_eq!(
            load(&[("HERALD_TENANT_RATE", "150")]).unwrap().tenant_rate,
            150
        );
        assert!(matches!(
            load(&[("HERALD_TENANT_RATE", "0")]),
            Err(ConfigError::Invalid {
                name: "HERALD_TENANT_RATE",
                ..
            })
        ));
        assert!(format!("{:?}", Secret::new("hunter2")).contains("***"));
    }
}
