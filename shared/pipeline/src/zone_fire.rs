//! Expanding a recipient-local schedule's fire in one zone. Those in the zone now are listed
//! through the zone index, then those who left it through the previous-zone index, and each
//! person who moved on the fire's day gets exactly one of the two zones' fires
//! ([`fires_for_mover`]).

use herald_domain::ConversationReference;
use herald_schedule::{Listed, fires_for_mover, zone_of_key};
use herald_store::ZoneFire;

/// Prefix of the expansion cursor once the listing of those who left the zone has begun.
const LEFT: &str = "left:";

/// Which listing the expansion cursor `cursor` continues, and the store's cursor within it.
pub(crate) fn phase(cursor: Option<&str>) -> (Listed, Option<&str>) {
    match cursor.and_then(|c| c.strip_prefix(LEFT)) {
        Some(rest) => (Listed::LeftZone, Some(rest).filter(|r| !r.is_empty())),
        None => (Listed::InZone, cursor),
    }
}

/// The expansion cursor after a page of `listed` whose store cursor is `next`: the next page,
/// else the start of those who left the zone, else the end.
pub(crate) fn next(listed: Listed, next: Option<&str>) -> Option<String> {
    match (listed, next) {
        (Listed::InZone, Some(cursor)) => Some(cursor.to_owned()),
        (Listed::InZone, None) => Some(LEFT.to_owned()),
        (Listed::LeftZone, Some(cursor)) => Some(format!("{LEFT}{cursor}")),
        (Listed::LeftZone, None) => None,
    }
}

/// Whether the fire of `zone_key` reaches `reference`, found by `listed`. Someone who never
/// moved gets their zone's fire, as before zone moves were recorded.
pub(crate) fn reaches(
    fire: &ZoneFire,
    zone_key: &str,
    listed: Listed,
    reference: &ConversationReference,
) -> bool {
    let Some(moved) = &reference.zone_move else {
        return listed == Listed::InZone;
    };
    let other_key = match listed {
        Listed::InZone => moved.previous_zone_key.as_str(),
        Listed::LeftZone => reference.zone_key(),
    };
    match (
        zone_of_key(zone_key, fire.default_zone),
        zone_of_key(other_key, fire.default_zone),
    ) {
        (Some(this), Some(other)) => {
            fires_for_mover(this, fire.at, listed, other, moved.zone_moved_at)
        }
        _ => listed == Listed::InZone,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use herald_domain::ZoneMove;

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn in_new_york(moved: Option<(&str, &str)>) -> ConversationReference {
        let mut r = herald_testkit::person("a:1", utc("2026-01-01T00:00:00Z"));
        r.time_zone = Some("America/New_York".parse().unwrap());
        r.zone_move = moved.map(|(from, at)| ZoneMove {
            previous_zone_key: from.to_owned(),
            zone_moved_at: utc(at),
        });
        r
    }

    #[test]
    fn the_cursor_reads_the_zone_then_who_left_it() {
        assert_eq!(phase(None), (Listed::InZone, None));
        assert_eq!(phase(Some("abc")), (Listed::InZone, Some("abc")));
        let start_of_left = next(Listed::InZone, None);
        assert_eq!(phase(start_of_left.as_deref()), (Listed::LeftZone, None));
        let later = next(Listed::LeftZone, Some("abc"));
        assert_eq!(phase(later.as_deref()), (Listed::LeftZone, Some("abc")));
        assert_eq!(next(Listed::LeftZone, None), None);
        assert_eq!(next(Listed::InZone, Some("abc")).as_deref(), Some("abc"));
    }

    #[test]
    fn only_a_move_changes_who_a_fire_reaches() {
        let fire = ZoneFire {
            at: utc("2026-12-02T14:00:00Z"),
            default_zone: "Europe/Berlin".parse().unwrap(),
        };
        let new_york = "America/New_York";
        assert!(reaches(&fire, new_york, Listed::InZone, &in_new_york(None)));
        // Left an unknown zone (Berlin's time, the default) after Berlin's 09:00.
        let after_berlins = in_new_york(Some(("none", "2026-12-02T10:00:00Z")));
        assert!(!reaches(&fire, new_york, Listed::InZone, &after_berlins));
        // Berlin's 09:00 on the 2nd is theirs when they left the day before.
        let day_before = in_new_york(Some(("none", "2026-12-01T10:00:00Z")));
        assert!(reaches(&fire, new_york, Listed::InZone, &day_before));
        let berlin_fire = ZoneFire {
            at: utc("2026-12-02T08:00:00Z"),
            ..fire
        };
        assert!(!reaches(
            &berlin_fire,
            "none",
            Listed::LeftZone,
            &day_before
        ));
        assert!(reaches(
            &berlin_fire,
            "none",
            Listed::LeftZone,
            &after_berlins
        ));
    }
}
