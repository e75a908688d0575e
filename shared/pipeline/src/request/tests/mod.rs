//! The notify request's rules, one file per part of the body; the body as a whole (its top-level
//! fields, the notification it becomes) here, with the setup the parts share.

mod binding;
mod card;
mod interaction;
mod message;
mod target;

use chrono::TimeZone as _;
use serde_json::json;

use super::*;

fn card() -> Value {
    json!({
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": "Hello ${user.name}"},
            {"type": "TextBlock", "text": "${items[1].title} is due"},
        ],
    })
}

fn body(message: Value) -> Value {
    let mut body = json!({"target": {"kind": "all"}});
    body["message"] = message;
    body
}

/// The error `body` gets, asserting its field and code.
fn rejected(body: &Value, code: &str, field: &str) -> RequestError {
    let error = NotifyRequest::from_json(body).expect_err("must be rejected");
    assert_eq!((error.code(), error.field()), (code, field), "{error}");
    assert!(!error.to_string().is_empty());
    error
}

#[test]
fn top_level_errors_name_their_field() {
    rejected(&json!([]), "InvalidRequest", "");
    rejected(
        &json!({"target": {"kind": "all"}, "message": {"text": "t"}, "idempotency": "k"}),
        "InvalidRequest",
        "idempotency",
    );
    for key in [json!(""), json!(5), json!("a\nb"), json!("k".repeat(257))] {
        rejected(
            &json!({"target": {"kind": "all"}, "message": {"text": "t"}, "idempotencyKey": key}),
            "InvalidRequest",
            "idempotencyKey",
        );
    }
    let error = NotifyRequest::from_slice(b"{\"target\": ").unwrap_err();
    assert_eq!(
        (error.code(), error.field(), error.status()),
        ("InvalidJson", "", 400)
    );
}

#[test]
fn notifications_take_their_id_from_the_idempotency_key() {
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    let keyed =
        json!({"target": {"kind": "all"}, "message": {"text": "t"}, "idempotencyKey": "deploy-42"});
    let a =
        NotifyRequest::from_json(&keyed)
            .unwrap()
            .into_notification("api", now, Duration::days(30));
    let b = NotifyRequest::from_json(&keyed).unwrap().into_notification(
        "event:x",
        now,
        Duration::days(30),
    );
    // The same key through another door (an event) is another notification.
    assert_ne!(a.id, b.id);
    assert_eq!(a.id, NotificationId::for_scoped_key("api", "deploy-42"));
    assert_eq!(b.id, NotificationId::for_scoped_key("event", "deploy-42"));
    // ... and so is the same key from another caller; the same caller gets the same one.
    let by = |caller: &str| {
        NotifyRequest::from_json(&keyed)
            .unwrap()
            .from_caller(caller)
            .into_notification("api", now, Duration::days(30))
    };
    assert_eq!(by("key-a").id, by("key-a").id);
    assert_ne!(by("key-a").id, by("key-b").id);
    assert_ne!(by("key-a").id, a.id);
    // The body's hash is kept, to tell a retry from a key reused for another body.
    let reworded =
        json!({"idempotencyKey": "deploy-42", "message": {"text": "t"}, "target": {"kind": "all"}});
    let other =
        json!({"target": {"kind": "all"}, "message": {"text": "u"}, "idempotencyKey": "deploy-42"});
    let again = NotifyRequest::from_json(&reworded)
        .unwrap()
        .into_notification("api", now, Duration::days(30));
    let reused =
        NotifyRequest::from_json(&other)
            .unwrap()
            .into_notification("api", now, Duration::days(30));
    assert_eq!(
        (again.id.clone(), reused.id.clone()),
        (a.id.clone(), a.id.clone())
    );
    assert!(a.same_request(&again));
    assert!(!a.same_request(&reused));
    assert_eq!(a.body_hash.as_deref().map(str::len), Some(64));
    assert_eq!(a.idempotency_key.as_deref(), Some("deploy-42"));
    assert_eq!(a.source, "api");
    assert_eq!(a.expires_at, (now + Duration::days(30)).timestamp());
    assert_eq!(a.activity, json!({"type": "message", "text": "t"}));

    let unkeyed = body(json!({"text": "t"}));
    let c = NotifyRequest::from_json(&unkeyed)
        .unwrap()
        .into_notification("api", now, Duration::days(30));
    let d = NotifyRequest::from_json(&unkeyed)
        .unwrap()
        .into_notification("api", now, Duration::days(30));
    assert_ne!(c.id, d.id);
    assert_eq!(c.idempotency_key, None);
}
