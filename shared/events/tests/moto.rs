//! The EventBridge publisher against moto's EventBridge on loopback: a bus, a rule matching
//! Herald's source and an SQS target, read back to see exactly what reached the bus.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use herald_domain::{
    AadObjectId, ChannelId, ConversationId, ConversationType, TeamId, TenantId, UserId, UserInfo,
};
use herald_events::{
    DeliveryEvent, EventBridgePublisher, EventPublisher, EventsConfig, HeraldEvent,
    InstallationEvent, RetryPolicy,
};

const WAIT: Duration = Duration::from_secs(30);

fn publisher(bus: &str, source: &str) -> EventBridgePublisher {
    EventBridgePublisher::new(
        herald_testkit::eventbridge_client(),
        EventsConfig {
            bus: bus.to_owned(),
            source: source.to_owned(),
        },
    )
    .with_retry_policy(RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..EventBridgePublisher::DEFAULT_RETRY
    })
}

fn installation(n: usize) -> InstallationEvent {
    let channel = n.is_multiple_of(2);
    InstallationEvent {
        tenant_id: TenantId::new(format!("tenant-{}", n % 3)).unwrap(),
        conversation_id: ConversationId::new(format!("19:conv-{n}@thread.tacv2")).unwrap(),
        conversation_type: if channel {
            ConversationType::Channel
        } else {
            ConversationType::GroupChat
        },
        team_id: channel.then(|| TeamId::new(format!("19:team-{n}@thread.tacv2")).unwrap()),
        channel_id: channel.then(|| ChannelId::new(format!("19:conv-{n}@thread.tacv2")).unwrap()),
        by: Some(UserInfo {
            id: UserId::new(format!("29:user-{n}")).unwrap(),
            aad_object_id: Some(AadObjectId::new(format!("aad-{n}")).unwrap()),
            name: Some(format!("User {n}")),
        }),
        at: Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
            + chrono::Duration::seconds(i64::try_from(n).unwrap()),
        cause: Some("installationUpdate/add".into()),
    }
}

fn delivery(n: usize) -> DeliveryEvent {
    DeliveryEvent {
        notification_id: "notification-1".into(),
        delivery_id: format!("delivery-{n}"),
        tenant_id: TenantId::new("tenant-0").unwrap(),
        conversation_id: Some(ConversationId::new(format!("a:personal-{n}")).unwrap()),
        conversation_type: ConversationType::Personal,
        recipient_aad_object_id: Some(AadObjectId::new(format!("aad-{n}")).unwrap()),
        activity_id: n.is_multiple_of(3).then(|| format!("1:activity-{n}")),
        error_code: (!n.is_multiple_of(3)).then(|| "ConversationBlockedByUser".to_owned()),
        error_message: None,
        attempts: Some(1),
        at: Utc.with_ymd_and_hms(2026, 11, 22, 11, 0, 0).unwrap(),
    }
}

/// 25 events of every kind, each with a unique conversation id to find it by.
fn mixed_events() -> Vec<HeraldEvent> {
    (0..25)
        .map(|n| match n % 7 {
            0 => HeraldEvent::InstallationAdded(installation(n)),
            1 => HeraldEvent::InstallationRemoved(installation(n)),
            2 => HeraldEvent::InstallationArchived(installation(n)),
            3 => HeraldEvent::InstallationRestored(installation(n)),
            4 => HeraldEvent::NotificationDelivered(delivery(n)),
            5 => HeraldEvent::NotificationFailed(delivery(n)),
            _ => HeraldEvent::RecipientBlocked(delivery(n)),
        })
        .collect()
}

fn conversation_of(detail: &serde_json::Value) -> String {
    detail["conversationId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn twenty_five_events_arrive_exactly_once_in_three_calls() {
    let capture = herald_testkit::capture_events("herald").await;
    let events = mixed_events();
    let report = publisher(&capture.bus_name, "herald")
        .publish(&events)
        .await
        .unwrap();
    assert_eq!(report.calls, 3, "25 entries take calls of 10, 10 and 5");
    assert_eq!(report.retried_entries, 0);
    assert_eq!(report.published(), 25);

    let received = capture.receive(25, WAIT).await;
    assert_eq!(received.len(), 25, "every event once, no duplicates");
    let mut by_conversation: HashMap<String, &serde_json::Value> = HashMap::new();
    for envelope in &received {
        assert_eq!(envelope["source"], "herald");
        let previous = by_conversation.insert(conversation_of(&envelope["detail"]), envelope);
        assert!(previous.is_none(), "duplicate: {envelope}");
    }
    for (event, id) in events.iter().zip(&report.event_ids) {
        let expected: serde_json::Value = serde_json::from_str(&event.detail().unwrap()).unwrap();
        let envelope = by_conversation[&conversation_of(&expected)];
        assert_eq!(envelope["detail-type"], event.detail_type());
        assert_eq!(envelope["detail"], expected);
        assert_eq!(
            envelope["id"].as_str(),
            id.as_deref(),
            "EventBridge's id is reported"
        );
        let back = HeraldEvent::from_detail(
            envelope["detail-type"].as_str().unwrap(),
            &envelope["detail"].to_string(),
        )
        .unwrap();
        assert_eq!(&back, event);
    }
}

/// Big events are split by size as well as count: two 100 KB events fit in a 256 KB call, three
/// do not.
#[tokio::test]
async fn large_events_are_split_under_the_request_size_limit() {
    let capture = herald_testkit::capture_events("herald").await;
    let events: Vec<_> = (0..5)
        .map(|n| {
            let mut d = delivery(n);
            d.error_message = Some(format!("{n}").repeat(100 * 1024));
            HeraldEvent::NotificationFailed(d)
        })
        .collect();
    let report = publisher(&capture.bus_name, "herald")
        .publish(&events)
        .await
        .unwrap();
    assert_eq!(report.calls, 3, "2 + 2 + 1");
    let received = capture.receive(5, WAIT).await;
    let mut ids: Vec<_> = received
        .iter()
        .map(|e| e["detail"]["deliveryId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        (0..5).map(|n| format!("delivery-{n}")).collect::<Vec<_>>()
    );
    for envelope in &received {
        assert_eq!(
            envelope["detail"]["errorMessage"].as_str().unwrap().len(),
            100 * 1024
        );
    }
}

/// The source is configurable, and a rule for another source does not see Herald's events.
#[tokio::test]
async fn the_source_is_configurable() {
    let ours = herald_testkit::capture_events("acme.herald").await;
    let event = HeraldEvent::InstallationAdded(installation(0));
    publisher(&ours.bus_name, "herald")
        .publish(std::slice::from_ref(&event))
        .await
        .unwrap();
    publisher(&ours.bus_name, "acme.herald")
        .publish(std::slice::from_ref(&event))
        .await
        .unwrap();
    let received = ours.receive(1, WAIT).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["source"], "acme.herald");
    assert_eq!(received[0]["detail-type"], "herald.InstallationAdded");
}
