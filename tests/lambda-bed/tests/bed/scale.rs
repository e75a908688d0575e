//! A short version of the scale-out benchmark (`benches/scale_out.rs`): two sender instances
//! share two tenants' paces through the pacing table while the emulator meters each tenant as a
//! strict sliding window with 0-200 ms of latency. No timing is asserted: every send lands
//! once, no second holds more than the rate, and (almost) nothing is answered 429.

use std::time::Duration;

use herald_teams_emulator::Latency;

use crate::fleet::Fleet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_instances_share_each_tenants_pace() {
    let fleet = Fleet {
        tenants: 2,
        per_tenant: 60,
        notifications_per_tenant: 3,
        rate: 20,
        instances: 2,
        latency: Latency::between(Duration::ZERO, Duration::from_millis(200)),
    };
    let report = fleet.run().await;
    report.print("two tenants, two sender instances", &fleet);
    assert_eq!(report.missing, 0, "{report:#?}");
    assert_eq!(report.duplicates, 0, "{report:#?}");
    for tenant in &report.tenants {
        assert!(tenant.busiest <= fleet.rate as usize, "{report:#?}");
    }
    // At most one refusal in 120 sends: pacing that ignored the other instance would meet dozens.
    assert!(report.throttled <= 1, "{report:#?}");
}
