//! The embedded publisher for the local runner: events stay in this process, in a bounded
//! in-memory log (the newest [`DEFAULT_CAPACITY`] by default) and on a broadcast channel, so a
//! local dashboard or a test can watch them live. It encodes and size-checks every event exactly
//! as the EventBridge publisher does, so an event that would fail in AWS fails locally too.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::eventbridge::encode;
use crate::{EventError, EventPublisher, EventsConfig, HeraldEvent, PublishReport};

/// Events kept (and buffered per subscriber) when no capacity is given.
pub const DEFAULT_CAPACITY: usize = 1024;

/// An event as the embedded bus recorded it: the envelope fields EventBridge would add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedEvent {
    /// `local-<n>`, increasing from 1 in publish order.
    pub id: String,
    pub source: String,
    pub detail_type: &'static str,
    /// The `detail` JSON exactly as it would be sent.
    pub detail: String,
    /// When it was recorded.
    pub received_at: DateTime<Utc>,
    pub event: HeraldEvent,
}

#[derive(Debug)]
struct Log {
    next_id: u64,
    events: VecDeque<PublishedEvent>,
}

/// Events kept in memory and broadcast to subscribers.
#[derive(Debug)]
pub struct EmbeddedEventPublisher {
    source: String,
    capacity: usize,
    log: Mutex<Log>,
    sender: broadcast::Sender<PublishedEvent>,
}

impl EmbeddedEventPublisher {
    /// Keeps the newest `capacity` events (at least one). A subscriber that falls more than
    /// `capacity` events behind loses the oldest and is told so (`RecvError::Lagged`).
    #[must_use]
    pub fn new(config: &EventsConfig, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (sender, _) = broadcast::channel(capacity);
        Self {
            source: config.source.clone(),
            capacity,
            log: Mutex::new(Log {
                next_id: 1,
                events: VecDeque::with_capacity(capacity.min(DEFAULT_CAPACITY)),
            }),
            sender,
        }
    }

    /// Receives every event published from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<PublishedEvent> {
        self.sender.subscribe()
    }

    /// The events kept, oldest first.
    #[must_use]
    pub fn recent(&self) -> Vec<PublishedEvent> {
        self.lock().events.iter().cloned().collect()
    }

    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// A panic elsewhere while holding the lock leaves a consistent log (every mutation is a
    /// single push/pop), so the log stays usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for EmbeddedEventPublisher {
    fn default() -> Self {
        Self::new(&EventsConfig::default(), DEFAULT_CAPACITY)
    }
}

#[async_trait]
impl EventPublisher for EmbeddedEventPublisher {
    async fn publish(&self, events: &[HeraldEvent]) -> Result<PublishReport, EventError> {
        let encoded = encode(events, &self.source)?;
        let mut report = PublishReport {
            event_ids: Vec::with_capacity(encoded.len()),
            calls: u32::from(!encoded.is_empty()),
            ..PublishReport::default()
        };
        let mut log = self.lock();
        for e in encoded {
            let published = PublishedEvent {
                id: format!("local-{}", log.next_id),
                source: e.source,
                detail_type: e.event.detail_type(),
                detail: e.detail,
                received_at: Utc::now(),
                event: e.event,
            };
            log.next_id += 1;
            if log.events.len() == self.capacity {
                log.events.pop_front();
            }
            report.event_ids.push(Some(published.id.clone()));
            log.events.push_back(published.clone());
            // Sent under the lock so subscribers see the log's order. No subscriber is fine.
            let _ = self.sender.send(published);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeliveryEvent, EventKind};
    use herald_domain::{ConversationId, ConversationType, TenantId};
    use tokio::sync::broadcast::error::RecvError;

    fn delivered(n: usize) -> HeraldEvent {
        HeraldEvent::NotificationDelivered(DeliveryEvent {
            notification_id: format!("n{n}"),
            delivery_id: format!("d{n}"),
            tenant_id: TenantId::new("t1").unwrap(),
            conversation_id: Some(ConversationId::new(format!("a:{n}")).unwrap()),
            conversation_type: ConversationType::Personal,
            recipient_aad_object_id: None,
            activity_id: Some(format!("1:{n}")),
            error_code: None,
            error_message: None,
            attempts: Some(1),
            at: Utc::now(),
        })
    }

    #[tokio::test]
    async fn records_in_order_and_broadcasts() {
        let publisher = EmbeddedEventPublisher::default();
        let mut rx = publisher.subscribe();
        let events: Vec<_> = (0..3).map(delivered).collect();
        let report = publisher.publish(&events).await.unwrap();
        assert_eq!(report.published(), 3);
        assert_eq!(report.event_ids[0].as_deref(), Some("local-1"));
        for (n, event) in events.iter().enumerate() {
            let got = rx.recv().await.unwrap();
            assert_eq!(&got.event, event);
            assert_eq!(got.id, format!("local-{}", n + 1));
            assert_eq!(got.source, "herald");
            assert_eq!(
                got.detail_type,
                EventKind::NotificationDelivered.detail_type()
            );
            assert_eq!(
                HeraldEvent::from_detail(got.detail_type, &got.detail).unwrap(),
                *event
            );
        }
        assert_eq!(publisher.recent().len(), 3);
    }

    #[tokio::test]
    async fn keeps_only_the_newest_and_tells_laggards() {
        let publisher = EmbeddedEventPublisher::new(&EventsConfig::default(), 4);
        let mut rx = publisher.subscribe();
        let events: Vec<_> = (0..10).map(delivered).collect();
        publisher.publish(&events).await.unwrap();
        let kept: Vec<_> = publisher.recent().into_iter().map(|e| e.id).collect();
        assert_eq!(kept, ["local-7", "local-8", "local-9", "local-10"]);
        assert!(matches!(rx.recv().await, Err(RecvError::Lagged(6))));
        assert_eq!(rx.recv().await.unwrap().id, "local-7");
    }

    #[tokio::test]
    async fn rejects_what_eventbridge_would_reject_and_records_nothing() {
        let publisher = EmbeddedEventPublisher::default();
        let mut big = delivered(1);
        if let HeraldEvent::NotificationDelivered(e) = &mut big {
            e.error_message = Some("x".repeat(300 * 1024));
        }
        let result = publisher.publish(&[delivered(0), big]).await;
        assert!(matches!(result, Err(EventError::TooLarge { index: 1, .. })));
        assert!(publisher.recent().is_empty());
    }
}
