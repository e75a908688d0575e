//! From wall-clock rules to UTC instants, exactly, through every daylight-saving change.
//!
//! The two rules, iCalendar's for a local time in a named zone
//! (<https://www.rfc-editor.org/rfc/rfc5545#section-3.3.5>): a wall time inside a spring-forward
//! gap is read with the offset in force before the gap (02:30 when 02:00 jumps to 03:00 fires at
//! 03:30 local); a wall time that occurs twice fires once, at the earlier instant.

use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, Offset, SecondsFormat,
    TimeDelta, TimeZone as _, Utc,
};
use chrono_tz::Tz;
use herald_domain::TimeZone;
use serde::{Serialize, Serializer};

use crate::recurrence::{Recurrence, ScheduleRule};

/// Years outside this range are refused rather than risk chrono's range limits.
const YEAR_RANGE: std::ops::RangeInclusive<i32> = -200_000..=200_000;

/// Occurrence dates examined per `next_fire` call before giving up. Any rule finds its answer
/// within a handful (the search starts two days before `after`); the cap only guarantees
/// termination on data no real zone has.
const MAX_CANDIDATES: usize = 64;

/// Occurrences looked at past the first one later than `after`, in case an odd transition makes a
/// later date fire earlier (a skipped day can map two dates onto one instant).
const LOOKAHEAD: usize = 2;

/// The UTC instant a wall-clock time in `tz` fires at, by the gap and fold rules above.
/// `None` only for dates outside chrono's range.
#[must_use]
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if !YEAR_RANGE.contains(&local.year()) {
        return None;
    }
    match tz.from_local_datetime(&local) {
        LocalResult::Single(dt) => Some(dt.to_utc()),
        LocalResult::Ambiguous(a, b) => Some(a.to_utc().min(b.to_utc())),
        LocalResult::None => {
            let before = offset_before_gap(tz, local)?;
            local.checked_sub_offset(before).map(|utc| utc.and_utc())
        }
    }
}

/// The offset in force just before the gap that swallows `local`: that of the latest wall time
/// before it that exists. Steps of 15 minutes are finer than any real span between transitions,
/// and 48 hours covers the largest gap (a whole skipped day).
fn offset_before_gap(tz: Tz, local: NaiveDateTime) -> Option<chrono::FixedOffset> {
    let step = TimeDelta::minutes(15);
    let mut probe = local;
    for _ in 0..(48 * 4) {
        probe = probe.checked_sub_signed(step)?;
        match tz.offset_from_local_datetime(&probe) {
            LocalResult::Single(o) => return Some(o.fix()),
            // The later of two readings is the one in force when the gap begins.
            LocalResult::Ambiguous(_, later) => return Some(later.fix()),
            LocalResult::None => {}
        }
    }
    None
}

/// Local wall time of a UTC instant, without chrono's panicking conversions at range ends.
pub(crate) fn local_of(tz: Tz, utc: DateTime<Utc>) -> Option<NaiveDateTime> {
    let offset = tz.offset_from_utc_datetime(&utc.naive_utc()).fix();
    utc.naive_utc().checked_add_offset(offset)
}

/// The first date on or after `from` that the recurrence names.
fn occurrence_on_or_after(recurrence: &Recurrence, from: NaiveDate) -> Option<NaiveDate> {
    match *recurrence {
        Recurrence::Once { at } => (at.date() >= from).then(|| at.date()),
        Recurrence::Daily { .. } => Some(from),
        Recurrence::Weekly { days, .. } => {
            if days.is_empty() {
                return None;
            }
            (0..7)
                .filter_map(|n| from.checked_add_days(Days::new(n)))
                .find(|d| days.contains(d.weekday()))
        }
        Recurrence::Monthly { day, .. } => {
            let first = from.with_day(1)?;
            [0, 1]
                .into_iter()
                .filter_map(|n| first.checked_add_months(Months::new(n)))
                .map(|month| clamp_to_month(month, day.get()))
                .find(|d| *d >= from)
        }
    }
}

/// `day` of the month starting at `first`, or the month's last day when it is shorter.
fn clamp_to_month(first: NaiveDate, day: u32) -> NaiveDate {
    let mut date = first;
    while date.day() < day {
        match date.succ_opt() {
            Some(next) if next.month() == first.month() => date = next,
            _ => break,
        }
    }
    date
}

/// The first fire of `rule` in `zone` strictly after `after`, or `None` when it never fires again
/// (a past `once`, a passed `endDate`, an empty weekday set).
#[must_use]
pub fn next_fire(
    rule: &ScheduleRule,
    zone: TimeZone,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let tz = zone.tz();
    // Two days back: a gap can push one date's fire past midnight into the next local day.
    let mut from = local_of(tz, after)?.date().checked_sub_days(Days::new(2))?;
    if let Some(start) = rule.start_date {
        from = from.max(start);
    }
    let time = rule.recurrence.time();
    let mut best: Option<DateTime<Utc>> = None;
    let mut remaining_after_hit = LOOKAHEAD;
    for _ in 0..MAX_CANDIDATES {
        let Some(date) = occurrence_on_or_after(&rule.recurrence, from) else {
            break;
        };
        if rule.end_date.is_some_and(|end| date > end) {
            break;
        }
        let fire = resolve_local(tz, date.and_time(time))?;
        if fire > after && best.is_none_or(|b| fire < b) {
            best = Some(fire);
        }
        if best.is_some() {
            if remaining_after_hit == 0 {
                break;
            }
            remaining_after_hit -= 1;
        }
        let Some(next) = date.succ_opt() else { break };
        from = next;
    }
    best
}

/// One fire instant, in UTC and in the zone's local time (the preview endpoint's item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    pub utc: DateTime<Utc>,
    pub local: DateTime<Tz>,
}

impl Fire {
    #[must_use]
    pub fn new(utc: DateTime<Utc>, zone: TimeZone) -> Self {
        Self {
            utc,
            local: utc.with_timezone(&zone.tz()),
        }
    }

    #[must_use]
    pub fn zone(&self) -> TimeZone {
        TimeZone::from(self.local.timezone())
    }
}

/// `{"utc":"2026-03-29T01:30:00Z","local":"2026-03-29T03:30:00+02:00","timeZone":"Europe/Berlin"}`
impl Serialize for Fire {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            utc: String,
            local: String,
            time_zone: &'static str,
        }
        Wire {
            utc: self.utc.to_rfc3339_opts(SecondsFormat::Secs, true),
            local: self
                .local
                .fixed_offset()
                .to_rfc3339_opts(SecondsFormat::Secs, false),
            time_zone: self.local.timezone().name(),
        }
        .serialize(serializer)
    }
}

/// Upcoming fires in order, each strictly after the previous; ends when the rule does.
#[derive(Debug, Clone)]
pub struct Upcoming {
    rule: ScheduleRule,
    zone: TimeZone,
    after: Option<DateTime<Utc>>,
}

impl Iterator for Upcoming {
    type Item = Fire;

    fn next(&mut self) -> Option<Fire> {
        let fire = next_fire(&self.rule, self.zone, self.after?);
        self.after = fire;
        fire.map(|utc| Fire::new(utc, self.zone))
    }
}

/// The fires of `rule` in `zone` strictly after `after`, for `GET /api/schedules/{id}/preview`
/// (`upcoming(..).take(count)`) and for catching up missed ticks (`take_while(|f| f.utc <= now)`).
#[must_use]
pub fn upcoming(rule: &ScheduleRule, zone: TimeZone, after: DateTime<Utc>) -> Upcoming {
    Upcoming {
        rule: *rule,
        zone,
        after: Some(after),
    }
}
