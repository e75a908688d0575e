//! Taking on waiting deliveries. Lambda hands a stream's records to an instance a batch per lane,
//! and a lane's next batch waits until its current one ends
//! (<https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>): with more lanes than instances
//! (`ParallelizationFactor` x shards over the reserved concurrency), or with batches cut while a
//! notification was still being expanded, the deliveries of some tenants wait in batches no
//! instance runs while those tenants' pace goes unused. So an instance running a batch looks, now
//! and then, in the outbox's due index for the deliveries written most recently that no sender
//! holds, and sends those of the tenants it is not sending to at all, alongside its batch. Claims
//! keep it safe: whoever claims a delivery first sends it, and the stream record that comes later
//! finds it done.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use futures::future::{Fuse, FusedFuture as _, FutureExt as _};
use futures::stream::FuturesUnordered;
use herald_store::{OutboxChange, STRANDED_AFTER, StrandedWork};
use rand::seq::SliceRandom as _;
use tokio::sync::Notify;

use crate::SenderFunction;

/// Entries of the due index a look reads at most: enough to see every tenant waiting among a
/// few thousand deliveries (about 75 read units on DynamoDB).
const LOOK_LIMIT: usize = 2048;

/// Where and how often a sender looks for waiting deliveries.
pub struct Helper {
    pub work: Arc<dyn StrandedWork>,
    /// The sender's lease: a claimed delivery is due when its lease ends, so entries due later
    /// than a lease from now are deliveries no sender holds.
    pub lease: chrono::Duration,
    /// The first look comes this long after the batch starts: a batch may leave tenants idle
    /// from its start.
    pub first: Duration,
    /// The next look comes this long after one that saw idle tenants' deliveries; a look that
    /// saw none doubles the pause, up to `max_pause`.
    pub every: Duration,
    pub max_pause: Duration,
}

impl Helper {
    #[must_use]
    pub fn new(work: Arc<dyn StrandedWork>, lease: chrono::Duration) -> Self {
        Self {
            work,
            lease,
            first: Duration::from_millis(250),
            every: Duration::from_secs(1),
            max_pause: Duration::from_secs(16),
        }
    }
}

/// The tenants of a batch with deliveries not started yet, and how many; a tenant whose last
/// one starts is a tenant the batch may soon leave idle, so it calls for a look.
#[derive(Debug, Default)]
pub(crate) struct Unstarted {
    counts: Mutex<HashMap<String, usize>>,
    exhausted: Notify,
}

impl Unstarted {
    pub(crate) fn of<'a>(changes: impl Iterator<Item = &'a OutboxChange>) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for tenant in changes.filter_map(OutboxChange::tenant) {
            *counts.entry(tenant.to_owned()).or_default() += 1;
        }
        Self {
            counts: Mutex::new(counts),
            exhausted: Notify::new(),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn started(&self, tenant: Option<&str>) {
        let Some(tenant) = tenant else { return };
        let mut counts = self.counts();
        if let Some(count) = counts.get_mut(tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(tenant);
                self.exhausted.notify_one();
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.counts().is_empty()
    }

    fn has(&self, tenant: &str) -> bool {
        self.counts().contains_key(tenant)
    }
}

/// What one batch took on: every delivery (so none is taken twice) and, by tenant, those not
/// finished yet.
#[derive(Default)]
struct Taken {
    all: HashSet<OutboxChange>,
    running: HashMap<String, usize>,
}

impl SenderFunction {
    /// Runs `batch` to its end and, while it runs, the waiting deliveries `helper` finds; those
    /// already started finish before this returns, those not started yet are left.
    pub(crate) async fn alongside<T>(
        &self,
        helper: &Helper,
        batch: impl Future<Output = T>,
        unstarted: &Unstarted,
        stop_at: Option<DateTime<Utc>>,
    ) -> T {
        let mut batch = std::pin::pin!(batch);
        let closing = AtomicBool::new(false);
        let taken = Mutex::new(Taken::default());
        let mut helping = FuturesUnordered::new();
        let mut pause = helper.every;
        let mut look_at = tokio::time::Instant::now() + helper.first;
        // A look runs beside the batch and the deliveries taken on, never in their way.
        let mut look = std::pin::pin!(Fuse::terminated());
        let result = loop {
            tokio::select! {
                result = &mut batch => break result,
                Some(()) = helping.next(), if !helping.is_empty() => {}
                () = unstarted.exhausted.notified() => {
                    pause = helper.every;
                    look_at = look_at.min(tokio::time::Instant::now() + pause);
                }
                () = tokio::time::sleep_until(look_at), if look.is_terminated() => {
                    look.set(self.waiting(helper, unstarted, &taken).fuse());
                }
                (found, idle) = &mut look, if !look.is_terminated() => {
                    pause = if idle == 0 {
                        (pause * 2).min(helper.max_pause)
                    } else {
                        helper.every
                    };
                    look_at = tokio::time::Instant::now() + pause;
                    if !found.is_empty() {
                        tracing::debug!(deliveries = found.len(), "taking on waiting deliveries");
                    }
                    for change in found {
                        helping.push(self.take_on(change, &closing, &taken, stop_at));
                    }
                }
            }
        };
        closing.store(true, Ordering::SeqCst);
        while helping.next().await.is_some() {}
        let taken = taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .all
            .len();
        if taken > 0 {
            tracing::info!(taken, "took on waiting deliveries beside the batch");
        }
        result
    }

    /// Sends one delivery taken on, unless the batch ended before the gate let it in.
    async fn take_on(
        &self,
        change: OutboxChange,
        closing: &AtomicBool,
        taken: &Mutex<Taken>,
        stop_at: Option<DateTime<Utc>>,
    ) {
        let tenant = change.tenant().unwrap_or_default().to_owned();
        {
            let _pass = self.in_flight.enter(Some(&tenant)).await;
            if !closing.load(Ordering::SeqCst) {
                self.run(&change, stop_at).await;
            }
        }
        let mut taken = taken.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = taken.running.get_mut(&tenant) {
            *count = count.saturating_sub(1);
        }
    }

    /// The latest waiting deliveries of tenants this instance is not sending to (or only through
    /// what it took on), up to each tenant's bound in flight less what it runs of it already;
    /// and how many waiting deliveries of such tenants the look saw (taken or not).
    async fn waiting(
        &self,
        helper: &Helper,
        unstarted: &Unstarted,
        taken: &Mutex<Taken>,
    ) -> (Vec<OutboxChange>, usize) {
        let now = self.clock.now();
        let mut found = match helper
            .work
            .latest_due(now + helper.lease, now + STRANDED_AFTER, LOOK_LIMIT)
            .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for waiting deliveries");
                return (Vec::new(), 0);
            }
        };
        // Instances looking at once then take different ones first.
        found.shuffle(&mut rand::rng());
        let per_tenant = self.in_flight.in_flight().per_tenant();
        let mut taken = taken.lock().unwrap_or_else(PoisonError::into_inner);
        let mut chosen = Vec::new();
        let mut idle = 0;
        for change in found {
            let Some(tenant) = change.tenant().map(str::to_owned) else {
                continue;
            };
            let running = taken.running.get(&tenant).copied().unwrap_or(0);
            // Sending to this tenant already: its pace is in use here.
            let sending = unstarted.has(&tenant) || self.in_flight.active_of(&tenant) > running;
            if sending {
                continue;
            }
            idle += 1;
            if running >= per_tenant || taken.all.contains(&change) {
                continue;
            }
            *taken.running.entry(tenant).or_default() += 1;
            taken.all.insert(change.clone());
            chosen.push(change);
        }
        (chosen, idle)
    }
}
