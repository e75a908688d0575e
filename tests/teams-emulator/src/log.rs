//! The request log: every request the emulator received, logged on arrival and completed when
//! answered, so tests can assert on pacing, order and what was answered.

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
    pub body: Option<Value>,
}

/// The log behind [`crate::TeamsEmulator::requests`].
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    pub records: Vec<RequestRecord>,
    next_seq: u64,
}

impl RequestLog {
    /// Logs a request on arrival; returns its `seq` for [`Self::answered`].
    pub fn arrived(&mut self, mut record: RequestRecord) -> u64 {
        record.seq = self.next_seq;
        self.next_seq += 1;
        let seq = record.seq;
        self.records.push(record);
        seq
    }

    /// Completes the log entry `seq` with what was answered.
    pub fn answered(&mut self, seq: u64, status: Option<u16>, tenant: Option<String>) {
        if let Some(record) = self.records.iter_mut().rev().find(|r| r.seq == seq) {
            record.status = status;
            if tenant.is_some() {
                record.tenant = tenant;
            }
        }
    }
}
