//! Latency jitter: each connector answer is late by a random time in a range, after the
//! limiter counted the request at its arrival.

use std::time::Duration;

use futures::future::join_all;
use herald_teams_emulator::{EmulatorConfig, EmulatorLimits, Latency, RequestRecord};
use tokio::time::sleep;

use crate::support::{Connector, status};

const PACE: Duration = Duration::from_millis(20);

/// Sends one message to each chat, the i-th `i * PACE` after the start; the answers' statuses.
async fn paced(c: &Connector, chats: &[String]) -> Vec<u16> {
    let sends = chats.iter().zip(0u32..).map(|(chat, i)| async move {
        sleep(PACE * i).await;
        status(&c.send(chat, &format!("m{i}")).await)
    });
    join_all(sends).await
}

fn text(record: &RequestRecord) -> &str {
    record
        .body
        .as_ref()
        .and_then(|b| b["text"].as_str())
        .unwrap()
}

#[tokio::test]
async fn paced_requests_arrive_in_order_and_are_answered_out_of_order() {
    let (min, max) = (Duration::from_millis(50), Duration::from_millis(250));
    let config = EmulatorConfig::default().latency(Latency::between(max, min));
    let c = Connector::start(config).await;
    let chats = c.chats(20);
    assert!(paced(&c, &chats).await.iter().all(|s| *s == 201));

    let mut log = c.emulator.requests();
    let in_order: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    assert_eq!(log.iter().map(text).collect::<Vec<_>>(), in_order);
    for record in &log {
        let took = record.answered_at.unwrap() - record.at;
        assert!(
            took >= min && took < max + Duration::from_millis(50),
            "{took:?}"
        );
    }
    log.sort_by_key(|r| r.answered_at);
    assert_ne!(log.iter().map(text).collect::<Vec<_>>(), in_order);
}

#[tokio::test]
async fn the_limiter_counts_arrivals_before_the_latency() {
    let limits = EmulatorLimits::off().tenant_rate(Some(5)).strict();
    let config = EmulatorConfig::default()
        .limits(limits)
        .latency(Latency::between(Duration::ZERO, Duration::from_millis(300)));
    let c = Connector::start(config).await;
    let chats = c.chats(10);
    // The first five to arrive are the five accepted, whatever order they are answered in.
    assert_eq!(
        paced(&c, &chats).await,
        [201, 201, 201, 201, 201, 429, 429, 429, 429, 429]
    );

    // Switched off at run time, answers are immediate again.
    c.emulator.set_latency(None);
    c.emulator.clear_log();
    sleep(Duration::from_secs(1)).await;
    assert_eq!(status(&c.send(&chats[0], "now").await), 201);
    let record = &c.emulator.requests()[0];
    assert!(record.answered_at.unwrap() - record.at < Duration::from_millis(50));
}
