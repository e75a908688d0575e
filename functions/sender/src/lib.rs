//! The sender Lambda, triggered by the outbox table's DynamoDB stream and by EventBridge.
//!
//! Stream records are only triggers: a notification header that is not fully expanded gets its
//! next pages expanded; a pending delivery gets delivered; an edit request brings every sent copy
//! to the notification's current content. Everything is re-read from the store
//! and guarded by conditional writes, so Lambda's replays (after a failure it resends from the
//! lowest failed sequence number) never send anything twice.

mod bootstrap;
mod config;
mod event;
mod gate;
mod help;
mod routes;
mod stream_record;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use help::Unstarted;
use herald_connector::Deadline;
use herald_domain::Clock;
use herald_pipeline::{Editor, Expander, Sender};
use herald_store::{NotificationId, OutboxChange, OutboxStore};

pub use bootstrap::BuildError;
pub use config::{ConfigError, DEFAULT_CONCURRENCY, SenderConfig};
pub use event::{SenderEvent, SenderResponse};
pub use gate::{Gate, Pass};
pub use help::Helper;
pub use routes::{EventRoute, RouteError, RoutedNotification, Router};
pub use stream_record::lambda_record;

/// The sender's dependencies.
pub struct SenderFunction {
    pub expander: Expander,
    pub sender: Sender,
    /// Edits every sent copy after an update of the content (`None`: edit requests are left to
    /// another sender).
    pub editor: Option<Editor>,
    pub outbox: Arc<dyn OutboxStore>,
    pub router: Router,
    /// How long notifications are kept (DynamoDB TTL).
    pub retention: chrono::Duration,
    pub clock: Arc<dyn Clock>,
    /// Deliveries run at once (shared by every invocation of the instance); the connector's
    /// throttle paces them.
    pub in_flight: Arc<Gate>,
    /// Work stops this long before the invocation's deadline, so outcomes get recorded.
    pub safety_margin: StdDuration,
    /// Where a batch that leaves tenants idle here looks for their waiting deliveries (`None`:
    /// its own records only).
    pub helper: Option<Helper>,
}

#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("store: {0}")]
    Store(#[from] herald_store::StoreError),
    /// The event's idempotency key already names a notification made from another body: an
    /// error, so the event ends in the failure queue rather than vanishing.
    #[error(
        "idempotency key {key:?} was already used with a different body, for notification {existing}"
    )]
    IdempotencyKeyReused {
        key: String,
        existing: NotificationId,
    },
}

/// A batch's changes in the order they start: expansions and edits first, then deliveries one
/// tenant after another in turn. A delivery waiting for its tenant's next send slot holds its
/// place among those in flight, so a batch taken in stream order (one notification's
/// deliveries after another's) would fill them with one tenant and leave the others idle; in
/// turn, every tenant of the batch sends at once. Nothing relies on the stream's order: each
/// change is re-read and guarded by conditional writes.
fn by_tenant_in_turn(changes: Vec<(String, OutboxChange)>) -> Vec<(String, OutboxChange)> {
    // Each delivery's turn is its rank among its tenant's; a stable sort by turn keeps the
    // stream's order within one.
    let mut taken: HashMap<&str, usize> = HashMap::new();
    let turns: Vec<usize> = changes
        .iter()
        .map(|(_, change)| match change {
            OutboxChange::Delivery(_, delivery) => {
                let turn = taken.entry(delivery.tenant_part()).or_default();
                *turn += 1;
                *turn
            }
            _ => 0,
        })
        .collect();
    let mut ordered: Vec<_> = turns.into_iter().zip(changes).collect();
    ordered.sort_by_key(|(turn, _)| *turn);
    ordered.into_iter().map(|(_, change)| change).collect()
}

/// Whether a change is handled or must be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerResult {
    Done,
    Retry,
}

impl SenderFunction {
    /// Handles one batch of stream records, reporting the ones to retry.
    pub async fn handle_stream(
        &self,
        event: DynamoDbEvent,
        deadline: Option<DateTime<Utc>>,
    ) -> DynamoDbEventResponse {
        let stop_at = deadline
            .map(|d| d - chrono::Duration::from_std(self.safety_margin).unwrap_or_default());
        let changes = by_tenant_in_turn(
            event
                .records
                .iter()
                .filter_map(|r| {
                    let sequence = r.change.sequence_number.clone()?;
                    OutboxChange::from_stream_record(r).map(|c| (sequence, c))
                })
                .collect(),
        );
        let unstarted = Unstarted::of(changes.iter().map(|(_, change)| change));
        let batch = futures::stream::iter(changes)
            .map(|(sequence, change)| {
                let unstarted = &unstarted;
                async move {
                    let _pass = self.in_flight.enter(change.tenant()).await;
                    unstarted.started(change.tenant());
                    (sequence, self.run(&change, stop_at).await)
                }
            })
            .buffer_unordered(self.in_flight.max())
            .collect::<Vec<(String, TriggerResult)>>();
        // A batch of expansions and edits only ends soon, and the next ones wait for it.
        let results = match &self.helper {
            Some(helper) if !unstarted.is_empty() => {
                self.alongside(helper, batch, &unstarted, stop_at).await
            }
            _ => batch.await,
        };
        self.sender.flush_events().await;
        if let Some(meter) = self.in_flight.in_flight().meter() {
            let pace = meter.counters();
            tracing::info!(
                records = results.len(),
                per_tenant = self.in_flight.in_flight().per_tenant(),
                latency_ms = meter.latency().map(|l| l.as_millis()),
                granted = pace.granted,
                blocks = pace.blocks,
                block_slots = pace.block_slots,
                behind = pace.behind,
                expired_slots = pace.expired_slots,
                forfeits = pace.forfeits,
                throttled = pace.throttled,
                pace_errors = pace.pace_errors,
                "stream batch done"
            );
        }
        let mut response = DynamoDbEventResponse::default();
        for (sequence, result) in results {
            if result == TriggerResult::Retry {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence);
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// Turns an EventBridge event into a notification; the stream then expands and sends it.
    /// Returns the notification id, or `None` when no route matches.
    pub async fn handle_event(
        &self,
        event: &EventBridgeEvent<serde_json::Value>,
    ) -> Result<Option<NotificationId>, SenderError> {
        let Some(routed) = self.router.route(
            event.id.as_deref(),
            &event.source,
            &event.detail_type,
            &event.detail,
            self.clock.now(),
            self.retention,
        )?
        else {
            tracing::info!(source = %event.source, detail_type = %event.detail_type, "no route for event");
            return Ok(None);
        };
        let id = routed.record.id.clone();
        if let Some(existing) = self.outbox.create_notification(&routed.record).await? {
            if !existing.same_request(&routed.record) {
                return Err(SenderError::IdempotencyKeyReused {
                    key: existing.idempotency_key.unwrap_or_default(),
                    existing: existing.id,
                });
            }
            tracing::info!(notification = %id, "event already turned into this notification");
        }
        Ok(Some(id))
    }

    /// Acts on one change of the outbox (the local runner calls this for its change feed).
    pub async fn run(
        &self,
        change: &OutboxChange,
        stop_at: Option<DateTime<Utc>>,
    ) -> TriggerResult {
        let now = self.clock.now();
        if stop_at.is_some_and(|s| now >= s) {
            return TriggerResult::Retry;
        }
        match change {
            OutboxChange::Notification(id) => {
                let until = stop_at.unwrap_or(now + chrono::Duration::seconds(30));
                match self.expander.expand(id, until).await {
                    Ok(_) => TriggerResult::Done,
                    Err(e) => {
                        tracing::error!(notification = %id, error = %e, "expansion failed");
                        TriggerResult::Retry
                    }
                }
            }
            OutboxChange::Delivery(id, delivery) => {
                let deadline = stop_at
                    .and_then(|s| (s - now).to_std().ok())
                    .map_or(Deadline::after(StdDuration::from_secs(60)), Deadline::after);
                match self.sender.deliver(id, delivery, deadline).await {
                    // Held, released or backing off: the stranded-work sweep wakes it when its
                    // lease or backoff ends, so this record is done (retrying it now would only
                    // spin through the stream's retries).
                    Ok(_) => TriggerResult::Done,
                    Err(e) => {
                        tracing::error!(notification = %id, delivery = %delivery, error = %e, "delivery failed");
                        TriggerResult::Retry
                    }
                }
            }
            OutboxChange::Edit(id) => {
                let Some(editor) = &self.editor else {
                    tracing::warn!(notification = %id, "no editor here; edit request left");
                    return TriggerResult::Done;
                };
                let until = stop_at.unwrap_or(now + chrono::Duration::seconds(60));
                match editor.run(id, until).await {
                    // An unfinished job asked to run again: a new trigger is on its way.
                    Ok(_) => TriggerResult::Done,
                    Err(e) => {
                        tracing::error!(notification = %id, error = %e, "edit job failed");
                        TriggerResult::Retry
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use herald_domain::DeliveryId;

    use super::*;

    #[test]
    fn a_batch_starts_expansions_first_then_each_tenant_in_turn() {
        let n = NotificationId::parse("n-1").unwrap();
        let delivery = |d: &str| OutboxChange::Delivery(n.clone(), DeliveryId::parse(d).unwrap());
        let changes = vec![
            ("1".to_owned(), delivery("a|1")),
            ("2".to_owned(), delivery("a|2")),
            ("3".to_owned(), delivery("a|3")),
            ("4".to_owned(), delivery("b|1")),
            ("5".to_owned(), OutboxChange::Notification(n.clone())),
            ("6".to_owned(), delivery("c|1")),
            ("7".to_owned(), delivery("b|2")),
        ];
        let order: Vec<String> = by_tenant_in_turn(changes)
            .into_iter()
            .map(|(sequence, _)| sequence)
            .collect();
        assert_eq!(order, ["5", "1", "4", "6", "2", "7", "3"]);
    }
}
