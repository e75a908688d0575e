//! What became of a delivery, and the event that announces its outcome: shared by the sender and
//! the installation sweep, which both finish deliveries and announce them alike.

use chrono::{DateTime, Utc};
use herald_domain::DeliveryStatus;
use herald_events::{DeliveryEvent, EventPublisher, HeraldEvent};
use herald_store::{DeliveryRecord, Outcome};

/// What became of one trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Sent or otherwise finished now, with this status.
    Finished(DeliveryStatus),
    /// It already had its outcome: a replay.
    AlreadyDone,
    /// Another sender holds it until then (if that sender dies, the stranded-work sweep wakes
    /// the delivery once the lease has run out).
    Held(DateTime<Utc>),
    /// Released earlier with a backoff that ends then; the sweep wakes it.
    NotYet(DateTime<Utc>),
    /// Given back to pending (a transient failure, or too little time left to send), with a
    /// backoff; the sweep wakes it.
    Released,
    /// No such delivery.
    Missing,
    /// Herald installed the app for the recipient through Graph; the delivery waits for the
    /// installation's conversationUpdate (the webhook resumes it) or its timeout.
    Installing,
    /// Pending again with the conversation it needed: a new trigger (stream record, change
    /// feed) carries it to a sender.
    Requeued,
}

/// The event announcing a delivery's outcome (delivered, blocked, or failed with the status).
pub(crate) fn outcome_event(
    delivery: &DeliveryRecord,
    outcome: &Outcome,
    at: DateTime<Utc>,
) -> HeraldEvent {
    let event = DeliveryEvent {
        notification_id: delivery.notification_id.to_string(),
        delivery_id: delivery.delivery_id.to_string(),
        tenant_id: delivery.tenant_id.clone(),
        conversation_id: outcome
            .conversation_id
            .clone()
            .or_else(|| delivery.conversation_id.clone()),
        conversation_type: delivery.conversation_type,
        recipient_aad_object_id: delivery.recipient.clone(),
        activity_id: outcome.activity_id.clone(),
        error_code: (outcome.status != DeliveryStatus::Sent)
            .then(|| outcome.status.as_str().to_owned()),
        error_message: outcome.error.clone(),
        attempts: Some(delivery.attempts),
        at,
    };
    match outcome.status {
        DeliveryStatus::Sent => HeraldEvent::NotificationDelivered(event),
        DeliveryStatus::Blocked => HeraldEvent::RecipientBlocked(event),
        _ => HeraldEvent::NotificationFailed(event),
    }
}

/// Publishes outcome events, as many per call as EventBridge takes. A failure is logged, not
/// returned: each outcome is recorded on its delivery already, and the event only tells of it.
pub(crate) async fn announce(events: &dyn EventPublisher, outcomes: &[HeraldEvent], what: &str) {
    for batch in outcomes.chunks(herald_events::MAX_ENTRIES_PER_CALL) {
        if let Err(e) = events.publish(batch).await {
            tracing::error!(error = %e, count = batch.len(), "publishing {what} failed");
        }
    }
}
