//! Connector throughput against the Teams emulator, in one process on 127.0.0.1.
//!
//! (a) raw sends per second per core, limits off: client and emulator share ONE OS thread (a
//!     tokio current-thread runtime), so the figure is what one core sustains for both ends.
//! (b) sends to 10,000 conversations through Throttle + Retry while the emulator enforces the
//!     per-conversation windows and a 500/s tenant rate: achieved rate as a share of that
//!     ceiling, and how many requests the emulator answered 429.
//!
//! Run: `cargo bench -p herald-connector --bench connector` (prints; not a timed test).

use std::time::Duration;

use futures::StreamExt as _;
use herald_connector::{
    Activity, Call, Connector, ConnectorExt, HttpConnector, Limits, RetryPolicy,
};
use herald_domain::{ConversationId, ServiceUrl, TenantId};
use herald_teams_emulator::{EmulatorConfig, EmulatorLimits, TeamsEmulator};
use tokio::time::Instant;

#[path = "../tests/support/mod.rs"]
mod support;

use support::config_from;

const TENANT: &str = "72f988bf-0000-0000-0000-0000000000be";

fn connector(emulator: &TeamsEmulator) -> HttpConnector {
    HttpConnector::new(&config_from(&emulator.connector_env())).expect("connector")
}

fn conversations(emulator: &TeamsEmulator, n: usize) -> Vec<ConversationId> {
    (0..n)
        .map(|i| {
            let user = emulator.add_user(TENANT, &format!("User {i}"));
            ConversationId::new(emulator.add_personal_chat(TENANT, &user.id)).expect("id")
        })
        .collect()
}

async fn send_all<C: Connector>(
    connector: &C,
    service_url: &ServiceUrl,
    tenant: &TenantId,
    targets: &[ConversationId],
    total: usize,
    concurrency: usize,
) -> (usize, usize) {
    let activity = Activity::message()
        .text("Benchmark notification")
        .summary("Herald");
    let results: Vec<bool> = futures::stream::iter(0..total)
        .map(|i| {
            let conversation = &targets[i % targets.len()];
            let activity = &activity;
            async move {
                connector
                    .send_to_conversation(Call::new(service_url, tenant), conversation, activity)
                    .await
                    .is_ok()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let ok = results.iter().filter(|ok| **ok).count();
    (ok, total - ok)
}

fn raw_throughput() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let emulator = TeamsEmulator::start(EmulatorConfig::default().limits(EmulatorLimits::off()))
            .await
            .expect("emulator");
        let service_url = ServiceUrl::parse(&emulator.service_url()).expect("url");
        let tenant = TenantId::new(TENANT).expect("tenant");
        let targets = conversations(&emulator, 100);
        let http = connector(&emulator);
        // Warm-up: token, connection pool.
        send_all(&http, &service_url, &tenant, &targets, 2_000, 32).await;
        emulator.clear_log();
        let total = 30_000;
        let started = Instant::now();
        let (ok, failed) = send_all(&http, &service_url, &tenant, &targets, total, 32).await;
        let elapsed = started.elapsed();
        println!("(a) raw sends, limits off, HttpConnector only");
        println!("    one core = client + emulator together on one OS thread (tokio current_thread runtime)");
        println!(
            "    {ok} sent ({failed} failed) in {:.2} s = {:.0} sends/s per core (target >= 5,000)",
            elapsed.as_secs_f64(),
            ok as f64 / elapsed.as_secs_f64()
        );
    });
}

fn paced_fan_out() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let rate = 500;
        let limits = EmulatorLimits::teams().tenant_rate(Some(rate));
        let emulator = TeamsEmulator::start(EmulatorConfig::default().limits(limits))
            .await
            .expect("emulator");
        let service_url = ServiceUrl::parse(&emulator.service_url()).expect("url");
        let tenant = TenantId::new(TENANT).expect("tenant");
        let total = 10_000;
        let targets = conversations(&emulator, total);
        let connector = connector(&emulator)
            .throttle(Limits::teams().tenant_rate(Some(rate)))
            .retry(RetryPolicy::default());
        let started = Instant::now();
        let (ok, failed) = send_all(&connector, &service_url, &tenant, &targets, total, 256).await;
        let elapsed = started.elapsed();
        let log = emulator.requests();
        let sends: Vec<_> = log.iter().filter(|r| r.operation == "sendToConversation").collect();
        let throttled = emulator.count_status(429);
        let span = match (sends.first(), sends.last()) {
            (Some(first), Some(last)) => last.at.duration_since(first.at),
            _ => Duration::ZERO,
        };
        let client_rate = ok as f64 / elapsed.as_secs_f64();
        // n requests evenly paced occupy (n - 1) intervals.
        let server_rate = (sends.len().saturating_sub(1)) as f64 / span.as_secs_f64().max(1e-9);
        println!("(b) {total} conversations, Throttle + Retry, emulator enforcing Teams windows + {rate}/s per tenant");
        println!(
            "    {ok} delivered ({failed} failed) in {:.2} s: {client_rate:.1}/s = {:.1}% of the {rate}/s ceiling (client wall clock)",
            elapsed.as_secs_f64(),
            100.0 * client_rate / f64::from(rate)
        );
        println!(
            "    arrival rate at the emulator: {server_rate:.1}/s = {:.1}% of ceiling (target >= 97%)",
            100.0 * server_rate / f64::from(rate)
        );
        println!(
            "    429 answers: {throttled} of {} requests = {:.3}% (target <= 0.1%)",
            sends.len(),
            100.0 * throttled as f64 / sends.len().max(1) as f64
        );
    });
}

fn main() {
    let wants = herald_testkit::bench_parts();
    if wants("raw") {
        raw_throughput();
    }
    if wants("paced") {
        paced_fan_out();
    }
}
