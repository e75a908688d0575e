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
