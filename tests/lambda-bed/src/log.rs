//! What the bed saw, for tests to read: every invocation, every stream batch, every record sent
//! to an `OnFailure` destination and every event put on a bus. Snapshots are copies; [`BedLog::wait`]
//! polls until a condition holds.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::instance::InstanceId;

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// The function posted a response.
    Ok,
    /// The function posted an error (`/invocation/{id}/error`).
    Error,
    /// The function ran into its `Timeout`; the bed killed the instance.
    Timeout,
    /// A fault killed the instance mid-invocation.
    Killed,
    /// The instance failed to start (`/init/error`, exit or init timeout before `/next`).
    InitError,
    /// The process exited mid-invocation on its own.
    Exited,
}

impl OutcomeKind {
    /// Whether Lambda counts it as a function error (everything but a response).
    #[must_use]
    pub fn failed(self) -> bool {
        self != Self::Ok
    }
}

/// One invocation.
#[derive(Debug, Clone)]
pub struct InvocationRecord {
    /// The function's logical id (`SenderFunction`) or the name it was started under.
    pub function: String,
    pub request_id: String,
    pub instance: InstanceId,
    /// A new process was started for it.
    pub cold: bool,
    pub start: SystemTime,
    pub end: SystemTime,
    pub outcome: OutcomeKind,
}

/// One stream batch handed to the function.
#[derive(Debug, Clone)]
pub struct BatchRecord {
    pub function: String,
    pub shard: String,
    /// The sequence numbers of the batch's first and last records.
    pub first_sequence: String,
    pub last_sequence: String,
    pub size: usize,
    /// 1 for the first invocation of these records, 2 for the first retry, ...
    pub attempt: u32,
    /// This batch is a half of a failed batch (`BisectBatchOnFunctionError`).
    pub bisected: bool,
    pub outcome: OutcomeKind,
    /// The `itemIdentifier`s the function reported (`ReportBatchItemFailures`).
    pub item_failures: Vec<String>,
    pub start: Instant,
}

/// Where a failure record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureSource {
    /// A stream batch given up (retries exhausted or records too old).
    Stream,
    /// An asynchronous invocation (EventBridge) given up after its retries.
    Async,
}

/// What Lambda sends to an `OnFailure` destination.
#[derive(Debug, Clone)]
pub struct FailureRecord {
    pub source: FailureSource,
    pub function: String,
    /// The destination's logical id in the template (`StreamFailuresQueue`), if configured.
    pub destination: Option<String>,
    /// The invocation record as AWS writes it (`requestContext`, `responseContext`,
    /// `DDBStreamBatchInfo` or `requestPayload`...).
    pub body: Value,
}

/// One event put on a bus.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub bus: String,
    /// The event as EventBridge delivers it (`source`, `detail-type`, `detail`, ...).
    pub event: Value,
    /// The rules it matched.
    pub rules: Vec<String>,
}

#[derive(Default)]
struct Entries {
    invocations: Vec<InvocationRecord>,
    batches: Vec<BatchRecord>,
    failures: Vec<FailureRecord>,
    events: Vec<EventRecord>,
}

/// The bed's log, shared by every part of it.
#[derive(Clone, Default)]
pub struct BedLog {
    entries: Arc<Mutex<Entries>>,
}

impl BedLog {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn invocation(&self, record: InvocationRecord) {
        tracing::debug!(?record, "invocation");
        self.lock().invocations.push(record);
    }

    pub(crate) fn batch(&self, record: BatchRecord) {
        tracing::debug!(?record, "stream batch");
        self.lock().batches.push(record);
    }

    pub(crate) fn failure(&self, record: FailureRecord) {
        tracing::info!(?record, "sent to the on-failure destination");
        self.lock().failures.push(record);
    }

    pub(crate) fn event(&self, record: EventRecord) {
        self.lock().events.push(record);
    }

    #[must_use]
    pub fn invocations(&self) -> Vec<InvocationRecord> {
        self.lock().invocations.clone()
    }

    /// The invocations of one function.
    #[must_use]
    pub fn invocations_of(&self, function: &str) -> Vec<InvocationRecord> {
        self.lock()
            .invocations
            .iter()
            .filter(|r| r.function == function)
            .cloned()
            .collect()
    }

    #[must_use]
    pub fn batches(&self) -> Vec<BatchRecord> {
        self.lock().batches.clone()
    }

    #[must_use]
    pub fn failures(&self) -> Vec<FailureRecord> {
        self.lock().failures.clone()
    }

    #[must_use]
    pub fn events(&self) -> Vec<EventRecord> {
        self.lock().events.clone()
    }

    /// Polls `condition` on this log every 20 ms until it returns `Some` or `timeout` passes.
    pub async fn wait<T>(
        &self,
        timeout: Duration,
        condition: impl Fn(&Self) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = condition(self) {
                return Some(found);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
