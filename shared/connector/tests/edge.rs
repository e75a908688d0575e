//! Pacing measured where Teams counts: several throttles (instances) drawing from one tenant pace
//! send through real HTTP to the emulator, whose answers come 0-200 ms late, and the emulator
//! counts every request at its arrival. Whether it meters the tenant as a strict sliding window
//! or as a token bucket of the same rate, no second ever holds more than the rate and nothing is
//! answered 429.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use herald_connector::{
    Activity, Call, Connector as _, ConnectorExt, HttpConnector, Limits, Throttle,
};
use herald_domain::pace::{MemoryPace, TenantPace};
use herald_domain::{ConversationId, ServiceUrl, SystemClock, TenantId};
use herald_teams_emulator::{
    CountAt, EmulatorConfig, EmulatorLimits, Latency, TeamsEmulator, TenantModel,
};

#[path = "support/mod.rs"]
mod support;

use support::config_from;

const TENANT: &str = "72f988bf-0000-0000-0000-0000000000ed";
const RATE: u32 = 25;
const INSTANCES: usize = 3;
const SENDS: usize = 150;

async fn paced_through(limits: EmulatorLimits) {
    let emulator = TeamsEmulator::start(
        EmulatorConfig::default()
            .limits(limits)
            .latency(Latency::between(Duration::ZERO, Duration::from_millis(200))),
    )
    .await
    .unwrap();
    let config = config_from(&emulator.connector_env());
    let service_url = ServiceUrl::parse(&emulator.service_url()).unwrap();
    let tenant = TenantId::new(TENANT).unwrap();
    let chats: Vec<ConversationId> = (0..SENDS)
        .map(|i| {
            let user = emulator.add_user(TENANT, &format!("U{i}"));
            ConversationId::new(emulator.add_personal_chat(TENANT, &user.id)).unwrap()
        })
        .collect();
    let pace: Arc<dyn TenantPace> = Arc::new(MemoryPace::new());
    let instances: Vec<Throttle<HttpConnector>> = (0..INSTANCES)
        .map(|_| {
            HttpConnector::new(&config).unwrap().throttle_shared(
                Limits::teams().tenant_rate(Some(RATE)),
                pace.clone(),
                Arc::new(SystemClock),
            )
        })
        .collect();
    let activity = Activity::message().text("paced");
    let results: Vec<_> = futures::stream::iter(chats.iter().enumerate())
        .map(|(i, chat)| {
            let instance = &instances[i % INSTANCES];
            let activity = &activity;
            let service_url = &service_url;
            let tenant = &tenant;
            async move {
                instance
                    .send_to_conversation(Call::new(service_url, tenant), chat, activity)
                    .await
            }
        })
        .buffer_unordered(48)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(emulator.count_status(429), 0);
    assert_eq!(emulator.counters().throttled, 0);
    assert_eq!(emulator.accepted_arrivals(TENANT).len(), SENDS);
    let busiest = emulator.busiest_tenant_window(TENANT, Duration::from_secs(1));
    assert!(busiest <= RATE as usize, "{busiest} in one second");
    for instance in &instances {
        let counters = instance.meter().counters();
        assert_eq!(counters.throttled, 0);
        assert!(counters.blocks > 0 && counters.block_slots >= counters.blocks);
    }
}

/// Both models in one test, one after the other: run side by side, each would load the machine
/// under the other's pacing, and a request dispatched late by a starved CPU is late at Teams.
#[tokio::test]
async fn a_strict_sliding_window_and_a_token_bucket_of_the_same_rate_never_refuse() {
    paced_through(EmulatorLimits::teams().tenant_rate(Some(RATE)).strict()).await;
    paced_through(
        EmulatorLimits::teams()
            .tenant_rate(Some(RATE))
            .tenant_model(TenantModel::TokenBucket)
            .count_at(CountAt::Arrival)
            .tolerance(Duration::ZERO),
    )
    .await;
}
