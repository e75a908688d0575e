//! The emulator identity: OpenID metadata, JWKS with test RSA keys, and minted inbound tokens.
//!
//! It plays `login.botframework.com` for Herald's tests: [`Identity::router`] serves
//! `GET /v1/.well-known/openidconfiguration` and `GET /v1/.well-known/keys`, and [`Identity::mint`]
//! produces the bearer tokens the Bot Connector would put on an inbound activity, plus every kind
//! of bad token a webhook must reject ([`TokenKind`]).
//!
//! The metadata's `jwks_uri` is derived from the request's `Host` header (always `http://`), so
//! the router works unchanged whether it is served alone or merged into the emulator's server.
//!
//! Keys are fixed 2048-bit test keys under `keys/` (test-only, never used outside tests), so no
//! test pays for RSA key generation.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration as StdDuration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The issuer of public-cloud Bot Connector tokens.
pub const PUBLIC_CLOUD_ISSUER: &str = "https://api.botframework.com";
/// Path of the OpenID metadata document, as on `login.botframework.com`.
pub const OPENID_METADATA_PATH: &str = "/v1/.well-known/openidconfiguration";
/// Path of the JWKS document, as on `login.botframework.com`.
pub const JWKS_PATH: &str = "/v1/.well-known/keys";
/// The channel id Teams activities carry, and the endorsement Teams signing keys carry.
pub const TEAMS_CHANNEL_ID: &str = "msteams";
/// The `serviceurl` claim of [`TokenKind::ServiceUrlMismatch`] tokens.
pub const FOREIGN_SERVICE_URL: &str = "https://smba.attacker.example/amer/";
/// The `iss` claim of [`TokenKind::WrongIssuer`] tokens.
pub const FOREIGN_ISSUER: &str = "https://sts.windows.net/attacker/";
/// The `aud` claim of [`TokenKind::WrongAudience`] tokens.
pub const FOREIGN_AUDIENCE: &str = "00000000-0000-0000-0000-00000000bad0";

/// Key material that `rotate_key` cycles through; each rotation gets a fresh `kid`.
const ROTATION_KEYS: [(&str, &str); 3] = [
    (
        include_str!("../keys/rotation-1.pem"),
        include_str!("../keys/rotation-1.pub.pem"),
    ),
    (
        include_str!("../keys/rotation-2.pem"),
        include_str!("../keys/rotation-2.pub.pem"),
    ),
    (
        include_str!("../keys/rotation-3.pem"),
        include_str!("../keys/rotation-3.pub.pem"),
    ),
];
const UNENDORSED_KEY: (&str, &str) = (
    include_str!("../keys/unendorsed.pem"),
    include_str!("../keys/unendorsed.pub.pem"),
);
const NO_ENDORSEMENTS_KEY: (&str, &str) = (
    include_str!("../keys/no-endorsements.pem"),
    include_str!("../keys/no-endorsements.pub.pem"),
);
const UNKNOWN_KEY: (&str, &str) = (
    include_str!("../keys/unknown.pem"),
    include_str!("../keys/unknown.pub.pem"),
);

/// Lifetime of a minted token (the real connector's tokens also live about an hour).
const TOKEN_LIFETIME: Duration = Duration::hours(1);

/// What kind of token [`Identity::mint`] produces. Everything but the accepted kinds is a token a
/// correct validator rejects; the doc of each says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Correct in every respect, signed by the current key.
    Valid,
    /// `exp` 10 minutes in the past (beyond the 5-minute skew).
    Expired,
    /// `exp` 2 minutes in the past: accepted thanks to the 5-minute skew.
    ExpiredWithinSkew,
    /// `nbf` 10 minutes in the future (beyond the skew).
    NotYetValid,
    /// `nbf` 2 minutes in the future: accepted thanks to the skew.
    NotYetValidWithinSkew,
    /// `iss` is [`FOREIGN_ISSUER`].
    WrongIssuer,
    /// `aud` is [`FOREIGN_AUDIENCE`] rather than the app id.
    WrongAudience,
    /// Signed by a key that the JWKS never lists.
    UnknownKey,
    /// Signed by the key the next [`Identity::rotate_key`] will publish: unknown until then.
    UpcomingKey,
    /// Signed by a listed key whose `endorsements` do not include `msteams`.
    NotEndorsed,
    /// Signed by a listed key that carries no `endorsements` at all: accepted.
    KeyWithoutEndorsements,
    /// `serviceurl` is [`FOREIGN_SERVICE_URL`] instead of the spec's service URL.
    ServiceUrlMismatch,
    /// Header `alg: none` with an empty signature.
    AlgNone,
    /// HS256, with the current key's public PEM as the HMAC secret (the classic key-confusion attack).
    Hs256WithPublicKey,
    /// Correctly signed by the current key, but the payload is not JSON.
    Malformed,
}

/// What to mint: the service URL the token vouches for, the kind, and optional overrides.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    service_url: String,
    kind: TokenKind,
    issued_at: Option<DateTime<Utc>>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl TokenSpec {
    /// A valid token for an activity whose `serviceUrl` is `service_url`.
    #[must_use]
    pub fn valid(service_url: &str) -> Self {
        Self::new(service_url, TokenKind::Valid)
    }

    /// A token of the given kind for an activity whose `serviceUrl` is `service_url`.
    #[must_use]
    pub fn new(service_url: &str, kind: TokenKind) -> Self {
        Self {
            service_url: service_url.to_owned(),
            kind,
            issued_at: None,
            issuer: None,
            audience: None,
        }
    }

    /// Times (`nbf`, `exp`) relative to `at` instead of now, for validators on a test clock.
    #[must_use]
    pub fn issued_at(mut self, at: DateTime<Utc>) -> Self {
        self.issued_at = Some(at);
        self
    }

    /// Overrides the issuer of the identity (for example a government-cloud issuer).
    #[must_use]
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    /// Overrides the audience (the identity's app id by default).
    #[must_use]
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = Some(audience.to_owned());
        self
    }
}

/// One signing key: private half for minting, public components for the JWKS.
#[derive(Clone)]
struct TestKey {
    kid: String,
    encoding: EncodingKey,
    public_pem: &'static str,
    n: String,
    e: String,
    /// `None` publishes the key without an `endorsements` member.
    endorsements: Option<Vec<String>>,
}

impl TestKey {
    /// Loads a fixed test key. Panics only if a file under `keys/` is corrupt (a repository bug).
    fn load(
        kid: String,
        (private_pem, public_pem): (&str, &'static str),
        endorsements: Option<&[&str]>,
    ) -> Self {
        let encoding = EncodingKey::from_rsa_pem(private_pem.as_bytes())
            .expect("test key under tests/teams-emulator/keys is a valid RSA PEM");
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
            .expect("public components of a test RSA key");
        let AlgorithmParameters::RSA(rsa) = jwk.algorithm else {
            unreachable!("an RSA encoding key yields RSA parameters")
        };
        Self {
            kid,
            encoding,
            public_pem,
            n: rsa.n,
            e: rsa.e,
            endorsements: endorsements.map(|list| list.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    fn jwk(&self) -> Value {
        let mut jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": self.n,
            "e": self.e,
        });
        if let (Some(list), Some(map)) = (&self.endorsements, jwk.as_object_mut()) {
            map.insert("endorsements".to_owned(), json!(list));
        }
        jwk
    }
}

/// The published keys; the last one is the current signing key.
struct KeyRing {
    published: Vec<TestKey>,
    rotations: usize,
}

impl KeyRing {
    fn current(&self) -> &TestKey {
        self.published
            .last()
            .expect("the key ring always holds the current key")
    }
}

struct Inner {
    app_id: String,
    issuer: String,
    ring: RwLock<KeyRing>,
    /// Published alongside the ring: endorsed for `webchat` only.
    unendorsed: TestKey,
    /// Published alongside the ring: no `endorsements` member.
    no_endorsements: TestKey,
    /// Never published.
    unknown: TestKey,
    metadata_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
    outage: AtomicBool,
    /// Delay before each answer, in milliseconds.
    latency_ms: AtomicU64,
}

/// The emulated Bot Framework identity service for one bot app id. Cheap to clone; clones share
/// keys and counters.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

impl Identity {
    /// An identity for `app_id` with the public-cloud issuer and one current key.
    #[must_use]
    pub fn new(app_id: &str) -> Self {
        Self::with_issuer(app_id, PUBLIC_CLOUD_ISSUER)
    }

    /// An identity with a different issuer (for example `https://api.botframework.us`).
    #[must_use]
    pub fn with_issuer(app_id: &str, issuer: &str) -> Self {
        let first = TestKey::load(
            rotation_kid(0),
            ROTATION_KEYS[0],
            Some(&[TEAMS_CHANNEL_ID, "webchat"]),
        );
        Self {
            inner: Arc::new(Inner {
                app_id: app_id.to_owned(),
                issuer: issuer.to_owned(),
                ring: RwLock::new(KeyRing {
                    published: vec![first],
                    rotations: 0,
                }),
                unendorsed: TestKey::load(
                    "herald-test-unendorsed".to_owned(),
                    UNENDORSED_KEY,
                    Some(&["webchat"]),
                ),
                no_endorsements: TestKey::load(
                    "herald-test-no-endorsements".to_owned(),
                    NO_ENDORSEMENTS_KEY,
                    None,
                ),
                unknown: TestKey::load(
                    "herald-test-unknown".to_owned(),
                    UNKNOWN_KEY,
                    Some(&[TEAMS_CHANNEL_ID]),
                ),
                metadata_fetches: AtomicUsize::new(0),
                jwks_fetches: AtomicUsize::new(0),
                outage: AtomicBool::new(false),
                latency_ms: AtomicU64::new(0),
            }),
        }
    }

    /// The bot app id tokens are minted for (`aud`).
    #[must_use]
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The issuer tokens and metadata carry (`iss`).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The `kid` of the current signing key.
    #[must_use]
    pub fn current_kid(&self) -> String {
        self.ring().current().kid.clone()
    }

    /// The `kids` the JWKS lists right now.
    #[must_use]
    pub fn published_kids(&self) -> Vec<String> {
        self.published_keys().into_iter().map(|k| k.kid).collect()
    }

    /// Publishes a new current key (the one [`TokenKind::UpcomingKey`] tokens are signed with) and
    /// keeps the old ones listed, as Microsoft does during a rollover. See [`Self::current_kid`].
    pub fn rotate_key(&self) {
        let mut ring = self.ring_mut();
        ring.rotations += 1;
        let key = rotation_key(ring.rotations);
        ring.published.push(key);
    }

    /// Stops listing every rotation key except the current one (the end of a rollover).
    pub fn retire_old_keys(&self) {
        let mut ring = self.ring_mut();
        let keep = ring.published.len().saturating_sub(1);
        ring.published.drain(..keep);
    }

    /// How many times the OpenID metadata document was requested.
    #[must_use]
    pub fn metadata_fetches(&self) -> usize {
        self.inner.metadata_fetches.load(Ordering::SeqCst)
    }

    /// How many times the JWKS document was requested.
    #[must_use]
    pub fn jwks_fetches(&self) -> usize {
        self.inner.jwks_fetches.load(Ordering::SeqCst)
    }

    /// While on, both documents answer 503 (requests are still counted).
    pub fn set_outage(&self, on: bool) {
        self.inner.outage.store(on, Ordering::SeqCst);
    }

    /// Delays every answer (so tests can hold many validations inside one fetch).
    pub fn set_latency(&self, latency: StdDuration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.inner.latency_ms.store(ms, Ordering::SeqCst);
    }

    /// The two identity routes; merge into a server or serve alone.
    pub fn router(&self) -> Router {
        Router::new()
            .route(OPENID_METADATA_PATH, get(openid_metadata))
            .route(JWKS_PATH, get(jwks))
            .with_state(self.clone())
    }

    /// A bearer token (without the `Bearer ` prefix) as described by `spec`.
    #[must_use]
    pub fn mint(&self, spec: TokenSpec) -> String {
        let at = spec.issued_at.unwrap_or_else(Utc::now);
        let (not_before, expires) = match spec.kind {
            TokenKind::Expired => (at - Duration::hours(2), at - Duration::minutes(10)),
            TokenKind::ExpiredWithinSkew => (at - Duration::hours(1), at - Duration::minutes(2)),
            TokenKind::NotYetValid => {
                let nbf = at + Duration::minutes(10);
                (nbf, nbf + TOKEN_LIFETIME)
            }
            TokenKind::NotYetValidWithinSkew => {
                let nbf = at + Duration::minutes(2);
                (nbf, nbf + TOKEN_LIFETIME)
            }
            _ => (at, at + TOKEN_LIFETIME),
        };
        let issuer = match spec.kind {
            TokenKind::WrongIssuer => FOREIGN_ISSUER.to_owned(),
            _ => spec.issuer.unwrap_or_else(|| self.inner.issuer.clone()),
        };
        let audience = match spec.kind {
            TokenKind::WrongAudience => FOREIGN_AUDIENCE.to_owned(),
            _ => spec.audience.unwrap_or_else(|| self.inner.app_id.clone()),
        };
        let service_url = match spec.kind {
            TokenKind::ServiceUrlMismatch => FOREIGN_SERVICE_URL.to_owned(),
            _ => spec.service_url,
        };
        let claims = json!({
            "serviceurl": service_url,
            "nbf": not_before.timestamp(),
            "exp": expires.timestamp(),
            "iss": issuer,
            "aud": audience,
        });

        let key = match spec.kind {
            TokenKind::UnknownKey => self.inner.unknown.clone(),
            TokenKind::UpcomingKey => rotation_key(self.ring().rotations + 1),
            TokenKind::NotEndorsed => self.inner.unendorsed.clone(),
            TokenKind::KeyWithoutEndorsements => self.inner.no_endorsements.clone(),
            _ => self.ring().current().clone(),
        };
        match spec.kind {
            TokenKind::AlgNone => {
                let header = json!({"alg": "none", "typ": "JWT", "kid": key.kid});
                format!("{}.{}.", encode_part(&header), encode_part(&claims))
            }
            TokenKind::Hs256WithPublicKey => {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some(key.kid.clone());
                let secret = EncodingKey::from_secret(key.public_pem.as_bytes());
                jsonwebtoken::encode(&header, &claims, &secret).expect("HS256 signing")
            }
            TokenKind::Malformed => {
                let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid});
                let message = format!(
                    "{}.{}",
                    encode_part(&header),
                    URL_SAFE_NO_PAD.encode("{this is not JSON")
                );
                let signature =
                    jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, Algorithm::RS256)
                        .expect("RS256 signing");
                format!("{message}.{signature}")
            }
            _ => {
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some(key.kid.clone());
                jsonwebtoken::encode(&header, &claims, &key.encoding).expect("RS256 signing")
            }
        }
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, KeyRing> {
        self.inner
            .ring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn ring_mut(&self) -> std::sync::RwLockWriteGuard<'_, KeyRing> {
        self.inner
            .ring
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn published_keys(&self) -> Vec<TestKey> {
        let mut keys = self.ring().published.clone();
        keys.push(self.inner.unendorsed.clone());
        keys.push(self.inner.no_endorsements.clone());
        keys
    }
}

fn rotation_kid(generation: usize) -> String {
    format!("herald-test-key-{generation}")
}

/// The key published by the `generation`-th rotation (material cycles, kids never repeat).
fn rotation_key(generation: usize) -> TestKey {
    TestKey::load(
        rotation_kid(generation),
        ROTATION_KEYS[generation % ROTATION_KEYS.len()],
        Some(&[TEAMS_CHANNEL_ID, "webchat"]),
    )
}

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Counts a request, then applies the injected latency; `Some` answer while in an outage.
async fn answer_faults(identity: &Identity, counter: &AtomicUsize) -> Option<Response> {
    counter.fetch_add(1, Ordering::SeqCst);
    let latency = identity.inner.latency_ms.load(Ordering::SeqCst);
    if latency > 0 {
        tokio::time::sleep(StdDuration::from_millis(latency)).await;
    }
    identity
        .inner
        .outage
        .load(Ordering::SeqCst)
        .then(unavailable)
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "identity outage (injected)",
    )
        .into_response()
}

async fn openid_metadata(State(identity): State<Identity>, headers: HeaderMap) -> Response {
    if let Some(fault) = answer_faults(&identity, &identity.inner.metadata_fetches).await {
        return fault;
    }
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
    else {
        return (StatusCode::BAD_REQUEST, "Host header required").into_response();
    };
    // Same members as login.botframework.com's document.
    Json(json!({
        "issuer": identity.inner.issuer,
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("http://{host}{JWKS_PATH}"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
    .into_response()
}

async fn jwks(State(identity): State<Identity>) -> Response {
    if let Some(fault) = answer_faults(&identity, &identity.inner.jwks_fetches).await {
        return fault;
    }
    let keys: Vec<Value> = identity.published_keys().iter().map(TestKey::jwk).collect();
    Json(json!({ "keys": keys })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_publishes_a_new_current_key_and_can_retire_the_old() {
        let identity = Identity::new("app");
        let first = identity.current_kid();
        identity.rotate_key();
        let second = identity.current_kid();
        assert_ne!(first, second);
        assert_eq!(identity.current_kid(), second);
        assert!(identity.published_kids().contains(&first));
        identity.retire_old_keys();
        let kids = identity.published_kids();
        assert!(!kids.contains(&first));
        assert!(kids.contains(&second));
        assert!(!kids.contains(&"herald-test-unknown".to_owned()));
    }

    #[test]
    fn minted_tokens_carry_the_expected_header() {
        let identity = Identity::new("app");
        let token = identity.mint(TokenSpec::valid("https://smba.trafficmanager.net/amer/"));
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(identity.current_kid().as_str()));

        let none = identity.mint(TokenSpec::new("https://x/", TokenKind::AlgNone));
        assert!(none.ends_with('.'));
        let hs = identity.mint(TokenSpec::new("https://x/", TokenKind::Hs256WithPublicKey));
        assert_eq!(
            jsonwebtoken::decode_header(&hs).unwrap().alg,
            Algorithm::HS256
        );
    }
}
