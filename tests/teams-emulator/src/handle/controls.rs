//! Steering the connector from a test (faults, outages, limits, latency, tokens) and reading what
//! it saw (the request log, the posted activities).

use std::time::Duration;

use tokio::time::Instant;

use super::TeamsEmulator;
use crate::config::Latency;
use crate::fault::{Fault, Outage};
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

    /// Answers every send (create conversation, send, reply, update, delete; any conversation)
    /// with `fault`, until [`Self::end_outages`]; a conversation's own faults come first.
    pub fn inject_sends(&self, fault: Fault) {
        self.world().send_faults.push(fault, None);
    }

    /// Answers the next `times` sends (any conversation) with `fault`: a burst of 5xx is
    /// `inject_sends_times(Fault::Status(503), n)`.
    pub fn inject_sends_times(&self, fault: Fault, times: u32) {
        if times > 0 {
            self.world().send_faults.push(fault, Some(times));
        }
    }

    /// Answers every token request with `fault` (`Status(503)`, `DropConnection`, `Delay`...),
    /// until [`Self::end_outages`].
    pub fn inject_token(&self, fault: Fault) {
        self.world().token_faults.push(fault, None);
    }

    /// Answers the next `times` token requests with `fault`.
    pub fn inject_token_times(&self, fault: Fault, times: u32) {
        if times > 0 {
            self.world().token_faults.push(fault, Some(times));
        }
    }

    /// Starts `outage` now, for `duration`: every request it hits meanwhile is answered with its
    /// fault (after the conversation's own faults). Outages may overlap; the earliest started
    /// answers first.
    pub fn outage(&self, outage: Outage, duration: Duration) {
        let until = Instant::now() + duration;
        let mut world = self.world();
        let queue = if outage.hits_token_endpoint() {
            &mut world.token_faults
        } else {
            &mut world.send_faults
        };
        queue.push_until(outage.fault(), until);
    }

    /// Ends every outage and clears the faults of every send and of the token endpoint
    /// (per-conversation faults stay: [`Self::clear_faults`]).
    pub fn end_outages(&self) {
        let mut world = self.world();
        world.send_faults.clear();
        world.token_faults.clear();
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
