//! Herald's schedule rules, pure (no I/O): what the API and chat accept ([`Recurrence`],
//! [`ScheduleRule`], [`ScheduleZone`], [`ReminderCommand`]), when a rule fires ([`next_fire`],
//! [`upcoming`], [`first_fire`]) exactly through daylight-saving changes, which zones are due in a
//! given minute for schedules delivered at each recipient's own local time ([`due_zones`],
//! [`fire_zone_keys`]) and which of a zone mover's two fires is theirs ([`fires_for_mover`]),
//! and what a scheduler tick owes a schedule after an outage ([`catch_up`]). The scheduler
//! Lambda, the notify API and the webhook share this crate so that preview, firing and chat agree
//! to the minute.

mod catch_up;
mod chat;
mod fire;
mod moves;
mod recurrence;
mod zone_setting;
mod zones;

pub use catch_up::{CatchUp, MAX_CATCH_UP, catch_up};
pub use chat::{ReminderCommand, ReminderParseError};
pub use fire::{Fire, Upcoming, next_fire, resolve_local, upcoming};
pub use moves::{Listed, MOVE_HORIZON, fires_for_mover, may_reach_leaver, zone_of_key};
pub use recurrence::{
    MonthDay, Recurrence, RuleError, ScheduleRule, Weekdays, parse_weekday, short_name,
};
pub use zone_setting::{ScheduleZone, schedule_zone};
pub use zones::{
    due_zones, fire_in_minute, fire_zone_keys, first_fire, minute_start, next_fire_in_zones,
};

#[cfg(test)]
mod tests;
