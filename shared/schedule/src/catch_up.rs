//! The fires a scheduler tick owes a schedule: every fire from its stored next fire up to now,
//! those at most the allowed lateness late to send and older ones recorded as missed, so that an
//! outage neither loses a recent fire nor floods recipients with stale ones.

use chrono::{DateTime, TimeDelta, Utc};

use crate::recurrence::ScheduleRule;
use crate::zone_setting::ScheduleZone;
use crate::zones::first_fire;

/// Fires looked at per schedule per tick at most (a once-a-minute schedule down for a week); the
/// next tick goes on from where this one stopped.
pub const MAX_CATCH_UP: usize = 20_000;

/// What a tick owes a schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatchUp {
    /// Fires to send now, oldest first.
    pub fires: Vec<DateTime<Utc>>,
    /// Fires too late to send.
    pub missed: usize,
    /// The schedule's next fire from here on: after `now`, or where [`MAX_CATCH_UP`] stopped;
    /// `None` once the rule never fires again.
    pub next: Option<DateTime<Utc>>,
}

/// The fires of `rule` in `zone` from `next` (the stored next fire) up to `now`.
#[must_use]
pub fn catch_up(
    rule: &ScheduleRule,
    zone: ScheduleZone,
    next: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    max_lateness: TimeDelta,
) -> CatchUp {
    let mut owed = CatchUp {
        next,
        ..CatchUp::default()
    };
    while let Some(at) = owed.next.filter(|at| *at <= now) {
        if owed.fires.len() + owed.missed >= MAX_CATCH_UP {
            break;
        }
        if now - at > max_lateness {
            owed.missed += 1;
        } else {
            owed.fires.push(at);
        }
        owed.next = first_fire(rule, zone, at);
    }
    owed
}
