//! Idempotency keys: one notification per key and caller, a retry answered as the first time,
//! and a key reused for another body refused (409) rather than silently accepted.

use chrono::Duration;
use herald_store::NotificationId;
use serde_json::{Value, json};

use crate::{Harness, KEY, at, on_both_backends};

on_both_backends!(idempotency_key_gives_one_notification);

fn notify_body(key: &str) -> Value {
    json!({
        "target": {"kind": "all"},
        "message": {"text": "Maintenance at 18:00"},
        "idempotencyKey": key,
    })
}

async fn idempotency_key_gives_one_notification(h: &Harness) {
    let first = h
        .call("POST", "/api/notify", Some(&notify_body("deploy-42")))
        .await;
    assert_eq!(first.status, 202, "{first:?}");
    assert_eq!(first.body["status"], "accepted");
    assert_eq!(first.body["duplicate"], false);
    let id = first.body["notificationId"].as_str().unwrap().to_owned();

    h.clock.advance(Duration::minutes(5));
    // The same body, written another way: a retry, answered as the first time.
    let again = h
        .raw(
            Some(&format!("Bearer {KEY}")),
            "POST",
            "/api/notify",
            br#"{"idempotencyKey":"deploy-42","message":{"text":"Maintenance at 18:00"},"target":{"kind":"all"}}"#,
        )
        .await;
    assert_eq!(again.status, 202, "{again:?}");
    assert_eq!(again.body["notificationId"], id.as_str());
    assert_eq!(again.body["duplicate"], true);
    // Another body under the same key is no retry: 409, naming the notification the key holds.
    let mut changed = notify_body("deploy-42");
    changed["message"]["text"] = json!("something else");
    let conflict = h.call("POST", "/api/notify", Some(&changed)).await;
    assert_eq!(conflict.status, 409, "{conflict:?}");
    assert_eq!(conflict.body["error"]["code"], "IdempotencyKeyReused");
    assert_eq!(conflict.body["error"]["field"], "idempotencyKey");
    assert_eq!(conflict.body["error"]["notificationId"], id.as_str());
    let message = conflict.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("deploy-42") && message.contains(&id),
        "{message}"
    );

    // One notification: the first one, as first written.
    let stored = h
        .outbox
        .get_notification(&NotificationId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.created_at, at(0));
    assert_eq!(stored.activity["text"], "Maintenance at 18:00");
    assert_eq!(stored.idempotency_key.as_deref(), Some("deploy-42"));
    assert_eq!(stored.source, "api");

    // The same key from another API key is that caller's own notification.
    let second = h
        .raw(
            Some("Bearer second-key"),
            "POST",
            "/api/notify",
            &serde_json::to_vec(&changed).unwrap(),
        )
        .await;
    assert_eq!(
        (second.status, &second.body["duplicate"]),
        (202, &json!(false)),
        "{second:?}"
    );
    assert_ne!(second.body["notificationId"], id.as_str());
    let theirs = h
        .outbox
        .get_notification(
            &NotificationId::parse(second.body["notificationId"].as_str().unwrap()).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(theirs.activity["text"], "something else");

    let other = h
        .call("POST", "/api/notify", Some(&notify_body("deploy-43")))
        .await;
    assert_ne!(other.body["notificationId"], id.as_str());
    let unkeyed = json!({"target": {"kind": "all"}, "message": {"text": "t"}});
    let a = h.call("POST", "/api/notify", Some(&unkeyed)).await;
    let b = h.call("POST", "/api/notify", Some(&unkeyed)).await;
    assert_ne!(a.body["notificationId"], b.body["notificationId"]);
}
