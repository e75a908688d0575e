//! A recipient-local schedule on the day a person changes zones.
//!
//! Each zone's fire lists the people in that zone when it is expanded, so a person who moves
//! between two fires of the same wall time would get both (Berlin's 09:00, then New York's) or
//! neither (New York's 09:00 before they arrive, Berlin's already past when they get there). A
//! zone's fire therefore also lists those who left the zone, and [`fires_for_mover`] gives each
//! person exactly one of the two fires of that local date: the one of the zone they were in
//! when it fired; the earlier when they were in both zones at their fires; the later when in
//! neither.

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::{NO_ZONE, TimeZone};

use crate::fire::{local_of, resolve_local};

/// How a person was found for a zone's fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// The fire's zone is their zone now; the other zone is the one they left.
    InZone,
    /// The fire's zone is the one they left; the other zone is theirs now.
    LeftZone,
}

/// The zone a zone key fires in: its IANA zone, or `default_zone` for [`NO_ZONE`] (recipients
/// whose zone Herald does not know). `None` for a key that names no zone.
#[must_use]
pub fn zone_of_key(key: &str, default_zone: TimeZone) -> Option<TimeZone> {
    if key == NO_ZONE {
        Some(default_zone)
    } else {
        key.parse().ok()
    }
}

/// How long before a zone's fire a move from that zone can still make the fire theirs: the
/// same wall time of one local date falls within 26 hours in any two zones (UTC+14 and UTC-12),
/// and a daylight-saving gap shifts it by an hour or two at most. Past this the person was in
/// their new zone at both fires.
pub const MOVE_HORIZON: TimeDelta = TimeDelta::hours(48);

/// Whether a person who left a zone at `moved_at` may still get its fire at `fire_at` (see
/// [`MOVE_HORIZON`]): the scheduler only fires a zone for those who left it when one did.
#[must_use]
pub fn may_reach_leaver(fire_at: DateTime<Utc>, moved_at: DateTime<Utc>) -> bool {
    moved_at > fire_at - MOVE_HORIZON
}

/// Whether the fire of `fire_zone` at `fire_at` goes to a person `listed` for it whose other
/// zone is `other_zone` and who moved between the two at `moved_at`.
///
/// The other zone's fire is the same wall time on the same local date (`fire_at` read in
/// `fire_zone`), resolved in `other_zone` as fires are ([`resolve_local`]: a time in a gap with
/// the offset before it, a repeated time at its earlier instant). A person held a zone at its
/// fire if they were in it then: the zone they are in now from `moved_at` on, the one they left
/// before it.
#[must_use]
pub fn fires_for_mover(
    fire_zone: TimeZone,
    fire_at: DateTime<Utc>,
    listed: Listed,
    other_zone: TimeZone,
    moved_at: DateTime<Utc>,
) -> bool {
    let other_at =
        local_of(fire_zone.tz(), fire_at).and_then(|local| resolve_local(other_zone.tz(), local));
    let held_now = |at: DateTime<Utc>| at >= moved_at;
    let Some(other_at) = other_at else {
        // No other fire that day (a date at the end of chrono's range): this one is theirs if
        // they were in its zone.
        return match listed {
            Listed::InZone => held_now(fire_at),
            Listed::LeftZone => !held_now(fire_at),
        };
    };
    let (holds_this, holds_other) = match listed {
        Listed::InZone => (held_now(fire_at), !held_now(other_at)),
        Listed::LeftZone => (!held_now(fire_at), held_now(other_at)),
    };
    match (holds_this, holds_other) {
        // In both zones at their fires: the earlier.
        (true, true) => fire_at <= other_at,
        (true, false) => true,
        (false, true) => false,
        // In neither: the later.
        (false, false) => fire_at > other_at,
    }
}
