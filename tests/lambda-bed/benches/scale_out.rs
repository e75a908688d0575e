//! Scale-out delivery on the deployed shape: sender instances in the Lambda test bed sharing
//! each tenant's pace through the pacing table on DynamoDB Local, against the Teams emulator
//! enforcing the tenant rate as a strict sliding window counted at arrival, with 0-200 ms of
//! latency jitter. Rates are scaled so that this 2-core machine is not the bottleneck (every
//! send is five DynamoDB Local writes): 20/s for one tenant, 4/s per tenant for ten (40/s in
//! all).
//!
//! - `one-tenant`: one tenant, 600 sends, 4 sender instances (target: >= 97% of the rate,
//!   <= 0.1% 429);
//! - `ten-tenants`: 10 tenants, 400 sends each, 4 instances (target: >= 95% of 10 x the rate,
//!   <= 0.1% 429).
//!
//! Run: `.ci/with-services cargo bench -p herald-lambda-bed --bench scale_out [one-tenant|ten-tenants]`.
//! `BENCH_RATE` sets the tenant rate and `BENCH_SENDS` the sends per tenant of both cases;
//! `FLEET_LOGS=dir` keeps every instance's output and a timeline of the run there.

#[path = "../tests/fleet/mod.rs"]
mod fleet;

use std::time::Duration;

use fleet::Fleet;
use herald_teams_emulator::Latency;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));
    let rate = |default| herald_testkit::env_number("BENCH_RATE", default) as u32;
    let sends = |default| herald_testkit::env_number("BENCH_SENDS", default);
    let jitter = Latency::between(Duration::ZERO, Duration::from_millis(200));
    if wanted("one-tenant") {
        let fleet = Fleet {
            tenants: 1,
            per_tenant: sends(600),
            notifications_per_tenant: 8,
            rate: rate(20),
            instances: 4,
            latency: jitter,
        };
        let report = fleet.run().await;
        report.print(
            "one-tenant: one tenant, 4 sender instances (target >= 97% of the rate, <= 0.1% 429)",
            &fleet,
        );
    }
    if wanted("ten-tenants") {
        let fleet = Fleet {
            tenants: 10,
            per_tenant: sends(400),
            notifications_per_tenant: 2,
            rate: rate(4),
            instances: 4,
            latency: jitter,
        };
        let report = fleet.run().await;
        report.print(
            "ten-tenants: 10 tenants, 4 sender instances (target >= 95% of 10 x the rate, <= 0.1% 429)",
            &fleet,
        );
    }
}
