//! Inbound JWT validation against a real HTTP identity server (the emulator's) on 127.0.0.1.
//!
//! Every rejection asserts the exact [`AuthError`] variant, so a check that silently stops
//! working fails here.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use herald_connector::inbound::{
    AuthError, Claims, InboundAuthConfig, JwtValidator, US_GOV_ISSUER,
};
use herald_domain::{Clock as _, ManualClock};
use herald_teams_emulator::identity::{
    FOREIGN_AUDIENCE, FOREIGN_ISSUER, FOREIGN_SERVICE_URL, Identity, OPENID_METADATA_PATH,
    TEAMS_CHANNEL_ID, TokenKind, TokenSpec,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const APP_ID: &str = "5e3c1a7b-8d2f-4c61-9b0e-2a7f6d4c8e19";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";

/// Serves `identity.router()` on 127.0.0.1:0 and returns its metadata URL.
async fn serve(identity: &Identity) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = identity.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}{OPENID_METADATA_PATH}")
}

struct Harness {
    identity: Identity,
    clock: Arc<ManualClock>,
    validator: Arc<JwtValidator>,
}

impl Harness {
    async fn new() -> Self {
        let identity = Identity::new(APP_ID);
        let url = serve(&identity).await;
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let validator =
            JwtValidator::new(InboundAuthConfig::new(APP_ID).with_openid_metadata_url(url))
                .unwrap()
                .with_clock(clock.clone());
        Self {
            identity,
            clock,
            validator: Arc::new(validator),
        }
    }

    /// A token of `kind`, minted at the validator's current time.
    fn mint(&self, kind: TokenKind) -> String {
        self.identity
            .mint(TokenSpec::new(SERVICE_URL, kind).issued_at(self.clock.now()))
    }

    /// Validates `token` as the webhook would for a Teams activity from `SERVICE_URL`.
    async fn check(&self, token: &str) -> Result<Claims, AuthError> {
        self.validator
            .validate(
                Some(&format!("Bearer {token}")),
                TEAMS_CHANNEL_ID,
                SERVICE_URL,
            )
            .await
    }

    async fn check_kind(&self, kind: TokenKind) -> Result<Claims, AuthError> {
        self.check(&self.mint(kind)).await
    }

    fn fetches(&self) -> (usize, usize) {
        (
            self.identity.metadata_fetches(),
            self.identity.jwks_fetches(),
        )
    }
}

#[tokio::test]
async fn valid_token_is_accepted_with_its_claims() {
    let h = Harness::new().await;
    let claims = h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(claims.audience, APP_ID);
    assert_eq!(claims.issuer, "https://api.botframework.com");
    assert_eq!(claims.service_url, SERVICE_URL);
    assert_eq!(claims.key_id, h.identity.current_kid());
    assert!(claims.expires_at > h.clock.now());
    assert_eq!(h.fetches(), (1, 1));

    // Cached: a second token costs no fetch.
    h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(h.fetches(), (1, 1));
}

#[tokio::test]
async fn expired_beyond_skew_is_rejected() {
    let h = Harness::new().await;
    let err = h.check_kind(TokenKind::Expired).await.unwrap_err();
    assert!(matches!(err, AuthError::Expired { .. }), "{err}");
}

#[tokio::test]
async fn not_yet_valid_beyond_skew_is_rejected() {
    let h = Harness::new().await;
    let err = h.check_kind(TokenKind::NotYetValid).await.unwrap_err();
    assert!(matches!(err, AuthError::NotYetValid { .. }), "{err}");
}

#[tokio::test]
async fn times_within_the_five_minute_skew_are_accepted() {
    let h = Harness::new().await;
    h.check_kind(TokenKind::ExpiredWithinSkew).await.unwrap();
    h.check_kind(TokenKind::NotYetValidWithinSkew)
        .await
        .unwrap();

    // The same tokens fail once the clock moves past the skew.
    let expiring = h.mint(TokenKind::ExpiredWithinSkew);
    h.clock.advance(chrono::Duration::seconds(4 * 60));
    let err = h.check(&expiring).await.unwrap_err();
    assert!(matches!(err, AuthError::Expired { .. }), "{err}");
}

#[tokio::test]
async fn wrong_issuer_is_rejected() {
    let h = Harness::new().await;
    let err = h.check_kind(TokenKind::WrongIssuer).await.unwrap_err();
    assert_eq!(err, AuthError::WrongIssuer(FOREIGN_ISSUER.to_owned()));
}

#[tokio::test]
async fn wrong_audience_is_rejected() {
    let h = Harness::new().await;
    let err = h.check_kind(TokenKind::WrongAudience).await.unwrap_err();
    assert_eq!(err, AuthError::WrongAudience(FOREIGN_AUDIENCE.to_owned()));
}

#[tokio::test]
async fn key_not_in_jwks_is_rejected() {
    let h = Harness::new().await;
    let err = h.check_kind(TokenKind::UnknownKey).await.unwrap_err();
    assert_eq!(err, AuthError::UnknownKey("herald-test-unknown".to_owned()));
}

#[tokio::test]
async fn unknown_kid_then_rotation_refreshes_keys_and_succeeds() {
    let h = Harness::new().await;
    h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(h.fetches(), (1, 1));

    // Signed by a key not published yet: a refresh is tried (the last fetch is old enough), and
    // the token still fails.
    h.clock.advance(chrono::Duration::seconds(6 * 60));
    let upcoming = h.mint(TokenKind::UpcomingKey);
    let err = h.check(&upcoming).await.unwrap_err();
    assert!(matches!(err, AuthError::UnknownKey(_)), "{err}");
    assert_eq!(h.fetches(), (2, 2));

    // Microsoft rolls the key over. Right after a refresh, unknown kids do not refetch.
    h.identity.rotate_key();
    let err = h.check(&upcoming).await.unwrap_err();
    assert!(matches!(err, AuthError::UnknownKey(_)), "{err}");
    assert_eq!(h.fetches(), (2, 2));

    // Once the rate limit allows, the unknown kid triggers one refresh that finds the new key.
    h.clock.advance(chrono::Duration::seconds(6 * 60));
    let claims = h.check(&upcoming).await.unwrap();
    assert_eq!(claims.key_id, h.identity.current_kid());
    assert_eq!(h.fetches(), (3, 3));
}

#[tokio::test]
async fn a_retired_key_is_refused_after_refresh() {
    let h = Harness::new().await;
    h.check_kind(TokenKind::Valid).await.unwrap();
    h.identity.rotate_key();
    h.identity.retire_old_keys();
    // The 24 h refresh picks up the new key and forgets the retired one.
    h.clock.advance(chrono::Duration::seconds(25 * 60 * 60));
    let claims = h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(claims.key_id, "herald-test-key-1");
    assert_eq!(h.fetches(), (2, 2));

    // A fresh identity signs with key 0 again: what a token from before the rollover looks like.
    let before_rollover =
        Identity::new(APP_ID).mint(TokenSpec::valid(SERVICE_URL).issued_at(h.clock.now()));
    let err = h.check(&before_rollover).await.unwrap_err();
    assert_eq!(err, AuthError::UnknownKey("herald-test-key-0".to_owned()));
}

#[tokio::test]
async fn key_not_endorsed_for_msteams_is_rejected() {
    let h = Harness::new().await;
    let err = h.check_kind(TokenKind::NotEndorsed).await.unwrap_err();
    assert_eq!(
        err,
        AuthError::NotEndorsed {
            kid: "herald-test-unendorsed".to_owned(),
            channel_id: "msteams".to_owned()
        }
    );

    // An endorsed key, but for another channel than the activity's.
    let token = h.mint(TokenKind::Valid);
    let err = h
        .validator
        .validate(Some(&format!("Bearer {token}")), "skype", SERVICE_URL)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::NotEndorsed { .. }), "{err}");
}

#[tokio::test]
async fn key_without_endorsements_is_accepted() {
    let h = Harness::new().await;
    let claims = h
        .check_kind(TokenKind::KeyWithoutEndorsements)
        .await
        .unwrap();
    assert_eq!(claims.key_id, "herald-test-no-endorsements");
}

#[tokio::test]
async fn serviceurl_mismatch_is_rejected() {
    let h = Harness::new().await;
    let err = h
        .check_kind(TokenKind::ServiceUrlMismatch)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::ServiceUrlMismatch {
            claim: FOREIGN_SERVICE_URL.to_owned(),
            activity: SERVICE_URL.to_owned()
        }
    );
}

#[tokio::test]
async fn serviceurl_compares_modulo_trailing_slash_and_host_case() {
    let h = Harness::new().await;
    let token = h
        .identity
        .mint(TokenSpec::valid("https://SMBA.trafficmanager.net/amer").issued_at(h.clock.now()));
    let header = format!("Bearer {token}");
    h.validator
        .validate(Some(&header), TEAMS_CHANNEL_ID, SERVICE_URL)
        .await
        .unwrap();
    let err = h
        .validator
        .validate(
            Some(&header),
            TEAMS_CHANNEL_ID,
            "https://smba.trafficmanager.net/emea/",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::ServiceUrlMismatch { .. }), "{err}");
}

#[tokio::test]
async fn alg_none_is_rejected_before_any_fetch() {
    let h = Harness::new().await;
    let err = h.check_kind(TokenKind::AlgNone).await.unwrap_err();
    assert_eq!(err, AuthError::UnsupportedAlgorithm("none".to_owned()));
    assert_eq!(h.fetches(), (0, 0));
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_rejected() {
    let h = Harness::new().await;
    // Keys are cached, so the attack gets the best possible chance.
    h.check_kind(TokenKind::Valid).await.unwrap();
    let err = h
        .check_kind(TokenKind::Hs256WithPublicKey)
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::UnsupportedAlgorithm("HS256".to_owned()));
}

#[tokio::test]
async fn tampered_payload_fails_the_signature() {
    let h = Harness::new().await;
    let genuine = h.mint(TokenKind::Valid);
    let forged_claims = serde_json::json!({
        "serviceurl": SERVICE_URL,
        "nbf": h.clock.now().timestamp(),
        "exp": h.clock.now().timestamp() + 86_400,
        "iss": "https://api.botframework.com",
        "aud": APP_ID,
    });
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(forged_claims.to_string());
    let err = h.check(&parts.join(".")).await.unwrap_err();
    assert_eq!(err, AuthError::BadSignature);

    // A signature from another published key does not verify either.
    let other = h.mint(TokenKind::KeyWithoutEndorsements);
    let other_sig = other.rsplit('.').next().unwrap();
    let (message, _) = genuine.rsplit_once('.').unwrap();
    let err = h
        .check(&format!("{message}.{other_sig}"))
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::BadSignature);

    // And an empty signature is no signature.
    let err = h.check(&format!("{message}.")).await.unwrap_err();
    assert_eq!(err, AuthError::BadSignature);
}

#[tokio::test]
async fn malformed_tokens_are_rejected() {
    let h = Harness::new().await;
    let err = h.check_kind(TokenKind::Malformed).await.unwrap_err();
    assert!(matches!(err, AuthError::Malformed(_)), "{err}");
    for garbage in [
        "x",
        "a.b",
        "a.b.c.d",
        "!!!.b.c",
        "e30.e30.e30",
        "....",
        "Zm9v.YmFy.YmF6",
    ] {
        let err = h.check(garbage).await.unwrap_err();
        assert!(
            matches!(err, AuthError::Malformed(_) | AuthError::MissingKeyId),
            "{garbage}: {err}"
        );
    }
    // A header without kid.
    let no_kid = format!(
        "{}.e30.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#)
    );
    assert_eq!(h.check(&no_kid).await.unwrap_err(), AuthError::MissingKeyId);
}

#[tokio::test]
async fn missing_or_non_bearer_header_is_rejected() {
    let h = Harness::new().await;
    let v = &h.validator;
    let token = h.mint(TokenKind::Valid);
    assert_eq!(
        v.validate(None, TEAMS_CHANNEL_ID, SERVICE_URL)
            .await
            .unwrap_err(),
        AuthError::MissingHeader
    );
    assert_eq!(
        v.validate(Some(""), TEAMS_CHANNEL_ID, SERVICE_URL)
            .await
            .unwrap_err(),
        AuthError::MissingHeader
    );
    assert_eq!(
        v.validate(
            Some(&format!("Basic {token}")),
            TEAMS_CHANNEL_ID,
            SERVICE_URL
        )
        .await
        .unwrap_err(),
        AuthError::NotBearer
    );
    assert_eq!(
        v.validate(Some(&token), TEAMS_CHANNEL_ID, SERVICE_URL)
            .await
            .unwrap_err(),
        AuthError::NotBearer
    );
    // The scheme is case-insensitive.
    v.validate(
        Some(&format!("bearer {token}")),
        TEAMS_CHANNEL_ID,
        SERVICE_URL,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_start_fetches_keys_once() {
    let h = Harness::new().await;
    let token = h.mint(TokenKind::Valid);
    for result in validate_concurrently(&h.validator, &token, 64).await {
        result.unwrap();
    }
    assert_eq!(h.fetches(), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unknown_kid_causes_one_refresh() {
    let h = Harness::new().await;
    h.check_kind(TokenKind::Valid).await.unwrap();
    h.identity.rotate_key();
    h.clock.advance(chrono::Duration::seconds(6 * 60));
    let token = h.mint(TokenKind::Valid);
    for result in validate_concurrently(&h.validator, &token, 64).await {
        assert_eq!(result.unwrap().key_id, h.identity.current_kid());
    }
    assert_eq!(h.fetches(), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fetches_are_shared_even_without_rate_limits() {
    let identity = Identity::new(APP_ID);
    let url = serve(&identity).await;
    let mut config = InboundAuthConfig::new(APP_ID).with_openid_metadata_url(url);
    config.unknown_kid_refresh_interval = Duration::ZERO;
    config.failed_refresh_backoff = Duration::ZERO;
    let validator = Arc::new(JwtValidator::new(config).unwrap());
    // A slow identity keeps every request below waiting on the first one's fetch.
    identity.set_latency(Duration::from_millis(300));
    let token = identity.mint(TokenSpec::new(SERVICE_URL, TokenKind::UnknownKey));
    for result in validate_concurrently(&validator, &token, 64).await {
        assert_eq!(
            result.unwrap_err(),
            AuthError::UnknownKey("herald-test-unknown".to_owned())
        );
    }
    assert_eq!(identity.metadata_fetches(), 1);
    assert_eq!(identity.jwks_fetches(), 1);
}

#[tokio::test]
async fn garbage_kids_cannot_hammer_the_metadata_endpoint() {
    let h = Harness::new().await;
    h.check_kind(TokenKind::Valid).await.unwrap();
    h.clock.advance(chrono::Duration::seconds(6 * 60));
    for i in 0..50 {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS256","kid":"garbage-{i}"}}"#));
        let err = h.check(&format!("{header}.e30.c2ln")).await.unwrap_err();
        assert_eq!(err, AuthError::UnknownKey(format!("garbage-{i}")));
    }
    // One refresh for the first garbage kid, none for the other 49.
    assert_eq!(h.fetches(), (2, 2));
}

#[tokio::test]
async fn keys_are_refreshed_after_24_hours() {
    let h = Harness::new().await;
    h.check_kind(TokenKind::Valid).await.unwrap();
    h.clock.advance(chrono::Duration::seconds(23 * 60 * 60));
    h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(h.fetches(), (1, 1));
    h.clock.advance(chrono::Duration::seconds(60 * 60 + 1));
    h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(h.fetches(), (2, 2));
}

#[tokio::test]
async fn metadata_outage_is_reported_and_cached_keys_survive_it() {
    let h = Harness::new().await;
    h.identity.set_outage(true);
    let err = h.check_kind(TokenKind::Valid).await.unwrap_err();
    assert!(matches!(err, AuthError::MetadataUnavailable(_)), "{err}");
    assert!(err.is_transient());
    // Failed fetches back off instead of retrying on every request.
    let err = h.check_kind(TokenKind::Valid).await.unwrap_err();
    assert!(matches!(err, AuthError::MetadataUnavailable(_)), "{err}");
    assert_eq!(h.fetches(), (1, 0));

    h.identity.set_outage(false);
    h.clock.advance(chrono::Duration::seconds(11));
    h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(h.fetches(), (2, 1));

    // Keys go stale during an outage: the refetch fails, the cached key still serves.
    h.identity.set_outage(true);
    h.clock.advance(chrono::Duration::seconds(25 * 60 * 60));
    h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(h.fetches(), (3, 1));
    // But a still-invalid token stays invalid.
    let err = h.check_kind(TokenKind::WrongAudience).await.unwrap_err();
    assert!(matches!(err, AuthError::WrongAudience(_)), "{err}");
}

#[tokio::test]
async fn us_government_configuration_trusts_only_its_issuer() {
    let identity = Identity::with_issuer(APP_ID, US_GOV_ISSUER);
    let url = serve(&identity).await;
    let validator =
        JwtValidator::new(InboundAuthConfig::us_government(APP_ID).with_openid_metadata_url(url))
            .unwrap();
    let header = |token: String| format!("Bearer {token}");

    let gov = identity.mint(TokenSpec::valid(SERVICE_URL));
    let claims = validator
        .validate(Some(&header(gov)), TEAMS_CHANNEL_ID, SERVICE_URL)
        .await
        .unwrap();
    assert_eq!(claims.issuer, US_GOV_ISSUER);

    let public =
        identity.mint(TokenSpec::valid(SERVICE_URL).issuer("https://api.botframework.com"));
    let err = validator
        .validate(Some(&header(public)), TEAMS_CHANNEL_ID, SERVICE_URL)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::WrongIssuer("https://api.botframework.com".to_owned())
    );
}

#[test]
fn configuration_cannot_disable_validation() {
    // Plain-http metadata is refused unless it is on loopback, and an app id is required.
    assert!(
        JwtValidator::new(
            InboundAuthConfig::new(APP_ID)
                .with_openid_metadata_url("http://login.botframework.com/x")
        )
        .is_err()
    );
    assert!(JwtValidator::new(InboundAuthConfig::new("")).is_err());
    let mut no_issuers = InboundAuthConfig::new(APP_ID);
    no_issuers.issuers.clear();
    assert!(JwtValidator::new(no_issuers).is_err());
}

#[test]
fn arbitrary_input_never_panics_and_is_never_accepted() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let h = runtime.block_on(Harness::new());
    let current_kid = h.identity.current_kid();
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });

    // Any header, channel id and service URL.
    runner
        .run(
            &(any::<Option<String>>(), any::<String>(), any::<String>()),
            |(header, channel, service_url)| {
                let result = runtime.block_on(h.validator.validate(
                    header.as_deref(),
                    &channel,
                    &service_url,
                ));
                prop_assert!(result.is_err());
                Ok(())
            },
        )
        .unwrap();

    // Token-shaped input: plausible headers (known kid included) with random payload and signature.
    let alg = prop_oneof![
        Just("RS256".to_owned()),
        Just("none".to_owned()),
        Just("HS256".to_owned()),
        any::<String>()
    ];
    let kid = prop_oneof![Just(current_kid), any::<String>()];
    let bytes = proptest::collection::vec(any::<u8>(), 0..400);
    runner
        .run(
            &(alg, kid, bytes.clone(), bytes),
            |(alg, kid, payload, signature)| {
                let header = serde_json::json!({"alg": alg, "kid": kid}).to_string();
                let token = format!(
                    "Bearer {}.{}.{}",
                    URL_SAFE_NO_PAD.encode(header),
                    URL_SAFE_NO_PAD.encode(payload),
                    URL_SAFE_NO_PAD.encode(signature)
                );
                let result = runtime.block_on(h.validator.validate(
                    Some(&token),
                    TEAMS_CHANNEL_ID,
                    SERVICE_URL,
                ));
                prop_assert!(result.is_err());
                Ok(())
            },
        )
        .unwrap();
}

/// Starts `count` validations of `token` at once, then collects their results.
async fn validate_concurrently(
    validator: &Arc<JwtValidator>,
    token: &str,
    count: usize,
) -> Vec<Result<Claims, AuthError>> {
    let header = format!("Bearer {token}");
    let handles: Vec<_> = (0..count)
        .map(|_| {
            let validator = Arc::clone(validator);
            let header = header.clone();
            tokio::spawn(async move {
                validator
                    .validate(Some(&header), TEAMS_CHANNEL_ID, SERVICE_URL)
                    .await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

#[tokio::test]
async fn works_against_the_full_emulator_server() {
    let emulator = herald_teams_emulator::TeamsEmulator::start(
        herald_teams_emulator::EmulatorConfig::default(),
    )
    .await
    .unwrap();
    let identity = emulator.identity();
    let validator = JwtValidator::new(
        InboundAuthConfig::new(identity.app_id())
            .with_openid_metadata_url(emulator.openid_metadata_url()),
    )
    .unwrap();
    let service_url = emulator.service_url();
    let check = |kind| {
        let header = format!(
            "Bearer {}",
            identity.mint(TokenSpec::new(&service_url, kind))
        );
        let validator = &validator;
        let service_url = service_url.clone();
        async move {
            validator
                .validate(Some(&header), TEAMS_CHANNEL_ID, &service_url)
                .await
        }
    };
    check(TokenKind::Valid).await.unwrap();
    assert!(matches!(
        check(TokenKind::NotEndorsed).await,
        Err(AuthError::NotEndorsed { .. })
    ));
    assert_eq!(identity.jwks_fetches(), 1);
}
