//! Zone grouping for `timeZone: "recipient"` schedules.
//!
//! A recipient schedule fires at the same wall-clock time in each recipient's zone. Recipients in
//! one zone fire together, so the scheduler keeps one "next fire" per schedule (the earliest over
//! the zones its recipients are in, [`next_fire_in_zones`]) and, when a tick reaches it, asks which
//! zones are due in that minute ([`due_zones`]) and fans out only to recipients of those zones.
//! Work per tick follows the zones due, not one stored item per recipient per day.

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::{NO_ZONE, TimeZone};

use crate::fire::{Fire, next_fire};
use crate::recurrence::ScheduleRule;
use crate::zone_setting::ScheduleZone;

/// Every zone a recipient may have: recipient-local schedules fire in each of them.
pub(crate) fn every_zone() -> impl Iterator<Item = TimeZone> + Clone {
    chrono_tz::TZ_VARIANTS.iter().copied().map(TimeZone::from)
}

/// The start of the UTC minute containing `t`.
#[must_use]
pub fn minute_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(60), 0).unwrap_or(t)
}

/// The fire of `rule` in `zone` within the UTC minute `[m, m + 1 min)` that contains `minute`,
/// if any. The returned instant is exact (it is the minute start for all real zones today).
#[must_use]
pub fn fire_in_minute(rule: &ScheduleRule, zone: TimeZone, minute: DateTime<Utc>) -> Option<Fire> {
    let start = minute_start(minute);
    let end = start.checked_add_signed(TimeDelta::minutes(1))?;
    let just_before = start.checked_sub_signed(TimeDelta::nanoseconds(1))?;
    next_fire(rule, zone, just_before)
        .filter(|utc| *utc < end)
        .map(|utc| Fire::new(utc, zone))
}

/// Which of `zones` are due in the UTC minute containing `minute`, each with its local fire
/// instant. Duplicate zones are reported once.
#[must_use]
pub fn due_zones<I>(rule: &ScheduleRule, zones: I, minute: DateTime<Utc>) -> Vec<Fire>
where
    I: IntoIterator<Item = TimeZone>,
{
    let mut due: Vec<Fire> = Vec::new();
    for zone in zones {
        if due.iter().any(|f| f.zone() == zone) {
            continue;
        }
        if let Some(fire) = fire_in_minute(rule, zone, minute) {
            due.push(fire);
        }
    }
    due
}

/// The earliest fire strictly after `after` over `zones`, with every zone that fires at exactly
/// that instant. This is the one "next fire" a recipient schedule needs stored for an indexed
/// due-query; `None` when no zone fires again.
#[must_use]
pub fn next_fire_in_zones<I>(
    rule: &ScheduleRule,
    zones: I,
    after: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Vec<TimeZone>)>
where
    I: IntoIterator<Item = TimeZone>,
{
    let mut best: Option<(DateTime<Utc>, Vec<TimeZone>)> = None;
    for zone in zones {
        let Some(fire) = next_fire(rule, zone, after) else {
            continue;
        };
        match &mut best {
            Some((at, zones)) if *at == fire => {
                if !zones.contains(&zone) {
                    zones.push(zone);
                }
            }
            Some((at, _)) if *at < fire => {}
            _ => best = Some((fire, vec![zone])),
        }
    }
    best
}

/// The recipient zone keys (as references are indexed by zone) a fire of a schedule at `at` is
/// for: the schedule's own zone when fixed; for a recipient-local schedule every zone whose wall
/// clock reaches the rule's time in that minute, and [`NO_ZONE`] (recipients whose zone Herald
/// does not know) together with `default_zone`.
#[must_use]
pub fn fire_zone_keys(
    rule: &ScheduleRule,
    zone: ScheduleZone,
    at: DateTime<Utc>,
    default_zone: TimeZone,
) -> Vec<&'static str> {
    match zone {
        ScheduleZone::Fixed(zone) => vec![zone.name()],
        ScheduleZone::Recipient => {
            let mut keys = Vec::new();
            for fire in due_zones(rule, every_zone(), minute_start(at)) {
                let name = fire.zone().name();
                keys.push(name);
                if name == default_zone.name() {
                    keys.push(NO_ZONE);
                }
            }
            keys
        }
    }
}

/// The first fire of `rule` strictly after `after`, which the notify API promises as `nextFire`
/// and the scheduler fires, so that both agree: in the zone when fixed, else the earliest over
/// every zone a recipient may have. `None` when it never fires again.
#[must_use]
pub fn first_fire(
    rule: &ScheduleRule,
    zone: ScheduleZone,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match zone {
        ScheduleZone::Fixed(zone) => next_fire(rule, zone, after),
        ScheduleZone::Recipient => next_fire_in_zones(rule, every_zone(), after).map(|(at, _)| at),
    }
}
