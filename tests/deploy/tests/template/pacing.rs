//! The shared pace in the template: every function that sends to Teams draws from the pacing
//! table, and the sender scales out on it.

use herald_deploy_tests::ref_target;

use super::{PACING, actions_on, events, function, functions, template};

#[test]
fn every_function_that_sends_to_teams_shares_the_pace() {
    let template = template();
    for (id, function) in functions(&template) {
        let variables = &function["Properties"]["Environment"]["Variables"];
        // The functions with the bot password send to Teams; each draws from the shared pace.
        let sends = variables.get("HERALD_SECRET_ARN").is_some();
        let pacing = actions_on(function, "PacingTable");
        if sends {
            assert_eq!(
                ref_target(&variables["HERALD_PACING_TABLE"]),
                Some(PACING.logical_name),
                "{id}"
            );
            assert_eq!(
                ref_target(&variables["HERALD_TENANT_RATE"]),
                Some("TenantRate"),
                "{id}: one tenant rate for every function that sends"
            );
            assert_eq!(
                pacing,
                [
                    "dynamodb:PutItem".to_owned(),
                    "dynamodb:UpdateItem".to_owned()
                ]
                .into(),
                "{id} reserves slots (UpdateItem) and records conversation windows (PutItem)"
            );
        } else {
            assert!(variables.get("HERALD_PACING_TABLE").is_none(), "{id}");
            assert!(pacing.is_empty(), "{id} may write the pacing table");
        }
    }
    // No stream on the pacing table: its writes must not wake the sender.
    assert!(PACING.stream.is_none());
}

#[test]
fn the_sender_scales_out_on_the_shared_pace() {
    let template = template();
    let concurrency = template.parameter("SenderReservedConcurrency").unwrap();
    let default = concurrency["Default"].as_u64().unwrap();
    assert!(
        default > 1,
        "the shared pace lets more than one instance send"
    );
    assert!(default <= concurrency["MaxValue"].as_u64().unwrap());
    let sender = function(&template, "SenderFunction");
    assert_eq!(
        ref_target(&sender["Properties"]["ReservedConcurrentExecutions"]),
        Some("SenderReservedConcurrency")
    );
    let (_, _, stream) = events(&template, "DynamoDB")
        .into_iter()
        .find(|(id, _, _)| *id == "SenderFunction")
        .unwrap();
    let factor = stream["Properties"]["ParallelizationFactor"]
        .as_u64()
        .unwrap();
    // Lambda's range; batches of one notification stay in order on one of them.
    assert!((2..=10).contains(&factor), "{factor}");
}
