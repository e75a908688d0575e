//! What a token says: lifetime, issuer, audience, endorsements and `serviceurl`.

use herald_connector::inbound::{AuthError, InboundAuthConfig, JwtValidator, US_GOV_ISSUER};
use herald_domain::Clock as _;
use herald_teams_emulator::identity::{
    FOREIGN_AUDIENCE, FOREIGN_ISSUER, FOREIGN_SERVICE_URL, Identity, TEAMS_CHANNEL_ID, TokenKind,
    TokenSpec,
};

use super::{APP_ID, Harness, SERVICE_URL, serve};

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
