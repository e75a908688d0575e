//! Where the validator gets its signing keys and which tokens it counts as addressed to this bot.

use std::time::Duration;

use url::Url;

use super::clip;

/// OpenID metadata of the public cloud.
pub const PUBLIC_CLOUD_OPENID_METADATA_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// Issuer of public-cloud Bot Connector tokens.
pub const PUBLIC_CLOUD_ISSUER: &str = "https://api.botframework.com";
/// OpenID metadata of the US government cloud.
pub const US_GOV_OPENID_METADATA_URL: &str =
    "https://login.botframework.us/v1/.well-known/openidconfiguration";
/// Issuer of US government Bot Connector tokens.
pub const US_GOV_ISSUER: &str = "https://api.botframework.us";
/// Clock skew tolerated on `exp` and `nbf`: the industry-standard five minutes the connector
/// authentication page names; fixed, not configurable.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Where signing keys come from and which tokens count as addressed to this bot.
#[derive(Debug, Clone)]
pub struct InboundAuthConfig {
    /// The bot's Microsoft App Id: the only accepted `aud`.
    pub app_id: String,
    /// OpenID metadata document whose `jwks_uri` lists the signing keys. Must be https, except
    /// on a loopback host (the local emulator).
    pub openid_metadata_url: String,
    /// Accepted `iss` values.
    pub issuers: Vec<String>,
    /// Keys older than this are refetched before use. The keys change rarely and may be cached,
    /// but Microsoft rolls them over; the Bot Framework SDK refreshes daily, and so does Herald.
    pub key_refresh_interval: Duration,
    /// A token with an unknown `kid` refetches the keys at once (Microsoft may have published a
    /// new key since the last load, however recent), but such refetches are at least this far
    /// apart, so tokens with made-up kids cannot hammer the metadata endpoint. Loads for stale
    /// keys do not count. Default 30 s: one metadata and one JWKS request per instance at most
    /// twice a minute, and a rotated key is picked up within 30 s even right after another
    /// unknown kid.
    pub unknown_kid_refresh_interval: Duration,
    /// After a failed fetch, stale keys are not refetched again before this much time.
    pub failed_refresh_backoff: Duration,
    /// Timeout of each metadata/JWKS request (waiting validations queue behind it).
    pub http_timeout: Duration,
}

impl InboundAuthConfig {
    /// The public cloud (`login.botframework.com`, issuer `https://api.botframework.com`).
    #[must_use]
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            openid_metadata_url: PUBLIC_CLOUD_OPENID_METADATA_URL.to_owned(),
            issuers: vec![PUBLIC_CLOUD_ISSUER.to_owned()],
            key_refresh_interval: Duration::from_secs(24 * 60 * 60),
            unknown_kid_refresh_interval: Duration::from_secs(30),
            failed_refresh_backoff: Duration::from_secs(10),
            http_timeout: Duration::from_secs(10),
        }
    }

    /// The US government cloud (`login.botframework.us`, issuer `https://api.botframework.us`).
    #[must_use]
    pub fn us_government(app_id: impl Into<String>) -> Self {
        Self {
            openid_metadata_url: US_GOV_OPENID_METADATA_URL.to_owned(),
            issuers: vec![US_GOV_ISSUER.to_owned()],
            ..Self::new(app_id)
        }
    }

    /// Fetch keys from another metadata document (the emulator in tests).
    #[must_use]
    pub fn with_openid_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.openid_metadata_url = url.into();
        self
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.app_id.trim().is_empty() {
            return Err(ConfigError::MissingAppId);
        }
        if self.issuers.iter().all(|i| i.trim().is_empty()) {
            return Err(ConfigError::NoIssuers);
        }
        check_fetch_url(&self.openid_metadata_url).map_err(ConfigError::MetadataUrl)
    }
}

/// A configuration the validator refuses to start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("inbound auth: app id is empty")]
    MissingAppId,
    #[error("inbound auth: no issuer configured")]
    NoIssuers,
    #[error("inbound auth: OpenID metadata URL: {0}")]
    MetadataUrl(String),
    #[error("inbound auth: HTTP client: {0}")]
    HttpClient(String),
}

/// https only, except for loopback hosts (the local emulator speaks plain http).
pub(super) fn check_fetch_url(raw: &str) -> Result<(), String> {
    let url = Url::parse(raw).map_err(|e| format!("{}: {e}", clip(raw)))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.has_host() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!("{} is not an https URL", clip(raw))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_must_be_https_unless_loopback() {
        assert!(check_fetch_url(PUBLIC_CLOUD_OPENID_METADATA_URL).is_ok());
        assert!(check_fetch_url("http://127.0.0.1:1234/v1/.well-known/keys").is_ok());
        assert!(check_fetch_url("http://localhost/x").is_ok());
        assert!(check_fetch_url("http://[::1]:8/x").is_ok());
        assert!(check_fetch_url("http://login.botframework.com/x").is_err());
        assert!(check_fetch_url("file:///etc/passwd").is_err());
        assert!(check_fetch_url("garbage").is_err());
    }

    #[test]
    fn config_rejects_missing_app_id_and_issuers() {
        assert!(matches!(
            InboundAuthConfig::new(" ").check(),
            Err(ConfigError::MissingAppId)
        ));
        let mut config = InboundAuthConfig::new("app");
        config.issuers.clear();
        assert!(matches!(config.check(), Err(ConfigError::NoIssuers)));
        let gov = InboundAuthConfig::us_government("app");
        assert_eq!(gov.openid_metadata_url, US_GOV_OPENID_METADATA_URL);
        assert_eq!(gov.issuers, vec![US_GOV_ISSUER.to_owned()]);
        assert!(gov.check().is_ok());
    }
}
