//! Which hosts the bearer token may be sent to. The token proves the bot's identity, so it goes
//! only to the connector's own hosts (or hosts named explicitly, such as a local emulator); a
//! `serviceUrl` naming anything else is refused before any request. See the connector
//! authentication page:
//! <https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication>.

use std::net::IpAddr;

use herald_domain::ServiceUrl;
use url::Url;

use crate::config::error::ConfigError;

/// Connector hosts that may receive the bearer token, over https on the default port: the
/// `serviceUrl` hosts of the public and government clouds.
pub const DEFAULT_TRUSTED_HOSTS: [&str; 4] = [
    "smba.trafficmanager.net",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
    "smba.infra.dod.teams.microsoft.us",
];

/// One explicitly trusted `host[:port]` (from `HERALD_TRUSTED_SERVICE_HOSTS`); http is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExplicitHost {
    host: String,
    port: Option<u16>,
}

/// The hosts the bearer token may be sent to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedHosts {
    explicit: Vec<ExplicitHost>,
}

impl TrustedHosts {
    /// Only the Microsoft connector hosts.
    #[must_use]
    pub fn microsoft() -> Self {
        Self::default()
    }

    /// Parses `host[:port],host[:port]` as in `HERALD_TRUSTED_SERVICE_HOSTS`.
    pub fn with_explicit(mut self, list: &str) -> Result<Self, ConfigError> {
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let invalid =
                |reason: &str| ConfigError::invalid("HERALD_TRUSTED_SERVICE_HOSTS", entry, reason);
            let url =
                Url::parse(&format!("http://{entry}/")).map_err(|e| invalid(&e.to_string()))?;
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| invalid("no host"))?;
            if url.path() != "/" || !url.username().is_empty() || url.password().is_some() {
                return Err(invalid("expected host[:port]"));
            }
            self.explicit.push(ExplicitHost {
                host: host.to_ascii_lowercase(),
                port: url.port(),
            });
        }
        Ok(self)
    }

    /// Adds one `host[:port]` entry (e.g. an emulator's `127.0.0.1:PORT`).
    pub fn trust(self, authority: &str) -> Result<Self, ConfigError> {
        self.with_explicit(authority)
    }

    /// Whether a request with a token may go to `service_url`: https on the default port to a
    /// Microsoft connector host, or an exact explicit entry (scheme free, port must match).
    #[must_use]
    pub fn is_trusted(&self, service_url: &ServiceUrl) -> bool {
        let url = service_url.url();
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        if url.scheme() == "https"
            && url.port().is_none()
            && DEFAULT_TRUSTED_HOSTS.contains(&host.as_str())
        {
            return true;
        }
        self.explicit
            .iter()
            .any(|e| e.host == host && e.port == url.port())
    }
}

/// Whether a service URL points at this machine (the only place anonymous mode may talk to).
#[must_use]
pub fn is_loopback(service_url: &ServiceUrl) -> bool {
    match service_url.url().host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> ServiceUrl {
        ServiceUrl::parse(s).unwrap()
    }

    #[test]
    fn trust_rules() {
        let trusted = TrustedHosts::microsoft().trust("127.0.0.1:4000").unwrap();
        assert!(trusted.is_trusted(&url("https://smba.trafficmanager.net/amer/")));
        assert!(trusted.is_trusted(&url("https://SMBA.infra.gcc.teams.microsoft.com/")));
        assert!(trusted.is_trusted(&url("https://smba.infra.dod.teams.microsoft.us/")));
        assert!(!trusted.is_trusted(&url("http://smba.trafficmanager.net/amer/")));
        assert!(!trusted.is_trusted(&url("https://smba.trafficmanager.net:8443/amer/")));
        assert!(!trusted.is_trusted(&url("https://smba.trafficmanager.net.evil.example/")));
        assert!(!trusted.is_trusted(&url("https://evil.example/smba.trafficmanager.net/")));
        assert!(!trusted.is_trusted(&url("https://user@smba.trafficmanager.net/")));
        assert!(trusted.is_trusted(&url("http://127.0.0.1:4000/")));
        assert!(!trusted.is_trusted(&url("http://127.0.0.1:4001/")));
        assert!(!trusted.is_trusted(&url("http://127.0.0.1/")));
        assert!(is_loopback(&url("http://127.0.0.2:1/")));
        assert!(is_loopback(&url("http://[::1]:1/")));
        assert!(!is_loopback(&url("https://smba.trafficmanager.net/")));
    }
}
