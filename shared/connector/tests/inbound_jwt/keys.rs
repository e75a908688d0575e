//! The signing-key cache: fetched once, refreshed on rotation (at once, however recent the last
//! load) and after 24 hours, unknown-kid refetches at most one per 30 s, and kept through an
//! outage.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_connector::inbound::{AuthError, Claims, InboundAuthConfig, JwtValidator};
use herald_domain::Clock as _;
use herald_teams_emulator::identity::{Identity, TEAMS_CHANNEL_ID, TokenKind, TokenSpec};

use super::{APP_ID, Harness, SERVICE_URL, serve};

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

/// A key Microsoft publishes seconds after this instance loaded the keys is fetched when a token
/// first names it: only unknown-kid refetches are spaced (30 s), not against the first load.
#[tokio::test]
async fn a_key_published_right_after_the_first_load_is_fetched_when_first_used() {
    let h = Harness::new().await;
    h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(h.fetches(), (1, 1));

    h.identity.rotate_key();
    h.clock.advance(chrono::Duration::seconds(5));
    let claims = h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(claims.key_id, h.identity.current_kid());
    assert_eq!(h.fetches(), (2, 2));

    // Unknown-kid refetches among themselves: at most one per 30 s.
    let err = h.check_kind(TokenKind::UnknownKey).await.unwrap_err();
    assert_eq!(err, AuthError::UnknownKey("herald-test-unknown".to_owned()));
    assert_eq!(h.fetches(), (2, 2));
    h.identity.rotate_key();
    h.clock.advance(chrono::Duration::seconds(29));
    let err = h.check_kind(TokenKind::Valid).await.unwrap_err();
    assert!(matches!(err, AuthError::UnknownKey(_)), "{err}");
    assert_eq!(h.fetches(), (2, 2));
    h.clock.advance(chrono::Duration::seconds(1));
    let claims = h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(claims.key_id, h.identity.current_kid());
    assert_eq!(h.fetches(), (3, 3));
}

/// The periodic (24 h) load does not hold back an unknown kid either.
#[tokio::test]
async fn a_key_published_right_after_a_periodic_load_is_fetched_when_first_used() {
    let h = Harness::new().await;
    h.check_kind(TokenKind::Valid).await.unwrap();
    // An unknown kid long ago, then the daily reload.
    h.clock.advance(chrono::Duration::seconds(60));
    h.check_kind(TokenKind::UnknownKey).await.unwrap_err();
    h.clock.advance(chrono::Duration::seconds(24 * 60 * 60));
    h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(h.fetches(), (3, 3));

    h.identity.rotate_key();
    h.clock.advance(chrono::Duration::seconds(1));
    let claims = h.check_kind(TokenKind::Valid).await.unwrap();
    assert_eq!(claims.key_id, h.identity.current_kid());
    assert_eq!(h.fetches(), (4, 4));
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
    // Half a minute later, one more.
    h.clock.advance(chrono::Duration::seconds(30));
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"garbage-late"}"#);
    let err = h.check(&format!("{header}.e30.c2ln")).await.unwrap_err();
    assert_eq!(err, AuthError::UnknownKey("garbage-late".to_owned()));
    assert_eq!(h.fetches(), (3, 3));
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
