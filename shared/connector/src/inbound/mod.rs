//! Inbound Bot Framework JWT validation, as the connector authentication page describes it
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication>).
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
//!
//! `keys.rs` holds the signing-key cache, `token.rs` the checks on one token.

mod config;
mod keys;
mod token;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_domain::{Clock, SystemClock};

pub use config::{
    CLOCK_SKEW, ConfigError, InboundAuthConfig, PUBLIC_CLOUD_ISSUER,
    PUBLIC_CLOUD_OPENID_METADATA_URL, US_GOV_ISSUER, US_GOV_OPENID_METADATA_URL,
};
use keys::SigningKeys;

/// Attacker-supplied strings (kid, alg, iss, ...) are clipped to this many chars in errors.
const MAX_ECHO_LEN: usize = 96;

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
    clock: Arc<dyn Clock>,
    keys: SigningKeys,
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
            clock: Arc::new(SystemClock),
            keys: SigningKeys::new(http),
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
        let token = token::bearer_token(authorization_header)?;
        let kid = token::signing_key_id(token)?;
        let key = self
            .keys
            .get(&kid, &self.config, self.clock.as_ref())
            .await?;
        let raw = token::verify_signature(token, &key)?;
        let claims = token::check_claims(raw, kid, &self.config, self.clock.now())?;
        token::check_endorsement(&key, &claims.key_id, channel_id)?;
        token::check_service_url(&claims.service_url, service_url)?;
        Ok(claims)
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
    fn clip_bounds_echoed_text() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(500);
        assert_eq!(clip(&long).chars().count(), MAX_ECHO_LEN + 1);
    }
}
