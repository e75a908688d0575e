//! Throttling and outages retried per the policy, never past the caller's deadline.

use std::time::Duration;

use herald_connector::Deadline;
use herald_graph::{GraphError, Installation};
use herald_teams_emulator::{GraphFault, RetryAfter};
use tokio::time::Instant;

use super::{Harness, TENANT};

#[tokio::test]
async fn throttling_waits_for_retry_after() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Johanna Lorenz");
    h.emulator.inject_graph_times(
        &user.aad_object_id,
        GraphFault::Throttled(RetryAfter::Seconds(1)),
        1,
    );
    let started = Instant::now();
    assert_eq!(h.install(&user).await, Ok(Installation::Installed));
    assert!(started.elapsed() >= Duration::from_secs(1));
    let installs: Vec<_> = h
        .emulator
        .graph_requests()
        .into_iter()
        .filter(|r| r.operation == "graph.installApp")
        .collect();
    assert_eq!(installs.len(), 2);
    assert_eq!(installs[0].status, Some(429));
    assert_eq!(installs[1].status, Some(201));
    assert!(installs[1].at.duration_since(installs[0].at) >= Duration::from_secs(1));
}

#[tokio::test]
async fn outages_are_retried_then_reported_retryable() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Lynne Robbins");
    h.emulator
        .inject_graph_all_times(GraphFault::Status(503), 2);
    assert_eq!(h.install(&user).await, Ok(Installation::Installed));
    assert_eq!(h.emulator.install_requests(), 3);

    let other = h.user(TENANT, "Nestor Wilke");
    h.emulator
        .inject_graph(&other.aad_object_id, GraphFault::Status(504));
    let error = h.install(&other).await.unwrap_err();
    assert!(
        matches!(
            error,
            GraphError::Unavailable {
                status: Some(504),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    // The policy's four attempts, no more.
    assert_eq!(h.emulator.install_requests(), 3 + 4);
}

#[tokio::test]
async fn the_deadline_bounds_waits_and_requests() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Emily Braun");
    // A Retry-After that ends after the deadline is returned at once, retryable.
    h.emulator.inject_graph_times(
        &user.aad_object_id,
        GraphFault::Throttled(RetryAfter::Seconds(5)),
        1,
    );
    let started = Instant::now();
    let error = h
        .install_by(&user, Deadline::after(Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        error,
        GraphError::Throttled {
            retry_after: Some(Duration::from_secs(5))
        }
    );
    assert!(error.is_retryable());
    assert_eq!(h.emulator.install_requests(), 1);

    // A slow answer is cut at the deadline.
    h.emulator.inject_graph_times(
        &user.aad_object_id,
        GraphFault::Delay(Duration::from_secs(3)),
        1,
    );
    let started = Instant::now();
    let error = h
        .install_by(&user, Deadline::after(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error, GraphError::DeadlineExceeded);
    assert!(error.is_retryable());

    // A deadline already passed sends nothing.
    let before = h.emulator.install_requests();
    let error = h
        .install_by(&user, Deadline::at(Instant::now()))
        .await
        .unwrap_err();
    assert_eq!(error, GraphError::DeadlineExceeded);
    assert_eq!(h.emulator.install_requests(), before);
}
