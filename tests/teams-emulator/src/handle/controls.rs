//! Steering the connector from a test (faults, limits, tokens) and reading what it saw (the
//! request log, the posted activities).

use tokio::time::Instant;

use super::TeamsEmulator;
use crate::config::Latency;
use crate::fault::Fault;
use crate::limits::{EmulatorLimits, RateLimiter};
use crate::log::RequestRecord;
use crate::world::{StoredActivity, strip_message_id};

impl TeamsEmulator {
    /// Answers every request addressed to `key` (a conversation id, team id, or the user id /
    /// channel id a conversation is being created with) with `fault`, until cleared.
    pub fn inject(&self, key: &str, fault: Fault) {
        self.world().faults.push(key, fault, None);
    }

    /// Answers the next `times` requests addressed to `key` with `fault` (a burst of 503s...).
    pub fn inject_times(&self, key: &str, fault: Fault, times: u32) {
        if times > 0 {
            self.world().faults.push(key, fault, Some(times));
        }
    }

    pub fn clear_faults(&self, key: &str) {
        self.world().faults.clear(key);
    }

    /// Replaces the enforced limits (buckets start empty).
    pub fn set_limits(&self, limits: EmulatorLimits) {
        self.world().limiter = RateLimiter::new(limits);
    }

    /// Delays each connector answer by `latency` from now on (`None`: answer at once).
    pub fn set_latency(&self, latency: Option<Latency>) {
        self.world().latency = latency;
    }

    /// Every request received so far, in arrival order.
    #[must_use]
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.world().log.records.clone()
    }

    /// The requests that addressed `conversation` (thread suffix ignored).
    #[must_use]
    pub fn requests_for(&self, conversation: &str) -> Vec<RequestRecord> {
        let base = strip_message_id(conversation);
        self.world()
            .log
            .records
            .iter()
            .filter(|r| r.conversation.as_deref() == Some(base))
            .cloned()
            .collect()
    }

    /// How many requests were answered with `status`.
    #[must_use]
    pub fn count_status(&self, status: u16) -> usize {
        self.world()
            .log
            .records
            .iter()
            .filter(|r| r.status == Some(status))
            .count()
    }

    pub fn clear_log(&self) {
        self.world().log.records.clear();
    }

    /// The messages the bot posted in `conversation`, deleted ones included (flagged).
    #[must_use]
    pub fn activities(&self, conversation: &str) -> Vec<StoredActivity> {
        let world = self.world();
        world
            .conversations
            .get(&world.canonical(conversation))
            .map(|c| c.activities.clone())
            .unwrap_or_default()
    }

    /// How many times the token endpoint was called (successfully or not).
    #[must_use]
    pub fn token_fetches(&self) -> usize {
        self.world().token_fetches
    }

    /// Issues a valid access token directly, for tests that do not exercise the token endpoint.
    #[must_use]
    pub fn issue_token(&self) -> String {
        let config = &self.shared.config;
        let expires = Instant::now() + config.token_lifetime;
        self.world()
            .issue_token(&config.scope, &config.app_tenant_id, expires)
    }
}
