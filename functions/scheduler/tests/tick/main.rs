//! The scheduler tick with a controllable clock: each recurrence kind, overlapping ticks, outages
//! caught up or recorded as missed, pause/resume, and recipient-local schedules across zones and
//! on the day people move between zones.

mod harness;
mod keeping_up;
#[path = "../support/schedule.rs"]
mod schedule;
mod zone_moves;

use chrono::{DateTime, Utc};
use herald_domain::Target;
use serde_json::json;

use harness::{Harness, Now as _, person, utc};
use schedule::first_fire_after;

#[tokio::test]
async fn daily_fires_at_local_time_across_dst() {
    // Berlin springs forward on 2026-03-29.
    let h = Harness::embedded("2026-03-27T00:00:00Z");
    let id = h
        .schedule(json!({"kind": "daily", "time": "09:00"}), "Europe/Berlin")
        .await;
    let fired = h.run_until("2026-03-31T00:00:00Z").await;
    let times: Vec<_> = fired.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        times,
        vec![
            utc("2026-03-27T08:00:00Z"),
            utc("2026-03-28T08:00:00Z"),
            utc("2026-03-29T07:00:00Z"),
            utc("2026-03-30T07:00:00Z"),
        ]
    );
    let record = h.get(&id).await;
    assert_eq!(record.fired, 4);
    assert_eq!(record.next_fire, Some(utc("2026-03-31T07:00:00Z")));
    // Each fire is a notification the pipeline can expand.
    let notification = h
        .outbox
        .get_notification(&fired[0].1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notification.source, format!("schedule:{id}"));
    assert_eq!(notification.target, Target::All);
}

#[tokio::test]
async fn weekdays_monthly_and_once() {
    let h = Harness::embedded("2026-01-01T00:00:00Z");
    let weekdays = h
        .schedule(
            json!({"kind": "weekly", "days": "weekdays", "time": "09:00"}),
            "America/New_York",
        )
        .await;
    let monthly = h
        .schedule(
            json!({"kind": "monthly", "day": 31, "time": "18:00"}),
            "Asia/Kolkata",
        )
        .await;
    let once = h
        .schedule(
            json!({"kind": "once", "at": "2026-01-02T08:00"}),
            "Asia/Kathmandu",
        )
        .await;
    // January 1 2026 is a Thursday: Jan 1, 2, 5, 6, 7, 8, 9 are weekdays until the 10th.
    h.run_until("2026-01-10T00:00:00Z").await;
    assert_eq!(h.get(&weekdays).await.fired, 7);
    let record = h.get(&once).await;
    assert_eq!((record.fired, record.next_fire), (1, None));
    assert_eq!(record.last_fire, Some(utc("2026-01-02T02:15:00Z")));
    // The 31st falls back to the last day of shorter months.
    let expected = [
        "2026-01-31T12:30:00Z",
        "2026-02-28T12:30:00Z",
        "2026-03-31T12:30:00Z",
        "2026-04-30T12:30:00Z",
    ];
    let mut next = Vec::new();
    let mut record = h.get(&monthly).await;
    for _ in 0..4 {
        let at = record.next_fire.unwrap();
        next.push(at);
        h.clock.set(at);
        h.scheduler.tick().await.unwrap();
        record = h.get(&monthly).await;
    }
    assert_eq!(next, expected.map(utc).to_vec());
}

#[tokio::test]
async fn overlapping_ticks_fire_once() {
    let h = Harness::embedded("2026-06-01T06:59:00Z");
    let id = h
        .schedule(json!({"kind": "daily", "time": "09:00"}), "Europe/Paris")
        .await;
    let created = h.overlapping_ticks("2026-06-01T07:00:00Z").await;
    assert_eq!(created, 1, "two ticks, one notification");
    // A retried tick in the same minute does nothing.
    assert!(h.scheduler.tick().await.unwrap().notifications.is_empty());
    assert_eq!(h.get(&id).await.fired, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_ticks_fire_once_on_dynamodb() {
    let h = Harness::dynamodb("2026-06-01T06:59:00Z").await;
    let id = h
        .schedule(json!({"kind": "daily", "time": "09:00"}), "Europe/Paris")
        .await;
    assert_eq!(h.overlapping_ticks("2026-06-01T07:00:30Z").await, 1);
    let record = h.get(&id).await;
    assert_eq!(record.fired, 1);
    assert_eq!(record.next_fire, Some(utc("2026-06-02T07:00:00Z")));
}

#[tokio::test]
async fn outages_are_caught_up_or_recorded_missed() {
    let h = Harness::embedded("2026-05-04T06:00:00Z");
    let id = h
        .schedule(json!({"kind": "daily", "time": "09:00"}), "Europe/London")
        .await;
    // Down over the 08:00 UTC fire for 30 minutes: sent late, once.
    h.clock.set(utc("2026-05-04T08:30:00Z"));
    assert_eq!(h.scheduler.tick().await.unwrap().notifications.len(), 1);
    // Down for two hours over the next day's fire: recorded as missed, nothing sent.
    h.clock.set(utc("2026-05-05T10:00:00Z"));
    let report = h.scheduler.tick().await.unwrap();
    assert_eq!((report.notifications.len(), report.missed), (0, 1));
    let record = h.get(&id).await;
    assert_eq!((record.fired, record.missed), (1, 1));
    assert_eq!(record.next_fire, Some(utc("2026-05-06T08:00:00Z")));
}

#[tokio::test]
async fn paused_schedules_do_not_fire_until_resumed() {
    let h = Harness::embedded("2026-05-04T06:00:00Z");
    let id = h
        .schedule(json!({"kind": "daily", "time": "09:00"}), "Europe/London")
        .await;
    let mut record = h.get(&id).await;
    record.paused = true;
    record.version += 1;
    assert!(h.schedules.update_schedule(&record).await.unwrap());
    assert!(h.run_until("2026-05-05T12:00:00Z").await.is_empty());
    let mut record = h.get(&id).await;
    record.paused = false;
    record.next_fire = first_fire_after(&record, h.clock.now_utc());
    record.version += 1;
    assert!(h.schedules.update_schedule(&record).await.unwrap());
    assert_eq!(h.run_until("2026-05-06T12:00:00Z").await.len(), 1);
}

#[tokio::test]
async fn recipient_local_schedules_fire_zone_by_zone() {
    let zones = [
        "Pacific/Auckland",
        "Asia/Tokyo",
        "Asia/Kathmandu",
        "Asia/Kolkata",
        "Europe/Berlin",
        "Europe/London",
        "America/Sao_Paulo",
        "America/New_York",
        "America/Los_Angeles",
        "Pacific/Chatham",
    ];
    let h = Harness::embedded("2026-07-01T00:00:00Z");
    for (n, zone) in zones.iter().enumerate() {
        h.references
            .upsert(&person(n as u32, Some(zone)))
            .await
            .unwrap();
    }
    h.references.upsert(&person(99, None)).await.unwrap();
    let id = h
        .schedule(json!({"kind": "daily", "time": "09:00"}), "recipient")
        .await;
    let fired = h.run_until("2026-07-02T23:59:00Z").await;
    // Every zone with recipients fired at its own 09:00; UTC (the default) fired for the
    // recipient with no known zone. Nothing else fired.
    let mut by_zone: std::collections::BTreeMap<String, Vec<DateTime<Utc>>> =
        std::collections::BTreeMap::new();
    for (at, notification) in &fired {
        let record = h
            .outbox
            .get_notification(notification)
            .await
            .unwrap()
            .unwrap();
        by_zone
            .entry(record.zone_filter.unwrap())
            .or_default()
            .push(*at);
    }
    for zone in zones {
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let times = &by_zone[zone];
        assert!(!times.is_empty(), "{zone} never fired");
        for t in times {
            assert_eq!(
                t.with_timezone(&tz).format("%H:%M").to_string(),
                "09:00",
                "{zone}"
            );
        }
    }
    assert!(by_zone.contains_key("none"));
    assert_eq!(by_zone.len(), zones.len() + 1, "{:?}", by_zone.keys());
    assert!(h.get(&id).await.fired > 0);

    // A recipient who moves to Tokyo is in Tokyo's next fire.
    let mut moved = person(4, Some("Asia/Tokyo"));
    moved.updated_at = utc("2026-07-02T23:00:00Z");
    h.references.upsert(&moved).await.unwrap();
    h.clock.set(utc("2026-07-03T00:00:00Z"));
    let tokyo = h.run_until("2026-07-03T00:00:00Z").await;
    assert_eq!(tokyo.len(), 1);
    let record = h
        .outbox
        .get_notification(&tokyo[0].1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.zone_filter.as_deref(), Some("Asia/Tokyo"));
    let in_tokyo = h
        .references
        .list(
            &herald_store::ListFilter {
                zone: Some("Asia/Tokyo".into()),
                ..Default::default()
            },
            &herald_store::PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(in_tokyo.items.len(), 2);
}
