//! Outages for resilience tests: the token endpoint down or unreachable for a while, a 429 storm
//! on every send, bursts and outages of 5xx.

use std::time::Duration;

use herald_teams_emulator::{EmulatorLimits, Fault, Outage, RetryAfter};
use reqwest::header::RETRY_AFTER;
use tokio::time::sleep;

use crate::support::{Connector, status};

const WHILE: Duration = Duration::from_millis(400);

async fn after_the_outage() {
    sleep(WHILE + Duration::from_millis(50)).await;
}

#[tokio::test]
async fn the_token_endpoint_goes_down_then_unreachable_for_a_while() {
    let c = Connector::with_limits(EmulatorLimits::off()).await;
    let chat = &c.chats(1)[0];

    c.emulator.outage(Outage::TokenEndpoint, WHILE);
    let (down, body) = c.request_token().await.unwrap();
    assert_eq!(
        (down, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    // Sends with a token already issued are not affected.
    assert_eq!(status(&c.send(chat, "still fine").await), 201);
    after_the_outage().await;
    let (up, body) = c.request_token().await.unwrap();
    assert_eq!(up, 200);
    assert!(body["access_token"].is_string());

    c.emulator.outage(Outage::TokenEndpointUnreachable, WHILE);
    assert_eq!(c.request_token().await, None);
    after_the_outage().await;
    assert_eq!(c.request_token().await.map(|(s, _)| s), Some(200));
    assert_eq!(c.emulator.token_fetches(), 4);
}

#[tokio::test]
async fn a_429_storm_answers_every_send_until_it_ends() {
    let c = Connector::with_limits(EmulatorLimits::off()).await;
    let chats = c.chats(2);

    c.emulator
        .outage(Outage::ThrottleStorm(RetryAfter::Seconds(2)), WHILE);
    for chat in &chats {
        let answer = c.send(chat, "storm").await.unwrap();
        assert_eq!(answer.0, 429);
        assert_eq!(answer.1[RETRY_AFTER], "2");
    }
    // Reads are not sends.
    assert_eq!(status(&c.members(&chats[0]).await), 200);
    after_the_outage().await;
    assert_eq!(status(&c.send(&chats[0], "calm").await), 201);
    let counters = c.emulator.counters();
    assert_eq!((counters.throttled, counters.rate_limited), (2, 0));

    // Ended early by the test.
    c.emulator.outage(
        Outage::ThrottleStorm(RetryAfter::Seconds(5)),
        Duration::from_secs(60),
    );
    assert_eq!(status(&c.send(&chats[1], "storm").await), 429);
    c.emulator.end_outages();
    assert_eq!(status(&c.send(&chats[1], "calm").await), 201);
}

#[tokio::test]
async fn a_5xx_burst_answers_the_next_sends_then_recovers() {
    let c = Connector::with_limits(EmulatorLimits::off()).await;
    let chats = c.chats(3);
    c.emulator.inject_sends_times(Fault::Status(503), 2);
    c.emulator.inject_sends_times(Fault::Status(502), 1);
    // A conversation's own fault answers before the burst, without using it up.
    c.emulator
        .inject_times(&chats[0], Fault::MessageWritesBlocked, 1);
    let mut answers = Vec::new();
    for chat in [&chats[0], &chats[0], &chats[1], &chats[2], &chats[2]] {
        answers.push(status(&c.send(chat, "burst").await));
    }
    assert_eq!(answers, [403, 503, 503, 502, 201]);

    c.emulator.outage(Outage::ServerErrors(502), WHILE);
    assert_eq!(status(&c.send(&chats[1], "down").await), 502);
    after_the_outage().await;
    assert_eq!(status(&c.send(&chats[1], "up").await), 201);
    assert_eq!(c.emulator.activities(&chats[1]).len(), 1);
}
