//! The chaos run: 3,000 people over 3 tenants install the app through the webhook, then a
//! broadcast, a schedule fired at each recipient's own time and a routed EventBridge event go out
//! through Herald's real binaries on the bed while every fault of the bed and the Teams emulator
//! is injected (see `ChaosPlan::all_faults`). Every delivery must end sent, every notification
//! `done` with counts equal to its deliveries' statuses, nothing lost, and every duplicate the
//! emulator holds counted by Herald. Needs DynamoDB Local: run through `.ci/with-services`.

use herald_lambda_bed::scenario::{ChaosPlan, ScenarioConfig, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_ends_sent_and_counted_under_every_fault() {
    let config = ScenarioConfig {
        chaos: Some(ChaosPlan::all_faults()),
        ..ScenarioConfig::standard()
    };
    let report = run(&config).await.unwrap();
    println!("chaos run: {report}");
    for notification in &report.notifications {
        println!("  {notification:?}");
    }
    let problems = report.problems();
    assert!(problems.is_empty(), "{problems:#?}");
    let faults = &report.faults;
    assert!(faults.kills >= 2, "{faults:?}");
    assert!(faults.timeouts.len() == 2, "{faults:?}");
    assert!(
        faults.dynamo_throttled > 0 && faults.dynamo_internal_errors > 0,
        "{faults:?}"
    );
    assert!(
        faults.teams_server_errors > 0 && faults.token_refused > 0,
        "{faults:?}"
    );
}
