//! The pace contract, run against one process's `MemoryPace` and the shared `DynamoPace` on
//! DynamoDB Local: K instances reserving blocks of one tenant's slots at once never come closer
//! than the interval to each other (no window ever holds more than the rate) and together use
//! every slot (they reach the rate); a pause holds every instance. On DynamoDB, K instances
//! admitting sends to one conversation keep its windows.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_domain::pace::{
    Admission, BlockRequest, MemoryPace, SlotBlock, TenantPace, ThreadWindows, Window,
};
use herald_store::DynamoPace;

const INSTANCES: usize = 4;
/// 100 slots a second.
const INTERVAL: Duration = Duration::from_millis(10);
const RUN: Duration = Duration::from_secs(3);

/// `count` instances of the shared pace on one fresh table, each with its own memory.
async fn dynamo_instances(count: usize) -> Vec<DynamoPace> {
    let table = herald_testkit::unique_name("pacing");
    let instances: Vec<DynamoPace> = (0..count)
        .map(|_| DynamoPace::new(herald_testkit::dynamodb_client(), table.clone()))
        .collect();
    instances[0].ensure_table().await.unwrap();
    instances
}

async fn dynamo() -> DynamoPace {
    dynamo_instances(1).await.remove(0)
}

fn tenant() -> String {
    format!("tenant-{}", uuid::Uuid::new_v4().simple())
}

/// One instance with sends always waiting: as a throttle does, it reserves the next block once
/// this one is handed out (when its first slot comes), until `RUN` is over.
async fn instance(
    pace: Arc<dyn TenantPace>,
    tenant: String,
    block: u32,
) -> Vec<(DateTime<Utc>, SlotBlock)> {
    let started = Utc::now();
    let mut blocks = Vec::new();
    while Utc::now() - started < chrono::Duration::from_std(RUN).unwrap() {
        let request = BlockRequest {
            slots: block,
            interval: INTERVAL,
            not_before: Utc::now() + pace.lead(),
        };
        let reserved = pace.reserve(&tenant, &request).await.unwrap();
        assert_eq!(reserved.count, block);
        assert!(reserved.first >= request.not_before);
        let wake = reserved.first;
        if let Ok(wait) = (wake - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        blocks.push((request.not_before, reserved));
    }
    blocks
}

async fn instances_share_the_rate(pace: Arc<dyn TenantPace>) {
    let tenant = tenant();
    // A first request opens the connection and the table: not part of the steady state.
    let warm_up = BlockRequest {
        slots: 1,
        interval: INTERVAL,
        not_before: Utc::now(),
    };
    pace.reserve(&format!("{tenant}-warm-up"), &warm_up)
        .await
        .unwrap();
    let runs: Vec<_> = (0..INSTANCES)
        .map(|i| tokio::spawn(instance(pace.clone(), tenant.clone(), 10 + 5 * i as u32)))
        .collect();
    let mut blocks: Vec<(DateTime<Utc>, SlotBlock)> = Vec::new();
    for run in runs {
        blocks.extend(run.await.unwrap());
    }
    blocks.sort_by_key(|(_, block)| block.first);
    let mut slots: Vec<DateTime<Utc>> = blocks.iter().flat_map(|(_, b)| b.slots()).collect();
    slots.sort();
    // Never closer than the interval: no second holds more than the rate.
    for pair in slots.windows(2) {
        assert!(
            pair[1] - pair[0] >= chrono::Duration::from_std(INTERVAL).unwrap(),
            "{} and {} are closer than {INTERVAL:?}",
            pair[0],
            pair[1]
        );
    }
    // Together they reach the rate: each block starts where the one before ended, or when it
    // was asked for if that is later (the pace leaves no gap of its own; the share of the span
    // used depends on how promptly the instances ask, which `benches/scale_out` measures).
    for pair in blocks.windows(2) {
        let (asked, block) = pair[1];
        let expected = pair[0].1.end().max(asked);
        assert!(
            block.first <= expected + Duration::from_micros(1),
            "a gap before {block:?}: expected it at {expected}"
        );
    }
}

async fn a_pause_holds_every_instance(pace: Arc<dyn TenantPace>) {
    let tenant = tenant();
    let request = |not_before| BlockRequest {
        slots: 5,
        interval: INTERVAL,
        not_before,
    };
    // Whole microseconds, as the shared item keeps them.
    let now = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
    let first = pace.reserve(&tenant, &request(now)).await.unwrap();
    assert_eq!(first.first, now);
    let until = now + Duration::from_secs(3);
    pace.pause(&tenant, until).await.unwrap();
    // An earlier pause does not shorten it.
    pace.pause(&tenant, now + Duration::from_secs(1))
        .await
        .unwrap();
    let after = pace.reserve(&tenant, &request(Utc::now())).await.unwrap();
    assert_eq!(after.first, until);
    let next = pace.reserve(&tenant, &request(Utc::now())).await.unwrap();
    assert_eq!(next.first, after.end());
}

#[tokio::test]
async fn memory_instances_share_the_rate() {
    instances_share_the_rate(Arc::new(MemoryPace::new())).await;
}

#[tokio::test]
async fn memory_pause_holds_every_instance() {
    a_pause_holds_every_instance(Arc::new(MemoryPace::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_instances_share_the_rate() {
    instances_share_the_rate(Arc::new(dynamo().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_pause_holds_every_instance() {
    a_pause_holds_every_instance(Arc::new(dynamo().await)).await;
}

/// Instances (each its own `DynamoPace`, so nothing is shared but the table) admitting sends to
/// one conversation as fast as its windows allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_instances_keep_a_conversations_windows() {
    let table_instances = dynamo_instances(INSTANCES).await;
    let windows = [
        Window::new(3, Duration::from_millis(300)),
        Window::new(4, Duration::from_millis(700)),
    ];
    let thread = format!("{}|w|a:1", tenant());
    let admitted = Arc::new(Mutex::new(Vec::new()));
    let runs: Vec<_> = table_instances
        .into_iter()
        .map(|pace| {
            let thread = thread.clone();
            let admitted = admitted.clone();
            tokio::spawn(async move {
                let started = Utc::now();
                while Utc::now() - started < chrono::Duration::seconds(2) {
                    let at = Utc::now() + Duration::from_millis(30);
                    match pace
                        .admit(&thread, &windows, Duration::ZERO, at)
                        .await
                        .unwrap()
                    {
                        Admission::Admitted => admitted.lock().unwrap().push(at),
                        Admission::NotBefore(later) => {
                            if let Ok(wait) = (later - Utc::now()).to_std() {
                                tokio::time::sleep(wait.saturating_sub(Duration::from_millis(30)))
                                    .await;
                            }
                        }
                    }
                }
                pace.writes()
            })
        })
        .collect();
    let mut conflicts = 0;
    for run in runs {
        conflicts += run.await.unwrap().conflicts;
    }
    let mut admitted = admitted.lock().unwrap().clone();
    admitted.sort();
    for window in &windows {
        let period = chrono::Duration::from_std(window.period).unwrap();
        let mut start = 0;
        for (end, at) in admitted.iter().enumerate() {
            while *at - admitted[start] >= period {
                start += 1;
            }
            assert!(
                end + 1 - start <= window.limit as usize,
                "{window:?} exceeded: {admitted:?}"
            );
        }
    }
    // Two seconds of 4 per 700 ms: the instances got past the first window, contending for one
    // item (how many more depends on this machine's load).
    assert!(admitted.len() > 4, "{admitted:?}");
    assert!(conflicts > 0, "four instances never raced for the item");
}

/// A second start on an existing pacing table (the local runner restarted on DynamoDB Local, a
/// second instance) finds its time to live already on and goes on.
#[tokio::test]
async fn ensuring_an_existing_table_again_succeeds() {
    let pace = dynamo().await;
    pace.ensure_table().await.unwrap();
}
