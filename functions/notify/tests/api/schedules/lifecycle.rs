//! Create, read, list, change, pause, resume and delete a schedule, and 409 on a concurrent
//! change.

use std::sync::Arc;

use herald_notify::Notify;
use herald_store::ScheduleStore;
use herald_testkit::schedules::BeforeUpdate;
use serde_json::{Value, json};

use super::{assert_error, create, daily_berlin, id_of, patch, stored, urlencode, utc};
use crate::{Harness, KEY, on_both_backends};

on_both_backends!(
    create_read_list_delete,
    pause_resume_and_change,
    concurrent_change_is_409,
);

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
