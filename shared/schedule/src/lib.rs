//! Herald's schedule rules, pure (no I/O): what the API and chat accept ([`Recurrence`],
//! [`ScheduleRule`], [`ReminderCommand`]), when a rule fires ([`next_fire`], [`upcoming`]) exactly
//! by the issue-6 daylight-saving rules, and which zones are due in a given minute for schedules
//! delivered at each recipient's own local time ([`due_zones`]). The scheduler Lambda, the notify
//! API and the webhook share this crate so that preview, firing and chat agree to the minute.

mod chat;
mod fire;
mod recurrence;
mod zones;

pub use chat::{ReminderCommand, ReminderParseError};
pub use fire::{Fire, Upcoming, next_fire, resolve_local, upcoming};
pub use recurrence::{
    MonthDay, Recurrence, RuleError, ScheduleRule, ScheduleZone, Weekdays, parse_weekday,
    short_name,
};
pub use zones::{due_zones, fire_in_minute, minute_start, next_fire_in_zones};

#[cfg(test)]
mod tests;
