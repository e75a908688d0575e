//! A schedule as the notify API stores one, shared by the tick tests and the tick benchmark.

use chrono::{DateTime, Utc};
use herald_domain::Target;
use herald_schedule::{ScheduleRule, first_fire, schedule_zone};
use herald_store::{ScheduleId, ScheduleRecord};
use serde_json::json;

/// A schedule of `rule` in `zone` (an IANA name or `recipient`) sending `text` to everyone, its
/// first fire computed from `now`.
pub fn stored_schedule(
    rule: ScheduleRule,
    zone: &str,
    text: &str,
    now: DateTime<Utc>,
) -> ScheduleRecord {
    let zone = schedule_zone(zone).unwrap();
    let mut record = ScheduleRecord::new(
        ScheduleId::random(),
        rule,
        zone,
        Target::All,
        json!({"text": text}),
        json!({"type": "message", "text": text}),
        now,
    );
    record.next_fire = first_fire_after(&record, now);
    record
}

/// The schedule's first fire after `now`, as the API computes it when a schedule is created or
/// resumed.
pub fn first_fire_after(record: &ScheduleRecord, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let zone = schedule_zone(&record.time_zone).expect("a readable zone");
    first_fire(&record.rule, zone, now)
}
