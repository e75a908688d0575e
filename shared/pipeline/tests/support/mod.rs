//! What the pipeline's test crates share.

use chrono::{DateTime, Duration, Utc};
use herald_domain::Target;
use herald_pipeline::{Expander, Expansion};
use herald_store::{NotificationId, NotificationRecord, OutboxStore};
use serde_json::json;

/// A plain message notification to `target` created at `now`, then expanded in one go.
pub async fn notify_expanded(
    outbox: &dyn OutboxStore,
    expander: &Expander,
    now: DateTime<Utc>,
    target: Target,
) -> NotificationId {
    let record = NotificationRecord::new(
        NotificationId::random(),
        target,
        json!({"type": "message", "text": "Heads up"}),
        "api",
        now,
        Duration::days(30),
    );
    outbox.create_notification(&record).await.unwrap();
    assert_eq!(
        expander
            .expand(&record.id, now + Duration::hours(1))
            .await
            .unwrap(),
        Expansion::Done
    );
    record.id
}
