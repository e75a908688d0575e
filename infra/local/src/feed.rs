//! The embedded outbox's change feed, fed to the sender as the DynamoDB stream feeds the sender
//! Lambda: new notification headers are expanded, new deliveries delivered, as many at once as
//! the sender's gate lets in. Work left unfinished by a previous run is picked up at start-up; a trigger the sender
//! asks to retry (a held lease, a store failure) is retried after a pause, as Lambda replays.

use std::sync::Arc;
use std::time::Duration;

use herald_sender::{SenderFunction, TriggerResult};
use herald_store::{EmbeddedOutboxStore, OutboxChange};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;

/// How long shutdown waits for sends in flight before abandoning them (their leases expire and
/// the next start picks them up).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The pause before the `attempt`-th retry: 0.5 s doubling up to 30 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(30))
}

struct Job {
    change: OutboxChange,
    attempt: u32,
}

/// Runs until `stop` turns true.
pub async fn run(
    outbox: EmbeddedOutboxStore,
    function: Arc<SenderFunction>,
    mut stop: watch::Receiver<bool>,
) {
    // Subscribe before the rescan so nothing committed in between is missed.
    let changes = outbox.subscribe();
    let (queue, mut jobs) = mpsc::unbounded_channel::<Job>();
    rescan(&outbox, &queue).await;
    let forwarder = tokio::spawn(forward(outbox, changes, queue.clone(), stop.clone()));
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            job = jobs.recv() => {
                let Some(job) = job else { break };
                let permit = tokio::select! {
                    _ = stop.changed() => break,
                    pass = function.in_flight.enter(job.change.tenant()) => pass,
                };
                let function = function.clone();
                let queue = queue.clone();
                let mut stop = stop.clone();
                tasks.spawn(async move {
                    let result = function.run(&job.change, None).await;
                    function.sender.flush_events().await;
                    drop(permit);
                    if result == TriggerResult::Retry {
                        let pause = backoff(job.attempt);
                        tracing::debug!(change = ?job.change, ?pause, "retrying later");
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {
                                let _ = queue.send(Job { change: job.change, attempt: job.attempt + 1 });
                            }
                            _ = stop.changed() => {}
                        }
                    }
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    forwarder.abort();
    tracing::info!(in_flight = tasks.len(), "stopping the sender feed");
    if tokio::time::timeout(DRAIN_TIMEOUT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            "sends still in flight after {DRAIN_TIMEOUT:?}; they resume at the next start"
        );
        tasks.shutdown().await;
    }
}

/// Turns committed changes into jobs, rescanning the outbox when the feed overflowed.
async fn forward(
    outbox: EmbeddedOutboxStore,
    mut changes: broadcast::Receiver<OutboxChange>,
    queue: mpsc::UnboundedSender<Job>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let change = tokio::select! {
            _ = stop.changed() => return,
            change = changes.recv() => change,
        };
        match change {
            Ok(change) => {
                let _ = queue.send(Job { change, attempt: 0 });
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "change feed lagged; rescanning the outbox");
                rescan(&outbox, &queue).await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn rescan(outbox: &EmbeddedOutboxStore, queue: &mpsc::UnboundedSender<Job>) {
    match outbox.unfinished().await {
        Ok(work) => {
            if !work.is_empty() {
                tracing::info!(items = work.len(), "resuming unfinished outbox work");
            }
            for change in work {
                let _ = queue.send(Job { change, attempt: 0 });
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot read unfinished outbox work"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(6), Duration::from_secs(30));
        assert_eq!(backoff(60), Duration::from_secs(30));
    }
}
