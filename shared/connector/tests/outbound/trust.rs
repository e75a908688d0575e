//! The token goes only to trusted hosts; anonymous mode only to this machine.

use std::time::Duration;

use herald_connector::{
    Call, Connector, ConnectorConfig, ConnectorError, ConnectorExt, HttpConnector,
};
use herald_domain::ServiceUrl;
use herald_teams_emulator::EmulatorConfig;

use super::{Fixture, fast_retry, hello};

#[tokio::test]
async fn the_token_never_goes_to_an_untrusted_host() {
    let f = Fixture::new().await;
    let (_, conversation) = f.personal("Trust");
    // A second local listener standing in for an attacker-supplied serviceUrl.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let foreign =
        ServiceUrl::parse(&format!("http://{}/amer/", listener.local_addr().unwrap())).unwrap();
    let connector = f.http().retry(fast_retry(3));
    let call = Call::new(&foreign, &f.tenant);
    let error = connector
        .send_to_conversation(call, &conversation, &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::UntrustedServiceUrl { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "the untrusted host received a connection"
    );
    // The check comes before the token: nothing was fetched or sent.
    assert!(f.emulator.requests().is_empty());

    // Without the explicit entry even the emulator is untrusted; https Microsoft hosts are
    // trusted, but plain http to them is not (checked without any network access).
    let strict = f.http_with(|env| {
        env.remove("HERALD_TRUSTED_SERVICE_HOSTS");
    });
    let error = f.send_error(&strict, &conversation).await;
    assert!(matches!(error, ConnectorError::UntrustedServiceUrl { .. }));
    let http_teams = ServiceUrl::parse("http://smba.trafficmanager.net/amer/").unwrap();
    let error = strict
        .send_to_conversation(Call::new(&http_teams, &f.tenant), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::UntrustedServiceUrl { .. }));
    assert!(f.emulator.requests().is_empty());
    assert_eq!(f.emulator.token_fetches(), 0);
}

#[tokio::test]
async fn anonymous_mode_talks_only_to_loopback_without_a_token() {
    let f = Fixture::start(EmulatorConfig::default().require_auth(false)).await;
    let (_, conversation) = f.personal("Local");
    let anonymous = HttpConnector::new(&ConnectorConfig::from_lookup(|_| None).unwrap()).unwrap();
    assert!(anonymous.tokens().is_anonymous());
    anonymous
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap();
    let log = f.emulator.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].authorization, None);
    let remote = ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap();
    let error = anonymous
        .send_to_conversation(Call::new(&remote, &f.tenant), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::UntrustedServiceUrl { .. }));
}
