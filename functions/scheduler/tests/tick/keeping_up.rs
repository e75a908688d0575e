//! A tick keeps up with any number of due fires: it pages past its first page, fires in
//! parallel, lets one schedule's failure stop nothing else, and leaves what its time does not
//! allow to the next tick, which fires it without recording it missed.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use herald_scheduler::Scheduler;
use herald_store::{ScheduleId, ScheduleStore, StoreError};
use herald_testkit::schedules::BeforeUpdate;
use serde_json::json;

use crate::harness::{Harness, Now as _, utc};

/// More than two pages of the tick's due reads.
const MANY: usize = 1_100;

/// `count` schedules firing once at 09:00 UTC on 2026-06-01.
async fn due_at_nine(h: &Harness, count: usize) -> Vec<ScheduleId> {
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(
            h.schedule(json!({"kind": "once", "at": "2026-06-01T09:00"}), "UTC")
                .await,
        );
    }
    ids
}

async fn still_due(h: &Harness, at: DateTime<Utc>) -> usize {
    h.schedules.due_schedules(at, 1000).await.unwrap().len()
}

#[tokio::test]
async fn one_tick_fires_every_page_of_what_is_due() {
    let h = Harness::embedded("2026-06-01T08:00:00Z");
    due_at_nine(&h, MANY).await;
    h.clock.set(utc("2026-06-01T09:00:00Z"));
    let report = h.scheduler.tick().await.unwrap();
    assert_eq!(report.due, MANY);
    assert_eq!(report.notifications.len(), MANY);
    let distinct: HashSet<_> = report.notifications.iter().collect();
    assert_eq!(distinct.len(), MANY);
    assert_eq!((report.missed, report.failed), (0, 0));
    assert!(!report.out_of_time);
    assert_eq!(still_due(&h, h.clock.now_utc()).await, 0);
}

#[tokio::test]
async fn a_tick_out_of_time_leaves_the_rest_to_the_next_one_not_missed() {
    let h = Harness::embedded("2026-06-01T08:00:00Z");
    due_at_nine(&h, MANY).await;
    h.clock.set(utc("2026-06-01T09:00:00Z"));
    // Its time is up at once: it fires the page in hand and stops.
    let first = h
        .scheduler
        .tick_until(h.clock.now_utc() - Duration::seconds(1))
        .await
        .unwrap();
    assert!(first.out_of_time);
    assert!(first.due > 0 && first.due < MANY, "{}", first.due);
    assert_eq!(first.notifications.len(), first.due);
    h.clock.advance(Duration::minutes(1));
    let next = h.scheduler.tick().await.unwrap();
    assert_eq!(first.due + next.due, MANY);
    assert_eq!(first.notifications.len() + next.notifications.len(), MANY);
    assert_eq!((first.missed, next.missed), (0, 0));
    assert!(!next.out_of_time);
}

/// Schedules whose advance fails once (a store error), for the ids given.
fn failing_once(inner: Arc<dyn ScheduleStore>, ids: HashSet<ScheduleId>) -> BeforeUpdate {
    let failing = Arc::new(Mutex::new(ids));
    BeforeUpdate::new(inner, move |_, record| {
        let failed = failing.lock().unwrap().remove(&record.id);
        async move {
            if failed {
                return Err(StoreError::Unavailable("injected".to_owned()));
            }
            Ok(())
        }
    })
}

#[tokio::test]
async fn one_schedules_failure_stops_nothing_else() {
    let h = Harness::embedded("2026-06-01T08:00:00Z");
    let ids = due_at_nine(&h, 10).await;
    let scheduler = Scheduler {
        schedules: Arc::new(failing_once(
            h.schedules.clone(),
            HashSet::from([ids[3].clone()]),
        )),
        outbox: h.outbox.clone(),
        references: h.references.clone(),
        clock: h.clock.clone(),
        retention: Duration::days(30),
        config: h.scheduler.config.clone(),
        install_sweep: None,
        stranded_sweep: None,
    };
    h.clock.set(utc("2026-06-01T09:00:00Z"));
    let report = scheduler.tick().await.unwrap();
    assert_eq!((report.due, report.failed), (10, 1));
    assert_eq!(report.notifications.len(), 9);
    assert_eq!(still_due(&h, h.clock.now_utc()).await, 1);
    // The next tick fires it: its notification exists already, its schedule advances.
    h.clock.advance(Duration::minutes(1));
    let next = scheduler.tick().await.unwrap();
    assert_eq!((next.due, next.failed, next.missed), (1, 0, 0));
    assert_eq!(still_due(&h, h.clock.now_utc()).await, 0);
    for id in &ids {
        assert_eq!(h.get(id).await.fired, 1);
    }
}
