//! The daylight-saving oracle for the rules in `fire.rs` (iCalendar's, RFC 5545 section 3.3.5:
//! <https://www.rfc-editor.org/rfc/rfc5545#section-3.3.5>): every zone chrono-tz knows, every UTC
//! offset transition in 2026-2030, the day before, of and after it, and eight wall-clock times,
//! checked against fire instants found by walking UTC minute by minute with chrono-tz's
//! UTC-to-local conversion only. The implementation resolves local times the other way
//! (local-to-UTC), so the two cannot share a mistake.
//!
//! Expected fire for wall time `n` on a day: the first UTC minute whose local time is `n` (fold:
//! first occurrence). If no minute has local time `n` (gap): `n` minus the offset in force before
//! the gap, where "before the gap" is the last walked minute whose local time is earlier than `n`.

use std::time::Instant;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone as _, Utc};
use chrono_tz::{TZ_VARIANTS, Tz};
use herald_domain::TimeZone;
use herald_schedule::{Recurrence, ScheduleRule, next_fire, upcoming};

const TIMES: [(u32, u32); 8] = [
    (0, 0),
    (0, 30),
    (1, 30),
    (2, 0),
    (2, 30),
    (3, 0),
    (9, 0),
    (23, 59),
];

/// Minutes since the Unix epoch; every offset in 2026-2030 is a whole number of minutes.
type Minute = i64;

fn offset_minutes(tz: Tz, utc: Minute) -> i64 {
    let at = DateTime::from_timestamp(utc * 60, 0).unwrap().naive_utc();
    let secs = i64::from(tz.offset_from_utc_datetime(&at).fix().local_minus_utc());
    assert_eq!(secs % 60, 0, "{tz}: offset {secs}s is not whole minutes");
    let minutes = secs / 60;
    // The search windows below rely on offsets staying within UTC-12..UTC+14.
    assert!(
        (-12 * 60..=14 * 60).contains(&minutes),
        "{tz}: offset {minutes} min"
    );
    minutes
}

fn minute_of(naive: NaiveDateTime) -> Minute {
    naive.and_utc().timestamp().div_euclid(60)
}

fn minute_of_date(d: NaiveDate) -> Minute {
    minute_of(d.and_time(NaiveTime::MIN))
}

fn date_of_minute(m: Minute) -> NaiveDate {
    DateTime::from_timestamp(m * 60, 0).unwrap().date_naive()
}

fn to_utc(m: Minute) -> DateTime<Utc> {
    DateTime::from_timestamp(m * 60, 0).unwrap()
}

/// A change of UTC offset: `at` is the first UTC minute with the new offset.
#[derive(Debug, Clone, Copy)]
struct Transition {
    at: Minute,
    before: i64,
    after: i64,
}

/// Transitions between 2025-12-29 and 2031-01-03, found by sampling the offset every 6 hours
/// and bisecting each change down to the minute.
fn transitions(tz: Tz) -> Vec<Transition> {
    let start = minute_of_date(NaiveDate::from_ymd_opt(2025, 12, 29).unwrap());
    let end = minute_of_date(NaiveDate::from_ymd_opt(2031, 1, 3).unwrap());
    let step = 6 * 60;
    let mut out = Vec::new();
    let mut prev = offset_minutes(tz, start);
    let mut t = start;
    while t < end {
        let next = t + step;
        let off = offset_minutes(tz, next);
        if off != prev {
            let (mut lo, mut hi) = (t, next); // offset(lo) == prev, offset(hi) != prev
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_minutes(tz, mid) == prev {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(Transition {
                at: hi,
                before: prev,
                after: offset_minutes(tz, hi),
            });
        }
        prev = off;
        t = next;
    }
    out
}

fn daily_on(date: NaiveDate, time: NaiveTime) -> ScheduleRule {
    ScheduleRule {
        recurrence: Recurrence::Daily { time },
        start_date: Some(date),
        end_date: Some(date),
    }
}

#[derive(Default)]
struct Tally {
    zones: usize,
    zones_with_transitions: usize,
    transitions: usize,
    gaps: usize,
    folds: usize,
    transition_checks: usize,
    spot_checks: usize,
    gap_fires: usize,
    fold_fires: usize,
    walk_and_check: std::time::Duration,
    spot: std::time::Duration,
}

/// Walks the minutes around one transition and checks every (date, time) whose day it touches.
fn check_transition(zone: TimeZone, tr: Transition, tally: &mut Tally) {
    let tz = zone.tz();
    // Local dates touched: the day before, of and after, read in both offsets.
    let dates = [
        date_of_minute(tr.at - 24 * 60 + tr.before),
        date_of_minute(tr.at - 1 + tr.before),
        date_of_minute(tr.at + tr.after),
        date_of_minute(tr.at + 24 * 60 + tr.after),
    ];
    let first_date = *dates.iter().min().unwrap();
    let last_date = *dates.iter().max().unwrap();
    // Offsets lie in -12h..+14h, so these bounds map to local times before the first date's
    // midnight and after the last date's end.
    let walk_start = minute_of_date(first_date) - 15 * 60;
    let walk_end = minute_of_date(last_date) + 24 * 60 + 15 * 60;
    // Minute by minute within three hours of the transition; further out the offset is the
    // before/after one, confirmed by an hourly UTC-to-local read (which would catch a second
    // transition in the window). This keeps the walk cheap in debug builds.
    let locals: Vec<Minute> = (walk_start..walk_end)
        .map(|u| {
            if (u - tr.at).abs() <= 3 * 60 {
                return u + offset_minutes(tz, u);
            }
            let off = if u < tr.at { tr.before } else { tr.after };
            if u.rem_euclid(60) == 0 {
                assert_eq!(
                    offset_minutes(tz, u),
                    off,
                    "{zone}: second transition near {tr:?}"
                );
            }
            u + off
        })
        .collect();
    assert!(locals[0] < minute_of_date(first_date));
    assert!(*locals.last().unwrap() >= minute_of_date(last_date) + 24 * 60);

    let unbounded = |time| ScheduleRule::new(Recurrence::Daily { time });
    for (h, m) in TIMES {
        let time = NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let mut previous: Option<Minute> = None;
        let mut date = first_date;
        while date <= last_date {
            let n = minute_of(date.and_time(time));
            // Offsets within -12h..+14h put every UTC minute showing `n` in [n-14h, n+12h]; the
            // first minute past `n` in a gap is in there too, and the window's first minute shows
            // a time no later than `n`.
            let lo = usize::try_from(n - 14 * 60 - walk_start).unwrap();
            let hi = usize::try_from(n + 12 * 60 + 1 - walk_start)
                .unwrap()
                .min(locals.len());
            let near = &locals[lo..hi];
            assert!(near[0] <= n);
            let utc_at = |i: usize| walk_start + i64::try_from(i).unwrap();
            let expected = if let Some(i) = near.iter().position(|&l| l == n) {
                if near[i + 1..].contains(&n) {
                    tally.fold_fires += 1;
                }
                utc_at(lo + i)
            } else {
                let j = lo + near.iter().position(|&l| l > n).unwrap();
                let before = locals[j - 1] - utc_at(j - 1);
                let after = locals[j] - utc_at(j);
                let fire = n - before;
                // The instant read this way shows the wall time pushed by the gap's length.
                let k = usize::try_from(fire - walk_start).unwrap();
                assert_eq!(locals[k], n + (after - before), "{zone} {date} {time}");
                tally.gap_fires += 1;
                fire
            };
            let actual = next_fire(&daily_on(date, time), zone, to_utc(walk_start));
            assert_eq!(
                actual,
                Some(to_utc(expected)),
                "{zone} {date} {time}: transition {tr:?}"
            );
            // Iterating from the previous day's fire reaches exactly this one: no repeat, no skip.
            if let Some(prev) = previous {
                assert_eq!(
                    next_fire(&unbounded(time), zone, to_utc(prev)),
                    Some(to_utc(expected)),
                    "{zone} {date} {time}: next after previous day's fire"
                );
            }
            // Strictly after: one nanosecond earlier still finds this fire.
            let just_before = to_utc(expected) - chrono::TimeDelta::nanoseconds(1);
            assert_eq!(
                next_fire(&unbounded(time), zone, just_before),
                Some(to_utc(expected))
            );
            tally.transition_checks += 1;
            previous = Some(expected);
            date = date.succ_opt().unwrap();
        }
    }
}

/// Away from transitions the offset is constant all day, so the fire is the one instant whose
/// local time is the target; confirm that with UTC-to-local reads only.
fn spot_check(zone: TimeZone, near: &[Transition], tally: &mut Tally) {
    let tz = zone.tz();
    let mut date = NaiveDate::from_ymd_opt(2026, 1, 3).unwrap();
    let last = NaiveDate::from_ymd_opt(2030, 12, 29).unwrap();
    while date <= last {
        let day = minute_of_date(date);
        let quiet = near.iter().all(|t| (t.at - day).abs() > 3 * 24 * 60);
        if quiet {
            for (h, m) in [(0, 0), (9, 0), (23, 59)] {
                let time = NaiveTime::from_hms_opt(h, m, 0).unwrap();
                let n = minute_of(date.and_time(time));
                let fire = next_fire(&daily_on(date, time), zone, to_utc(day - 16 * 60))
                    .unwrap_or_else(|| panic!("{zone} {date} {time}: no fire"));
                assert_eq!(fire.timestamp() % 60, 0);
                let u = fire.timestamp() / 60;
                let off = offset_minutes(tz, u);
                assert_eq!(u + off, n, "{zone} {date} {time}");
                assert_eq!(offset_minutes(tz, u - 14 * 60), off, "{zone} {date}");
                assert_eq!(offset_minutes(tz, u + 14 * 60), off, "{zone} {date}");
                tally.spot_checks += 1;
            }
        }
        date = date.checked_add_days(Days::new(29)).unwrap();
    }
}

fn check_zones(zones: &[Tz]) -> Tally {
    let mut tally = Tally::default();
    for &tz in zones {
        let zone = TimeZone::from(tz);
        let trs = transitions(tz);
        tally.zones += 1;
        if !trs.is_empty() {
            tally.zones_with_transitions += 1;
        }
        for tr in &trs {
            tally.transitions += 1;
            if tr.after > tr.before {
                tally.gaps += 1;
            } else {
                tally.folds += 1;
            }
            let t0 = Instant::now();
            check_transition(zone, *tr, &mut tally);
            tally.walk_and_check += t0.elapsed();
        }
        let t0 = Instant::now();
        spot_check(zone, &trs, &mut tally);
        tally.spot += t0.elapsed();
    }
    tally
}

#[test]
fn every_zone_every_transition_2026_to_2030() {
    let started = Instant::now();
    let (a, b) = TZ_VARIANTS.split_at(TZ_VARIANTS.len() / 2);
    let tallies = std::thread::scope(|s| {
        let ha = s.spawn(|| check_zones(a));
        let hb = s.spawn(|| check_zones(b));
        [ha.join().unwrap(), hb.join().unwrap()]
    });
    let mut t = Tally::default();
    for x in tallies {
        t.zones += x.zones;
        t.zones_with_transitions += x.zones_with_transitions;
        t.transitions += x.transitions;
        t.gaps += x.gaps;
        t.folds += x.folds;
        t.transition_checks += x.transition_checks;
        t.spot_checks += x.spot_checks;
        t.gap_fires += x.gap_fires;
        t.fold_fires += x.fold_fires;
        t.walk_and_check += x.walk_and_check;
        t.spot += x.spot;
    }
    eprintln!(
        "oracle: {} zones ({} with transitions), {} transitions ({} gaps, {} folds), \
         {} transition-day fires checked ({} in gaps, {} on doubled times), {} spot checks, {:.1?} (thread time: transitions {:.1?}, spot checks {:.1?})",
        t.zones,
        t.zones_with_transitions,
        t.transitions,
        t.gaps,
        t.folds,
        t.transition_checks,
        t.gap_fires,
        t.fold_fires,
        t.spot_checks,
        started.elapsed(),
        t.walk_and_check,
        t.spot
    );
    // Guard against a vacuous pass (e.g. the transition scan finding nothing).
    assert_eq!(t.zones, TZ_VARIANTS.len());
    assert!(t.zones > 400, "{} zones", t.zones);
    assert!(t.transitions > 1000, "{} transitions", t.transitions);
    assert!(t.gap_fires > 500 && t.fold_fires > 500);
}

#[test]
fn oracle_finds_known_transitions() {
    // Berlin: last Sundays of March and October, 01:00Z, five years.
    let berlin = transitions(chrono_tz::Europe::Berlin);
    assert_eq!(berlin.len(), 10);
    assert_eq!(
        to_utc(berlin[0].at),
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap()
    );
    assert_eq!((berlin[0].before, berlin[0].after), (60, 120));
    // Lord Howe: 30-minute DST.
    let lh = transitions(chrono_tz::Australia::Lord_Howe);
    assert!(lh.iter().all(|t| (t.after - t.before).abs() == 30));
    assert!(transitions(chrono_tz::Asia::Kolkata).is_empty());
}

/// Over whole years, a daily rule fires exactly once on every local date: no double fire on a
/// fall-back day, no miss on a spring-forward day.
#[test]
fn one_fire_per_local_day_over_five_years() {
    let zones = [
        "Europe/Berlin",
        "America/New_York",
        "America/Santiago",
        "America/Havana",
        "America/Asuncion",
        "America/St_Johns",
        "Asia/Beirut",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "Pacific/Auckland",
        "Africa/Casablanca",
        "Europe/Chisinau",
        "America/Scoresbysund",
    ];
    let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let last = NaiveDate::from_ymd_opt(2030, 12, 31).unwrap();
    let days = usize::try_from((last - first).num_days() + 1).unwrap();
    let mut shifted = 0;
    for name in zones {
        let zone: TimeZone = name.parse().unwrap();
        let tz = zone.tz();
        for (h, m) in TIMES {
            let time = NaiveTime::from_hms_opt(h, m, 0).unwrap();
            let rule = ScheduleRule {
                recurrence: Recurrence::Daily { time },
                start_date: Some(first),
                end_date: Some(last),
            };
            let after = Utc.with_ymd_and_hms(2025, 12, 25, 0, 0, 0).unwrap();
            let fires: Vec<_> = upcoming(&rule, zone, after).collect();
            assert_eq!(fires.len(), days, "{name} {time}");
            // `upcoming` is strictly increasing, so one fire per date means none doubled or lost.
            for (date, fire) in first.iter_days().zip(&fires) {
                let wall = date.and_time(time);
                let local = fire.local.naive_local();
                if local != wall {
                    // Only a gap moves the wall time: later, by at most the gap (possibly past
                    // midnight when the gap swallows it), right after a transition.
                    let pushed = local - wall;
                    assert!(
                        pushed > chrono::TimeDelta::zero() && pushed <= chrono::TimeDelta::hours(2),
                        "{name} {wall} fired at {local}"
                    );
                    let u = fire.utc.timestamp() / 60;
                    assert_ne!(offset_minutes(tz, u - 3 * 60), offset_minutes(tz, u));
                    shifted += 1;
                }
            }
        }
    }
    assert!(shifted > 50, "{shifted} gap-shifted fires");
}
