//! The local runner (one process, embedded store) broadcasting to one tenant at Teams' 50/s,
//! against the Teams emulator enforcing that rate as a strict sliding window counted at arrival,
//! answering at once and 150 ms late: the sends in flight follow rate x latency, so both reach
//! the rate (target >= 97%, <= 0.1% 429).
//!
//! Run: `cargo bench -p herald-local --bench local_pace`. `BENCH_SENDS` sets the recipients
//! (default 1,000), `BENCH_RATE` the tenant rate (default 50).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt as _;
use herald_bootstrap::LOCAL_APP_ID;
use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationReference, ServiceUrl, TenantId, UserId,
    UserInfo,
};
use herald_store::{EmbeddedReferenceStore, ReferenceWriter as _};
use herald_teams_emulator::{EmulatorConfig, EmulatorLimits, Latency, TeamsEmulator};
use serde_json::json;
use support::Runner;

const TENANT: &str = "72f988bf-0000-4000-8000-00000000010c";

/// People with a personal chat in the emulator and a reference in the runner's data directory.
async fn seed(emulator: &TeamsEmulator, dir: &std::path::Path, people: usize) {
    let app = BotAppId::new(LOCAL_APP_ID).expect("the local app id");
    let references = EmbeddedReferenceStore::open(dir, app.clone()).expect("open the store");
    let service_url = ServiceUrl::parse(&emulator.service_url()).expect("a service URL");
    let seeded: Vec<_> = (0..people)
        .map(|i| {
            let user = emulator.add_user(TENANT, &format!("Person {i}"));
            let chat = emulator.add_personal_chat(TENANT, &user.id);
            ConversationReference::personal(
                TenantId::new(TENANT).expect("tenant"),
                ConversationId::new(&chat).expect("chat"),
                service_url.clone(),
                &app,
                UserInfo {
                    id: UserId::new(&user.id).expect("user"),
                    aad_object_id: AadObjectId::new(&user.aad_object_id).ok(),
                    name: None,
                },
                Utc::now(),
            )
        })
        .collect();
    futures::stream::iter(seeded)
        .map(|reference| {
            let references = &references;
            async move { references.upsert(&reference).await.expect("seed") }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
}

async fn broadcast(latency: Latency, people: usize, rate: u32) {
    let limits = EmulatorLimits::teams().tenant_rate(Some(rate)).strict();
    let emulator = TeamsEmulator::start(
        EmulatorConfig::default()
            .require_auth(false)
            .limits(limits)
            .latency(latency),
    )
    .await
    .expect("start the emulator");
    let data = tempfile::tempdir().expect("a data directory");
    seed(&emulator, data.path(), people).await;
    let runner = Runner::start(
        data.path(),
        &[
            ("HERALD_TENANT_RATE", rate.to_string()),
            ("RUST_LOG", "warn".to_owned()),
        ],
    )
    .await;
    let started = Instant::now();
    let (status, body) = runner
        .post(
            "/api/notify",
            &json!({"target": {"kind": "all"}, "message": {"text": "Local broadcast"}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let budget = Duration::from_secs_f64(people as f64 / f64::from(rate) * 3.0 + 60.0);
    while (emulator.counters().accepted as usize) < people && started.elapsed() < budget {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut arrivals = emulator.accepted_arrivals(TENANT);
    arrivals.sort();
    let share = match (arrivals.first(), arrivals.last()) {
        (Some(first), Some(last)) if arrivals.len() > 1 => {
            (arrivals.len() - 1) as f64
                / last.duration_since(*first).as_secs_f64()
                / f64::from(rate)
        }
        _ => 0.0,
    };
    let counters = emulator.counters();
    let requests = counters.accepted + counters.rate_limited;
    println!(
        "local runner, {people} recipients at {rate}/s, latency {:?}: {:.1}% of the rate, \
         busiest second {}, 429: {} of {requests} ({:.3}%), duplicates {}, {} sent, {:.1} s",
        latency.max(),
        share * 100.0,
        emulator.busiest_tenant_window(TENANT, Duration::from_secs(1)),
        counters.throttled,
        counters.throttled as f64 / requests.max(1) as f64 * 100.0,
        emulator.duplicates().len(),
        arrivals.len(),
        started.elapsed().as_secs_f64(),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let people = herald_testkit::env_number("BENCH_SENDS", 1_000);
    let rate = herald_testkit::env_number("BENCH_RATE", 50) as u32;
    for latency in [Duration::ZERO, Duration::from_millis(150)] {
        broadcast(Latency::fixed(latency), people, rate).await;
    }
}
