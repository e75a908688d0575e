//! Every validation error of `/api/schedules` names its field.

use serde_json::{Value, json};

use super::{assert_error, create, daily_berlin, id_of, patch, stored};
use crate::{Harness, KEY, on_both_backends};

on_both_backends!(
    create_validation_errors_name_their_field,
    recipient_zone_needs_a_listing_target,
    patch_validation_errors,
);

async fn create_validation_errors_name_their_field(h: &Harness) {
    let base = daily_berlin("09:00");
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (json!([1]), 400, "InvalidRequest", None),
        (
            with("idempotencyKey", json!("k")),
            400,
            "InvalidRequest",
            Some("idempotencyKey"),
        ),
        (without("target"), 400, "InvalidTarget", Some("target")),
        (
            with("target", json!({"kind": "everyone"})),
            400,
            "InvalidTarget",
            Some("target.kind"),
        ),
        (without("message"), 400, "InvalidMessage", Some("message")),
        (
            with("message", json!({"text": ""})),
            400,
            "InvalidMessage",
            Some("message.text"),
        ),
        (
            with(
                "message",
                json!({"card": {"type": "AdaptiveCard", "version": "1.5",
                "body": [{"type": "TextBlock", "text": "${user.name}"}]}}),
            ),
            400,
            "MissingPlaceholders",
            Some("message.data"),
        ),
        (
            without("recurrence"),
            400,
            "InvalidSchedule",
            Some("recurrence"),
        ),
        (
            with("recurrence", json!("daily")),
            400,
            "InvalidSchedule",
            Some("recurrence"),
        ),
        (
            with("recurrence", json!({"kind": "hourly", "time": "09:00"})),
            400,
            "InvalidSchedule",
            Some("recurrence.kind"),
        ),
        (
            with("recurrence", json!({"kind": "daily"})),
            400,
            "InvalidSchedule",
            Some("recurrence.time"),
        ),
        (
            with("recurrence", json!({"kind": "daily", "time": "25:00"})),
            400,
            "InvalidSchedule",
            Some("recurrence.time"),
        ),
        (
            with(
                "recurrence",
                json!({"kind": "daily", "time": "09:00", "day": 3}),
            ),
            400,
            "InvalidSchedule",
            Some("recurrence"),
        ),
        (
            with(
                "recurrence",
                json!({"kind": "weekly", "time": "09:00", "days": ["funday"]}),
            ),
            400,
            "InvalidSchedule",
            Some("recurrence.days"),
        ),
        (
            with(
                "recurrence",
                json!({"kind": "weekly", "time": "09:00", "days": []}),
            ),
            400,
            "InvalidSchedule",
            Some("recurrence.days"),
        ),
        (
            with(
                "recurrence",
                json!({"kind": "monthly", "time": "09:00", "day": 32}),
            ),
            400,
            "InvalidSchedule",
            Some("recurrence.day"),
        ),
        (
            with(
                "recurrence",
                json!({"kind": "once", "at": "2026-13-01T09:00"}),
            ),
            400,
            "InvalidSchedule",
            Some("recurrence.at"),
        ),
        // A once already past would never fire.
        (
            with(
                "recurrence",
                json!({"kind": "once", "at": "2026-11-22T09:00"}),
            ),
            400,
            "InvalidSchedule",
            Some("recurrence.at"),
        ),
        (
            without("timeZone"),
            400,
            "InvalidSchedule",
            Some("timeZone"),
        ),
        (
            with("timeZone", json!("Mars/Olympus_Mons")),
            400,
            "InvalidSchedule",
            Some("timeZone"),
        ),
        (
            with("timeZone", json!(1)),
            400,
            "InvalidSchedule",
            Some("timeZone"),
        ),
        (
            with("startDate", json!("2026-02-30")),
            400,
            "InvalidSchedule",
            Some("startDate"),
        ),
        (
            with("endDate", json!("tomorrow")),
            400,
            "InvalidSchedule",
            Some("endDate"),
        ),
        (
            {
                let mut body = with("startDate", json!("2026-12-10"));
                body["endDate"] = json!("2026-12-01");
                body
            },
            400,
            "InvalidSchedule",
            Some("endDate"),
        ),
        // Ended before now: never fires.
        (
            with("endDate", json!("2026-11-01")),
            400,
            "InvalidSchedule",
            Some("endDate"),
        ),
    ];
    for (body, status, code, field) in cases {
        let reply = h.call("POST", "/api/schedules", Some(&body)).await;
        assert_error(&reply, status, code, field);
    }
    let reply = h
        .raw(
            Some(&format!("Bearer {KEY}")),
            "POST",
            "/api/schedules",
            b"{not json",
        )
        .await;
    assert_error(&reply, 400, "InvalidJson", None);
    let too_large = with(
        "message",
        json!({"text": "x".repeat(herald_pipeline::request::MAX_ACTIVITY_BYTES)}),
    );
    let reply = h.call("POST", "/api/schedules", Some(&too_large)).await;
    assert_error(&reply, 413, "MessageTooLarge", Some("message"));
    // Nothing was stored by any of them.
    let list = h.call("GET", "/api/schedules", None).await;
    assert_eq!(list.body["items"], json!([]));
}

async fn recipient_zone_needs_a_listing_target(h: &Harness) {
    let body = |target: Value| {
        json!({
            "target": target,
            "message": {"text": "Lunch"},
            "recurrence": {"kind": "daily", "time": "12:00"},
            "timeZone": "recipient",
        })
    };
    for target in [
        json!({"kind": "all"}),
        json!({"kind": "type", "type": "personal"}),
        json!({"kind": "tenant", "tenantId": crate::TENANT}),
        json!({"kind": "team", "teamId": "19:abc@thread.tacv2", "tenantId": crate::TENANT, "channel": "*"}),
    ] {
        let reply = h
            .call("POST", "/api/schedules", Some(&body(target.clone())))
            .await;
        assert_eq!(reply.status, 201, "{target}: {reply:?}");
        assert_eq!(reply.body["timeZone"], "recipient");
    }
    for target in [
        json!({"kind": "team", "teamId": "19:abc@thread.tacv2", "tenantId": crate::TENANT}),
        json!({"kind": "team", "teamId": "19:abc@thread.tacv2", "tenantId": crate::TENANT, "channel": "Ops"}),
        json!({"kind": "teamMembers", "teamId": "19:abc@thread.tacv2", "tenantId": crate::TENANT}),
        json!({"kind": "person", "aadObjectId": "0b5a1a0e-7d3c-4b56-9f0a-3c9d2f1e8a77", "tenantId": crate::TENANT}),
        json!({"kind": "conversations", "ids": ["a:1Xk9"]}),
    ] {
        let reply = h
            .call("POST", "/api/schedules", Some(&body(target.clone())))
            .await;
        assert_error(&reply, 400, "InvalidTarget", Some("target"));
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("recipient") && message.contains("IANA"),
            "{message}"
        );
        // The same target with a fixed zone is fine.
        let mut fixed = body(target.clone());
        fixed["timeZone"] = json!("Asia/Kathmandu");
        let reply = h.call("POST", "/api/schedules", Some(&fixed)).await;
        assert_eq!(reply.status, 201, "{target}: {reply:?}");
    }
}

async fn patch_validation_errors(h: &Harness) {
    let id = id_of(&create(h, &daily_berlin("09:00")).await);
    let before = stored(h, &id).await;
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (json!({}), "InvalidRequest", None),
        (json!("paused"), "InvalidRequest", None),
        (json!({"pause": true}), "InvalidRequest", Some("pause")),
        (json!({"paused": "yes"}), "InvalidRequest", Some("paused")),
        (json!({"version": "1"}), "InvalidRequest", Some("version")),
        (
            json!({"recurrence": {"kind": "daily", "time": "9"}}),
            "InvalidSchedule",
            Some("recurrence.time"),
        ),
        (
            json!({"recurrence": null}),
            "InvalidSchedule",
            Some("recurrence"),
        ),
        (
            json!({"endDate": "2026-11-31"}),
            "InvalidSchedule",
            Some("endDate"),
        ),
        (
            json!({"startDate": "2027-01-10", "endDate": "2027-01-01"}),
            "InvalidSchedule",
            Some("endDate"),
        ),
        (
            json!({"timeZone": "Berlin"}),
            "InvalidSchedule",
            Some("timeZone"),
        ),
        (
            json!({"timeZone": null}),
            "InvalidSchedule",
            Some("timeZone"),
        ),
        (
            json!({"message": {"text": 3}}),
            "InvalidMessage",
            Some("message.text"),
        ),
        (json!({"message": {}}), "InvalidMessage", Some("message")),
        (
            json!({"target": {"kind": "person"}}),
            "InvalidTarget",
            Some("target.aadObjectId"),
        ),
        (
            json!({"recurrence": {"kind": "once", "at": "2020-01-01T00:00"}}),
            "InvalidSchedule",
            Some("recurrence.at"),
        ),
    ];
    for (body, code, field) in cases {
        let reply = patch(h, &id, &body).await;
        assert_error(&reply, 400, code, field);
    }
    assert_eq!(stored(h, &id).await, before);
}
