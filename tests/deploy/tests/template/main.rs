//! template.yaml against the code: the tables the store creates, the function packages, and the
//! SAM function properties `sam validate --lint` does not check.

mod pacing;
mod tables;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use herald_deploy_tests::{
    Template, get_att, intrinsic, is_schedule_expression, mentions, ref_target, workspace_root,
};
use herald_store::schema::{OUTBOX, PACING, REFERENCES, SCHEDULES, TableSchema};
use serde_norway::Value;

const SCHEMAS: [TableSchema; 4] = [REFERENCES, OUTBOX, SCHEDULES, PACING];

fn template() -> Template {
    Template::load().unwrap()
}

fn functions(template: &Template) -> Vec<(&str, &Value)> {
    template.of_type("AWS::Serverless::Function")
}

fn function<'a>(template: &'a Template, logical_id: &str) -> &'a Value {
    template
        .resource(logical_id)
        .unwrap_or_else(|| panic!("{logical_id} is missing"))
}

/// `(logical id, event name, event)` of every function event of one SAM type.
fn events<'a>(template: &'a Template, kind: &str) -> Vec<(&'a str, &'a str, &'a Value)> {
    let mut found = Vec::new();
    for (id, function) in functions(template) {
        let Some(events) = function["Properties"]
            .get("Events")
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        for (name, event) in events {
            if event["Type"].as_str() == Some(kind) {
                found.push((id, name.as_str().unwrap(), event));
            }
        }
    }
    found
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Sequence(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The IAM statements of a function's inline policies.
fn statements(function: &Value) -> Vec<&Value> {
    function["Properties"]["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|policy| {
            assert!(
                policy.get("Statement").is_some(),
                "policies are written out as statements, not SAM policy templates: {policy:?}"
            );
            policy["Statement"].as_sequence().unwrap().iter()
        })
        .collect()
}

/// Actions a function may take on a resource (by logical id or parameter name).
fn actions_on(function: &Value, target: &str) -> BTreeSet<String> {
    statements(function)
        .into_iter()
        .filter(|s| mentions(&s["Resource"]).contains(target))
        .flat_map(|s| strings(&s["Action"]).into_iter().map(str::to_owned))
        .collect()
}

#[test]
fn every_function_package_is_one_lambda_built_by_cargo_lambda() {
    let template = template();
    let root = workspace_root();
    let architecture = template.parameter("Architecture").unwrap();
    assert_eq!(architecture["Default"].as_str(), Some("arm64"));
    assert_eq!(strings(&architecture["AllowedValues"]), ["arm64", "x86_64"]);

    let metadata = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        metadata.status.success(),
        "{}",
        String::from_utf8_lossy(&metadata.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout).unwrap();
    // Package directory -> its binary targets.
    let binaries: BTreeMap<std::path::PathBuf, Vec<String>> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let dir = Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap();
            let bins = p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect();
            (dir.canonicalize().unwrap(), bins)
        })
        .collect();

    let mut code_dirs = BTreeSet::new();
    for (id, function) in functions(&template) {
        let properties = &function["Properties"];
        assert_eq!(
            properties["Runtime"].as_str(),
            Some("provided.al2023"),
            "{id}"
        );
        assert_eq!(properties["Handler"].as_str(), Some("bootstrap"), "{id}");
        let architectures = properties["Architectures"].as_sequence().unwrap();
        assert_eq!(architectures.len(), 1, "{id}");
        assert_eq!(ref_target(&architectures[0]), Some("Architecture"), "{id}");
        assert_eq!(
            function["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );

        let code_uri = properties["CodeUri"].as_str().unwrap();
        let dir = root.join(code_uri);
        assert!(
            dir.join("Cargo.toml").is_file(),
            "{id}: {code_uri} has no Cargo.toml"
        );
        let bins = binaries
            .get(&dir.canonicalize().unwrap())
            .unwrap_or_else(|| panic!("{id}: {code_uri} is not a workspace package"));
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        assert!(
            bins.iter().any(|b| b == binary),
            "{id}: {code_uri} builds {bins:?}, not {binary}"
        );
        assert!(
            code_dirs.insert(code_uri.to_owned()),
            "{code_uri} deployed twice"
        );

        let logging = &properties["LoggingConfig"];
        assert_eq!(logging["LogFormat"].as_str(), Some("JSON"), "{id}");
        let group = ref_target(&logging["LogGroup"]).unwrap();
        let group = template.resource(group).unwrap();
        assert_eq!(group["Type"].as_str(), Some("AWS::Logs::LogGroup"));
        assert!(
            ref_target(&group["Properties"]["RetentionInDays"]).is_some()
                || group["Properties"]["RetentionInDays"].as_u64().is_some(),
            "{id}: log retention is not set"
        );
    }

    let packages: BTreeSet<String> = std::fs::read_dir(root.join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| format!("functions/{}", p.file_name().unwrap().to_str().unwrap()))
        .collect();
    assert_eq!(
        code_dirs, packages,
        "every function package is deployed once"
    );
}

#[test]
fn the_outbox_stream_drives_the_sender_with_partial_failures() {
    let template = template();
    let streams = events(&template, "DynamoDB");
    assert!(!streams.is_empty());
    for (id, name, event) in &streams {
        let p = &event["Properties"];
        let (table, attribute) = get_att(&p["Stream"]).unwrap();
        assert_eq!(attribute, "StreamArn");
        let schema = SCHEMAS.iter().find(|s| s.logical_name == table).unwrap();
        assert!(
            schema.stream.is_some(),
            "{table} has no stream in the schema"
        );
        assert_eq!(
            p["StartingPosition"].as_str(),
            Some("TRIM_HORIZON"),
            "{id}.{name}"
        );
        assert!(strings(&p["FunctionResponseTypes"]).contains(&"ReportBatchItemFailures"));
        assert_eq!(p["BisectBatchOnFunctionError"].as_bool(), Some(true));
        let retries = p["MaximumRetryAttempts"].as_i64().unwrap();
        assert!(
            (0..=10_000).contains(&retries),
            "retries must be bounded, not {retries}"
        );
        let batch = p["BatchSize"].as_u64().unwrap_or(100);
        assert!((1..=10_000).contains(&batch));
        let failures = &p["DestinationConfig"]["OnFailure"];
        assert_eq!(failures["Type"].as_str(), Some("SQS"));
        let (queue, _) = get_att(&failures["Destination"]).unwrap();
        assert_eq!(
            template.resource(&queue).unwrap()["Type"].as_str(),
            Some("AWS::SQS::Queue")
        );
    }
    assert_eq!(
        streams
            .iter()
            .map(|(id, _, e)| (*id, get_att(&e["Properties"]["Stream"]).unwrap().0))
            .collect::<Vec<_>>(),
        [("SenderFunction", OUTBOX.logical_name.to_owned())]
    );
}

#[test]
fn schedules_and_event_rules() {
    let template = template();
    let schedules = events(&template, "Schedule");
    for (id, name, event) in &schedules {
        let expression = event["Properties"]["Schedule"].as_str().unwrap();
        assert!(
            is_schedule_expression(expression),
            "{id}.{name}: {expression}"
        );
    }
    assert!(
        schedules.iter().any(|(id, _, e)| *id == "SchedulerFunction"
            && e["Properties"]["Schedule"].as_str() == Some("rate(1 minute)")),
        "the scheduler ticks every minute"
    );

    let rules = events(&template, "EventBridgeRule");
    let notify_rule = rules
        .iter()
        .find(|(_, _, e)| strings(&e["Properties"]["Pattern"]["detail-type"]) == ["herald.Notify"])
        .expect("a herald.Notify rule");
    assert_eq!(notify_rule.0, "SenderFunction");
    let bus = ref_target(&notify_rule.2["Properties"]["EventBusName"]).unwrap();
    assert_eq!(
        template.resource(bus).unwrap()["Type"].as_str(),
        Some("AWS::Events::EventBus")
    );
}

#[test]
fn http_routes_reach_their_functions() {
    let template = template();
    let routes: BTreeSet<(String, String, String)> = events(&template, "HttpApi")
        .into_iter()
        .map(|(id, _, e)| {
            let p = &e["Properties"];
            assert_eq!(ref_target(&p["ApiId"]), Some("HeraldApi"));
            (
                p["Method"].as_str().unwrap().to_owned(),
                p["Path"].as_str().unwrap().to_owned(),
                id.to_owned(),
            )
        })
        .collect();
    // The webhook's endpoint, exactly the notify API's routes as openapi.json lists them, and
    // the console's page and assets, which the notify function serves.
    let mut expected: BTreeSet<(String, String, String)> = BTreeSet::new();
    expected.insert((
        "POST".to_owned(),
        "/api/messages".to_owned(),
        "WebhookFunction".to_owned(),
    ));
    for console in ["/", "/console/{proxy+}"] {
        expected.insert((
            "GET".to_owned(),
            console.to_owned(),
            "NotifyFunction".to_owned(),
        ));
    }
    let openapi: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("functions/notify/openapi.json")).unwrap(),
    )
    .unwrap();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters")
        {
            expected.insert((
                method.to_uppercase(),
                path.clone(),
                "NotifyFunction".to_owned(),
            ));
        }
    }
    for route in [
        ("POST", "/api/notify"),
        ("GET", "/api/notifications/{id}/deliveries"),
        ("DELETE", "/api/notifications/{id}/message"),
        ("GET", "/api/installations"),
        ("POST", "/api/schedules"),
    ] {
        assert!(
            expected.contains(&(
                route.0.to_owned(),
                route.1.to_owned(),
                "NotifyFunction".to_owned()
            )),
            "openapi.json lost {route:?}"
        );
    }
    assert_eq!(routes, expected);
}

#[test]
fn environment_names_the_stack_resources() {
    let template = template();
    let expected = [
        ("HERALD_REFERENCES_TABLE", "ReferencesTable"),
        ("HERALD_OUTBOX_TABLE", "OutboxTable"),
        ("HERALD_SCHEDULES_TABLE", "SchedulesTable"),
        ("HERALD_PACING_TABLE", "PacingTable"),
        ("HERALD_EVENT_BUS", "HeraldBus"),
        ("HERALD_SECRET_ARN", "SecretArn"),
        ("MicrosoftAppId", "BotAppId"),
    ];
    for (id, function) in functions(&template) {
        let variables = function["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .unwrap();
        assert!(variables.get("MicrosoftAppId").is_some(), "{id}");
        assert!(variables.get("HERALD_REFERENCES_TABLE").is_some(), "{id}");
        for (name, value) in variables {
            let name = name.as_str().unwrap();
            assert!(
                !name.contains("PASSWORD")
                    && !name.contains("Password")
                    && name != "HERALD_API_KEY",
                "{id}: {name} must come from the secret, not the template"
            );
            if let Some((_, target)) = expected.iter().find(|(n, _)| *n == name) {
                assert_eq!(ref_target(value), Some(*target), "{id}: {name}");
            }
        }
        // A function reading the secret may read exactly that secret, and one that may read it
        // is told where it is.
        let reads_secret = variables.get("HERALD_SECRET_ARN").is_some();
        let may_read = actions_on(function, "SecretArn");
        if reads_secret {
            assert_eq!(
                may_read,
                ["secretsmanager:GetSecretValue".to_owned()].into()
            );
        } else {
            assert!(
                may_read.is_empty(),
                "{id} may read a secret it is not told about"
            );
        }
    }
    // Every function that calls Teams needs the bot password.
    for id in ["WebhookFunction", "NotifyFunction", "SenderFunction"] {
        let variables = &function(&template, id)["Properties"]["Environment"]["Variables"];
        assert!(variables.get("HERALD_SECRET_ARN").is_some(), "{id}");
    }
}

#[test]
fn each_function_gets_only_the_access_it_needs() {
    let template = template();
    let read = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"];
    let is_read_only = |actions: &BTreeSet<String>| {
        !actions.is_empty() && actions.iter().all(|a| read.contains(&a.as_str()))
    };
    for (id, function) in functions(&template) {
        for statement in statements(function) {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"));
            for action in strings(&statement["Action"]) {
                assert!(!action.contains('*'), "{id}: wildcard action {action}");
            }
            for resource in strings(&statement["Resource"]) {
                assert_ne!(resource, "*", "{id}: a statement on every resource");
            }
            assert!(
                intrinsic(&statement["Resource"]).is_some() || statement["Resource"].is_sequence()
            );
        }
    }

    let webhook = function(&template, "WebhookFunction");
    // It resumes deliveries waiting for an installation, reading only the waits' partitions, and
    // answers card actions and read receipts from the sent copies' and the interaction settings'
    // partitions: it never reads a notification's partition (its deliveries) and never scans.
    let readable = [
        herald_store::schema::INSTALL_WAIT_PK_PREFIX,
        herald_store::schema::COPY_PK_PREFIX,
        herald_store::schema::INTERACT_PK_PREFIX,
    ]
    .map(|prefix| format!("{prefix}*"));
    for statement in statements(webhook) {
        if mentions(&statement["Resource"]).contains("OutboxTable") {
            let actions = strings(&statement["Action"]);
            assert!(
                !actions.contains(&"dynamodb:Scan"),
                "the webhook cannot scan the outbox"
            );
            if actions
                .iter()
                .any(|a| *a == "dynamodb:GetItem" || *a == "dynamodb:Query")
            {
                let keys = strings(
                    &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
                );
                assert!(!keys.is_empty(), "the webhook cannot read deliveries");
                assert!(
                    keys.iter().all(|k| readable.iter().any(|r| r == k)),
                    "the webhook reads only installation waits, sent copies and settings: {keys:?}"
                );
            }
        }
    }
    // Chat reminders are schedules; deliveries are not the webhook's business.
    assert!(actions_on(webhook, "SchedulesTable").contains("dynamodb:PutItem"));
    assert!(actions_on(webhook, "ReferencesTable").contains("dynamodb:UpdateItem"));
    assert!(actions_on(webhook, "HeraldBus").contains("events:PutEvents"));

    let notify = function(&template, "NotifyFunction");
    assert!(is_read_only(&actions_on(notify, "ReferencesTable")));
    assert!(actions_on(notify, "OutboxTable").contains("dynamodb:PutItem"));
    assert!(actions_on(notify, "HeraldBus").is_empty());

    let sender = function(&template, "SenderFunction");
    assert!(
        actions_on(sender, "SchedulesTable").is_empty(),
        "the sender cannot touch schedules"
    );
    assert!(actions_on(sender, "OutboxTable").contains("dynamodb:TransactWriteItems"));
    assert!(actions_on(sender, "OutboxTable").contains("dynamodb:GetRecords"));
    assert!(actions_on(sender, "ReferencesTable").contains("dynamodb:UpdateItem"));
    assert!(actions_on(sender, "HeraldBus").contains("events:PutEvents"));
    // It takes on deliveries waiting in stream batches no instance runs yet, found through the
    // outbox's due index (a query on an index needs the index's own ARN).
    assert!(
        statements(sender).iter().any(|s| {
            format!("{:?}", s["Resource"]).contains("/index/byDue")
                && strings(&s["Action"]).contains(&"dynamodb:Query")
        }),
        "the sender may query the outbox's due index"
    );

    let scheduler = function(&template, "SchedulerFunction");
    assert!(is_read_only(&actions_on(scheduler, "ReferencesTable")));
    assert!(
        !actions_on(scheduler, "OutboxTable").contains("dynamodb:Scan"),
        "the scheduler finds due installation waits through their key"
    );
    assert!(actions_on(scheduler, "SchedulesTable").contains("dynamodb:UpdateItem"));
}

#[test]
fn secrets_never_pass_through_parameters() {
    let template = template();
    let parameters = template.root["Parameters"].as_mapping().unwrap();
    for (name, parameter) in parameters {
        let name = name.as_str().unwrap();
        let lower = name.to_lowercase();
        assert!(
            !lower.contains("password") && !lower.contains("apikey") && !lower.contains("key_sha"),
            "{name} would put a secret in the console"
        );
        if lower.contains("secret") {
            assert!(
                parameter["AllowedPattern"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("^arn:")),
                "{name} must be an ARN, not the secret itself"
            );
        }
    }
}

#[test]
fn outputs_give_the_endpoints_to_paste() {
    let template = template();
    let outputs = &template.root["Outputs"];
    let endpoint = &outputs["MessagingEndpoint"]["Value"];
    let (name, text) = intrinsic(endpoint).unwrap();
    assert_eq!(name, "Sub");
    let text = text.as_str().unwrap();
    assert!(text.starts_with("https://${HeraldApi}.") && text.ends_with("/api/messages"));
    assert!(intrinsic(&outputs["NotifyApiUrl"]["Value"]).is_some());
    let (_, console) = intrinsic(&outputs["ConsoleUrl"]["Value"]).unwrap();
    let console = console.as_str().unwrap();
    assert!(
        console.starts_with("https://${HeraldApi}.") && console.ends_with(".${AWS::URLSuffix}/")
    );
    for table in SCHEMAS {
        assert!(
            outputs
                .as_mapping()
                .unwrap()
                .values()
                .any(|o| ref_target(&o["Value"]) == Some(table.logical_name)),
            "no output names {}",
            table.logical_name
        );
    }
    assert_eq!(
        ref_target(&outputs["EventBusName"]["Value"]),
        Some("HeraldBus")
    );
}
