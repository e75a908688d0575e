//! Every error class, from injected faults and from the emulator's own behaviour.

use std::time::Duration;

use herald_connector::{
    Activity, ConfigError, Connector, ConnectorConfig, ConnectorError, ConversationParameters,
    HttpConnector, TokenError,
};
use herald_domain::{ConversationId, UserId};
use herald_teams_emulator::{Fault, RetryAfter};

use super::Fixture;

/// A fault, the error class it must produce, its status and the service code.
type Case = (
    Fault,
    fn(&ConnectorError) -> bool,
    u16,
    Option<&'static str>,
);

#[tokio::test]
async fn every_error_class_from_a_real_answer() {
    let f = Fixture::new().await;
    let connector = f.http();
    let cases: Vec<Case> = vec![
        (
            Fault::MessageWritesBlocked,
            |e| matches!(e, ConnectorError::BlockedByUser(_)),
            403,
            Some("MessageWritesBlocked"),
        ),
        (
            Fault::ConversationBlockedByUser,
            |e| matches!(e, ConnectorError::BlockedByUser(_)),
            403,
            Some("ConversationBlockedByUser"),
        ),
        (
            Fault::BotNotInConversationRoster,
            |e| matches!(e, ConnectorError::BotNotInConversation(_)),
            403,
            Some("BotNotInConversationRoster"),
        ),
        (
            Fault::BotDisabledByAdmin,
            |e| matches!(e, ConnectorError::DisabledByAdmin(_)),
            403,
            Some("BotDisabledByAdmin"),
        ),
        (
            Fault::ForbiddenOperation,
            |e| matches!(e, ConnectorError::Forbidden(_)),
            403,
            Some("ForbiddenOperationException"),
        ),
        (
            Fault::FailedToDecrypt,
            |e| matches!(e, ConnectorError::ForeignConversationReference(_)),
            403,
            Some("BadArgument"),
        ),
        (
            Fault::ConversationNotFound,
            |e| matches!(e, ConnectorError::ConversationNotFound(_)),
            404,
            Some("ConversationNotFound"),
        ),
        (
            Fault::ActivityNotFound,
            |e| matches!(e, ConnectorError::ActivityNotFound(_)),
            404,
            Some("ActivityNotFoundInConversation"),
        ),
        (
            Fault::TooLarge,
            |e| matches!(e, ConnectorError::TooLarge(_)),
            413,
            Some("MessageSizeTooBig"),
        ),
        (
            Fault::BadArgument,
            |e| matches!(e, ConnectorError::BadRequest(_)),
            400,
            Some("BadArgument"),
        ),
        (
            Fault::PreconditionFailed,
            |e| matches!(e, ConnectorError::Transient { .. }),
            412,
            Some("PreconditionFailed"),
        ),
        (
            Fault::Status(502),
            |e| matches!(e, ConnectorError::Transient { .. }),
            502,
            None,
        ),
        (
            Fault::Status(503),
            |e| matches!(e, ConnectorError::Transient { .. }),
            503,
            None,
        ),
        (
            Fault::Status(504),
            |e| matches!(e, ConnectorError::Transient { .. }),
            504,
            None,
        ),
        (
            Fault::Status(500),
            |e| matches!(e, ConnectorError::Other(_)),
            500,
            None,
        ),
        (
            Fault::Throttled(RetryAfter::Seconds(3)),
            |e| matches!(e, ConnectorError::Throttled { retry_after: Some(d), .. } if *d == Duration::from_secs(3)),
            429,
            Some("Throttled"),
        ),
        (
            Fault::Throttled(RetryAfter::HttpDate(Duration::from_secs(10))),
            |e| matches!(e, ConnectorError::Throttled { retry_after: Some(d), .. } if *d > Duration::from_secs(7) && *d <= Duration::from_secs(10)),
            429,
            Some("Throttled"),
        ),
        (
            Fault::Throttled(RetryAfter::Absent),
            |e| {
                matches!(
                    e,
                    ConnectorError::Throttled {
                        retry_after: None,
                        ..
                    }
                )
            },
            429,
            Some("Throttled"),
        ),
    ];
    for (fault, expected, status, code) in cases {
        let (_, conversation) = f.personal("Target");
        f.emulator
            .inject_times(conversation.as_str(), fault.clone(), 1);
        let error = f.send_error(&connector, &conversation).await;
        assert!(expected(&error), "{fault:?} gave {error:?}");
        assert_eq!(error.status(), Some(status), "{fault:?}");
        assert_eq!(error.code(), code, "{fault:?}");
        assert_eq!(
            error.is_retryable(),
            matches!(status, 412 | 429 | 502 | 503 | 504),
            "{fault:?}"
        );
        // Nothing was delivered.
        assert!(f.emulator.activities(conversation.as_str()).is_empty());
    }

    // The same classes arise from the emulator's own behaviour, not only from injection.
    let (_, conversation) = f.personal("Real");
    let missing = ConversationId::new("a:1doesnotexist").unwrap();
    let error = f.send_error(&connector, &missing).await;
    assert!(
        matches!(error, ConnectorError::ConversationNotFound(_)),
        "{error:?}"
    );
    let huge = Activity::message().text("x".repeat(40 * 1024));
    let error = connector
        .send_to_conversation(f.call(), &conversation, &huge)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::TooLarge(_)), "{error:?}");
    let unknown = herald_connector::ActivityId::new("1").unwrap();
    let error = connector
        .delete_activity(f.call(), &conversation, &unknown)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::ActivityNotFound(_)),
        "{error:?}"
    );
    let group = ConversationParameters {
        is_group: true,
        ..ConversationParameters::personal(&f.bot(), &UserId::new("29:x").unwrap(), &f.tenant)
    };
    let error = connector
        .create_conversation(f.call(), &group)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::BadRequest(_)), "{error:?}");

    // A dropped connection and a timeout are transient, without an HTTP status.
    f.emulator
        .inject_times(conversation.as_str(), Fault::DropConnection, 1);
    let error = f.send_error(&connector, &conversation).await;
    assert!(
        matches!(error, ConnectorError::Transient { .. }),
        "{error:?}"
    );
    assert_eq!(error.status(), None);
    let impatient = HttpConnector::new(
        &f.config_with(|_| {})
            .request_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    f.emulator.inject_times(
        conversation.as_str(),
        Fault::Delay(Duration::from_secs(2)),
        1,
    );
    let error = f.send_error(&impatient, &conversation).await;
    assert!(
        matches!(error, ConnectorError::Transient { .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), Some("Timeout"));
}

#[tokio::test]
async fn unauthorized_and_token_errors_are_typed() {
    let f = Fixture::new().await;
    let (_, conversation) = f.personal("Auth");

    // No token at all (anonymous mode) against an emulator that requires one: 401.
    let anonymous = HttpConnector::new(&ConnectorConfig::anonymous()).unwrap();
    let error = f.send_error(&anonymous, &conversation).await;
    assert!(
        matches!(error, ConnectorError::Unauthorized(_)),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(401));

    let wrong_secret = f.http_with(|env| {
        env.insert("MicrosoftAppPassword", "wrong".into());
    });
    let error = f.send_error(&wrong_secret, &conversation).await;
    assert!(
        matches!(&error, ConnectorError::Token(TokenError::Rejected { status: 401, description: Some(d), .. }) if d.contains("AADSTS7000215")),
        "{error:?}"
    );
    assert!(!error.is_retryable());

    // A multi-tenant authority for a single-tenant bot: AADSTS700016, as Azure answers.
    let token_url = f
        .emulator
        .token_url()
        .replace(&f.emulator.config().app_tenant_id, "botframework.com");
    let wrong_tenant = f.http_with(|env| {
        env.insert("HERALD_TOKEN_URL", token_url);
    });
    let error = f.send_error(&wrong_tenant, &conversation).await;
    assert!(
        matches!(&error, ConnectorError::Token(TokenError::Rejected { status: 400, description: Some(d), .. }) if d.contains("AADSTS700016")),
        "{error:?}"
    );
    // No connector request ever went out without a token.
    assert!(
        f.emulator
            .requests_for(conversation.as_str())
            .iter()
            .all(|r| r.status == Some(401))
    );
    assert!(f.emulator.activities(conversation.as_str()).is_empty());
}

#[test]
fn configuration_errors_are_typed() {
    let missing =
        ConnectorConfig::from_lookup(|name| (name == "MicrosoftAppId").then(|| "app".to_owned()));
    assert_eq!(missing, Err(ConfigError::Missing("MicrosoftAppPassword")));
}
