//! One fire per person on the day they change zones ([`fires_for_mover`]): each case checks both
//! zones' fires, so "exactly one" is what is asserted.

use super::{utc, zone};
use crate::{Listed, fires_for_mover, zone_of_key};

/// The fires a person who moved from `from` to `to` at `moved` gets, of `from`'s fire at
/// `from_at` and `to`'s at `to_at` (zone names as keys, `none` in `default`).
fn fires(
    (from, from_at): (&str, &str),
    (to, to_at): (&str, &str),
    moved: &str,
    default: &str,
) -> Vec<&'static str> {
    let default = zone(default);
    let (from_zone, to_zone) = (
        zone_of_key(from, default).unwrap(),
        zone_of_key(to, default).unwrap(),
    );
    let mut got = Vec::new();
    if fires_for_mover(
        from_zone,
        utc(from_at),
        Listed::LeftZone,
        to_zone,
        utc(moved),
    ) {
        got.push(LEFT);
    }
    if fires_for_mover(to_zone, utc(to_at), Listed::InZone, from_zone, utc(moved)) {
        got.push(NEW);
    }
    got
}

const BERLIN_9: (&str, &str) = ("Europe/Berlin", "2026-12-02T08:00:00Z");
const NEW_YORK_9: (&str, &str) = ("America/New_York", "2026-12-02T14:00:00Z");
const UTC: &str = "UTC";
const LEFT: &str = "left zone";
const NEW: &str = "new zone";

/// One case: the zone left and its fire, the zone moved to and its fire, when they moved, the
/// default zone, and the one fire they get.
type Case<'a> = (
    (&'a str, &'a str),
    (&'a str, &'a str),
    &'a str,
    &'a str,
    &'static str,
);

/// Asserts each case's fires are exactly its one expected fire.
fn assert_one_fire(cases: &[Case]) {
    for &(from, to, moved, default, expected) in cases {
        assert_eq!(
            fires(from, to, moved, default),
            [expected],
            "{from:?} -> {to:?} moved at {moved} (default {default})"
        );
    }
}

#[test]
fn moving_after_the_first_fire_does_not_fire_twice() {
    // Berlin's 09:00 reached them in Berlin; New York's 09:00 is not theirs again.
    assert_one_fire(&[(BERLIN_9, NEW_YORK_9, "2026-12-02T10:00:00Z", UTC, LEFT)]);
}

#[test]
fn moving_before_the_later_fire_misses_neither() {
    assert_one_fire(&[
        // In New York at Berlin's 09:00, in Berlin by New York's: in neither zone at its fire,
        // they get the later one.
        (NEW_YORK_9, BERLIN_9, "2026-12-02T10:00:00Z", UTC, LEFT),
        // Moving before both fires: the new zone's, as anyone's.
        (NEW_YORK_9, BERLIN_9, "2026-12-02T07:00:00Z", UTC, NEW),
        // Moving after both: the old zone's, as anyone's.
        (NEW_YORK_9, BERLIN_9, "2026-12-02T15:00:00Z", UTC, LEFT),
    ]);
}

#[test]
fn in_both_zones_at_their_fires_gets_the_earlier() {
    // Tokyo's 09:00 (00:00 UTC) in Tokyo, then Berlin's 09:00 (08:00 UTC) in Berlin.
    let tokyo_9 = ("Asia/Tokyo", "2026-12-02T00:00:00Z");
    assert_one_fire(&[(tokyo_9, BERLIN_9, "2026-12-02T05:00:00Z", UTC, LEFT)]);
}

#[test]
fn a_move_long_ago_fires_the_zone_they_are_in() {
    assert_one_fire(&[
        (BERLIN_9, NEW_YORK_9, "2026-11-20T10:00:00Z", UTC, NEW),
        (NEW_YORK_9, BERLIN_9, "2026-11-20T10:00:00Z", UTC, NEW),
    ]);
}

#[test]
fn a_move_between_zones_of_one_offset_fires_once() {
    let paris_9 = ("Europe/Paris", "2026-12-02T08:00:00Z");
    for moved in [
        "2026-12-02T07:00:00Z",
        "2026-12-02T08:00:00Z",
        "2026-12-02T10:00:00Z",
    ] {
        let got = fires(BERLIN_9, paris_9, moved, UTC);
        assert_eq!(got.len(), 1, "moved at {moved}: {got:?}");
    }
    assert_one_fire(&[
        (BERLIN_9, paris_9, "2026-12-02T07:00:00Z", UTC, NEW),
        (BERLIN_9, paris_9, "2026-12-02T10:00:00Z", UTC, LEFT),
    ]);
}

#[test]
fn no_zone_fires_in_the_default_zone() {
    assert_one_fire(&[
        // Unknown zone (fired by Berlin, the default) until Teams reports New York after the
        // fire.
        (
            ("none", "2026-12-02T08:00:00Z"),
            NEW_YORK_9,
            "2026-12-02T10:00:00Z",
            "Europe/Berlin",
            LEFT,
        ),
        // With UTC as the default, `none` fires at 09:00 UTC: a move at 08:30 UTC comes before
        // it, so New York's is theirs.
        (
            ("none", "2026-12-02T09:00:00Z"),
            NEW_YORK_9,
            "2026-12-02T08:30:00Z",
            UTC,
            NEW,
        ),
    ]);
    assert_eq!(zone_of_key("Mars/Olympus", zone("UTC")), None);
}

#[test]
fn a_daylight_saving_day_resolves_the_other_fire_as_fires_are() {
    // 2026-03-29: Berlin skips 02:00-03:00. Its 02:30 fires with the offset before the gap,
    // at 01:30 UTC; New York's 02:30 (EDT) is 06:30 UTC.
    let berlin = ("Europe/Berlin", "2026-03-29T01:30:00Z");
    let new_york = ("America/New_York", "2026-03-29T06:30:00Z");
    // 2026-11-01: New York's 01:30 happens twice and fires at the earlier (05:30 UTC).
    let new_york_fold = ("America/New_York", "2026-11-01T05:30:00Z");
    let london = ("Europe/London", "2026-11-01T01:30:00Z");
    assert_one_fire(&[
        // Arrived in Berlin at 01:00 UTC: Berlin's fire was theirs.
        (new_york, berlin, "2026-03-29T01:00:00Z", UTC, NEW),
        // Arrived at 03:00 UTC, after Berlin's fire: New York's.
        (new_york, berlin, "2026-03-29T03:00:00Z", UTC, LEFT),
        // Left Berlin at 01:00 UTC, before its fire: New York's, once.
        (berlin, new_york, "2026-03-29T01:00:00Z", UTC, NEW),
        // In London at its fire and in New York at the earlier 01:30: London's, the earlier.
        (london, new_york_fold, "2026-11-01T05:00:00Z", UTC, LEFT),
        (london, new_york_fold, "2026-11-01T01:00:00Z", UTC, NEW),
    ]);
}

#[test]
fn past_the_horizon_the_zone_left_never_fires() {
    // The widest pair of zones, a day apart, each way, the move just past the horizon.
    let (east, west) = (zone("Pacific/Kiritimati"), zone("Etc/GMT+12"));
    for (left, other) in [(east, west), (west, east)] {
        let fire_at = crate::resolve_local(
            left.tz(),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap(),
        )
        .unwrap();
        let moved = fire_at - crate::MOVE_HORIZON;
        assert!(!crate::may_reach_leaver(fire_at, moved));
        assert!(!fires_for_mover(
            left,
            fire_at,
            Listed::LeftZone,
            other,
            moved
        ));
        // A day less old, a move can still make it theirs (in neither zone at its fire).
        let recent = fire_at - chrono::Duration::hours(25);
        assert!(crate::may_reach_leaver(fire_at, recent));
    }
    assert!(fires_for_mover(
        west,
        utc("2026-12-02T21:00:00Z"),
        Listed::LeftZone,
        east,
        utc("2026-12-01T20:00:00Z")
    ));
}
