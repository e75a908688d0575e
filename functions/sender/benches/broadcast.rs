//! A broadcast to N personal conversations in one tenant through the whole local pipeline,
//! against the Teams emulator enforcing a tenant rate.
//!
//! The pipeline runs as the local runner drives it: references in an `EmbeddedReferenceStore`, the
//! notification in an `EmbeddedOutboxStore` (redb files in a temp dir), whose change feed is the
//! stand-in for the DynamoDB stream. Every `OutboxChange::Notification` triggers
//! `SenderFunction::run(OutboxChange::Notification)` (one expander at a time), every
//! `OutboxChange::Delivery` a `SenderFunction::run(OutboxChange::Delivery)` with at most `IN_FLIGHT`
//! deliveries at once; a trigger that asks to be retried is run again after a pause, as Lambda
//! replays a failed record. The connector is `HttpConnector` + `Throttle` (the tenant rate set to
//! the ceiling) + `Retry`; the emulator enforces Teams' per-conversation windows and the same
//! tenant rate.
//!
//! Measured: from just before the notification is created to the moment its header reads `done`.
//! Printed: time, achieved sends/s as a share of the ceiling, the emulator's 429 answers, duplicate
//! and lost messages (per conversation in the emulator, and per delivery record in the outbox).
//! The `store` part times the outbox's claims and outcomes call by call.
//!
//! Run: `cargo bench -p herald-sender --bench broadcast` (N = 20,000 at 500/s).
//! `BENCH_N=2000 BENCH_RATE=500` pick another size or ceiling; `BENCH_IN_FLIGHT` the concurrency;
//! `BENCH_DIR` where the redb files go (default: the system temp dir; `/dev/shm` makes fsync free,
//! which isolates the cost of redb's one fsync per commit).
//! A filter argument selects a part: `pipeline` (the benchmark) or `store` (the outbox alone).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt as _;
use herald_connector::{ConnectorConfig, ConnectorExt, HttpConnector, Limits, RetryPolicy};
use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationReference, DeliveryId, DeliveryStatus,
    ServiceUrl, SystemClock, TenantId, UserId, UserInfo,
};
use herald_events::EmbeddedEventPublisher;
use herald_pipeline::request::NotifyRequest;
use herald_pipeline::{Sender, StrandedSweep};
use herald_sender::{SenderFunction, TriggerResult};
use herald_store::{
    Claim, DeliveryRecord, EmbeddedOutboxStore, EmbeddedReferenceStore, NotificationId,
    NotificationRecord, NotificationStatus, OutboxChange, OutboxStore, Outcome, PageRequest,
    ReferenceWriter,
};
use herald_teams_emulator::{EmulatorConfig, EmulatorLimits, TeamsEmulator};
use serde_json::json;
use tokio::sync::{Semaphore, broadcast};
use tokio::task::JoinSet;
use tokio::time::Instant;

const TENANT: &str = "72f988bf-0000-0000-0000-0000000000be";

/// A retried trigger runs again after this pause (Lambda replays after a back-off too).
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Call count and latency of one store operation.
#[derive(Default)]
struct Timing {
    calls: AtomicU64,
    nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl Timing {
    async fn time<T>(&self, work: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = work.await;
        let nanos = started.elapsed().as_nanos() as u64;
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
        result
    }

    fn report(&self, name: &str, elapsed: Duration) {
        let calls = self.calls.load(Ordering::Relaxed);
        if calls == 0 {
            return;
        }
        let total = Duration::from_nanos(self.nanos.load(Ordering::Relaxed));
        println!(
            "      {name:<16} {calls:>7} calls, mean {:>6.2} ms, max {:>7.2} ms, {:>6.0}/s over the run",
            total.as_secs_f64() * 1e3 / calls as f64,
            self.max_nanos.load(Ordering::Relaxed) as f64 / 1e6,
            calls as f64 / elapsed.as_secs_f64()
        );
    }
}

/// A fresh directory for the redb files, under `BENCH_DIR` if set.
fn data_dir() -> tempfile::TempDir {
    match std::env::var_os("BENCH_DIR") {
        Some(parent) => tempfile::tempdir_in(parent).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn connector(emulator: &TeamsEmulator, rate: u32) -> impl herald_connector::Connector + use<> {
    let env = emulator.connector_env();
    let config = ConnectorConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    HttpConnector::new(&config)
        .unwrap()
        .throttle(Limits::teams().tenant_rate(Some(rate)))
        .retry(RetryPolicy::default())
}

fn reference(
    emulator: &TeamsEmulator,
    app: &BotAppId,
    conversation: &str,
    user: &str,
    aad: &str,
) -> ConversationReference {
    ConversationReference::personal(
        TenantId::new(TENANT).unwrap(),
        ConversationId::new(conversation).unwrap(),
        ServiceUrl::parse(&emulator.service_url()).unwrap(),
        app,
        UserInfo {
            id: UserId::new(user).unwrap(),
            aad_object_id: Some(AadObjectId::new(aad).unwrap()),
            name: None,
        },
        Utc::now(),
    )
}

/// N users with a personal chat in the emulator and a stored reference. Setup, not measured:
/// redb commits one upsert at a time, so a few upserts in flight only keep the writer busy.
async fn seed(
    emulator: &TeamsEmulator,
    references: &EmbeddedReferenceStore,
    app: &BotAppId,
    n: usize,
) -> Vec<String> {
    let started = Instant::now();
    let seeded: Vec<ConversationReference> = (0..n)
        .map(|i| {
            let user = emulator.add_user(TENANT, &format!("User {i}"));
            let chat = emulator.add_personal_chat(TENANT, &user.id);
            reference(emulator, app, &chat, &user.id, &user.aad_object_id)
        })
        .collect();
    futures::stream::iter(&seeded)
        .map(|r| async move { references.upsert(r).await.unwrap() })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let elapsed = started.elapsed();
    println!(
        "    setup: {n} references seeded in {:.1} s ({:.0} upserts/s, one redb commit each)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    seeded
        .into_iter()
        .map(|r| r.conversation_id.as_str().to_owned())
        .collect()
}

fn function(
    references: &Arc<EmbeddedReferenceStore>,
    outbox: &Arc<EmbeddedOutboxStore>,
    connector: Arc<dyn herald_connector::Connector>,
    app: &BotAppId,
) -> SenderFunction {
    let sender = Sender::new(
        references.clone(),
        outbox.clone(),
        connector,
        Arc::new(EmbeddedEventPublisher::default()),
        Arc::new(SystemClock),
        app.clone(),
    );
    support::sender_function(sender, 64)
}

fn broadcast_notification() -> NotificationRecord {
    let body = json!({
        "target": {"kind": "all"},
        "message": {"text": "Benchmark broadcast: the building closes at 18:00 today."}
    });
    NotifyRequest::from_json(&body).unwrap().into_notification(
        "api",
        Utc::now(),
        chrono::Duration::days(30),
    )
}

/// What the runner did, beyond the notification's own counts.
#[derive(Default)]
struct RunStats {
    delivery_triggers: usize,
    expand_triggers: usize,
    retries: usize,
    lagged: u64,
    first_delivery_at: Option<Duration>,
}

/// The local runner's loop: the change feed triggers expansion and deliveries until the
/// notification reads `done`. Returns when it does.
async fn drive(
    function: &Arc<SenderFunction>,
    store: &EmbeddedOutboxStore,
    mut feed: broadcast::Receiver<OutboxChange>,
    id: &NotificationId,
    in_flight: usize,
    started: Instant,
) -> RunStats {
    let permits = Arc::new(Semaphore::new(in_flight));
    let mut tasks: JoinSet<(OutboxChange, TriggerResult)> = JoinSet::new();
    let mut scheduled: HashSet<DeliveryId> = HashSet::new();
    let mut expanding = false;
    let mut stats = RunStats::default();
    let spawn =
        |tasks: &mut JoinSet<(OutboxChange, TriggerResult)>, trigger: OutboxChange, pause: bool| {
            let (function, permits) = (function.clone(), permits.clone());
            tasks.spawn(async move {
                if pause {
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                let result = match &trigger {
                    OutboxChange::Notification(_) | OutboxChange::Edit(_) => {
                        function.run(&trigger, None).await
                    }
                    OutboxChange::Delivery(..) => {
                        let _permit = permits.acquire_owned().await.unwrap();
                        function.run(&trigger, None).await
                    }
                };
                (trigger, result)
            });
        };
    let mut feed_open = true;
    // The runner's stranded-work sweep: it wakes deliveries given back with a backoff.
    let sweep = StrandedSweep::new(Arc::new(store.clone()), Arc::new(SystemClock));
    let mut sweeps = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = sweeps.tick() => {
                sweep.sweep().await.unwrap();
            }
            change = feed.recv(), if feed_open => match change {
                Ok(OutboxChange::Notification(n)) if &n == id => {
                    if !expanding {
                        expanding = true;
                        stats.expand_triggers += 1;
                        spawn(&mut tasks, OutboxChange::Notification(n), false);
                    }
                }
                Ok(OutboxChange::Delivery(n, delivery)) if &n == id => {
                    if scheduled.insert(delivery.clone()) {
                        stats.first_delivery_at.get_or_insert_with(|| started.elapsed());
                        stats.delivery_triggers += 1;
                        spawn(&mut tasks, OutboxChange::Delivery(n, delivery), false);
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // As a restarted runner would: rescan what is not finished.
                    stats.lagged += missed;
                    for work in store.unfinished().await.unwrap() {
                        if let OutboxChange::Delivery(n, delivery) = work
                            && &n == id
                            && scheduled.insert(delivery.clone())
                        {
                            stats.delivery_triggers += 1;
                            spawn(&mut tasks, OutboxChange::Delivery(n, delivery), false);
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => feed_open = false,
            },
            Some(joined) = tasks.join_next() => {
                let (trigger, result) = joined.unwrap();
                if let OutboxChange::Delivery(_, delivery) = &trigger {
                    // Not in flight any more: a later wake may trigger it again.
                    scheduled.remove(delivery);
                }
                match (&trigger, result) {
                    (OutboxChange::Notification(n), _) => {
                        let header = store.get_notification(n).await.unwrap().unwrap();
                        if header.expanded {
                            expanding = false;
                        } else {
                            stats.expand_triggers += 1;
                            spawn(&mut tasks, trigger, result == TriggerResult::Retry);
                        }
                    }
                    (OutboxChange::Delivery(..), TriggerResult::Retry) => {
                        stats.retries += 1;
                        spawn(&mut tasks, trigger, true);
                    }
                    // The benchmark never replaces content: no edit job is triggered.
                    (OutboxChange::Delivery(..), TriggerResult::Done) | (OutboxChange::Edit(_), _) => {}
                }
                if tasks.is_empty() && !expanding {
                    let header = store.get_notification(id).await.unwrap().unwrap();
                    if header.status() == NotificationStatus::Done {
                        return stats;
                    }
                }
            },
            else => panic!("feed closed with work outstanding"),
        }
    }
}

/// Every delivery of the notification, page after page.
async fn all_deliveries(store: &EmbeddedOutboxStore, id: &NotificationId) -> Vec<DeliveryRecord> {
    let mut all = Vec::new();
    let mut request = PageRequest {
        cursor: None,
        limit: Some(1000),
    };
    loop {
        let page = store.list_deliveries(id, None, &request).await.unwrap();
        all.extend(page.items);
        match page.next_cursor {
            Some(next) => request.cursor = Some(next),
            None => return all,
        }
    }
}

/// Deliveries of the notification by status.
async fn delivery_statuses(
    store: &EmbeddedOutboxStore,
    id: &NotificationId,
) -> HashMap<DeliveryStatus, usize> {
    let mut statuses = HashMap::new();
    for d in all_deliveries(store, id).await {
        *statuses.entry(d.status).or_insert(0) += 1;
    }
    statuses
}

/// The runtime both parts run on: two worker threads.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn pipeline(n: usize, rate: u32, in_flight: usize) {
    runtime().block_on(async {
        let dir = data_dir();
        println!(
            "broadcast to {n} personal conversations in one tenant, {rate}/s tenant ceiling, {in_flight} deliveries in flight, redb files in {}",
            dir.path().display()
        );
        let limits = EmulatorLimits::teams().tenant_rate(Some(rate));
        let emulator = TeamsEmulator::start(EmulatorConfig::default().limits(limits))
            .await
            .unwrap();
        let app = BotAppId::new(emulator.config().app_id.clone()).unwrap();
        let references = Arc::new(EmbeddedReferenceStore::open(dir.path(), app.clone()).unwrap());
        let conversations = seed(&emulator, &references, &app, n).await;
        let store = Arc::new(EmbeddedOutboxStore::open(dir.path()).unwrap());
        let function = Arc::new(function(
            &references,
            &store,
            Arc::new(connector(&emulator, rate)),
            &app,
        ));

        let feed = store.subscribe();
        let record = broadcast_notification();
        let id = record.id.clone();
        let started = Instant::now();
        assert_eq!(store.create_notification(&record).await.unwrap(), None);
        let stats = drive(&function, &store, feed, &id, in_flight, started).await;
        let elapsed = started.elapsed();

        report(&emulator, &store, &id, &conversations, &stats, rate, elapsed).await;
    });
}

async fn report(
    emulator: &TeamsEmulator,
    store: &EmbeddedOutboxStore,
    id: &NotificationId,
    conversations: &[String],
    stats: &RunStats,
    rate: u32,
    elapsed: Duration,
) {
    let n = conversations.len();
    let header = store.get_notification(id).await.unwrap().unwrap();
    let statuses = delivery_statuses(store, id).await;
    let sent_records = statuses.get(&DeliveryStatus::Sent).copied().unwrap_or(0);
    let received: Vec<usize> = conversations
        .iter()
        .map(|c| emulator.activities(c).len())
        .collect();
    let duplicates = received.iter().filter(|r| **r > 1).count();
    let extra_messages: usize = received.iter().map(|r| r.saturating_sub(1)).sum();
    let missing = received.iter().filter(|r| **r == 0).count();
    let delivered = received.iter().filter(|r| **r >= 1).count();
    let not_sent = n.saturating_sub(sent_records);
    let lost = missing.max(not_sent);

    let log = emulator.requests();
    let sends: Vec<_> = log
        .iter()
        .filter(|r| r.operation == "sendToConversation")
        .collect();
    let throttled = emulator.count_status(429);
    let span = match (sends.first(), sends.last()) {
        (Some(earliest), Some(latest)) => latest.at.duration_since(earliest.at),
        _ => Duration::ZERO,
    };
    let achieved = delivered as f64 / elapsed.as_secs_f64();
    let arrival = sends.len().saturating_sub(1) as f64 / span.as_secs_f64().max(1e-9);
    let ceiling = f64::from(rate);

    println!("    N = {n}");
    println!(
        "    time: {:.2} s from notification created to done (first delivery triggered after {:.0} ms; {} expand trigger(s), {} delivery triggers, {} retried, {} feed messages missed)",
        elapsed.as_secs_f64(),
        stats.first_delivery_at.unwrap_or_default().as_secs_f64() * 1e3,
        stats.expand_triggers,
        stats.delivery_triggers,
        stats.retries,
        stats.lagged,
    );
    println!(
        "    achieved rate: {achieved:.1} sends/s = {:.1}% of the {rate}/s ceiling (target >= 97%)",
        100.0 * achieved / ceiling
    );
    println!(
        "    arrival rate at the emulator, first to last send: {arrival:.1}/s = {:.1}% of the ceiling",
        100.0 * arrival / ceiling
    );
    println!(
        "    429 answers: {throttled} of {} requests ({} sends) = {:.3}% (target <= 0.1%)",
        log.len(),
        sends.len(),
        100.0 * throttled as f64 / log.len().max(1) as f64
    );
    println!(
        "    duplicates: {duplicates} conversations got more than one message ({extra_messages} extra messages) (target 0)"
    );
    println!(
        "    lost: {lost} ({missing} conversations got nothing; {not_sent} deliveries not recorded sent) (target 0)"
    );
    let mut counts: Vec<_> = header.counts.iter().filter(|(_, c)| **c != 0).collect();
    counts.sort();
    println!(
        "    notification: {:?}, {} pages expanded, counts {counts:?}",
        header.status(),
        header.expansion_pages
    );
}

/// The outbox alone, no sends: expansion pages and claim + record pairs at full speed, i.e.
/// the ceiling the embedded store puts on the pipeline.
fn store_alone(n: usize, in_flight: usize) {
    runtime().block_on(async {
        println!("outbox store alone (no sends): {n} deliveries, {in_flight} in flight");
        let emulator =
            TeamsEmulator::start(EmulatorConfig::default().limits(EmulatorLimits::off()))
                .await
                .unwrap();
        let app = BotAppId::new(emulator.config().app_id.clone()).unwrap();
        let dir = data_dir();
        let references = Arc::new(EmbeddedReferenceStore::open(dir.path(), app.clone()).unwrap());
        seed(&emulator, &references, &app, n).await;
        store_passes(&references, dir.path(), &emulator, &app, in_flight).await;
    });
}

async fn store_passes(
    references: &Arc<EmbeddedReferenceStore>,
    dir: &Path,
    emulator: &TeamsEmulator,
    app: &BotAppId,
    in_flight: usize,
) {
    let store = Arc::new(EmbeddedOutboxStore::open(dir).unwrap());
    let function = function(references, &store, Arc::new(connector(emulator, 50)), app);
    let record = broadcast_notification();
    let id = record.id.clone();
    store.create_notification(&record).await.unwrap();
    let started = Instant::now();
    let expansion = function
        .expander
        .expand(&id, Utc::now() + chrono::Duration::minutes(10))
        .await
        .unwrap();
    let expand_time = started.elapsed();
    let deliveries: Vec<DeliveryId> = all_deliveries(&store, &id)
        .await
        .into_iter()
        .map(|d| d.delivery_id)
        .collect();
    println!(
        "    expansion: {expansion:?}, {} deliveries in {:.2} s = {:.0} deliveries/s",
        deliveries.len(),
        expand_time.as_secs_f64(),
        deliveries.len() as f64 / expand_time.as_secs_f64()
    );
    let (claims, outcomes) = (Timing::default(), Timing::default());
    let started = Instant::now();
    futures::stream::iter(&deliveries)
        .map(|d| {
            let (store, id, claims, outcomes) = (&store, &id, &claims, &outcomes);
            async move {
                let now = Utc::now();
                let lease = now + chrono::Duration::minutes(2);
                let claim = claims.time(store.claim_delivery(id, d, now, lease)).await;
                assert!(matches!(claim.unwrap(), Claim::Claimed(_)));
                let outcome = Outcome {
                    status: DeliveryStatus::Sent,
                    activity_id: Some("1".into()),
                    error: None,
                    conversation_id: None,
                    service_url: None,
                    copy: None,
                };
                let recorded = outcomes
                    .time(store.record_outcome(id, d, lease, &outcome, now))
                    .await;
                assert!(recorded.unwrap());
            }
        })
        .buffer_unordered(in_flight)
        .collect::<Vec<()>>()
        .await;
    let elapsed = started.elapsed();
    println!(
        "    claim + record: {} pairs in {:.2} s = {:.0} deliveries/s ({:.0} commits/s) = the store's ceiling for the pipeline",
        deliveries.len(),
        elapsed.as_secs_f64(),
        deliveries.len() as f64 / elapsed.as_secs_f64(),
        2.0 * deliveries.len() as f64 / elapsed.as_secs_f64()
    );
    println!("    outbox store (redb, one write transaction per call, commits serialised):");
    claims.report("claim_delivery", elapsed);
    outcomes.report("record_outcome", elapsed);
}

fn main() {
    let wants = herald_testkit::bench_parts();
    let n = herald_testkit::env_number("BENCH_N", 20_000);
    let rate = u32::try_from(herald_testkit::env_number("BENCH_RATE", 500)).unwrap_or(500);
    let in_flight = herald_testkit::env_number("BENCH_IN_FLIGHT", 64);
    if wants("pipeline") {
        pipeline(n, rate, in_flight);
    }
    if wants("store") {
        store_alone(n, in_flight);
    }
}
