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
    let mut record = ScheduleRecord {
        id: ScheduleId::random(),
        rule,
        time_zone: zone.to_owned(),
        target: Target::All,
        message: json!({"text": text}),
        activity: json!({"type": "message", "text": text}),
        paused: false,
        next_fire: None,
        last_fire: None,
        fired: 0,
        missed: 0,
        owner: None,
        label: None,
        created_at: now,
        updated_at: now,
        version: 0,
    };
    record.next_fire = first_fire_after(&record, now);
    record
}

/// The schedule's first fire after `now`, as the API computes it when a schedule is created or
/// resumed.
pub fn first_fire_after(record: &ScheduleRecord, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let zone = schedule_zone(&record.time_zone).expect("a readable zone");
    first_fire(&record.rule, zone, now)
}
