//! Updating and retracting every delivered copy, and the edit's deadline.

use herald_teams_emulator::Fault;
use serde_json::json;

use super::assert_error;
use crate::{Harness, KEY, TENANT, on_both_backends};

on_both_backends!(
    update_and_retract_every_delivered_copy,
    edits_stop_at_the_deadline
);

async fn update_and_retract_every_delivered_copy(h: &Harness) {
    let people: Vec<_> = ["Megan", "Alex", "Lee", "Nestor"]
        .iter()
        .map(|name| h.personal(TENANT, name))
        .collect();
    let refs: Vec<_> = people.iter().collect();
    let (id, deliveries) = h.delivered(&refs, "Maintenance at 18:00").await;
    let conversation = |n: usize| people[n].conversation_id.as_str();
    // Lee deleted the message in Teams already; Nestor's conversation answers 400.
    h.emulator.inject(conversation(2), Fault::ActivityNotFound);
    h.emulator.inject(conversation(3), Fault::BadArgument);

    let path = format!("/api/notifications/{id}/message");
    let reply = h
        .call(
            "PUT",
            &path,
            Some(&json!({"text": "Maintenance moved to 19:00", "alert": true})),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        (
            &reply.body["updated"],
            &reply.body["gone"],
            &reply.body["failed"],
            &reply.body["complete"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(true)),
        "{reply:?}"
    );
    assert_eq!(
        reply.body["errors"][0]["deliveryId"],
        deliveries[3].delivery_id.as_str()
    );
    for n in 0..2 {
        let copies = h.emulator.activities(conversation(n));
        assert_eq!(copies.len(), 1);
        assert_eq!(copies[0].updates, 1);
        assert_eq!(copies[0].activity["text"], "Maintenance moved to 19:00");
    }
    // The copy Teams no longer has lost its stored id; the others kept theirs.
    let stored = |n: usize| {
        let outbox = h.outbox.clone();
        let id = id.clone();
        let delivery = deliveries[n].delivery_id.clone();
        async move { outbox.get_delivery(&id, &delivery).await.unwrap().unwrap() }
    };
    assert_eq!(stored(2).await.activity_id, None);
    assert!(stored(0).await.activity_id.is_some());
    assert!(stored(3).await.activity_id.is_some());

    // An invalid replacement is refused before Teams is called.
    h.emulator.clear_log();
    let bad = h
        .call(
            "PUT",
            &path,
            Some(&json!({"card": {"type": "AdaptiveCard"}})),
        )
        .await;
    assert_error(&bad, 400, "InvalidCard", Some("card.version"));
    let bad = h
        .call(
            "PUT",
            &path,
            Some(&json!({"card": {"type": "AdaptiveCard", "version": "1.5",
        "body": [{"type": "TextBlock", "text": "${who}"}]}})),
        )
        .await;
    assert_error(&bad, 400, "MissingPlaceholders", Some("data"));
    assert!(h.emulator.requests().is_empty());

    h.emulator.clear_faults(conversation(3));
    let reply = h.call("DELETE", &path, None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        (
            &reply.body["deleted"],
            &reply.body["gone"],
            &reply.body["failed"]
        ),
        (&json!(3), &json!(0), &json!(0)),
        "{reply:?}"
    );
    for n in [0, 1, 3] {
        assert!(h.emulator.activities(conversation(n))[0].deleted);
        assert_eq!(stored(n).await.activity_id, None);
    }
    // Nothing left to retract: a repeat changes nothing and calls no one.
    h.emulator.clear_log();
    let again = h.call("DELETE", &path, None).await;
    assert_eq!(
        (&again.body["deleted"], &again.body["complete"]),
        (&json!(0), &json!(true))
    );
    assert!(h.emulator.requests().is_empty());

    let missing = h
        .call("DELETE", "/api/notifications/n-0000/message", None)
        .await;
    assert_error(&missing, 404, "NotificationNotFound", None);
}

async fn edits_stop_at_the_deadline(h: &Harness) {
    let people: Vec<_> = ["Megan", "Alex"]
        .iter()
        .map(|name| h.personal(TENANT, name))
        .collect();
    let refs: Vec<_> = people.iter().collect();
    let (id, _) = h.delivered(&refs, "hello").await;
    // Alex's conversation answers only after the deadline has passed.
    h.emulator.inject(
        people[1].conversation_id.as_str(),
        Fault::Delay(std::time::Duration::from_secs(5)),
    );
    let mut config = h.notify.config.clone();
    config.edit_deadline = std::time::Duration::from_millis(700);
    let hurried = std::sync::Arc::new(herald_notify::Notify {
        references: h.references.clone(),
        outbox: h.outbox.clone(),
        edits: h.notify.edits.clone(),
        schedules: h.schedules.clone(),
        connector: h.connector.clone(),
        clock: h.clock.clone(),
        retention: h.notify.retention,
        config,
    });
    let started = std::time::Instant::now();
    let reply = crate::request(
        &hurried,
        Some(&format!("Bearer {KEY}")),
        "DELETE",
        &format!("/api/notifications/{id}/message"),
        &[],
    )
    .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        (
            &reply.body["deleted"],
            &reply.body["skipped"],
            &reply.body["complete"]
        ),
        (&json!(1), &json!(1), &json!(false)),
        "{reply:?}"
    );
    assert!(h.emulator.activities(people[0].conversation_id.as_str())[0].deleted);
}
