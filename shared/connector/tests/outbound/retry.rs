//! The retry layer: bursts and dropped connections recovered exactly once (a message POST whose
//! outcome is unknown is returned, not repeated), Retry-After in both forms, and the caller's
//! deadline bounding every wait.

use std::time::Duration;

use herald_connector::{
    Connector, ConnectorError, ConnectorExt, Deadline, HttpConnector, RetryPolicy,
};
use herald_teams_emulator::{Fault, RetryAfter};
use tokio::time::Instant;

use super::{Fixture, fast_retry, hello};

#[tokio::test]
async fn retry_recovers_from_bursts_and_drops_exactly_once() {
    let f = Fixture::new().await;
    let connector = f.http().retry(fast_retry(5));

    let (_, burst) = f.personal("Burst");
    f.emulator
        .inject_times(burst.as_str(), Fault::Status(503), 2);
    f.emulator
        .inject_times(burst.as_str(), Fault::Status(502), 1);
    connector
        .send_to_conversation(f.call(), &burst, &hello())
        .await
        .unwrap();
    let statuses: Vec<_> = f
        .emulator
        .requests_for(burst.as_str())
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(502), Some(201)]);
    assert_eq!(f.emulator.activities(burst.as_str()).len(), 1);

    // A dropped connection: an update is repeated (it lands the same way again)...
    let (_, dropped) = f.personal("Dropped");
    let sent = connector
        .send_to_conversation(f.call(), &dropped, &hello())
        .await
        .unwrap();
    f.emulator
        .inject_times(dropped.as_str(), Fault::DropConnection, 1);
    f.emulator
        .inject_times(dropped.as_str(), Fault::PreconditionFailed, 1);
    connector
        .update_activity(f.call(), &dropped, &sent.id, &hello())
        .await
        .unwrap();
    let statuses: Vec<_> = f
        .emulator
        .requests_for(dropped.as_str())
        .iter()
        .skip(1)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses[..2], [None, Some(412)]);
    assert_eq!(statuses.len(), 3);
    assert_eq!(f.emulator.activities(dropped.as_str()).len(), 1);
    // ...but a message POST whose outcome is unknown is not: the caller decides.
    let (_, lost) = f.personal("Lost");
    f.emulator
        .inject_times(lost.as_str(), Fault::DropConnection, 1);
    let error = f.send_error(&connector, &lost).await;
    assert!(error.outcome_unknown(), "{error}");
    assert_eq!(f.emulator.requests_for(lost.as_str()).len(), 1);

    // Final errors return at once: one request.
    let (_, blocked) = f.personal("Blocked");
    f.emulator
        .inject(blocked.as_str(), Fault::MessageWritesBlocked);
    let error = f.send_error(&connector, &blocked).await;
    assert!(matches!(error, ConnectorError::BlockedByUser(_)));
    assert_eq!(f.emulator.requests_for(blocked.as_str()).len(), 1);

    // Bounded attempts.
    let (_, down) = f.personal("Down");
    f.emulator.inject(down.as_str(), Fault::Status(504));
    let error = f
        .http()
        .retry(fast_retry(3))
        .send_to_conversation(f.call(), &down, &hello())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::Transient { .. }));
    assert_eq!(f.emulator.requests_for(down.as_str()).len(), 3);

    // A send whose answer comes after the request timeout may have been delivered (the emulator
    // stores it after the delay): it is returned as outcome unknown, not repeated.
    let (_, slow) = f.personal("Slow");
    f.emulator
        .inject_times(slow.as_str(), Fault::Delay(Duration::from_secs(2)), 1);
    let impatient = HttpConnector::new(
        &f.config_with(|_| {})
            .request_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let error = impatient
        .retry(fast_retry(3))
        .send_to_conversation(f.call(), &slow, &hello())
        .await
        .unwrap_err();
    assert!(error.outcome_unknown(), "{error}");
    assert_eq!(f.emulator.requests_for(slow.as_str()).len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_in_both_forms() {
    let f = Fixture::new().await;
    let connector = f.http().retry(fast_retry(3));

    let (_, seconds) = f.personal("Seconds");
    f.emulator.inject_times(
        seconds.as_str(),
        Fault::Throttled(RetryAfter::Seconds(1)),
        1,
    );
    let started = Instant::now();
    connector
        .send_to_conversation(f.call(), &seconds, &hello())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let log = f.emulator.requests_for(seconds.as_str());
    assert_eq!(log.len(), 2);
    assert!(log[1].at - log[0].at >= Duration::from_millis(950));

    // An HTTP-date has whole-second precision: 2 s ahead means a wait in (1 s, 2 s].
    let (_, date) = f.personal("Date");
    f.emulator.inject_times(
        date.as_str(),
        Fault::Throttled(RetryAfter::HttpDate(Duration::from_secs(2))),
        1,
    );
    let started = Instant::now();
    connector
        .send_to_conversation(f.call(), &date, &hello())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f.emulator.requests_for(date.as_str()).len(), 2);
    assert_eq!(f.emulator.activities(date.as_str()).len(), 1);
}

#[tokio::test]
async fn the_deadline_is_respected() {
    let f = Fixture::new().await;
    let (_, conversation) = f.personal("Deadline");

    // A Retry-After beyond the deadline: return the 429 now rather than sleep past it.
    f.emulator.inject_times(
        conversation.as_str(),
        Fault::Throttled(RetryAfter::Seconds(5)),
        1,
    );
    let connector = f.http().retry(fast_retry(5));
    let started = Instant::now();
    let error = connector
        .send_to_conversation(
            f.call().deadline(Deadline::after(Duration::from_secs(2))),
            &conversation,
            &hello(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::Throttled { .. }),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f.emulator.requests_for(conversation.as_str()).len(), 1);

    // Backoff that would pass the deadline: same.
    f.emulator.inject(conversation.as_str(), Fault::Status(503));
    let slow_backoff = RetryPolicy {
        base_delay: Duration::from_secs(30),
        max_delay: Duration::from_secs(30),
        ..fast_retry(5)
    };
    let connector = f.http().retry(slow_backoff);
    let started = Instant::now();
    let mut errors = 0;
    // Full jitter may pick a short wait; either way no attempt outlives the deadline.
    for _ in 0..3 {
        let result = connector
            .send_to_conversation(
                f.call()
                    .deadline(Deadline::after(Duration::from_millis(500))),
                &conversation,
                &hello(),
            )
            .await;
        errors += usize::from(result.is_err());
    }
    assert_eq!(errors, 3);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    f.emulator.clear_faults(conversation.as_str());

    // A slow answer is cut at the deadline, not at the (longer) request timeout.
    f.emulator.inject_times(
        conversation.as_str(),
        Fault::Delay(Duration::from_secs(5)),
        1,
    );
    let started = Instant::now();
    let error = f
        .http()
        .send_to_conversation(
            f.call()
                .deadline(Deadline::after(Duration::from_millis(300))),
            &conversation,
            &hello(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::Transient { .. }),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // An already-passed deadline makes no request.
    let before = f.emulator.requests().len();
    let past = Deadline::at(Instant::now());
    let error = f
        .http()
        .send_to_conversation(f.call().deadline(past), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::DeadlineExceeded { .. }),
        "{error:?}"
    );
    assert_eq!(f.emulator.requests().len(), before);
}
