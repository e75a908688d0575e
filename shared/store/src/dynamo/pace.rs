//! The tenant pace and the conversation windows every sender instance shares, on DynamoDB
//! ([`schema::PACING`]).
//!
//! A tenant's item holds its theoretical arrival time (`tat`, epoch microseconds). An instance
//! reserves a block of `n` slots with one atomic update: `tat = tat + n x interval` when `tat`
//! is already at or past the block's earliest start, else `tat = start + n x interval` when it
//! lies behind; neither reads first, and concurrent reservers never collide (the add is atomic),
//! so the cost is one write per block. A 429 moves `tat` past the pause for everyone.
//!
//! A conversation's item holds its [`ThreadLedger`] (recent sends, under 1 KB) and a version;
//! an admission writes it back conditionally on the version it read (one write per send; a
//! write that lost the race returns the current item with the failure
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html>,
//! `ReturnValuesOnConditionCheckFailure`), so a retry needs no extra read).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use herald_domain::pace::{
    Admission, BlockRequest, PaceError, SlotBlock, TenantPace, ThreadLedger, ThreadWindows, Window,
};

use super::error::{condition_failed, map_sdk_error, written};
use super::item::{Item, key, n};
use crate::StoreError;
use crate::schema::{PACE_SK, PACE_TENANT_PREFIX, PACE_THREAD_PREFIX, PACING};

/// Reservations and admissions retried this often when other instances keep winning.
const ATTEMPTS: u32 = 8;
/// A tenant's item outlives its last slot by this long.
const TENANT_TTL: chrono::Duration = chrono::Duration::days(1);
/// Conversations remembered by one instance before the cache is emptied.
const CACHED_THREADS: usize = 50_000;
/// How far ahead of now blocks start by default: a DynamoDB round trip with room to spare.
const DEFAULT_LEAD: Duration = Duration::from_millis(50);

/// Writes this instance made to the pacing table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaceWrites {
    /// Blocks reserved (one write each when uncontended) and pauses written.
    pub tenant: u64,
    /// Conversation admissions written.
    pub thread: u64,
    /// Conditional writes that failed and were retried.
    pub conflicts: u64,
}

#[derive(Debug, Clone, Default)]
struct Cached {
    ledger: ThreadLedger,
    /// 0 when the item is not known to exist.
    version: i64,
}

/// The shared pace on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoPace {
    client: Client,
    table: String,
    lead: Duration,
    threads: Arc<Mutex<HashMap<String, Cached>>>,
    tenant_writes: Arc<AtomicU64>,
    thread_writes: Arc<AtomicU64>,
    conflicts: Arc<AtomicU64>,
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn span_micros(span: Duration) -> i64 {
    i64::try_from(span.as_micros()).unwrap_or(i64::MAX)
}

fn unavailable(error: &StoreError) -> PaceError {
    PaceError::Unavailable(error.to_string())
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn instants(item: &Item, name: &str) -> Vec<DateTime<Utc>> {
    item.get(name)
        .and_then(|v| v.as_l().ok())
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_n().ok()?.parse().ok())
                .map(from_micros)
                .collect()
        })
        .unwrap_or_default()
}

fn list(instants: impl Iterator<Item = DateTime<Utc>>) -> AttributeValue {
    AttributeValue::L(instants.map(|t| n(micros(t))).collect())
}

/// A conversation's item as stored (an absent or unreadable one starts empty).
fn cached(item: Option<&Item>) -> Cached {
    item.map_or_else(Cached::default, |item| Cached {
        ledger: ThreadLedger {
            grants: instants(item, "g").into_iter().collect::<VecDeque<_>>(),
            long: instants(item, "h"),
        },
        version: number(item, "v").unwrap_or(0),
    })
}

impl DynamoPace {
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            lead: DEFAULT_LEAD,
            threads: Arc::default(),
            tenant_writes: Arc::default(),
            thread_writes: Arc::default(),
            conflicts: Arc::default(),
        }
    }

    /// Blocks start at least `lead` after they are asked for.
    #[must_use]
    pub fn with_lead(mut self, lead: Duration) -> Self {
        self.lead = lead;
        self
    }

    /// Creates the table if missing (tests, the local runner; deployments get it from the template).
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        PACING.create(&self.client, &self.table).await
    }

    #[must_use]
    pub fn writes(&self) -> PaceWrites {
        PaceWrites {
            tenant: self.tenant_writes.load(Ordering::Relaxed),
            thread: self.thread_writes.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
        }
    }

    fn tenant_key(tenant: &str) -> Item {
        key(&format!("{PACE_TENANT_PREFIX}{tenant}"), PACE_SK)
    }

    /// Advances a `tat` already at or past `not_before` by `span`; `None` when it lies behind.
    async fn extend(
        &self,
        tenant: &str,
        span: i64,
        not_before: i64,
        expires: i64,
    ) -> Result<Option<i64>, PaceError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::tenant_key(tenant)))
            .update_expression("SET tat = tat + :span, expiresAt = :exp")
            .condition_expression("tat >= :nb")
            .expression_attribute_values(":span", n(span))
            .expression_attribute_values(":nb", n(not_before))
            .expression_attribute_values(":exp", n(expires))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        self.tenant_writes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(output) => Ok(output
                .attributes
                .as_ref()
                .and_then(|item| number(item, "tat"))
                .map(|tat| tat - span)),
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(unavailable(&map_sdk_error(e))),
        }
    }

    /// Sets `tat` to `end` when it lies before `not_before` (or was never set); whether it did.
    async fn restart(
        &self,
        tenant: &str,
        end: i64,
        not_before: i64,
        expires: i64,
    ) -> Result<bool, PaceError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::tenant_key(tenant)))
            .update_expression("SET tat = :end, expiresAt = :exp")
            .condition_expression("attribute_not_exists(tat) OR tat < :nb")
            .expression_attribute_values(":end", n(end))
            .expression_attribute_values(":nb", n(not_before))
            .expression_attribute_values(":exp", n(expires))
            .send()
            .await;
        self.tenant_writes.fetch_add(1, Ordering::Relaxed);
        written(result).map_err(|e| unavailable(&e))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.threads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `next` over version `known`; `Err(current)` when another instance wrote first.
    async fn write_thread(
        &self,
        thread: &str,
        next: &ThreadLedger,
        known: i64,
        expires: Option<DateTime<Utc>>,
    ) -> Result<Result<(), Cached>, PaceError> {
        let mut item = key(&format!("{PACE_THREAD_PREFIX}{thread}"), PACE_SK);
        item.insert("g".into(), list(next.grants.iter().copied()));
        item.insert("h".into(), list(next.long.iter().copied()));
        item.insert("v".into(), n(known + 1));
        if let Some(expires) = expires {
            item.insert("expiresAt".into(), n(expires.timestamp() + 1));
        }
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        request = if known == 0 {
            request.condition_expression("attribute_not_exists(pk)")
        } else {
            request
                .condition_expression("v = :v")
                .expression_attribute_values(":v", n(known))
        };
        let result = request.send().await;
        self.thread_writes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) if condition_failed(&e) => {
                self.conflicts.fetch_add(1, Ordering::Relaxed);
                let current = match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                        failed.item.as_ref()
                    }
                    _ => None,
                };
                Ok(Err(cached(current)))
            }
            Err(e) => Err(unavailable(&map_sdk_error(e))),
        }
    }
}

#[async_trait]
impl TenantPace for DynamoPace {
    async fn reserve(&self, tenant: &str, request: &BlockRequest) -> Result<SlotBlock, PaceError> {
        // The item keeps whole microseconds: start at the next one.
        let not_before = micros(request.not_before + Duration::from_nanos(999));
        let block = SlotBlock::after(
            None,
            &BlockRequest {
                not_before: from_micros(not_before),
                ..*request
            },
        );
        let span = span_micros(request.interval * block.count);
        let expires = (request.not_before + TENANT_TTL).timestamp();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                self.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(first) = self.extend(tenant, span, not_before, expires).await? {
                return Ok(SlotBlock {
                    first: from_micros(first),
                    ..block
                });
            }
            if self
                .restart(tenant, not_before + span, not_before, expires)
                .await?
            {
                return Ok(block);
            }
        }
        Err(PaceError::Contended(ATTEMPTS))
    }

    async fn pause(&self, tenant: &str, until: DateTime<Utc>) -> Result<(), PaceError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::tenant_key(tenant)))
            .update_expression("SET tat = :until, pausedUntil = :until, expiresAt = :exp")
            .condition_expression("attribute_not_exists(tat) OR tat < :until")
            .expression_attribute_values(":until", n(micros(until)))
            .expression_attribute_values(":exp", n((until + TENANT_TTL).timestamp()))
            .send()
            .await;
        self.tenant_writes.fetch_add(1, Ordering::Relaxed);
        // Not written when a later reservation or pause already holds the tenant past `until`.
        written(result).map(drop).map_err(|e| unavailable(&e))
    }

    fn lead(&self) -> Duration {
        self.lead
    }

    fn threads(&self) -> Option<&dyn ThreadWindows> {
        Some(self)
    }
}

#[async_trait]
impl ThreadWindows for DynamoPace {
    async fn admit(
        &self,
        thread: &str,
        windows: &[Window],
        margin: Duration,
        at: DateTime<Utc>,
    ) -> Result<Admission, PaceError> {
        let mut state = self.cache().get(thread).cloned().unwrap_or_default();
        for _ in 0..ATTEMPTS {
            // What this instance last saw is a subset of what is stored: a "not yet" from it holds.
            let ready = state.ledger.ready(windows, margin, at);
            if ready > at {
                return Ok(Admission::NotBefore(ready));
            }
            let mut next = state.ledger.clone();
            next.record(windows, margin, at);
            let expires = next.expires(windows, margin);
            match self
                .write_thread(thread, &next, state.version, expires)
                .await?
            {
                Ok(()) => {
                    let mut cache = self.cache();
                    if cache.len() >= CACHED_THREADS {
                        cache.clear();
                    }
                    cache.insert(
                        thread.to_owned(),
                        Cached {
                            ledger: next,
                            version: state.version + 1,
                        },
                    );
                    return Ok(Admission::Admitted);
                }
                Err(current) => state = current,
            }
        }
        Err(PaceError::Contended(ATTEMPTS))
    }
}
