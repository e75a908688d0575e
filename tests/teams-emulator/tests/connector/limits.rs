//! Rate limits enforced strictly: a sliding window per tenant counted at arrival, and
//! per-conversation windows without tolerance.

use std::time::Duration;

use futures::future::join_all;
use herald_teams_emulator::{EmulatorLimits, Fault, busiest_window};
use reqwest::header::RETRY_AFTER;
use tokio::time::{Instant, sleep};

use crate::support::{Connector, TENANT, status};

#[tokio::test]
async fn the_strict_tenant_window_refuses_what_a_token_bucket_would_admit() {
    let c = Connector::with_limits(EmulatorLimits::off().tenant_rate(Some(5)).strict()).await;
    let chats = c.chats(7);
    let first = join_all(chats[..5].iter().map(|chat| c.send(chat, "first"))).await;
    assert!(first.iter().all(|a| status(a) == 201), "{first:?}");

    // A bucket refilled at 5/s would hold a token again after 300 ms; five accepted requests
    // are still inside the last second.
    sleep(Duration::from_millis(300)).await;
    let refused = c.send(&chats[5], "too soon").await;
    assert_eq!(status(&refused), 429);
    let (_, headers) = refused.unwrap();
    assert_eq!(headers[RETRY_AFTER], "1");

    // The refusal did not count: once the first five are a second old, one more fits.
    let oldest = c.emulator.accepted_arrivals(TENANT)[0];
    sleep_until_after(oldest, Duration::from_secs(1)).await;
    assert_eq!(status(&c.send(&chats[6], "later").await), 201);

    let counters = c.emulator.counters();
    assert_eq!(
        (counters.accepted, counters.rate_limited, counters.throttled),
        (6, 1, 1)
    );
}

#[tokio::test]
async fn requests_count_when_they_arrive_not_when_an_injected_delay_lets_them_through() {
    let c = Connector::with_limits(EmulatorLimits::off().tenant_rate(Some(2)).strict()).await;
    let chats = c.chats(3);
    c.emulator
        .inject_times(&chats[0], Fault::Delay(Duration::from_millis(1200)), 1);
    let delayed = c.send(&chats[0], "arrives first, held");
    let others = async {
        sleep(Duration::from_millis(100)).await;
        join_all(chats[1..].iter().map(|chat| c.send(chat, "arrive second"))).await
    };
    let (delayed, others) = tokio::join!(delayed, others);
    assert!(others.iter().all(|a| status(a) == 201), "{others:?}");
    // Counted when it was let through, 1.2 s later, it would have fitted beside the other two.
    assert_eq!(status(&delayed), 429);
    assert!(
        busiest_window(
            &c.emulator.accepted_arrivals(TENANT),
            Duration::from_secs(1)
        ) <= 2
    );
}

#[tokio::test]
async fn under_hammering_no_window_ever_holds_more_than_its_limit() {
    let limits = EmulatorLimits::teams().tenant_rate(Some(10)).strict();
    let c = Connector::with_limits(limits).await;
    let chats = c.chats(3);
    let until = Instant::now() + Duration::from_millis(2500);
    let pause = Duration::from_millis(15);
    // Two clients per chat, three chats: far more than 10/s for the tenant and 7/s per chat.
    let results = join_all(
        chats
            .iter()
            .chain(chats.iter())
            .map(|chat| c.hammer(chat, pause, until)),
    )
    .await;
    let created: usize = results.iter().map(|(created, _)| created).sum();
    let throttled: usize = results.iter().map(|(_, throttled)| throttled).sum();

    let second = Duration::from_secs(1);
    assert!(created >= 20, "{created} accepted in 2.5 s");
    assert!(c.emulator.busiest_tenant_window(TENANT, second) <= 10);
    for chat in &chats {
        let arrivals = c.emulator.accepted_arrivals_in(chat);
        assert!(busiest_window(&arrivals, second) <= 7);
        assert!(busiest_window(&arrivals, 2 * second) <= 8);
    }
    let counters = c.emulator.counters();
    assert_eq!(counters.accepted, created as u64);
    assert_eq!(counters.rate_limited, throttled as u64);
    assert_eq!(counters.throttled, throttled as u64);
    assert_eq!(c.emulator.count_status(429), throttled);
}

async fn sleep_until_after(at: Instant, period: Duration) {
    tokio::time::sleep_until(at + period + Duration::from_millis(5)).await;
}
