//! Graph installation settings, read from the environment.
//!
//! | variable | meaning |
//! |---|---|
//! | `HERALD_GRAPH_INSTALL` | `true` installs the app for people Herald cannot reach yet (default `false`) |
//! | `HERALD_TEAMS_APP_ID` | the app's id in the organisation's app catalog (required when enabled) |
//! | `HERALD_CLOUD` | `Public` (default) or `USGov`: Graph host, token authority and scope |
//! | `HERALD_GRAPH_BASE_URL` | default `https://graph.microsoft.com/v1.0` (`.us` for USGov) |
//! | `HERALD_GRAPH_TOKEN_URL` | token endpoint; `{tenant}` is replaced by the user's tenant id |
//! | `HERALD_GRAPH_INSTALL_TIMEOUT_SECS` | how long a delivery waits for the installation's conversationUpdate (default 600, min 60) |
//! | `HERALD_GRAPH_TIMEOUT_MS` | per-request timeout (default 30 000) |
//!
//! Graph tokens are app-only tokens of the *user's* tenant: a multi-tenant bot gets one per
//! customer tenant, from `{login host}/{tenant}/oauth2/v2.0/token`, with the scope
//! `https://graph.microsoft.com/.default` (`.us` for USGov). The tenant's admin must have granted
//! `TeamsAppInstallation.ReadWriteForUser.All` (or `...ReadWriteSelfForUser.All`).

use std::time::Duration;

use herald_connector::{Cloud, ConfigError, Variables};
use herald_domain::TenantId;
use url::Url;

/// Where `{tenant}` goes in a token URL template.
pub const TENANT_PLACEHOLDER: &str = "{tenant}";

/// Everything the Graph installer needs besides the bot's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphConfig {
    /// The Teams app's id in the organisation's app catalog (not the bot's app id).
    pub teams_app_id: String,
    pub cloud: Cloud,
    /// `https://graph.microsoft.com/v1.0`; requests go to `{base_url}/users/...`.
    pub base_url: Url,
    /// The token endpoint, `{tenant}` standing for the user's tenant id.
    pub token_url: String,
    /// How long a delivery waits for the installation's conversationUpdate.
    pub install_timeout: Duration,
    /// Per-request timeout; the caller's deadline shortens it further.
    pub request_timeout: Duration,
    /// How long before expiry a cached Graph token is replaced.
    pub token_refresh_margin: Duration,
}

impl GraphConfig {
    pub const DEFAULT_INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
    /// Longer than one Graph call with its retries, so a wait never ends while its install runs.
    pub const MIN_INSTALL_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

    /// The defaults for `cloud` and the app `teams_app_id`.
    #[must_use]
    pub fn new(teams_app_id: impl Into<String>, cloud: Cloud) -> Self {
        Self {
            teams_app_id: teams_app_id.into(),
            cloud,
            base_url: Url::parse(default_base_url(cloud)).expect("a valid constant URL"),
            token_url: format!(
                "{}/{TENANT_PLACEHOLDER}/oauth2/v2.0/token",
                cloud.login_host()
            ),
            install_timeout: Self::DEFAULT_INSTALL_TIMEOUT,
            request_timeout: Self::DEFAULT_TIMEOUT,
            token_refresh_margin: Self::DEFAULT_REFRESH_MARGIN,
        }
    }

    /// Points the installer at another Graph (an emulator: `{http base}/v1.0`).
    #[must_use]
    pub fn base_url(mut self, base_url: Url) -> Self {
        self.base_url = base_url;
        self
    }

    /// Replaces the token endpoint template (`{tenant}` is replaced per user).
    #[must_use]
    pub fn token_url(mut self, template: impl Into<String>) -> Self {
        self.token_url = template.into();
        self
    }

    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The OAuth scope of app-only Graph tokens in this cloud.
    #[must_use]
    pub fn scope(&self) -> &'static str {
        match self.cloud {
            Cloud::Public => "https://graph.microsoft.com/.default",
            Cloud::UsGov => "https://graph.microsoft.us/.default",
        }
    }

    /// The token endpoint for `tenant` (its id percent-encoded into the template).
    pub fn token_url_for(&self, tenant: &TenantId) -> Result<Url, ConfigError> {
        let encoded = url::form_urlencoded::byte_serialize(tenant.as_str().as_bytes())
            .collect::<String>()
            // form encoding writes spaces as '+', which a path would keep literally.
            .replace('+', "%20");
        let text = self.token_url.replace(TENANT_PLACEHOLDER, &encoded);
        parse_http_url("HERALD_GRAPH_TOKEN_URL", &text)
    }

    /// Reads the process environment; `None` when installation is disabled.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests); `None` when
    /// `HERALD_GRAPH_INSTALL` is not `true`. Every value is checked even so, so a typo fails at
    /// start-up rather than the day installation is switched on.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let vars = Variables::new(lookup);
        let get = |name: &str| vars.get(name);
        let enabled = match get("HERALD_GRAPH_INSTALL") {
            None => false,
            Some(v) => parse_bool(&v).ok_or_else(|| {
                ConfigError::invalid("HERALD_GRAPH_INSTALL", &v, "expected true or false")
            })?,
        };
        let cloud = vars.cloud()?;
        let teams_app_id = get("HERALD_TEAMS_APP_ID");
        if let Some(id) = &teams_app_id
            && id.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ConfigError::invalid(
                "HERALD_TEAMS_APP_ID",
                id,
                "expected the app's catalog id",
            ));
        }
        let mut config = Self::new(teams_app_id.clone().unwrap_or_default(), cloud);
        if let Some(base) = get("HERALD_GRAPH_BASE_URL") {
            config.base_url = parse_http_url("HERALD_GRAPH_BASE_URL", &base)?;
        }
        if let Some(template) = get("HERALD_GRAPH_TOKEN_URL") {
            config.token_url = template;
            // A template that cannot form a URL fails now, not on the first installation.
            config.token_url_for(
                &TenantId::new("00000000-0000-0000-0000-000000000000").expect("a valid id"),
            )?;
        }
        if let Some(v) = get("HERALD_GRAPH_INSTALL_TIMEOUT_SECS") {
            config.install_timeout = match v.parse::<u64>() {
                Ok(secs) if Duration::from_secs(secs) >= Self::MIN_INSTALL_TIMEOUT => {
                    Duration::from_secs(secs)
                }
                _ => {
                    return Err(ConfigError::invalid(
                        "HERALD_GRAPH_INSTALL_TIMEOUT_SECS",
                        &v,
                        "expected a number of seconds, at least 60",
                    ));
                }
            };
        }
        if let Some(timeout) = vars.millis("HERALD_GRAPH_TIMEOUT_MS")? {
            config.request_timeout = timeout;
        }
        if !enabled {
            return Ok(None);
        }
        if teams_app_id.is_none() {
            return Err(ConfigError::Missing("HERALD_TEAMS_APP_ID"));
        }
        Ok(Some(config))
    }
}

fn default_base_url(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Public => "https://graph.microsoft.com/v1.0",
        Cloud::UsGov => "https://graph.microsoft.us/v1.0",
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_http_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::invalid(name, value, e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::invalid(name, value, "expected an http(s) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid(
            name,
            value,
            "expected a URL without query or fragment",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use herald_settings::Settings;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Option<GraphConfig>, ConfigError> {
        GraphConfig::from_lookup(Settings::from_pairs(vars).lookup())
    }

    fn tenant(id: &str) -> TenantId {
        TenantId::new(id).unwrap()
    }

    #[test]
    fn disabled_by_default_and_when_false() {
        assert_eq!(load(&[]), Ok(None));
        assert_eq!(load(&[("HERALD_TEAMS_APP_ID", "app")]), Ok(None));
        assert_eq!(load(&[("HERALD_GRAPH_INSTALL", "false")]), Ok(None));
        assert_eq!(load(&[("HERALD_GRAPH_INSTALL", " ")]), Ok(None));
    }

    #[test]
    fn enabled_needs_the_app_id_and_has_public_defaults() {
        assert_eq!(
            load(&[("HERALD_GRAPH_INSTALL", "true")]),
            Err(ConfigError::Missing("HERALD_TEAMS_APP_ID"))
        );
        let config = load(&[
            ("HERALD_GRAPH_INSTALL", "TRUE"),
            (
                "HERALD_TEAMS_APP_ID",
                " 6c7b2ab8-1f42-4b5e-9e0a-1234567890ab ",
            ),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(config.teams_app_id, "6c7b2ab8-1f42-4b5e-9e0a-1234567890ab");
        assert_eq!(config.cloud, Cloud::Public);
        assert_eq!(config.base_url.as_str(), "https://graph.microsoft.com/v1.0");
        assert_eq!(config.scope(), "https://graph.microsoft.com/.default");
        assert_eq!(
            config.token_url_for(&tenant("t-1")).unwrap().as_str(),
            "https://login.microsoftonline.com/t-1/oauth2/v2.0/token"
        );
        assert_eq!(config.install_timeout, Duration::from_secs(600));
        assert_eq!(config.request_timeout, Duration::from_secs(30));
    }

    #[test]
    fn government_cloud() {
        let config = load(&[
            ("HERALD_GRAPH_INSTALL", "true"),
            ("HERALD_TEAMS_APP_ID", "app"),
            ("HERALD_CLOUD", "usgov"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(config.base_url.as_str(), "https://graph.microsoft.us/v1.0");
        assert_eq!(config.scope(), "https://graph.microsoft.us/.default");
        assert_eq!(
            config.token_url_for(&tenant("t-1")).unwrap().as_str(),
            "https://login.microsoftonline.us/t-1/oauth2/v2.0/token"
        );
    }

    #[test]
    fn overrides() {
        let config = load(&[
            ("HERALD_GRAPH_INSTALL", "1"),
            ("HERALD_TEAMS_APP_ID", "app"),
            ("HERALD_GRAPH_BASE_URL", "http://127.0.0.1:4000/v1.0"),
            (
                "HERALD_GRAPH_TOKEN_URL",
                "http://127.0.0.1:4000/{tenant}/oauth2/v2.0/token",
            ),
            ("HERALD_GRAPH_INSTALL_TIMEOUT_SECS", "60"),
            ("HERALD_GRAPH_TIMEOUT_MS", "2500"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(config.base_url.as_str(), "http://127.0.0.1:4000/v1.0");
        assert_eq!(
            config.token_url_for(&tenant("a b/c")).unwrap().as_str(),
            "http://127.0.0.1:4000/a%20b%2Fc/oauth2/v2.0/token"
        );
        assert_eq!(config.install_timeout, Duration::from_secs(60));
        assert_eq!(config.request_timeout, Duration::from_millis(2500));
        // A template without {tenant} is one endpoint for every tenant.
        let fixed = config.token_url("http://127.0.0.1:4000/common/token");
        assert_eq!(
            fixed.token_url_for(&tenant("t")).unwrap().as_str(),
            "http://127.0.0.1:4000/common/token"
        );
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let enabled = [
            ("HERALD_GRAPH_INSTALL", "true"),
            ("HERALD_TEAMS_APP_ID", "app"),
        ];
        let with = |extra: (&'static str, &'static str)| {
            let mut vars = enabled.to_vec();
            vars.push(extra);
            load(&vars)
        };
        let name_of = |result: Result<Option<GraphConfig>, ConfigError>| match result {
            Err(ConfigError::Invalid { name, .. }) => name,
            other => panic!("expected an invalid value, got {other:?}"),
        };
        assert_eq!(
            name_of(load(&[("HERALD_GRAPH_INSTALL", "maybe")])),
            "HERALD_GRAPH_INSTALL"
        );
        assert_eq!(
            name_of(with(("HERALD_GRAPH_INSTALL_TIMEOUT_SECS", "9"))),
            "HERALD_GRAPH_INSTALL_TIMEOUT_SECS"
        );
        assert_eq!(
            name_of(with(("HERALD_GRAPH_INSTALL_TIMEOUT_SECS", "soon"))),
            "HERALD_GRAPH_INSTALL_TIMEOUT_SECS"
        );
        assert_eq!(
            name_of(with(("HERALD_GRAPH_TIMEOUT_MS", "0"))),
            "HERALD_GRAPH_TIMEOUT_MS"
        );
        assert_eq!(
            name_of(with(("HERALD_GRAPH_BASE_URL", "graph.microsoft.com"))),
            "HERALD_GRAPH_BASE_URL"
        );
        assert_eq!(
            name_of(with(("HERALD_GRAPH_BASE_URL", "ftp://graph.example/v1.0"))),
            "HERALD_GRAPH_BASE_URL"
        );
        assert_eq!(
            name_of(with(("HERALD_GRAPH_TOKEN_URL", "not a url/{tenant}"))),
            "HERALD_GRAPH_TOKEN_URL"
        );
        assert_eq!(name_of(with(("HERALD_CLOUD", "Mars"))), "HERALD_CLOUD");
        assert_eq!(
            name_of(load(&[
                ("HERALD_GRAPH_INSTALL", "true"),
                ("HERALD_TEAMS_APP_ID", "an app")
            ])),
            "HERALD_TEAMS_APP_ID"
        );
        // Checked even while disabled, so switching it on later cannot fail at start-up.
        assert_eq!(
            name_of(load(&[("HERALD_GRAPH_TIMEOUT_MS", "fast")])),
            "HERALD_GRAPH_TIMEOUT_MS"
        );
    }
}
