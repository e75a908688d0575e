//! The signing-key cache: the OpenID metadata names a JWKS document whose RSA keys sign the
//! connector's tokens. Keys are fetched once and shared by every validation, refreshed when they
//! grow old or a token names a key not seen yet, and kept through an outage of the endpoint.
//!
//! Microsoft rolls the signing keys over
//! (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication):
//! a token signed with a key published after the last load names a `kid` the cache does not hold.
//! Such a token refetches the keys at once, however recent the last load; only these unknown-kid
//! refetches are spaced (by `unknown_kid_refresh_interval`, among themselves), so tokens with
//! made-up kids cannot hammer the endpoint.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_domain::Clock;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::config::check_fetch_url;
use super::{AuthError, InboundAuthConfig, clip};

/// Largest metadata or JWKS document read; the real JWKS is about 10 KB.
const MAX_DOCUMENT_LEN: usize = 1024 * 1024;

/// A key that may sign connector tokens.
pub(super) struct SigningKey {
    pub(super) decoding: DecodingKey,
    /// The channels it may sign for; `None` when the JWKS entry carries no `endorsements` member
    /// (then any channel may use it).
    pub(super) endorsements: Option<Vec<String>>,
}

/// The keys of one metadata document, fetched at most once at a time.
pub(super) struct SigningKeys {
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    /// Held while fetching: concurrent validations that need keys wait for one fetch.
    refresh: tokio::sync::Mutex<()>,
}

impl SigningKeys {
    pub(super) fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            cache: RwLock::new(KeyCache::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// The key for `kid`, refetching keys when they are stale or the kid is unknown.
    pub(super) async fn get(
        &self,
        kid: &str,
        config: &InboundAuthConfig,
        clock: &dyn Clock,
    ) -> Result<Arc<SigningKey>, AuthError> {
        let seen_attempts = {
            let cache = self.read_cache();
            if !cache.is_stale(clock.now(), config.key_refresh_interval)
                && let Some(key) = cache.keys.get(kid)
            {
                return Ok(Arc::clone(key));
            }
            cache.attempts
        };

        let _refreshing = self.refresh.lock().await;
        let now = clock.now();
        let fetch = {
            let cache = self.read_cache();
            if cache.attempts != seen_attempts {
                // Someone fetched while this call waited: use their result.
                None
            } else if cache.is_stale(now, config.key_refresh_interval) {
                (!within(cache.last_failure_at, now, config.failed_refresh_backoff))
                    .then_some(Reason::Stale)
            } else if cache.keys.contains_key(kid) {
                None
            } else {
                (!within(
                    cache.last_unknown_kid_fetch_at,
                    now,
                    config.unknown_kid_refresh_interval,
                ))
                .then_some(Reason::UnknownKid)
            }
        };
        if let Some(reason) = fetch {
            let result = self.fetch(&config.openid_metadata_url).await;
            self.record(result, reason, clock.now());
        }

        let cache = self.read_cache();
        // A stale key is still used while the metadata endpoint is down (as botbuilder does).
        if let Some(key) = cache.keys.get(kid) {
            return Ok(Arc::clone(key));
        }
        if let Some(reason) = &cache.last_failure {
            return Err(AuthError::MetadataUnavailable(reason.clone()));
        }
        if cache.loaded_at.is_none() {
            return Err(AuthError::MetadataUnavailable(
                "keys not fetched yet".to_owned(),
            ));
        }
        Err(AuthError::UnknownKey(clip(kid)))
    }

    /// Stores the outcome of a fetch made at `now`.
    fn record(
        &self,
        result: Result<HashMap<String, Arc<SigningKey>>, String>,
        reason: Reason,
        now: DateTime<Utc>,
    ) {
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        cache.attempts += 1;
        if reason == Reason::UnknownKid {
            cache.last_unknown_kid_fetch_at = Some(now);
        }
        match result {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "fetched Bot Framework signing keys");
                cache.keys = keys;
                cache.loaded_at = Some(now);
                cache.last_failure_at = None;
                cache.last_failure = None;
            }
            Err(reason) => {
                tracing::warn!(%reason, "fetching Bot Framework signing keys failed");
                cache.last_failure_at = Some(now);
                cache.last_failure = Some(reason);
            }
        }
    }

    fn read_cache(&self) -> RwLockReadGuard<'_, KeyCache> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The metadata document, then the JWKS it names; entries that are not RSA signing keys are
    /// skipped, and a document without any is a failure.
    async fn fetch(&self, metadata_url: &str) -> Result<HashMap<String, Arc<SigningKey>>, String> {
        let metadata: OpenIdMetadata = self.get_json(metadata_url).await?;
        check_fetch_url(&metadata.jwks_uri).map_err(|e| format!("jwks_uri: {e}"))?;
        let jwks: Jwks = self.get_json(&metadata.jwks_uri).await?;
        let keys: HashMap<_, _> = jwks
            .keys
            .into_iter()
            .filter_map(|value| {
                let parsed = serde_json::from_value::<JwkEntry>(value)
                    .map_err(|e| e.to_string())
                    .and_then(JwkEntry::into_signing_key);
                parsed
                    .inspect_err(|reason| tracing::debug!(%reason, "skipped a JWKS entry"))
                    .ok()
            })
            .map(|(kid, key)| (kid, Arc::new(key)))
            .collect();
        if keys.is_empty() {
            return Err(format!(
                "{} lists no usable RSA signing key",
                metadata.jwks_uri
            ));
        }
        Ok(keys)
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_LEN {
                return Err(format!(
                    "GET {url}: document larger than {MAX_DOCUMENT_LEN} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: {e}"))
    }
}

/// Why keys are fetched: the first or periodic load, or a token naming a key not in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Stale,
    UnknownKid,
}

/// Keys by kid, and when they were fetched.
#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Arc<SigningKey>>,
    loaded_at: Option<DateTime<Utc>>,
    /// When a token with an unknown kid last caused a fetch; the first and periodic loads do
    /// not count, so a key published just after a load is still fetched when first used.
    last_unknown_kid_fetch_at: Option<DateTime<Utc>>,
    /// Set when the latest attempt failed.
    last_failure_at: Option<DateTime<Utc>>,
    last_failure: Option<String>,
    /// Fetch attempts so far; lets a waiting caller see that a fetch happened meanwhile.
    attempts: u64,
}

impl KeyCache {
    fn is_stale(&self, now: DateTime<Utc>, max_age: Duration) -> bool {
        !within(self.loaded_at, now, max_age)
    }
}

/// Whether `since` is set and less than `window` before `now`.
fn within(since: Option<DateTime<Utc>>, now: DateTime<Utc>, window: Duration) -> bool {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    since.is_some_and(|t| now.signed_duration_since(t) < window)
}

#[derive(Deserialize)]
struct OpenIdMetadata {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

/// One JWKS entry, read leniently: entries that are not RSA signing keys are skipped.
#[derive(Deserialize)]
struct JwkEntry {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    endorsements: Option<Vec<String>>,
}

impl JwkEntry {
    fn into_signing_key(self) -> Result<(String, SigningKey), String> {
        let kid = self.kid.filter(|k| !k.is_empty()).ok_or("no kid")?;
        if self.kty.as_deref() != Some("RSA") {
            return Err(format!("{kid}: not an RSA key"));
        }
        if self.key_use.as_deref().is_some_and(|u| u != "sig") {
            return Err(format!("{kid}: not a signing key"));
        }
        if self.alg.as_deref().is_some_and(|a| a != "RS256") {
            return Err(format!("{kid}: alg is not RS256"));
        }
        let (Some(n), Some(e)) = (self.n, self.e) else {
            return Err(format!("{kid}: no modulus or exponent"));
        };
        let decoding =
            DecodingKey::from_rsa_components(&n, &e).map_err(|err| format!("{kid}: {err}"))?;
        Ok((
            kid,
            SigningKey {
                decoding,
                endorsements: self.endorsements,
            },
        ))
    }
}
