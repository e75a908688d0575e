//! The traffic counters: requests on every route, copies of each message per conversation.

use herald_teams_emulator::{Duplicate, EmulatorConfig, EmulatorLimits};
use serde_json::json;

use crate::support::{Connector, status};

#[tokio::test]
async fn every_chat_s_copies_of_each_message_are_counted() {
    let c = Connector::with_limits(EmulatorLimits::off()).await;
    let chats = c.chats(3);
    let notice = json!({"type": "message", "text": "Quarterly results"});
    let mut retried = notice.clone();
    // A retry may carry a fresh timestamp; it is still the same message.
    retried["timestamp"] = json!("2025-01-01T00:00:00.000Z");
    for (chat, activity) in [
        (&chats[0], &notice),
        (&chats[0], &retried),
        (&chats[0], &json!({"type": "message", "text": "Other news"})),
        (&chats[1], &notice),
    ] {
        assert_eq!(status(&c.post(chat, activity).await), 201);
    }

    let counts = c.emulator.activity_counts();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_eq!((counts[&chats[0]], counts[&chats[1]]), (3, 1));
    assert!(!counts.contains_key(&chats[2]));
    assert_eq!(
        c.emulator.duplicates(),
        [Duplicate {
            conversation: chats[0].clone(),
            content: notice,
            copies: 2,
        }]
    );
    let counters = c.emulator.counters();
    assert_eq!((counters.activities, counters.duplicates), (4, 1));
}

#[tokio::test]
async fn counters_cover_every_route_and_survive_clearing_the_log() {
    let c = Connector::start(EmulatorConfig::default()).await;
    let chat = &c.chats(1)[0];
    assert_eq!(status(&c.send(chat, "hi").await), 201);
    assert_eq!(status(&c.members(chat).await), 200);
    let refused = c.request_token_with_secret("wrong").await;
    assert_eq!(refused.map(|(status, _)| status), Some(401));
    assert_eq!(c.emulator.requests().len(), 3);

    c.emulator.clear_log();
    assert!(c.emulator.requests().is_empty());
    let counters = c.emulator.counters();
    assert_eq!(counters.requests, 3);
    // Limits are off, yet the accepted requests are recorded for pacing checks.
    assert_eq!((counters.accepted, counters.rate_limited), (2, 0));
    assert_eq!(counters.activities, 1);
}
