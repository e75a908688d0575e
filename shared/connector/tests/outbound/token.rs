//! The bearer token: fetched once for many concurrent sends, refreshed before it expires.

use std::time::Duration;

use futures::future::join_all;
use herald_connector::{Connector, ConnectorError};
use herald_teams_emulator::EmulatorConfig;

use super::{Fixture, hello};

#[tokio::test]
async fn a_thousand_concurrent_sends_share_one_token_fetch() {
    let f = Fixture::new().await;
    let connector = f.http();
    let (_, conversation) = f.personal("Many");
    let activity = hello();
    let sends =
        (0..1000).map(|_| connector.send_to_conversation(f.call(), &conversation, &activity));
    let results = join_all(sends).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(f.emulator.token_fetches(), 1);
    assert_eq!(connector.tokens().fetch_count(), 1);
    assert_eq!(f.emulator.activities(conversation.as_str()).len(), 1000);

    // A failing token endpoint is also asked once by concurrent callers, not once per caller.
    let failing = f.http_with(|env| {
        env.insert("MicrosoftAppPassword", "wrong".into());
    });
    let results = join_all(
        (0..100).map(|_| failing.send_to_conversation(f.call(), &conversation, &activity)),
    )
    .await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(ConnectorError::Token(_))))
    );
    assert_eq!(failing.tokens().fetch_count(), 1);
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires() {
    // 302 s tokens with the default 300 s margin: due for refresh 2 s after issue, long before
    // the emulator would reject them.
    let f =
        Fixture::start(EmulatorConfig::default().token_lifetime(Duration::from_secs(302))).await;
    let connector = f.http();
    let (_, conversation) = f.personal("Refresh");
    connector
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap();
    connector
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap();
    assert_eq!(f.emulator.token_fetches(), 1);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    connector
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap();
    assert_eq!(f.emulator.token_fetches(), 2);
    let auth: Vec<_> = f
        .emulator
        .requests_for(conversation.as_str())
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert_eq!(auth[0], auth[1]);
    assert_ne!(auth[1], auth[2]);
}
