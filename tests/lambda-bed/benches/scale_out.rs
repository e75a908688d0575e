//! Scale-out delivery on the deployed shape: sender instances in the Lambda test bed sharing
//! each tenant's pace through the pacing table on DynamoDB Local, against the Teams emulator
//! enforcing the tenant rate as a strict sliding window counted at arrival, with 0-200 ms of
//! latency jitter. Rates are scaled (20/s per tenant) so that this machine is not the bottleneck.
//!
//! - `one-tenant`: one tenant, 4 sender instances (target: >= 97% of the rate, <= 0.1% 429);
//! - `ten-tenants`: 10 tenants, 4 instances (target: >= 95% of 10 x the rate, <= 0.1% 429).
//!
//! Run: `.ci/with-services cargo bench -p herald-lambda-bed --bench scale_out [one-tenant|ten-tenants]`.
//! `BENCH_RATE` sets the tenant rate, `BENCH_SENDS` the sends per tenant of the one-tenant case.

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
    let rate = herald_testkit::env_number("BENCH_RATE", 20) as u32;
    let jitter = Latency::between(Duration::ZERO, Duration::from_millis(200));
    if wanted("one-tenant") {
        let fleet = Fleet {
            tenants: 1,
            per_tenant: herald_testkit::env_number("BENCH_SENDS", 600),
            notifications_per_tenant: 8,
            rate,
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
            per_tenant: herald_testkit::env_number("BENCH_SENDS", 600) / 3,
            notifications_per_tenant: 2,
            rate,
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
