//! `/api/schedules` through the handler, on both backends: create, read, list, change, pause,
//! resume, delete, preview across daylight-saving changes, every validation error, and 409 on a
//! concurrent change.

use std::sync::Arc;

use chrono::{DateTime, TimeZone as _, Utc};
use herald_notify::Notify;
use herald_store::{ScheduleId, ScheduleRecord, ScheduleStore};
use herald_testkit::schedules::BeforeUpdate;
use serde_json::{Value, json};

use crate::{Harness, HttpReply, KEY, on_both_backends};

on_both_backends!(
    create_read_list_delete,
    create_validation_errors_name_their_field,
    recipient_zone_needs_a_listing_target,
    preview_across_daylight_saving,
    preview_parameters,
    pause_resume_and_change,
    patch_validation_errors,
    concurrent_change_is_409,
);

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn daily_berlin(time: &str) -> Value {
    json!({
        "target": {"kind": "all"},
        "message": {"text": "Stand-up"},
        "recurrence": {"kind": "daily", "time": time},
        "timeZone": "Europe/Berlin",
    })
}

fn assert_error(reply: &HttpReply, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.body["error"]["code"], code, "{reply:?}");
    assert_eq!(
        reply.body["error"]["field"].as_str(),
        field,
        "{}",
        reply.body
    );
    assert!(
        !reply.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
}

async fn create(h: &Harness, body: &Value) -> Value {
    let reply = h.call("POST", "/api/schedules", Some(body)).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

fn id_of(schedule: &Value) -> String {
    schedule["id"].as_str().unwrap().to_owned()
}

async fn stored(h: &Harness, id: &str) -> ScheduleRecord {
    h.schedules
        .get_schedule(&ScheduleId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap()
}

async fn create_read_list_delete(h: &Harness) {
    // 2026-11-22 09:00Z is 10:00 in Berlin (UTC+1): today's 09:00 has passed.
    let created = create(h, &daily_berlin("09:00")).await;
    let id = id_of(&created);
    assert!(id.starts_with("s-"), "{created}");
    assert_eq!(created["nextFire"], "2026-11-23T08:00:00Z");
    assert_eq!(
        created["recurrence"],
        json!({"kind": "daily", "time": "09:00"})
    );
    assert_eq!(created["timeZone"], "Europe/Berlin");
    assert_eq!(created["target"], json!({"kind": "all"}));
    assert_eq!(created["message"], json!({"text": "Stand-up"}));
    assert_eq!(created["paused"], false);
    assert_eq!(created["startDate"], Value::Null);
    assert_eq!(created["lastFire"], Value::Null);
    assert_eq!(created["fired"], 0);

    // Stored as the scheduler reads it: rendered activity, due at the next fire.
    let record = stored(h, &id).await;
    assert_eq!(record.activity["text"], "Stand-up");
    assert_eq!(record.next_fire, Some(utc(2026, 11, 23, 8, 0)));
    assert!(record.owner.is_none());
    let due = h
        .schedules
        .due_schedules(utc(2026, 11, 23, 8, 0), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|s| s.id.to_string()).collect::<Vec<_>>(),
        std::slice::from_ref(&id)
    );

    let read = h.call("GET", &format!("/api/schedules/{id}"), None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, created);

    // Bounded by dates; a start in the future moves the first fire.
    let mut bounded = daily_berlin("07:15");
    bounded["startDate"] = json!("2026-12-01");
    bounded["endDate"] = json!("2026-12-31");
    let bounded = create(h, &bounded).await;
    assert_eq!(bounded["nextFire"], "2026-12-01T06:15:00Z");
    assert_eq!(bounded["startDate"], "2026-12-01");
    assert_eq!(bounded["endDate"], "2026-12-31");

    let weekly = create(
        h,
        &json!({
            "target": {"kind": "team", "teamId": "19:abc@thread.tacv2", "tenantId": crate::TENANT, "channel": "*"},
            "message": {"text": "Friday demo"},
            "recurrence": {"kind": "weekly", "days": ["fri"], "time": "15:00"},
            "timeZone": "recipient",
        }),
    )
    .await;
    assert_eq!(weekly["timeZone"], "recipient");
    // The earliest zone to reach Friday 15:00 after Sunday 09:00Z (Kiritimati, UTC+14).
    assert_eq!(weekly["nextFire"], "2026-11-27T01:00:00Z");

    // Listing pages through all three.
    let first = h.call("GET", "/api/schedules?limit=2", None).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let second = h
        .call(
            "GET",
            &format!("/api/schedules?limit=2&cursor={}", urlencode(cursor)),
            None,
        )
        .await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["nextCursor"], Value::Null);
    let mut ids: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.body["items"].as_array().unwrap())
        .map(id_of)
        .collect();
    ids.sort();
    let mut expected = vec![id.clone(), id_of(&bounded), id_of(&weekly)];
    expected.sort();
    assert_eq!(ids, expected);
    assert_error(
        &h.call("GET", "/api/schedules?limit=0", None).await,
        400,
        "InvalidParameter",
        Some("limit"),
    );
    assert_error(
        &h.call("GET", "/api/schedules?cursor=garbage", None).await,
        400,
        "InvalidParameter",
        Some("cursor"),
    );
    assert_error(
        &h.call("GET", "/api/schedules?status=active", None).await,
        400,
        "InvalidParameter",
        Some("status"),
    );

    // Same API key check as every route.
    for (method, path) in [
        ("GET", "/api/schedules".to_owned()),
        ("POST", "/api/schedules".to_owned()),
        ("GET", format!("/api/schedules/{id}")),
        ("PATCH", format!("/api/schedules/{id}")),
        ("DELETE", format!("/api/schedules/{id}")),
        ("GET", format!("/api/schedules/{id}/preview")),
    ] {
        let body = serde_json::to_vec(&json!({"paused": true})).unwrap();
        let reply = h.raw(Some("Bearer wrong"), method, &path, &body).await;
        assert_error(&reply, 401, "Unauthorized", None);
        let reply = h.raw(None, method, &path, &body).await;
        assert_error(&reply, 401, "Unauthorized", None);
    }
    assert!(!stored(h, &id).await.paused);

    let deleted = h
        .call("DELETE", &format!("/api/schedules/{id}"), None)
        .await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert_error(
        &h.call("GET", &format!("/api/schedules/{id}"), None).await,
        404,
        "ScheduleNotFound",
        None,
    );
    assert_error(
        &h.call("DELETE", &format!("/api/schedules/{id}"), None)
            .await,
        404,
        "ScheduleNotFound",
        None,
    );
    for bad in ["s-0000", "not-an-id", "s-%2F.."] {
        assert_error(
            &h.call("GET", &format!("/api/schedules/{bad}"), None).await,
            404,
            "ScheduleNotFound",
            None,
        );
    }
    let remaining = h.call("GET", "/api/schedules", None).await;
    assert_eq!(remaining.body["items"].as_array().unwrap().len(), 2);
    // PUT is not a schedule method.
    assert_error(
        &h.call("PUT", &format!("/api/schedules/{}", id_of(&bounded)), None)
            .await,
        405,
        "MethodNotAllowed",
        None,
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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

async fn preview(h: &Harness, id: &str, query: &str) -> HttpReply {
    h.call("GET", &format!("/api/schedules/{id}/preview{query}"), None)
        .await
}

fn fires(reply: &HttpReply) -> Vec<(String, String)> {
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body["fires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["utc"].as_str().unwrap().to_owned(),
                f["local"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn preview_across_daylight_saving(h: &Harness) {
    // Berlin springs forward on 2026-03-29 at 02:00 (to 03:00, UTC+1 -> UTC+2).
    h.clock.set(utc(2026, 3, 27, 12, 0));
    let nine = id_of(&create(h, &daily_berlin("09:00")).await);
    let reply = preview(h, &nine, "?count=4").await;
    assert_eq!(reply.body["timeZone"], "Europe/Berlin");
    assert_eq!(reply.body["id"], nine.as_str());
    assert_eq!(
        fires(&reply),
        [
            ("2026-03-28T08:00:00Z", "2026-03-28T09:00:00+01:00"),
            ("2026-03-29T07:00:00Z", "2026-03-29T09:00:00+02:00"),
            ("2026-03-30T07:00:00Z", "2026-03-30T09:00:00+02:00"),
            ("2026-03-31T07:00:00Z", "2026-03-31T09:00:00+02:00"),
        ]
        .map(|(u, l)| (u.to_owned(), l.to_owned()))
    );
    assert!(
        reply.body["fires"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["timeZone"] == "Europe/Berlin")
    );

    // 02:30 does not exist on the 29th: it fires at 03:30 local, the same offset past the gap.
    let gap = id_of(&create(h, &daily_berlin("02:30")).await);
    assert_eq!(
        fires(&preview(h, &gap, "?count=3").await),
        [
            ("2026-03-28T01:30:00Z", "2026-03-28T02:30:00+01:00"),
            ("2026-03-29T01:30:00Z", "2026-03-29T03:30:00+02:00"),
            ("2026-03-30T00:30:00Z", "2026-03-30T02:30:00+02:00"),
        ]
        .map(|(u, l)| (u.to_owned(), l.to_owned()))
    );

    // Falling back on 2026-10-25 (03:00 -> 02:00): 02:30 happens twice and fires once, first.
    h.clock.set(utc(2026, 10, 23, 12, 0));
    assert_eq!(
        fires(&preview(h, &gap, "?count=3").await),
        [
            ("2026-10-24T00:30:00Z", "2026-10-24T02:30:00+02:00"),
            ("2026-10-25T00:30:00Z", "2026-10-25T02:30:00+02:00"),
            ("2026-10-26T01:30:00Z", "2026-10-26T02:30:00+01:00"),
        ]
        .map(|(u, l)| (u.to_owned(), l.to_owned()))
    );

    // A recipient schedule previewed in a southern-hemisphere zone: Sydney leaves DST on
    // 2026-04-05 (03:00 AEDT -> 02:00 AEST).
    h.clock.set(utc(2026, 4, 2, 0, 0));
    let mut recipient = daily_berlin("09:00");
    recipient["timeZone"] = json!("recipient");
    let recipient = id_of(&create(h, &recipient).await);
    let reply = preview(h, &recipient, "?count=4&timeZone=Australia/Sydney").await;
    assert_eq!(reply.body["timeZone"], "Australia/Sydney");
    assert_eq!(
        fires(&reply),
        [
            ("2026-04-02T22:00:00Z", "2026-04-03T09:00:00+11:00"),
            ("2026-04-03T22:00:00Z", "2026-04-04T09:00:00+11:00"),
            ("2026-04-04T23:00:00Z", "2026-04-05T09:00:00+10:00"),
            ("2026-04-05T23:00:00Z", "2026-04-06T09:00:00+10:00"),
        ]
        .map(|(u, l)| (u.to_owned(), l.to_owned()))
    );
    // A 45-minute offset, no DST.
    let reply = preview(h, &recipient, "?count=1&timeZone=Asia/Kathmandu").await;
    assert_eq!(
        fires(&reply),
        [(
            "2026-04-02T03:15:00Z".to_owned(),
            "2026-04-02T09:00:00+05:45".to_owned()
        )]
    );

    // A once ends the preview after its one fire; monthly on the 31st takes the last day.
    let mut once = daily_berlin("x");
    once["recurrence"] = json!({"kind": "once", "at": "2026-12-24T08:00"});
    let once = id_of(&create(h, &once).await);
    assert_eq!(
        fires(&preview(h, &once, "?count=5").await),
        [(
            "2026-12-24T07:00:00Z".to_owned(),
            "2026-12-24T08:00:00+01:00".to_owned()
        )]
    );
    let mut monthly = daily_berlin("x");
    monthly["recurrence"] = json!({"kind": "monthly", "day": 31, "time": "18:00"});
    let monthly = id_of(&create(h, &monthly).await);
    let locals: Vec<String> = fires(&preview(h, &monthly, "?count=3").await)
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    assert_eq!(
        locals,
        [
            "2026-04-30T18:00:00+02:00",
            "2026-05-31T18:00:00+02:00",
            "2026-06-30T18:00:00+02:00"
        ]
    );
}

async fn preview_parameters(h: &Harness) {
    let id = id_of(&create(h, &daily_berlin("09:00")).await);
    assert_eq!(fires(&preview(h, &id, "").await).len(), 10);
    assert_eq!(fires(&preview(h, &id, "?count=1").await).len(), 1);
    assert_eq!(fires(&preview(h, &id, "?count=100").await).len(), 100);
    for bad in ["?count=0", "?count=101", "?count=ten", "?count=-1"] {
        assert_error(
            &preview(h, &id, bad).await,
            400,
            "InvalidParameter",
            Some("count"),
        );
    }
    assert_error(
        &preview(h, &id, "?days=3").await,
        400,
        "InvalidParameter",
        Some("days"),
    );
    // A fixed-zone schedule has its own zone.
    assert_error(
        &preview(h, &id, "?timeZone=Asia/Tokyo").await,
        400,
        "InvalidParameter",
        Some("timeZone"),
    );
    let mut recipient = daily_berlin("09:00");
    recipient["timeZone"] = json!("recipient");
    let recipient = id_of(&create(h, &recipient).await);
    let missing = preview(h, &recipient, "?count=2").await;
    assert_error(&missing, 400, "InvalidParameter", Some("timeZone"));
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("required")
    );
    assert_error(
        &preview(h, &recipient, "?timeZone=Europe/Atlantis").await,
        400,
        "InvalidParameter",
        Some("timeZone"),
    );
    assert_error(
        &preview(h, "s-0123abcd", "").await,
        404,
        "ScheduleNotFound",
        None,
    );
}

async fn patch(h: &Harness, id: &str, body: &Value) -> HttpReply {
    h.call("PATCH", &format!("/api/schedules/{id}"), Some(body))
        .await
}

async fn pause_resume_and_change(h: &Harness) {
    let created = create(h, &daily_berlin("09:00")).await;
    let id = id_of(&created);
    assert_eq!(created["version"], 1);

    // Pause: no next fire, and the scheduler no longer finds it due.
    let paused = patch(h, &id, &json!({"paused": true})).await;
    assert_eq!(paused.status, 200, "{paused:?}");
    assert_eq!(paused.body["paused"], true);
    assert_eq!(paused.body["nextFire"], Value::Null);
    assert_eq!(paused.body["version"], 2);
    let due = h
        .schedules
        .due_schedules(utc(2026, 12, 1, 0, 0), 10)
        .await
        .unwrap();
    assert!(due.is_empty(), "{due:?}");

    // Resumed three days later: the next fire counts from then, nothing is caught up.
    h.clock.set(utc(2026, 11, 25, 12, 0));
    let resumed = patch(h, &id, &json!({"paused": false})).await;
    assert_eq!(resumed.status, 200, "{resumed:?}");
    assert_eq!(resumed.body["paused"], false);
    assert_eq!(resumed.body["nextFire"], "2026-11-26T08:00:00Z");
    assert_eq!(
        stored(h, &id).await.next_fire,
        Some(utc(2026, 11, 26, 8, 0))
    );

    // A new rule and zone: weekly on Monday 07:30 in New York (UTC-5).
    let changed = patch(
        h,
        &id,
        &json!({"recurrence": {"kind": "weekly", "days": ["mon"], "time": "07:30"},
                "timeZone": "America/New_York"}),
    )
    .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.body["nextFire"], "2026-11-30T12:30:00Z");
    assert_eq!(changed.body["timeZone"], "America/New_York");
    assert_eq!(changed.body["version"], 4);
    assert_eq!(changed.body["message"], json!({"text": "Stand-up"}));

    // Dates alone are merged into the current rule; null clears one.
    let bounded = patch(h, &id, &json!({"startDate": "2026-12-10"})).await;
    assert_eq!(bounded.body["nextFire"], "2026-12-14T12:30:00Z");
    assert_eq!(bounded.body["recurrence"]["kind"], "weekly");
    let unbounded = patch(h, &id, &json!({"startDate": null})).await;
    assert_eq!(unbounded.body["startDate"], Value::Null);
    assert_eq!(unbounded.body["nextFire"], "2026-11-30T12:30:00Z");

    // A new message is rendered for the scheduler; a new target validated like notify's.
    let message = patch(
        h,
        &id,
        &json!({"message": {"text": "Weekly sync", "alert": true}}),
    )
    .await;
    assert_eq!(message.status, 200, "{message:?}");
    let record = stored(h, &id).await;
    assert_eq!(record.activity["text"], "Weekly sync");
    assert_eq!(
        record.message,
        json!({"text": "Weekly sync", "alert": true})
    );
    assert_eq!(record.target, herald_domain::Target::All);
    let target = patch(
        h,
        &id,
        &json!({"target": {"kind": "conversations", "ids": ["19:ops@thread.tacv2"]}}),
    )
    .await;
    assert_eq!(target.status, 200, "{target:?}");
    assert_eq!(
        target.body["target"],
        json!({"kind": "conversations", "ids": ["19:ops@thread.tacv2"]})
    );
    assert_eq!(stored(h, &id).await.activity["text"], "Weekly sync");
    // ...which then cannot be recipient-local.
    assert_error(
        &patch(h, &id, &json!({"timeZone": "recipient"})).await,
        400,
        "InvalidTarget",
        Some("target"),
    );

    // The version in the body is checked: a stale one is a conflict and changes nothing.
    let current = stored(h, &id).await;
    let stale = patch(
        h,
        &id,
        &json!({"paused": true, "version": current.version - 1}),
    )
    .await;
    assert_error(&stale, 409, "Conflict", None);
    assert_eq!(stored(h, &id).await, current);
    let fresh = patch(h, &id, &json!({"paused": true, "version": current.version})).await;
    assert_eq!(fresh.status, 200, "{fresh:?}");
    assert_eq!(fresh.body["version"], current.version + 1);

    // A paused schedule may hold a rule that has ended; resuming it is refused.
    let ended = patch(h, &id, &json!({"endDate": "2026-11-01"})).await;
    assert_eq!(ended.status, 200, "{ended:?}");
    assert_error(
        &patch(h, &id, &json!({"paused": false})).await,
        400,
        "InvalidSchedule",
        Some("endDate"),
    );
    assert_error(
        &patch(h, "s-0123abcd", &json!({"paused": true})).await,
        404,
        "ScheduleNotFound",
        None,
    );
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

/// A store where someone else (a scheduler tick) advances the schedule between the API's read
/// and its write.
fn racing(inner: Arc<dyn ScheduleStore>) -> BeforeUpdate {
    BeforeUpdate::new(inner, |store, record| async move {
        let mut other = store.get_schedule(&record.id).await?.unwrap();
        other.version += 1;
        other.fired += 1;
        assert!(store.update_schedule(&other).await?);
        Ok(())
    })
}

async fn concurrent_change_is_409(h: &Harness) {
    let id = id_of(&create(h, &daily_berlin("09:00")).await);
    let racing = Arc::new(Notify {
        references: h.references.clone(),
        outbox: h.outbox.clone(),
        edits: h.notify.edits.clone(),
        schedules: Arc::new(racing(h.schedules.clone())),
        connector: h.connector.clone(),
        clock: h.clock.clone(),
        retention: h.notify.retention,
        config: h.notify.config.clone(),
    });
    let body = serde_json::to_vec(&json!({"paused": true})).unwrap();
    let reply = crate::request(
        &racing,
        Some(&format!("Bearer {KEY}")),
        "PATCH",
        &format!("/api/schedules/{id}"),
        &body,
    )
    .await;
    assert_error(&reply, 409, "Conflict", None);
    // The other writer's change stands; the pause was not applied.
    let record = stored(h, &id).await;
    assert_eq!((record.version, record.fired, record.paused), (2, 1, false));
    // Read again and retried: it applies.
    let retried = patch(h, &id, &json!({"paused": true, "version": 2})).await;
    assert_eq!(retried.status, 200, "{retried:?}");
    assert_eq!(retried.body["version"], 3);
    assert_eq!(retried.body["fired"], 1);
}
