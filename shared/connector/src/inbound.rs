//! Inbound Bot Framework JWT validation (PROTOCOL 3).
//!
//! Every activity Teams posts to the webhook carries `Authorization: Bearer <JWT>` signed by the Bot
//! Connector. [`JwtValidator::validate`] accepts it only if it is RS256, signed by a key listed in the
//! OpenID metadata's JWKS, issued by a trusted issuer for this bot's app id, inside its lifetime (5
//! minutes of skew), signed by a key endorsed for the activity's channel, and vouching for the
//! activity's `serviceUrl`. Anything else is an [`AuthError`] naming the reason, for the logs; the
//! webhook answers 401.
//!
//! There is deliberately no switch that turns validation off: [`InboundAuthConfig`] only chooses
//! where keys come from and which issuers count.
//!
//! The webhook calls it like this (one validator per process, shared by all requests so the key
//! cache is shared too):
//!
//! ```ignore
//! let validator = JwtValidator::new(InboundAuthConfig::new(app_id))?;
//! // per request:
//! let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
//! match validator.validate(auth, &activity.channel_id, &activity.service_url).await {
//!     Ok(claims) => { /* handle the activity */ }
//!     Err(reason) => { tracing::warn!(%reason, "rejected inbound activity"); /* 401 */ }
//! }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use herald_domain::{Clock, SystemClock};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

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
/// Clock skew tolerated on `exp` and `nbf` (PROTOCOL 3); fixed, not configurable.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Longest Authorization header looked at; real connector tokens are about 1.5 KB.
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Largest metadata or JWKS document read; the real JWKS is about 10 KB.
const MAX_DOCUMENT_LEN: usize = 1024 * 1024;
/// Attacker-supplied strings (kid, alg, iss, ...) are clipped to this many chars in errors.
const MAX_ECHO_LEN: usize = 96;

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
    /// Keys older than this are refetched before use (PROTOCOL 3: at least every 24 h).
    pub key_refresh_interval: Duration,
    /// A token with an unknown `kid` triggers a refetch at most this often, so garbage kids
    /// cannot hammer the metadata endpoint.
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
            unknown_kid_refresh_interval: Duration::from_secs(5 * 60),
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

    fn check(&self) -> Result<(), ConfigError> {
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

/// Why an inbound token was rejected. Every variant means "answer 401"; the text is for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("no Authorization header")]
    MissingHeader,
    #[error("Authorization header is not a Bearer token")]
    NotBearer,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("unsupported signing algorithm {0:?} (only RS256 is accepted)")]
    UnsupportedAlgorithm(String),
    #[error("token header has no key id (kid)")]
    MissingKeyId,
    #[error("no signing key with kid {0:?} in the OpenID metadata")]
    UnknownKey(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("token has no {0:?} claim")]
    MissingClaim(&'static str),
    #[error("token expired at {expired_at} (now {now}, skew 5 min)")]
    Expired {
        expired_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error("token not valid before {not_before} (now {now}, skew 5 min)")]
    NotYetValid {
        not_before: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error("issuer {0:?} is not trusted")]
    WrongIssuer(String),
    #[error("audience {0:?} is not this bot's app id")]
    WrongAudience(String),
    #[error("signing key {kid:?} is not endorsed for channel {channel_id:?}")]
    NotEndorsed { kid: String, channel_id: String },
    #[error("serviceurl claim {claim:?} does not match the activity's serviceUrl {activity:?}")]
    ServiceUrlMismatch { claim: String, activity: String },
    #[error("OpenID metadata unavailable: {0}")]
    MetadataUnavailable(String),
}

impl AuthError {
    /// True when the token was not judged because keys could not be fetched; a retry may pass.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::MetadataUnavailable(_))
    }
}

/// The claims of an accepted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub issuer: String,
    /// The bot's app id.
    pub audience: String,
    /// The `serviceurl` claim, as the token spells it.
    pub service_url: String,
    pub expires_at: DateTime<Utc>,
    pub not_before: Option<DateTime<Utc>>,
    /// The `kid` of the key that signed it.
    pub key_id: String,
}

/// Validates inbound Bot Framework tokens. Create one per process and share it: it holds the key
/// cache and the HTTP client.
pub struct JwtValidator {
    config: InboundAuthConfig,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    cache: RwLock<KeyCache>,
    /// Held while fetching: concurrent validations that need keys wait for one fetch.
    refresh: tokio::sync::Mutex<()>,
}

impl fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtValidator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl JwtValidator {
    /// A validator with its own HTTP client.
    pub fn new(config: InboundAuthConfig) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Self::with_client(config, http)
    }

    /// A validator that reuses an existing client (one connection pool per process).
    pub fn with_client(
        config: InboundAuthConfig,
        http: reqwest::Client,
    ) -> Result<Self, ConfigError> {
        config.check()?;
        Ok(Self {
            config,
            http,
            clock: Arc::new(SystemClock),
            cache: RwLock::new(KeyCache::default()),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    /// Replaces the clock: token lifetimes and key-cache age are judged against it (tests drive a
    /// `herald_domain::ManualClock`).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration in use.
    #[must_use]
    pub fn config(&self) -> &InboundAuthConfig {
        &self.config
    }

    /// Checks the `Authorization` header of an activity whose `channelId` and `serviceUrl` are
    /// given. Never panics, whatever the input.
    pub async fn validate(
        &self,
        authorization_header: Option<&str>,
        channel_id: &str,
        service_url: &str,
    ) -> Result<Claims, AuthError> {
        let token = bearer_token(authorization_header)?;
        let header = parse_header(token)?;
        match header.alg.as_deref() {
            Some("RS256") => {}
            Some(other) => return Err(AuthError::UnsupportedAlgorithm(clip(other))),
            None => return Err(AuthError::Malformed("header has no alg".to_owned())),
        }
        let kid = header
            .kid
            .filter(|k| !k.is_empty())
            .ok_or(AuthError::MissingKeyId)?;
        let key = self.signing_key(&kid).await?;

        // jsonwebtoken checks the signature (RS256 only); the claims are checked below against
        // the injected clock and with a precise reason for each failure.
        let mut signature_only = Validation::new(Algorithm::RS256);
        signature_only.required_spec_claims.clear();
        signature_only.validate_exp = false;
        signature_only.validate_nbf = false;
        signature_only.validate_aud = false;
        let raw = jsonwebtoken::decode::<RawClaims>(token, &key.decoding, &signature_only)
            .map_err(|e| match e.into_kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidRsaKey(_) => {
                    AuthError::BadSignature
                }
                ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
                    AuthError::UnsupportedAlgorithm("RS256 key mismatch".to_owned())
                }
                other => AuthError::Malformed(clip(&format!("{other:?}"))),
            })?
            .claims;

        let claims = self.check_claims(raw, kid)?;
        if let Some(endorsements) = &key.endorsements
            && !endorsements.iter().any(|e| e == channel_id)
        {
            return Err(AuthError::NotEndorsed {
                kid: clip(&claims.key_id),
                channel_id: clip(channel_id),
            });
        }
        if !same_service_url(&claims.service_url, service_url) {
            return Err(AuthError::ServiceUrlMismatch {
                claim: clip(&claims.service_url),
                activity: clip(service_url),
            });
        }
        Ok(claims)
    }

    fn check_claims(&self, raw: RawClaims, key_id: String) -> Result<Claims, AuthError> {
        let now = self.clock.now();
        let skew = chrono::Duration::from_std(CLOCK_SKEW).unwrap_or(chrono::Duration::zero());

        let exp = raw.exp.ok_or(AuthError::MissingClaim("exp"))?;
        let expires_at = DateTime::from_timestamp(exp, 0)
            .ok_or_else(|| AuthError::Malformed("exp out of range".to_owned()))?;
        if now > expires_at + skew {
            return Err(AuthError::Expired {
                expired_at: expires_at,
                now,
            });
        }
        let not_before = raw
            .nbf
            .map(|nbf| {
                DateTime::from_timestamp(nbf, 0)
                    .ok_or_else(|| AuthError::Malformed("nbf out of range".to_owned()))
            })
            .transpose()?;
        if let Some(not_before) = not_before
            && not_before > now + skew
        {
            return Err(AuthError::NotYetValid { not_before, now });
        }

        let issuer = raw.iss.ok_or(AuthError::MissingClaim("iss"))?;
        if !self.config.issuers.contains(&issuer) {
            return Err(AuthError::WrongIssuer(clip(&issuer)));
        }
        let audience = match raw.aud.ok_or(AuthError::MissingClaim("aud"))? {
            Audience::One(aud) if aud == self.config.app_id => aud,
            Audience::Many(list) if list.contains(&self.config.app_id) => {
                self.config.app_id.clone()
            }
            Audience::One(aud) => return Err(AuthError::WrongAudience(clip(&aud))),
            Audience::Many(list) => return Err(AuthError::WrongAudience(clip(&list.join(",")))),
        };
        let service_url = raw
            .serviceurl
            .ok_or(AuthError::MissingClaim("serviceurl"))?;
        Ok(Claims {
            issuer,
            audience,
            service_url,
            expires_at,
            not_before,
            key_id,
        })
    }

    /// The key for `kid`, refetching keys when they are stale or the kid is unknown.
    async fn signing_key(&self, kid: &str) -> Result<Arc<SigningKey>, AuthError> {
        let seen_attempts = {
            let cache = self.read_cache();
            if !cache.is_stale(self.clock.now(), self.config.key_refresh_interval)
                && let Some(key) = cache.keys.get(kid)
            {
                return Ok(Arc::clone(key));
            }
            cache.attempts
        };

        let _refreshing = self.refresh.lock().await;
        let now = self.clock.now();
        let fetch = {
            let cache = self.read_cache();
            if cache.attempts != seen_attempts {
                // Someone fetched while this call waited: use their result.
                false
            } else if cache.is_stale(now, self.config.key_refresh_interval) {
                !within(
                    cache.last_failure_at,
                    now,
                    self.config.failed_refresh_backoff,
                )
            } else if cache.keys.contains_key(kid) {
                false
            } else {
                !within(
                    cache.last_attempt_at,
                    now,
                    self.config.unknown_kid_refresh_interval,
                )
            }
        };
        if fetch {
            let result = self.fetch_keys().await;
            let now = self.clock.now();
            let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
            cache.attempts += 1;
            cache.last_attempt_at = Some(now);
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

    fn read_cache(&self) -> RwLockReadGuard<'_, KeyCache> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, Arc<SigningKey>>, String> {
        let metadata: OpenIdMetadata = self.get_json(&self.config.openid_metadata_url).await?;
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

/// Keys by kid, and when they were fetched.
#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Arc<SigningKey>>,
    loaded_at: Option<DateTime<Utc>>,
    last_attempt_at: Option<DateTime<Utc>>,
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

struct SigningKey {
    decoding: DecodingKey,
    /// `None` when the JWKS entry carries no `endorsements` member (then any channel may use it).
    endorsements: Option<Vec<String>>,
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

#[derive(Deserialize)]
struct JoseHeader {
    alg: Option<String>,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    nbf: Option<i64>,
    serviceurl: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The token of a `Bearer` Authorization header (scheme compared case-insensitively, RFC 7235).
fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    let header = header.ok_or(AuthError::MissingHeader)?;
    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed("empty bearer token".to_owned()));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed(format!(
            "token longer than {MAX_TOKEN_LEN} bytes"
        )));
    }
    if token.contains(char::is_whitespace) {
        return Err(AuthError::Malformed(
            "whitespace inside the token".to_owned(),
        ));
    }
    Ok(token)
}

/// The JOSE header, read here rather than by jsonwebtoken so `alg: none` and other algorithms it
/// does not know are reported as such instead of as a parse error.
fn parse_header(token: &str) -> Result<JoseHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "not three dot-separated parts".to_owned(),
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|e| AuthError::Malformed(format!("header: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| AuthError::Malformed(clip(&format!("header: {e}"))))
}

/// Service URLs compared after normalising what varies harmlessly: host case, default port and
/// trailing slashes. Unparseable URLs never match.
fn same_service_url(claim: &str, activity: &str) -> bool {
    fn normalise(raw: &str) -> Option<Url> {
        let mut url = Url::parse(raw.trim()).ok()?;
        if !url.has_host() {
            return None;
        }
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        Some(url)
    }
    match (normalise(claim), normalise(activity)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// https only, except for loopback hosts (the local emulator speaks plain http).
fn check_fetch_url(raw: &str) -> Result<(), String> {
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

/// Bounds attacker-controlled text that ends up in logs.
fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_ECHO_LEN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_required_and_case_insensitive() {
        assert_eq!(bearer_token(None), Err(AuthError::MissingHeader));
        assert_eq!(bearer_token(Some("  ")), Err(AuthError::MissingHeader));
        assert_eq!(bearer_token(Some("Basic abc")), Err(AuthError::NotBearer));
        assert_eq!(bearer_token(Some("abc.def.ghi")), Err(AuthError::NotBearer));
        assert!(matches!(
            bearer_token(Some("Bearer")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            bearer_token(Some("Bearer a b")),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(bearer_token(Some("bearer a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer_token(Some(" Bearer  a.b.c ")), Ok("a.b.c"));
    }

    #[test]
    fn service_urls_compare_modulo_slash_host_case_and_default_port() {
        let teams = "https://smba.trafficmanager.net/amer/";
        assert!(same_service_url(
            teams,
            "https://smba.trafficmanager.net/amer"
        ));
        assert!(same_service_url(
            teams,
            "https://SMBA.TrafficManager.net/amer/"
        ));
        assert!(same_service_url(
            teams,
            "https://smba.trafficmanager.net:443/amer/"
        ));
        assert!(same_service_url(
            "https://smba.trafficmanager.net",
            "https://smba.trafficmanager.net/"
        ));
        assert!(!same_service_url(
            teams,
            "https://smba.trafficmanager.net/emea/"
        ));
        assert!(!same_service_url(
            teams,
            "http://smba.trafficmanager.net/amer/"
        ));
        assert!(!same_service_url(
            teams,
            "https://smba.trafficmanager.net.evil/amer/"
        ));
        assert!(!same_service_url(
            teams,
            "https://smba.trafficmanager.net/AMER/"
        ));
        assert!(!same_service_url("", ""));
        assert!(!same_service_url("not a url", "not a url"));
    }

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

    #[test]
    fn clip_bounds_echoed_text() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(500);
        assert_eq!(clip(&long).chars().count(), MAX_ECHO_LEN + 1);
    }
}
