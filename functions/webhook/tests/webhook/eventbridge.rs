//! The production publisher against moto's EventBridge on loopback: an install reaches an SQS
//! target through a rule, as a consumer of Herald's events would see it.

use std::sync::Arc;
use std::time::Duration;

use herald_events::{EventBridgePublisher, EventsConfig};

use crate::support::{Events, Harness, TENANT};

#[tokio::test]
async fn an_install_publishes_installation_added_to_eventbridge() {
    let source = herald_testkit::unique_name("herald-webhook");
    let capture = herald_testkit::capture_events(&source).await;
    let publisher = EventBridgePublisher::new(
        herald_testkit::eventbridge_client(),
        EventsConfig {
            bus: capture.bus_name.clone(),
            source: source.clone(),
        },
    );
    let h = Harness::with_events(Events::Custom(Arc::new(publisher))).await;
    h.ok(&h.activity("personal_install")).await;
    // Redelivered: nothing more reaches the bus.
    h.ok(&h.activity("personal_install")).await;

    let received = capture.receive(1, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 1, "{received:#?}");
    let event = &received[0];
    assert_eq!(event["source"], source.as_str());
    assert_eq!(event["detail-type"], "herald.InstallationAdded");
    let detail = &event["detail"];
    assert_eq!(detail["status"], "active");
    assert_eq!(detail["tenantId"], TENANT);
    assert_eq!(detail["conversationId"], h.personal.as_str());
    assert_eq!(detail["conversationType"], "personal");
    assert_eq!(detail["by"]["id"], h.user.id.as_str());
    assert_eq!(h.welcomes(&h.personal).len(), 1);
}
