//! What the emulator saw: every request, logged on arrival and completed when answered, counters
//! that survive clearing the log, and the requests the rate limiter accepted, so tests can assert
//! on pacing, order and what was answered.

use std::time::SystemTime;

use serde_json::Value;
use tokio::time::Instant;

/// One request the emulator received, logged on arrival and completed when answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Arrival order, from 0.
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The Bot Framework operation name (`sendToConversation`...) or `token`.
    pub operation: &'static str,
    /// The conversation (or team) the request addressed, `;messageid=` stripped.
    pub conversation: Option<String>,
    pub tenant: Option<String>,
    /// The raw `Authorization` header, if any.
    pub authorization: Option<String>,
    /// When it arrived (tokio clock, for pacing assertions) and the wall-clock time.
    pub at: Instant,
    pub received_at: SystemTime,
    /// The status answered; `None` when no answer was sent (a dropped-connection fault, or the
    /// client gave up first, e.g. on a slow answer).
    pub status: Option<u16>,
    /// When the answer was sent (or the connection closed); `None` until then.
    pub answered_at: Option<Instant>,
    pub body: Option<Value>,
}

/// Totals since the emulator started; [`crate::TeamsEmulator::clear_log`] does not reset them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmulatorCounters {
    /// Requests received on every route (connector, token endpoint, Graph).
    pub requests: u64,
    /// Requests answered 429, whatever the cause (rate limits, injected faults, outages).
    pub throttled: u64,
    /// Connector requests the rate limiter refused (answered 429).
    pub rate_limited: u64,
    /// Connector requests the rate limiter accepted (whether limits are enforced or not).
    pub accepted: u64,
    /// Activities the bot posted (send, reply, create conversation with an activity).
    pub activities: u64,
    /// Posted activities that repeat the content of an earlier one in the same conversation
    /// (see [`crate::TeamsEmulator::duplicates`]).
    pub duplicates: u64,
}

/// A connector request the rate limiter accepted, counted at its arrival.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    pub tenant: String,
    /// The conversation (or team, or `create:{member or channel}`) whose windows it counted in.
    pub key: String,
    pub at: Instant,
}

/// The log behind [`crate::TeamsEmulator::requests`] and the traffic counters.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    pub records: Vec<RequestRecord>,
    next_seq: u64,
    pub throttled: u64,
    pub rate_limited: u64,
    pub accepted: Vec<Accepted>,
}

impl RequestLog {
    /// Logs a request on arrival; returns its `seq` for [`Self::answered`].
    pub fn arrived(&mut self, mut record: RequestRecord) -> u64 {
        self.count_answer(record.status);
        record.seq = self.next_seq;
        self.next_seq += 1;
        let seq = record.seq;
        self.records.push(record);
        seq
    }

    /// Completes the log entry `seq` with what was answered.
    pub fn answered(&mut self, seq: u64, status: Option<u16>, tenant: Option<String>) {
        self.count_answer(status);
        if let Some(record) = self.records.iter_mut().rev().find(|r| r.seq == seq) {
            record.status = status;
            record.answered_at = Some(Instant::now());
            if tenant.is_some() {
                record.tenant = tenant;
            }
        }
    }

    /// Requests received so far (the log may have been cleared; `seq` keeps counting).
    pub fn received(&self) -> u64 {
        self.next_seq
    }

    fn count_answer(&mut self, status: Option<u16>) {
        if status == Some(429) {
            self.throttled += 1;
        }
    }
}
