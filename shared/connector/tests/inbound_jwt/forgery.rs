//! What an attacker might send: other algorithms, forged payloads and signatures, garbage.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_connector::inbound::{AuthError, InboundAuthConfig, JwtValidator};
use herald_domain::Clock as _;
use herald_teams_emulator::identity::{TEAMS_CHANNEL_ID, TokenKind};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::{APP_ID, Harness, SERVICE_URL};

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
