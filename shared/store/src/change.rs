//! What an outbox change asks the sender to do, whichever backend reported it: the embedded
//! store's change feed, or a record of the outbox table's DynamoDB stream
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html>).

use aws_lambda_events::dynamodb::EventRecord;
use herald_domain::{DeliveryId, DeliveryStatus};
use serde::Deserialize;

use crate::NotificationId;
use crate::keys::notification_of_partition;
use crate::schema::{DELIVERY_SK_PREFIX, EDIT_SK, NOTIFICATION_SK};

/// A change the sender acts on, in the order it was committed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OutboxChange {
    /// A notification whose recipients may need expanding.
    Notification(NotificationId),
    /// A delivery that may need sending: the notification and the delivery id.
    Delivery(NotificationId, DeliveryId),
    /// A notification whose sent copies must be brought to its current content.
    Edit(NotificationId),
}

/// The fields of a stream record's new image that say what it is.
#[derive(Deserialize)]
struct Image {
    pk: String,
    sk: String,
    #[serde(default)]
    expanded: Option<bool>,
    #[serde(default)]
    status: Option<String>,
}

impl OutboxChange {
    /// The tenant a delivery goes to (`None`: expansions and edits span tenants).
    #[must_use]
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Self::Delivery(_, delivery) => Some(delivery.tenant_part()),
            Self::Notification(_) | Self::Edit(_) => None,
        }
    }

    /// The change a stream record of the outbox table announces, if any: an insert or update
    /// whose new image is a notification header not fully expanded, a pending delivery, or an
    /// edit request. Claims, outcomes, installation waits, sent copies, interaction items and
    /// removals announce nothing. The stream must
    /// carry new images (`NEW_IMAGE`, see [`crate::schema::OUTBOX`]).
    #[must_use]
    pub fn from_stream_record(record: &EventRecord) -> Option<Self> {
        if record.event_name == "REMOVE" {
            return None;
        }
        let image: Image = serde_dynamo::from_item(record.change.new_image.clone()).ok()?;
        let id = NotificationId::parse(notification_of_partition(&image.pk).0).ok()?;
        if image.sk == NOTIFICATION_SK {
            return (image.expanded == Some(false)).then_some(Self::Notification(id));
        }
        if image.sk == EDIT_SK {
            return Some(Self::Edit(id));
        }
        let delivery = image.sk.strip_prefix(DELIVERY_SK_PREFIX)?;
        (image.status.as_deref() == Some(DeliveryStatus::Pending.as_str()))
            .then(|| {
                DeliveryId::parse(delivery)
                    .ok()
                    .map(|d| Self::Delivery(id, d))
            })
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const ID: &str = "n-0123456789abcdef0123456789abcdef";

    fn record(event_name: &str, new_image: &Value) -> EventRecord {
        let mut record = EventRecord::default();
        record.event_name = event_name.to_owned();
        record.change.new_image = serde_dynamo::to_item(new_image).unwrap();
        record
    }

    fn notification() -> NotificationId {
        NotificationId::parse(ID).unwrap()
    }

    #[test]
    fn an_unexpanded_header_asks_for_expansion() {
        for event in ["INSERT", "MODIFY"] {
            let header = json!({"pk": ID, "sk": NOTIFICATION_SK, "expanded": false});
            assert_eq!(
                OutboxChange::from_stream_record(&record(event, &header)),
                Some(OutboxChange::Notification(notification()))
            );
        }
        let done = json!({"pk": ID, "sk": NOTIFICATION_SK, "expanded": true});
        assert_eq!(
            OutboxChange::from_stream_record(&record("MODIFY", &done)),
            None
        );
        let unknown = json!({"pk": ID, "sk": NOTIFICATION_SK});
        assert_eq!(
            OutboxChange::from_stream_record(&record("INSERT", &unknown)),
            None
        );
    }

    #[test]
    fn a_pending_delivery_asks_for_sending() {
        let delivery = "tenant-1|a:conversation-1";
        let sk = format!("{DELIVERY_SK_PREFIX}{delivery}");
        let pending = json!({"pk": ID, "sk": sk, "status": "pending"});
        assert_eq!(
            OutboxChange::from_stream_record(&record("INSERT", &pending)),
            Some(OutboxChange::Delivery(
                notification(),
                DeliveryId::parse(delivery).unwrap()
            ))
        );
        for status in ["sending", "sent", "installing", "blocked"] {
            let moved_on = json!({"pk": ID, "sk": sk, "status": status});
            assert_eq!(
                OutboxChange::from_stream_record(&record("MODIFY", &moved_on)),
                None,
                "{status}"
            );
        }
    }

    #[test]
    fn an_edit_request_asks_for_the_edit_job() {
        for event in ["INSERT", "MODIFY"] {
            let request = json!({"pk": ID, "sk": EDIT_SK, "requests": 2});
            assert_eq!(
                OutboxChange::from_stream_record(&record(event, &request)),
                Some(OutboxChange::Edit(notification()))
            );
        }
        let done = json!({"pk": ID, "sk": EDIT_SK});
        assert_eq!(
            OutboxChange::from_stream_record(&record("REMOVE", &done)),
            None
        );
    }

    #[test]
    fn removals_and_other_items_announce_nothing() {
        let header = json!({"pk": ID, "sk": NOTIFICATION_SK, "expanded": false});
        assert_eq!(
            OutboxChange::from_stream_record(&record("REMOVE", &header)),
            None
        );
        // Installation waits share the table under partition keys that are no notification id.
        let wait = json!({"pk": "install#tenant-1#aad-0", "sk": "n-1#d", "status": "pending"});
        let due = json!({"pk": "install-due", "sk": "000000000000000#n-1#d"});
        let unknown_sk = json!({"pk": ID, "sk": "x#1", "status": "pending"});
        let copy = json!({"pk": "copy#tenant-1|a:1", "sk": "n1", "status": "pending"});
        let action = json!({"pk": format!("interact#{ID}"), "sk": "a#f:1"});
        for image in [wait, due, unknown_sk, copy, action, json!({})] {
            assert_eq!(
                OutboxChange::from_stream_record(&record("INSERT", &image)),
                None,
                "{image}"
            );
        }
        assert_eq!(
            OutboxChange::from_stream_record(&EventRecord::default()),
            None
        );
    }
}
