//! Every number the bed runs with comes from `template.yaml`.

use std::time::Duration;

use herald_lambda_bed::template::{FunctionSpec, Refs, Resolver, StartingPosition, load_template};
use serde_json::json;

fn refs(route_pattern: &str) -> Refs {
    [
        ("BotAppId", "00000000-0000-0000-0000-00000000b0b0"),
        ("ReferencesTable", "refs"),
        ("OutboxTable", "outbox"),
        ("SchedulesTable", "schedules"),
        ("PacingTable", "pacing"),
        ("HeraldBus", "bus"),
        ("RouteEventPattern", route_pattern),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The template's functions, resolved without a route pattern.
fn functions() -> Vec<FunctionSpec> {
    let template = load_template().unwrap();
    Resolver::new(&template, &refs("")).functions().unwrap()
}

#[test]
fn the_functions_are_read_with_their_settings_and_event_sources() {
    let functions = functions();
    let find = |id: &str| functions.iter().find(|f| f.logical_id == id).unwrap();
    let sender = find("SenderFunction");
    assert_eq!(sender.binary, "herald-sender");
    assert_eq!(
        (sender.timeout, sender.memory_mb),
        (Duration::from_secs(300), 512)
    );
    assert_eq!(
        sender.reserved_concurrency,
        Some(10),
        "SenderReservedConcurrency's default"
    );
    assert_eq!(sender.log_format.as_deref(), Some("JSON"));
    assert_eq!(sender.environment["HERALD_OUTBOX_TABLE"], "outbox");
    assert_eq!(sender.environment["HERALD_EVENT_BUS"], "bus");
    assert_eq!(sender.environment["HERALD_PACING_TABLE"], "pacing");
    assert_eq!(sender.environment["HERALD_DELIVERY_TTL_DAYS"], "30");
    assert!(!sender.environment.contains_key("HERALD_SECRET_ARN"));
    let stream = &sender.streams[0];
    assert_eq!(stream.table, "OutboxTable");
    assert_eq!(stream.starting_position, StartingPosition::TrimHorizon);
    assert_eq!(
        (stream.batch_size, stream.batching_window),
        (1000, Duration::from_secs(1))
    );
    assert_eq!(stream.parallelization_factor, 10);
    assert!(stream.report_batch_item_failures && stream.bisect_on_error);
    assert_eq!(stream.max_retries, Some(10));
    assert_eq!(stream.max_record_age, Some(Duration::from_secs(21_600)));
    assert_eq!(stream.on_failure.as_deref(), Some("StreamFailuresQueue"));
    assert_eq!(sender.async_config.max_retries, 2);
    assert_eq!(
        sender.async_config.on_failure.as_deref(),
        Some("EventFailuresQueue")
    );
    assert_eq!(
        sender.rules.len(),
        1,
        "no RouteEventsRule without a pattern"
    );
    assert_eq!(sender.rules[0].bus, "bus");
    assert!(
        sender.rules[0]
            .pattern
            .matches(&json!({"detail-type": "herald.Notify"}))
    );

    let scheduler = find("SchedulerFunction");
    assert_eq!(
        (scheduler.timeout, scheduler.reserved_concurrency),
        (Duration::from_secs(55), Some(1))
    );
    assert_eq!(scheduler.schedules[0].period, Duration::from_secs(60));
    let webhook = find("WebhookFunction");
    assert_eq!(
        (webhook.timeout, webhook.reserved_concurrency),
        (Duration::from_secs(15), None)
    );
    assert_eq!(webhook.routes.len(), 1);
    assert_eq!(
        (
            webhook.routes[0].method.as_str(),
            webhook.routes[0].path.as_str()
        ),
        ("POST", "/api/messages")
    );
    assert_eq!(find("NotifyFunction").routes.len(), 18);
}

#[test]
fn the_route_rule_exists_only_with_a_pattern() {
    let template = load_template().unwrap();
    let refs = refs(r#"{"source": ["com.contoso.billing"]}"#);
    let functions = Resolver::new(&template, &refs).functions().unwrap();
    let sender = functions
        .iter()
        .find(|f| f.logical_id == "SenderFunction")
        .unwrap();
    let route = sender
        .rules
        .iter()
        .find(|r| r.name == "RouteEventsRule")
        .unwrap();
    assert!(
        route
            .pattern
            .matches(&json!({"source": "com.contoso.billing"}))
    );
    assert!(!route.pattern.matches(&json!({"source": "herald"})));
}

/// The stream's filters let through exactly the records the sender acts on: anything else would
/// take a place in a batch for nothing, and a record filtered out that it acts on would be lost.
#[test]
fn the_stream_filters_pass_exactly_what_the_sender_acts_on() {
    let functions = functions();
    let sender = functions
        .iter()
        .find(|f| f.logical_id == "SenderFunction")
        .unwrap();
    let filters = &sender.streams[0].filters;
    let n = "n-0123456789abcdef0123456789abcdef";
    let delivery = |status: &str| {
        json!({"pk": {"S": format!("{n}#03")}, "sk": {"S": "d#t|19:c"},
               "status": {"S": status}})
    };
    let header = |expanded: bool| {
        json!({"pk": {"S": n}, "sk": {"S": "#notification"},
               "expanded": {"BOOL": expanded}})
    };
    let images = [
        ("INSERT", delivery("pending")),
        ("MODIFY", delivery("pending")),
        ("MODIFY", delivery("sending")),
        ("MODIFY", delivery("sent")),
        ("MODIFY", delivery("failed")),
        ("INSERT", header(false)),
        ("MODIFY", header(false)),
        ("MODIFY", header(true)),
        ("INSERT", json!({"pk": {"S": n}, "sk": {"S": "#edit"}})),
        (
            "INSERT",
            json!({"pk": {"S": "t|19:c"}, "sk": {"S": "copy#n0001"}, "status": {"S": "pending"}}),
        ),
        ("REMOVE", delivery("pending")),
    ];
    for (event, image) in images {
        let mut record = json!({
            "eventID": "1", "eventName": event, "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1", "eventVersion": "1.1", "eventSourceARN": "arn",
            "dynamodb": {"Keys": {"pk": image["pk"], "sk": image["sk"]}, "SequenceNumber": "1",
                         "SizeBytes": 100, "StreamViewType": "NEW_IMAGE"}
        });
        if event != "REMOVE" {
            record["dynamodb"]["NewImage"] = image.clone();
        }
        let passes = filters.iter().any(|f| f.matches(&record));
        let parsed: aws_lambda_events::dynamodb::EventRecord =
            serde_json::from_value(record).unwrap();
        let acted_on = herald_store::OutboxChange::from_stream_record(&parsed).is_some();
        assert_eq!(passes, acted_on, "{event} {image}");
    }
}
