//! Reading the traffic a test produced: counters, the instants the rate limiter accepted requests
//! at, and how many copies of each message every conversation received.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::TeamsEmulator;
use crate::limits::busiest_window;
use crate::log::EmulatorCounters;
use crate::world::Duplicate;

impl TeamsEmulator {
    /// Totals since the emulator started (not reset by [`Self::clear_log`]).
    #[must_use]
    pub fn counters(&self) -> EmulatorCounters {
        let world = self.world();
        let duplicates = world.duplicates();
        EmulatorCounters {
            requests: world.log.received(),
            throttled: world.log.throttled,
            rate_limited: world.log.rate_limited,
            accepted: world.log.accepted.len() as u64,
            activities: world
                .conversations
                .values()
                .map(|c| c.activities.len() as u64)
                .sum(),
            duplicates: duplicates.iter().map(|d| d.copies as u64 - 1).sum(),
        }
    }

    /// The arrival instants of `tenant`'s connector requests the rate limiter accepted, oldest
    /// first (recorded whether limits are enforced or not, so a test can check a client's own
    /// pacing too).
    #[must_use]
    pub fn accepted_arrivals(&self, tenant: &str) -> Vec<Instant> {
        self.accepted_where(|a| a.tenant == tenant)
    }

    /// The arrival instants of accepted requests that counted in `conversation`'s windows (a
    /// conversation or team id; create conversation counts under `create:{member or channel id}`).
    #[must_use]
    pub fn accepted_arrivals_in(&self, conversation: &str) -> Vec<Instant> {
        let key = self.world().canonical(conversation);
        self.accepted_where(|a| a.key == key)
    }

    /// The most accepted requests of `tenant` that arrived within any window of `period`: under
    /// [`crate::EmulatorLimits::strict`], never more than the tenant rate.
    #[must_use]
    pub fn busiest_tenant_window(&self, tenant: &str, period: Duration) -> usize {
        busiest_window(&self.accepted_arrivals(tenant), period)
    }

    fn accepted_where(&self, keep: impl Fn(&crate::log::Accepted) -> bool) -> Vec<Instant> {
        let mut arrivals: Vec<Instant> = self
            .world()
            .log
            .accepted
            .iter()
            .filter(|a| keep(a))
            .map(|a| a.at)
            .collect();
        arrivals.sort_unstable();
        arrivals
    }

    /// How many activities the bot posted in each conversation (by id; deleted ones included):
    /// a broadcast that reached each chat exactly once has a count of 1 everywhere.
    #[must_use]
    pub fn activity_counts(&self) -> HashMap<String, usize> {
        self.world()
            .conversations
            .iter()
            .filter(|(_, c)| !c.activities.is_empty())
            .map(|(id, c)| (id.clone(), c.activities.len()))
            .collect()
    }

    /// Every message posted more than once to the same conversation, by conversation id.
    #[must_use]
    pub fn duplicates(&self) -> Vec<Duplicate> {
        self.world().duplicates()
    }
}
