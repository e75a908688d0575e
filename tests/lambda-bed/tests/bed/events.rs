//! The EventBridge endpoint: PutEvents through the AWS SDK, rules, asynchronous retries.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use herald_lambda_bed::template::AsyncSpec;
use herald_lambda_bed::{AsyncPolicy, EventBus, FailureSource, OutcomeKind, Pattern, Rule};
use serde_json::json;

use crate::support::probe;

fn client(url: &str) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
                "t", "t", None, None, "test",
            ))
            .build(),
    )
}

fn entry(detail_type: &str, action: &str) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name("bed-bus")
        .source("com.contoso.probe")
        .detail_type(detail_type)
        .detail(json!({"action": action}).to_string())
        .build()
}

#[tokio::test]
async fn matching_events_invoke_the_target_asynchronously_with_retries_then_on_failure() {
    let probe = probe("Events", Duration::from_secs(10), 2, &[]);
    let bus = EventBus::start("us-east-1", probe.log.clone())
        .await
        .unwrap();
    bus.add_rule(Rule {
        name: "ProbeRule".to_owned(),
        bus: "bed-bus".to_owned(),
        pattern: Pattern::new(json!({"detail-type": ["probe.Test"]})),
        target: probe.function.clone(),
        policy: AsyncPolicy {
            spec: AsyncSpec {
                on_failure: Some("ProbeEventFailures".to_owned()),
                ..AsyncSpec::default()
            },
            delays: vec![Duration::from_millis(100)],
        },
    });
    let answer = client(&bus.url())
        .put_events()
        .entries(entry("probe.Test", "echo"))
        .entries(entry("probe.Other", "echo"))
        .entries(entry("probe.Test", "error"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.failed_entry_count(), 0);
    assert_eq!(answer.entries().len(), 3);
    let events = probe.log.events();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events.iter().map(|e| e.rules.len()).collect::<Vec<_>>(),
        [1, 0, 1]
    );
    assert_eq!(events[0].event["detail-type"], "probe.Test");
    assert_eq!(events[0].event["detail"]["action"], "echo");

    let failure = probe
        .log
        .wait(Duration::from_secs(20), |log| {
            log.failures().first().cloned()
        })
        .await
        .unwrap();
    assert_eq!(failure.source, FailureSource::Async);
    assert_eq!(failure.destination.as_deref(), Some("ProbeEventFailures"));
    assert_eq!(
        failure.body["requestContext"]["condition"],
        "RetriesExhausted"
    );
    assert_eq!(failure.body["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(failure.body["requestPayload"]["detail"]["action"], "error");
    assert_eq!(
        failure.body["responsePayload"]["errorMessage"],
        "the probe was asked to fail"
    );
    let outcomes: Vec<OutcomeKind> = probe.log.invocations().iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == OutcomeKind::Ok).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == OutcomeKind::Error)
            .count(),
        3,
        "one try and two retries"
    );
    // A test can put an event itself.
    bus.put(
        "bed-bus",
        "com.contoso.probe",
        "probe.Test",
        &json!({"action": "echo"}),
    )
    .unwrap();
    probe
        .log
        .wait(Duration::from_secs(10), |log| {
            (log.invocations().len() == 5).then_some(())
        })
        .await
        .unwrap();
}
