mod moves;
mod scheduling;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _, Utc, Weekday};
use herald_domain::TimeZone;
use serde_json::json;

use crate::*;

fn zone(name: &str) -> TimeZone {
    name.parse().unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn rule(v: &serde_json::Value) -> ScheduleRule {
    ScheduleRule::from_json(&json!({ "recurrence": v })).unwrap()
}

fn fires(rule: &ScheduleRule, z: &str, after: &str, n: usize) -> Vec<String> {
    upcoming(rule, zone(z), utc(after))
        .take(n)
        .map(|f| {
            serde_json::to_value(f).unwrap()["local"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn daily_fires_every_local_day() {
    let r = rule(&json!({"kind": "daily", "time": "09:00"}));
    assert_eq!(
        fires(&r, "Europe/Berlin", "2026-01-01T08:00:00Z", 3),
        [
            "2026-01-02T09:00:00+01:00",
            "2026-01-03T09:00:00+01:00",
            "2026-01-04T09:00:00+01:00"
        ]
    );
    // Before today's time in the zone: today's fire comes first.
    assert_eq!(
        next_fire(&r, zone("Europe/Berlin"), utc("2026-01-01T07:59:00Z")),
        Some(utc("2026-01-01T08:00:00Z"))
    );
    // Strictly after: asking at the fire instant gives the next day.
    assert_eq!(
        next_fire(&r, zone("Europe/Berlin"), utc("2026-01-01T08:00:00Z")),
        Some(utc("2026-01-02T08:00:00Z"))
    );
}

#[test]
fn weekly_fires_on_named_days_only() {
    let r = rule(&json!({"kind": "weekly", "days": ["mon", "Wednesday"], "time": "09:15"}));
    // 2026-01-01 is a Thursday.
    assert_eq!(
        fires(&r, "America/New_York", "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-05T09:15:00-05:00",
            "2026-01-07T09:15:00-05:00",
            "2026-01-12T09:15:00-05:00",
            "2026-01-14T09:15:00-05:00"
        ]
    );
    let weekdays = rule(&json!({"kind": "weekly", "days": "weekdays", "time": "09:00"}));
    let days: Vec<Weekday> = upcoming(&weekdays, zone("Asia/Tokyo"), utc("2026-01-01T00:00:00Z"))
        .take(10)
        .map(|f| chrono::Datelike::weekday(&f.local))
        .collect();
    assert!(days.iter().all(|d| Weekdays::MON_TO_FRI.contains(*d)));
    assert_eq!(days.len(), 10);
}

#[test]
fn monthly_clamps_to_month_end() {
    let r = rule(&json!({"kind": "monthly", "day": 31, "time": "18:00"}));
    assert_eq!(
        fires(&r, "UTC", "2026-01-01T00:00:00Z", 5),
        [
            "2026-01-31T18:00:00+00:00",
            "2026-02-28T18:00:00+00:00",
            "2026-03-31T18:00:00+00:00",
            "2026-04-30T18:00:00+00:00",
            "2026-05-31T18:00:00+00:00"
        ]
    );
    // Leap year 2028: the 29th of February.
    assert_eq!(
        fires(&r, "UTC", "2028-02-01T00:00:00Z", 1),
        ["2028-02-29T18:00:00+00:00"]
    );
    let r30 = rule(&json!({"kind": "monthly", "day": 30, "time": "18:00"}));
    assert_eq!(
        fires(&r30, "UTC", "2028-02-01T00:00:00Z", 2),
        ["2028-02-29T18:00:00+00:00", "2028-03-30T18:00:00+00:00"]
    );
    let r15 = rule(&json!({"kind": "monthly", "day": 15, "time": "00:00"}));
    assert_eq!(
        fires(&r15, "Pacific/Auckland", "2026-12-20T00:00:00Z", 2),
        ["2027-01-15T00:00:00+13:00", "2027-02-15T00:00:00+13:00"]
    );
}

#[test]
fn once_fires_once_and_not_in_the_past() {
    let r = rule(&json!({"kind": "once", "at": "2026-12-24T08:00"}));
    let z = zone("Europe/London");
    assert_eq!(
        next_fire(&r, z, utc("2026-06-01T00:00:00Z")),
        Some(utc("2026-12-24T08:00:00Z"))
    );
    assert_eq!(next_fire(&r, z, utc("2026-12-24T08:00:00Z")), None);
    assert_eq!(next_fire(&r, z, utc("2027-01-01T00:00:00Z")), None);
    assert_eq!(upcoming(&r, z, utc("2026-01-01T00:00:00Z")).count(), 1);
}

#[test]
fn start_and_end_dates_bound_occurrences() {
    let r = ScheduleRule::from_json(&json!({
        "recurrence": {"kind": "daily", "time": "09:00"},
        "startDate": "2026-03-10",
        "endDate": "2026-03-12",
        "target": {"ignored": true}
    }))
    .unwrap();
    assert_eq!(
        fires(&r, "UTC", "2026-01-01T00:00:00Z", 10),
        [
            "2026-03-10T09:00:00+00:00",
            "2026-03-11T09:00:00+00:00",
            "2026-03-12T09:00:00+00:00"
        ]
    );
    // The dates are local: in Auckland the 10th at 09:00 is the 9th in UTC.
    assert_eq!(
        next_fire(&r, zone("Pacific/Auckland"), utc("2026-01-01T00:00:00Z")),
        Some(utc("2026-03-09T20:00:00Z"))
    );
    let once_outside = ScheduleRule::from_json(&json!({
        "recurrence": {"kind": "once", "at": "2026-12-24T08:00"},
        "endDate": "2026-12-01"
    }))
    .unwrap();
    assert_eq!(
        next_fire(&once_outside, zone("UTC"), utc("2026-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn spring_forward_gap_fires_after_the_gap_and_fall_back_fires_once() {
    let r = rule(&json!({"kind": "daily", "time": "02:30"}));
    // Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:30 fires at 03:30 CEST = 01:30Z.
    assert_eq!(
        fires(&r, "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
        ["2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"]
    );
    // Berlin 2026-10-25: 02:30 happens twice; the first (CEST, 00:30Z) fires, the repeat does not.
    let fall = upcoming(&r, zone("Europe/Berlin"), utc("2026-10-24T12:00:00Z"))
        .take(2)
        .map(|f| f.utc)
        .collect::<Vec<_>>();
    assert_eq!(
        fall,
        [utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]
    );
    // Lord Howe's 30-minute DST (2026-10-04, 02:00 -> 02:30): 02:15 fires at 02:45.
    let r = rule(&json!({"kind": "daily", "time": "02:15"}));
    assert_eq!(
        fires(&r, "Australia/Lord_Howe", "2026-10-03T00:00:00Z", 1),
        ["2026-10-04T02:45:00+11:00"]
    );
}

#[test]
fn midnight_transition_and_skipped_day_do_not_panic_or_loop() {
    // Santiago springs forward at 24:00 (2026-09-06): 00:00 and 00:30 do not exist that day.
    let r = rule(&json!({"kind": "daily", "time": "00:30"}));
    assert_eq!(
        fires(&r, "America/Santiago", "2026-09-05T12:00:00Z", 1),
        ["2026-09-06T01:30:00-03:00"]
    );
    // Apia skipped 2011-12-30 entirely: 09:00 that day reads as 09:00 on the 31st, which is also
    // the 31st's own fire; it must fire once.
    let r = rule(&json!({"kind": "daily", "time": "09:00"}));
    let apia = fires(&r, "Pacific/Apia", "2011-12-28T00:00:00Z", 4);
    assert_eq!(
        apia,
        [
            "2011-12-28T09:00:00-10:00",
            "2011-12-29T09:00:00-10:00",
            "2011-12-31T09:00:00+14:00",
            "2012-01-01T09:00:00+14:00"
        ]
    );
    // Range ends: no panic, just no fire.
    assert_eq!(
        next_fire(&r, zone("Pacific/Kiritimati"), DateTime::<Utc>::MAX_UTC),
        None
    );
    assert!(next_fire(&r, zone("Pacific/Niue"), DateTime::<Utc>::MIN_UTC).is_none());
    let empty = ScheduleRule::new(Recurrence::Weekly {
        days: Weekdays::empty(),
        time: hm(9, 0),
    });
    assert_eq!(
        next_fire(&empty, zone("UTC"), utc("2026-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn resolve_local_follows_the_rules() {
    let tz = chrono_tz::America::New_York;
    let at = |d: NaiveDate, h, m| -> NaiveDateTime { d.and_time(hm(h, m)) };
    // Gap 2026-03-08 02:00 EST -> 03:00 EDT: 02:10 is read with EST (-5): 07:10Z = 03:10 EDT.
    assert_eq!(
        resolve_local(tz, at(date(2026, 3, 8), 2, 10)),
        Some(Utc.with_ymd_and_hms(2026, 3, 8, 7, 10, 0).unwrap())
    );
    // Fold 2026-11-01 01:30 happens at 05:30Z (EDT) and 06:30Z (EST): the first wins.
    assert_eq!(
        resolve_local(tz, at(date(2026, 11, 1), 1, 30)),
        Some(Utc.with_ymd_and_hms(2026, 11, 1, 5, 30, 0).unwrap())
    );
}

#[test]
fn zone_grouping_finds_the_zones_due_this_minute() {
    let r = rule(&json!({"kind": "daily", "time": "09:00"}));
    let zones = [
        "Europe/London",
        "Europe/Berlin",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Pacific/Chatham",
        "UTC",
    ]
    .map(zone);
    // 2026-01-15T03:15Z is 09:00 in Kathmandu (+05:45) only.
    let due = due_zones(&r, zones, utc("2026-01-15T03:15:42Z"));
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].zone(), zone("Asia/Kathmandu"));
    assert_eq!(due[0].utc, utc("2026-01-15T03:15:00Z"));
    // 09:00Z: London and UTC together (winter), each reported once despite duplicates.
    let due = due_zones(
        &r,
        [zone("UTC"), zone("Europe/London"), zone("UTC")],
        utc("2026-01-15T09:00:00Z"),
    );
    assert_eq!(
        due.iter().map(Fire::zone).collect::<Vec<_>>(),
        [zone("UTC"), zone("Europe/London")]
    );
    assert!(due_zones(&r, zones, utc("2026-01-15T09:01:00Z")).is_empty());
    // Chatham +13:45 in January: 09:00 local is 19:15Z the day before.
    assert!(fire_in_minute(&r, zone("Pacific/Chatham"), utc("2026-01-14T19:15:59Z")).is_some());
    assert!(fire_in_minute(&r, zone("Pacific/Chatham"), utc("2026-01-14T19:16:00Z")).is_none());
    // The earliest fire over all zones, and which zones share it.
    let (at, which) = next_fire_in_zones(&r, zones, utc("2026-01-15T03:15:00Z")).unwrap();
    assert_eq!(at, utc("2026-01-15T03:30:00Z"));
    assert_eq!(which, [zone("Asia/Kolkata")]);
    let (at, which) = next_fire_in_zones(&r, zones, utc("2026-01-15T08:30:00Z")).unwrap();
    assert_eq!(at, utc("2026-01-15T09:00:00Z"));
    assert_eq!(which, [zone("Europe/London"), zone("UTC")]);
}

#[test]
fn json_shapes_round_trip() {
    for v in [
        json!({"kind": "once", "at": "2026-12-24T08:00"}),
        json!({"kind": "daily", "time": "09:00"}),
        json!({"kind": "weekly", "days": ["mon", "tue", "fri"], "time": "09:00"}),
        json!({"kind": "monthly", "day": 31, "time": "23:59"}),
    ] {
        let r: Recurrence = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(r).unwrap(), v);
    }
    let weekdays: Recurrence =
        serde_json::from_value(json!({"kind": "weekly", "days": "weekdays", "time": "9:00"}))
            .unwrap();
    assert_eq!(
        serde_json::to_value(weekdays).unwrap(),
        json!({"kind": "weekly", "days": ["mon", "tue", "wed", "thu", "fri"], "time": "09:00"})
    );
    let r: ScheduleRule = serde_json::from_value(json!({
        "recurrence": {"kind": "daily", "time": "09:00"}, "startDate": "2026-01-01"
    }))
    .unwrap();
    assert_eq!(r.start_date, Some(date(2026, 1, 1)));
    assert_eq!(
        serde_json::to_value(r).unwrap(),
        json!({"recurrence": {"kind": "daily", "time": "09:00"}, "startDate": "2026-01-01"})
    );
    let fire = Fire::new(utc("2026-03-29T01:30:00Z"), zone("Europe/Berlin"));
    assert_eq!(
        serde_json::to_value(fire).unwrap(),
        json!({"utc": "2026-03-29T01:30:00Z", "local": "2026-03-29T03:30:00+02:00", "timeZone": "Europe/Berlin"})
    );
    assert_eq!(
        serde_json::from_value::<ScheduleZone>(json!("recipient")).unwrap(),
        ScheduleZone::Recipient
    );
    assert_eq!(
        serde_json::to_value(ScheduleZone::Fixed(zone("Asia/Kolkata"))).unwrap(),
        json!("Asia/Kolkata")
    );
}

#[test]
fn invalid_rules_name_the_field() {
    let field = |body: serde_json::Value| ScheduleRule::from_json(&body).unwrap_err().field();
    let rec = |v: serde_json::Value| field(json!({ "recurrence": v }));
    assert_eq!(field(json!({})), "recurrence");
    assert_eq!(field(json!([])), "body");
    assert_eq!(rec(json!("daily")), "recurrence");
    assert_eq!(rec(json!({"time": "09:00"})), "recurrence.kind");
    assert_eq!(
        rec(json!({"kind": "hourly", "time": "09:00"})),
        "recurrence.kind"
    );
    assert_eq!(rec(json!({"kind": "daily"})), "recurrence.time");
    assert_eq!(
        rec(json!({"kind": "daily", "time": "25:00"})),
        "recurrence.time"
    );
    assert_eq!(
        rec(json!({"kind": "daily", "time": "09:60"})),
        "recurrence.time"
    );
    assert_eq!(
        rec(json!({"kind": "daily", "time": "9"})),
        "recurrence.time"
    );
    assert_eq!(
        rec(json!({"kind": "daily", "time": 900})),
        "recurrence.time"
    );
    assert_eq!(
        rec(json!({"kind": "daily", "time": "09:00", "day": 3})),
        "recurrence"
    );
    assert_eq!(
        rec(json!({"kind": "once", "at": "2026-12-24T08:00Z"})),
        "recurrence.at"
    );
    assert_eq!(
        rec(json!({"kind": "once", "at": "2026-02-30T08:00"})),
        "recurrence.at"
    );
    assert_eq!(rec(json!({"kind": "once", "time": "08:00"})), "recurrence");
    assert_eq!(
        rec(json!({"kind": "weekly", "time": "09:00"})),
        "recurrence.days"
    );
    assert_eq!(
        rec(json!({"kind": "weekly", "days": [], "time": "09:00"})),
        "recurrence.days"
    );
    assert_eq!(
        rec(json!({"kind": "weekly", "days": ["mon", "xyz"], "time": "09:00"})),
        "recurrence.days"
    );
    assert_eq!(
        rec(json!({"kind": "weekly", "days": [1], "time": "09:00"})),
        "recurrence.days"
    );
    assert_eq!(
        rec(json!({"kind": "monthly", "day": 0, "time": "09:00"})),
        "recurrence.day"
    );
    assert_eq!(
        rec(json!({"kind": "monthly", "day": 32, "time": "09:00"})),
        "recurrence.day"
    );
    assert_eq!(
        rec(json!({"kind": "monthly", "day": -1, "time": "09:00"})),
        "recurrence.day"
    );
    assert_eq!(
        rec(json!({"kind": "monthly", "day": 1.5, "time": "09:00"})),
        "recurrence.day"
    );
    assert_eq!(
        rec(json!({"kind": "monthly", "day": "1", "time": "09:00"})),
        "recurrence.day"
    );
}

#[test]
fn invalid_dates_and_zones_name_the_field() {
    let field = |body: serde_json::Value| ScheduleRule::from_json(&body).unwrap_err().field();
    let daily = json!({"kind": "daily", "time": "09:00"});
    assert_eq!(
        field(json!({"recurrence": daily, "startDate": "2026-1-1"})),
        "startDate"
    );
    assert_eq!(
        field(json!({"recurrence": daily, "endDate": 20_261_231})),
        "endDate"
    );
    assert_eq!(
        field(json!({"recurrence": daily, "startDate": "2026-02-01", "endDate": "2026-01-31"})),
        "endDate"
    );
    let err = ScheduleRule::from_json(&json!({"recurrence": {"kind": "daily", "time": "25:00"}}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "recurrence.time: \"25:00\" is not a time of day (use HH:MM, 24-hour)"
    );
    let err = serde_json::from_value::<ScheduleRule>(
        json!({"recurrence": {"kind": "monthly", "day": 40, "time": "09:00"}}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("recurrence.day"), "{err}");
    let zone_err = "Mars/Olympus".parse::<ScheduleZone>().unwrap_err();
    assert_eq!(zone_err.field(), "timeZone");
    assert_eq!(
        ScheduleZone::from_json(&json!(5)).unwrap_err().field(),
        "timeZone"
    );
}
