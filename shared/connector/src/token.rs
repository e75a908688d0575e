//! The outbound bearer token: OAuth client credentials, cached across invocations of a
//! warm process, refreshed before it expires, fetched once however many sends wait for it. The
//! connector authentication page describes the grant and the scope
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication>).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use tokio::time::Instant;
use url::Url;

use crate::config::{ConfigError, ConnectorConfig, Credentials, Secret};

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// The identity platform refused the credentials (wrong secret, wrong tenant: AADSTS700016...).
    #[error("token request rejected (HTTP {status}): {error:?} {description:?}")]
    Rejected {
        status: u16,
        error: Option<String>,
        description: Option<String>,
    },
    /// The token endpoint could not be reached or failed (5xx, 429, timeout); retryable.
    #[error("token endpoint unavailable (HTTP {status:?}): {message}")]
    Unavailable {
        status: Option<u16>,
        message: String,
    },
    /// A 2xx answer without a usable token.
    #[error("invalid token response: {0}")]
    InvalidResponse(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl TokenError {
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// A bearer token; its value is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// State changed only by the task that holds the refresh lock.
#[derive(Default)]
struct Refresh {
    last_error: Option<TokenError>,
}

struct ClientCredentials {
    token_url: Url,
    client_id: String,
    client_secret: Secret,
    scope: String,
}

struct Inner {
    http: reqwest::Client,
    credentials: Option<ClientCredentials>,
    margin: Duration,
    timeout: Duration,
    cached: RwLock<Option<Cached>>,
    refresh: tokio::sync::Mutex<Refresh>,
    fetches: AtomicU64,
    /// Bumped when a fetch finishes, so a waiter can tell one finished (and failed) while it waited.
    completed: AtomicU64,
}

/// Hands out the bearer token for connector calls. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("anonymous", &self.is_anonymous())
            .field("fetches", &self.fetch_count())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TokenErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

impl TokenProvider {
    /// A provider sharing `http` (and so its connection pool) with the connector.
    pub fn new(config: &ConnectorConfig, http: reqwest::Client) -> Result<Self, ConfigError> {
        let credentials = match &config.credentials {
            Credentials::Anonymous => None,
            app @ Credentials::App {
                app_id,
                password,
                cloud,
                ..
            } => Some(ClientCredentials {
                token_url: app
                    .token_url()
                    .ok_or(ConfigError::Missing("MicrosoftAppId"))??,
                client_id: app_id.as_str().to_owned(),
                client_secret: password.clone(),
                scope: cloud.scope().to_owned(),
            }),
        };
        Ok(Self::build(
            http,
            credentials,
            config.token_refresh_margin,
            config.request_timeout,
        ))
    }

    /// A provider for any client-credentials grant: `scope` at `token_url` (for example Microsoft
    /// Graph's `https://graph.microsoft.com/.default` at a customer tenant's endpoint). Same
    /// caching, refresh margin and single-flight fetching as [`Self::new`].
    #[must_use]
    pub fn client_credentials(
        http: reqwest::Client,
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: Secret,
        scope: impl Into<String>,
        margin: Duration,
        timeout: Duration,
    ) -> Self {
        let credentials = ClientCredentials {
            token_url,
            client_id: client_id.into(),
            client_secret,
            scope: scope.into(),
        };
        Self::build(http, Some(credentials), margin, timeout)
    }

    /// A provider that never fetches or sends a token (local runs against an emulator).
    #[must_use]
    pub fn anonymous(http: reqwest::Client) -> Self {
        Self::build(
            http,
            None,
            ConnectorConfig::DEFAULT_REFRESH_MARGIN,
            ConnectorConfig::DEFAULT_TIMEOUT,
        )
    }

    fn build(
        http: reqwest::Client,
        credentials: Option<ClientCredentials>,
        margin: Duration,
        timeout: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                credentials,
                margin,
                timeout,
                cached: RwLock::new(None),
                refresh: tokio::sync::Mutex::new(Refresh::default()),
                fetches: AtomicU64::new(0),
                completed: AtomicU64::new(0),
            }),
        }
    }

    /// True when no app id is configured: no token is ever fetched.
    #[must_use]
    pub fn is_anonymous(&self) -> bool {
        self.inner.credentials.is_none()
    }

    /// How many token requests this provider has made (for metrics and tests).
    #[must_use]
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// The current token (`None` when anonymous), fetching a new one if the cached one is due.
    pub async fn token(&self) -> Result<Option<AccessToken>, TokenError> {
        let Some(credentials) = &self.inner.credentials else {
            return Ok(None);
        };
        if let Some(token) = self.fresh() {
            return Ok(Some(token));
        }
        let seen = self.inner.completed.load(Ordering::Acquire);
        // Whoever gets the lock first fetches; the others find the new token (or its error), so
        // a thousand concurrent sends cause one token request, and a failing endpoint one failure.
        let mut refresh = self.inner.refresh.lock().await;
        if let Some(token) = self.fresh() {
            return Ok(Some(token));
        }
        if self.inner.completed.load(Ordering::Acquire) != seen
            && let Some(error) = &refresh.last_error
        {
            return Err(error.clone());
        }
        let result = self.fetch(credentials).await;
        self.inner.completed.fetch_add(1, Ordering::Release);
        match result {
            Ok(cached) => {
                refresh.last_error = None;
                let token = cached.token.clone();
                *self
                    .inner
                    .cached
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(cached);
                Ok(Some(token))
            }
            Err(error) => {
                refresh.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Forgets the cached token, e.g. after a 401 that suggests it was revoked.
    pub fn invalidate(&self) {
        *self
            .inner
            .cached
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn fresh(&self) -> Option<AccessToken> {
        let cached = self
            .inner
            .cached
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        cached
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.clone())
    }

    async fn fetch(&self, credentials: &ClientCredentials) -> Result<Cached, TokenError> {
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.expose()),
            ("scope", credentials.scope.as_str()),
        ];
        let unavailable =
            |status: Option<u16>, message: String| TokenError::Unavailable { status, message };
        let response = self
            .inner
            .http
            .post(credentials.token_url.clone())
            .form(&form)
            .timeout(self.inner.timeout)
            .send()
            .await
            .map_err(|e| unavailable(None, e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| unavailable(Some(status), e.to_string()))?;
        if !(200..300).contains(&status) {
            if status >= 500 || status == 429 || status == 408 {
                let text = String::from_utf8_lossy(&body).chars().take(512).collect();
                return Err(unavailable(Some(status), text));
            }
            let parsed = serde_json::from_slice::<TokenErrorResponse>(&body).ok();
            return Err(TokenError::Rejected {
                status,
                error: parsed.as_ref().and_then(|p| p.error.clone()),
                description: parsed.and_then(|p| p.error_description),
            });
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| TokenError::InvalidResponse(e.to_string()))?;
        let token = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| TokenError::InvalidResponse("no access_token".to_owned()))?;
        // Azure AD has sent expires_in both as a number and as a string.
        let expires_in = match parsed.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| TokenError::InvalidResponse("no valid expires_in".to_owned()))?;
        // Measured from before the request, so network time only makes the refresh earlier.
        let lifetime = Duration::from_secs(expires_in);
        Ok(Cached {
            token: AccessToken(token.into()),
            refresh_at: started + refresh_after(lifetime, self.inner.margin),
        })
    }
}

/// How long a token is used before it is replaced: its lifetime less the margin, or half its
/// lifetime when it lives no longer than the margin (so a short-lived token is still shared).
fn refresh_after(lifetime: Duration, margin: Duration) -> Duration {
    match lifetime.checked_sub(margin) {
        Some(left) if !left.is_zero() => left,
        _ => lifetime / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_comes_before_expiry() {
        let margin = Duration::from_secs(300);
        assert_eq!(
            refresh_after(Duration::from_secs(3600), margin),
            Duration::from_secs(3300)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(302), margin),
            Duration::from_secs(2)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(60), margin),
            Duration::from_secs(30)
        );
        assert_eq!(refresh_after(Duration::ZERO, margin), Duration::ZERO);
    }
}
