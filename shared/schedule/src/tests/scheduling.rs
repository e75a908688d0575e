//! What the scheduler and the notify API compute from a schedule: its first fire under its zone
//! setting, the fires a tick owes it, and the recipient zones each fire is for.

use chrono::TimeDelta;
use herald_domain::NO_ZONE;

use super::*;

#[test]
fn stored_zone_settings_read_back() {
    assert_eq!(
        schedule_zone("Europe/Paris"),
        Some(ScheduleZone::Fixed(zone("Europe/Paris")))
    );
    assert_eq!(schedule_zone("recipient"), Some(ScheduleZone::Recipient));
    assert_eq!(schedule_zone("Mars/Base"), None);
}

#[test]
fn first_fire_is_the_zones_own_or_the_earliest_over_every_zone() {
    let daily = rule(&json!({"kind": "daily", "time": "09:00"}));
    // Berlin springs forward on 2026-03-29: 09:00 is 07:00Z from then on.
    let berlin = ScheduleZone::Fixed(zone("Europe/Berlin"));
    assert_eq!(
        first_fire(&daily, berlin, utc("2026-03-28T08:00:00Z")),
        Some(utc("2026-03-29T07:00:00Z"))
    );
    // At 00:00Z 09:00 has passed east of +09:00; Eucla (+08:45) reaches it first.
    let after = utc("2026-01-15T00:00:00Z");
    let earliest = chrono_tz::TZ_VARIANTS
        .iter()
        .filter_map(|tz| next_fire(&daily, TimeZone::from(*tz), after))
        .min();
    assert_eq!(earliest, Some(utc("2026-01-15T00:15:00Z")));
    assert_eq!(first_fire(&daily, ScheduleZone::Recipient, after), earliest);
    // A past `once` never fires again, in any zone setting.
    let once = rule(&json!({"kind": "once", "at": "2026-01-02T08:00"}));
    for setting in [berlin, ScheduleZone::Recipient] {
        assert_eq!(
            first_fire(&once, setting, utc("2026-02-01T00:00:00Z")),
            None
        );
    }
}

#[test]
fn catch_up_sends_recent_fires_and_counts_stale_ones_missed() {
    let daily = rule(&json!({"kind": "daily", "time": "09:00"}));
    let london = ScheduleZone::Fixed(zone("Europe/London"));
    let hour = TimeDelta::hours(1);
    let next = Some(utc("2026-05-04T08:00:00Z"));
    // Thirty minutes late: sent.
    assert_eq!(
        catch_up(&daily, london, next, utc("2026-05-04T08:30:00Z"), hour),
        CatchUp {
            fires: vec![utc("2026-05-04T08:00:00Z")],
            missed: 0,
            next: Some(utc("2026-05-05T08:00:00Z")),
        }
    );
    // Down for two days: the two stale fires are missed, today's is sent.
    assert_eq!(
        catch_up(&daily, london, next, utc("2026-05-06T08:30:00Z"), hour),
        CatchUp {
            fires: vec![utc("2026-05-06T08:00:00Z")],
            missed: 2,
            next: Some(utc("2026-05-07T08:00:00Z")),
        }
    );
    // Not yet due: nothing owed, the next fire stays.
    assert_eq!(
        catch_up(&daily, london, next, utc("2026-05-04T07:59:59Z"), hour),
        CatchUp {
            fires: Vec::new(),
            missed: 0,
            next,
        }
    );
    // A `once` that fired has no next fire.
    let once = rule(&json!({"kind": "once", "at": "2026-05-04T09:00"}));
    let owed = catch_up(&once, london, next, utc("2026-05-04T08:00:00Z"), hour);
    assert_eq!((owed.fires.len(), owed.next), (1, None));
}

#[test]
fn catch_up_stops_at_its_cap_and_the_next_tick_goes_on() {
    let daily = rule(&json!({"kind": "daily", "time": "09:00"}));
    let start = utc("1970-01-01T09:00:00Z");
    let days = i64::try_from(MAX_CATCH_UP).unwrap();
    let owed = catch_up(
        &daily,
        ScheduleZone::Fixed(zone("UTC")),
        Some(start),
        utc("2026-01-01T00:00:00Z"),
        TimeDelta::hours(1),
    );
    assert_eq!((owed.fires.len(), owed.missed), (0, MAX_CATCH_UP));
    assert_eq!(owed.next, Some(start + TimeDelta::days(days)));
}

#[test]
fn fire_zone_keys_name_each_zone_due_and_unknown_zones_with_the_default() {
    let daily = rule(&json!({"kind": "daily", "time": "09:00"}));
    let utc_zone = zone("UTC");
    // A fixed zone is its own key, whoever the recipients are.
    assert_eq!(
        fire_zone_keys(
            &daily,
            ScheduleZone::Fixed(zone("Europe/Paris")),
            utc("2026-01-15T08:00:00Z"),
            utc_zone
        ),
        ["Europe/Paris"]
    );
    // 03:15Z is 09:00 in Kathmandu (+05:45) and nowhere else.
    let at = utc("2026-01-15T03:15:00Z");
    let keys = fire_zone_keys(&daily, ScheduleZone::Recipient, at, utc_zone);
    assert!(keys.contains(&"Asia/Kathmandu"), "{keys:?}");
    assert!(!keys.contains(&NO_ZONE), "{keys:?}");
    for key in &keys {
        let tz: chrono_tz::Tz = key.parse().unwrap();
        assert_eq!(at.with_timezone(&tz).format("%H:%M").to_string(), "09:00");
    }
    // Recipients with no known zone fire with the default zone, right after it.
    let keys = fire_zone_keys(
        &daily,
        ScheduleZone::Recipient,
        utc("2026-01-15T09:00:00Z"),
        utc_zone,
    );
    let at_default = keys.iter().position(|k| *k == "UTC").unwrap();
    assert_eq!(keys.get(at_default + 1), Some(&NO_ZONE), "{keys:?}");
    assert!(keys.contains(&"Europe/London"), "{keys:?}");
    assert_eq!(keys.iter().filter(|k| **k == NO_ZONE).count(), 1);
}
