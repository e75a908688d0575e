//! `openapi.json` against the implementation: every documented route and method is served and
//! nothing else is; request examples pass the parser; and for every documented response the
//! handler's real answer validates against the documented schema and has the example's fields.

use std::collections::{BTreeSet, HashSet};

use herald_domain::{DeliveryStatus, ReferenceStatus};
use herald_pipeline::request::{MAX_ACTIVITY_BYTES, Message, NotifyRequest};
use herald_schedule::{Recurrence, ScheduleRule, ScheduleZone};
use herald_store::StatusUpdate;
use serde_json::{Value, json};

use crate::{Backend, Harness, HttpReply, TENANT, at};

const SPEC: &str = include_str!("../../openapi.json");
/// Path template, method and status documented; the request (path, body, Authorization) that
/// produces it (`None`: the valid key).
pub(crate) type Case = (
    &'static str,
    &'static str,
    &'static str,
    String,
    Option<Value>,
    Option<&'static str>,
);

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

fn spec() -> Value {
    serde_json::from_str(SPEC).expect("openapi.json is JSON")
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(pointer) => {
            let target = spec
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {pointer}"));
            resolve(spec, target)
        }
        None => schema,
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "null" => value.is_null(),
        other => panic!("unknown schema type {other}"),
    }
}

/// The subset of JSON Schema the document uses: $ref, oneOf, const, enum, type, required,
/// properties with additionalProperties false, items. Returns every violation with its path.
fn violations(spec: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(spec, schema);
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = options
            .iter()
            .filter(|o| violations(spec, o, value, at).is_empty())
            .count();
        return if passing == 1 {
            Vec::new()
        } else {
            vec![format!(
                "{at}: matches {passing} of the oneOf schemas: {value}"
            )]
        };
    }
    let mut out = Vec::new();
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        out.push(format!("{at}: {value} is not {constant}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(kind) = schema.get("type") {
        let ok = match kind {
            Value::String(t) => type_matches(t, value),
            Value::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap(), value)),
            _ => panic!("bad type in schema at {at}"),
        };
        if !ok {
            out.push(format!("{at}: {value} is not of type {kind}"));
            return out;
        }
    }
    if let Value::Object(object) = value {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !object.contains_key(name.as_str().unwrap()) {
                out.push(format!("{at}: {name} is required"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => {
                    out.extend(violations(spec, property, item, &format!("{at}.{key}")));
                }
                None if closed => out.push(format!("{at}.{key} is not in the schema")),
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            out.extend(violations(spec, item_schema, item, &format!("{at}[{i}]")));
        }
    }
    out
}

/// The object keys of `value` at every level (arrays by their first element), as paths.
fn shape(value: &Value, at: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, item) in object {
                let path = format!("{at}.{key}");
                out.insert(path.clone());
                shape(item, &path, out);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                shape(first, &format!("{at}[]"), out);
            }
        }
        _ => {}
    }
}

fn shape_of(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    shape(value, "", &mut out);
    out
}

/// `{id}` replaced by a real notification id.
fn concrete(template: &str, id: &str) -> String {
    template.replace("{id}", id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_routes_are_served_and_nothing_else() {
    let spec = spec();
    let h = Harness::new(Backend::Embedded).await;
    let created = h
        .call(
            "POST",
            "/api/notify",
            Some(&json!({"target": {"kind": "all"}, "message": {"text": "t"}})),
        )
        .await;
    let id = created.body["notificationId"].as_str().unwrap().to_owned();
    let schedule = json!({"target": {"kind": "all"}, "message": {"text": "t"},
        "recurrence": {"kind": "daily", "time": "09:00"}, "timeZone": "Europe/Berlin"});
    let paths = spec["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 12);
    for (template, item) in paths {
        for method in METHODS {
            // Schedule routes get a fresh schedule each: DELETE must not leave PATCH a 404.
            let path = if template.starts_with("/api/schedules/") {
                let reply = h.call("POST", "/api/schedules", Some(&schedule)).await;
                concrete(template, reply.body["id"].as_str().unwrap())
            } else {
                concrete(template, &id)
            };
            let documented = item.get(method.to_lowercase()).is_some();
            let body = if method == "POST" || method == "PUT" {
                json!({"target": {"kind": "all"}, "message": {"text": "t"}, "text": "t"})
            } else {
                Value::Null
            };
            let body = match (template.as_str(), method) {
                ("/api/notify", "POST") => {
                    Some(json!({"target": {"kind": "all"}, "message": {"text": "t"}}))
                }
                ("/api/schedules" | "/api/schedules/preview", "POST") => Some(schedule.clone()),
                ("/api/audience", "POST") => Some(json!({"target": {"kind": "all"}})),
                ("/api/render", "POST") | (_, "PUT") => Some(json!({"text": "t"})),
                (_, "PATCH") => Some(json!({"paused": true})),
                _ => (!body.is_null()).then_some(body),
            };
            let reply = h.call(method, &path, body.as_ref()).await;
            if documented {
                assert!(
                    reply.status < 300,
                    "{method} {template} is documented but answered {reply:?}"
                );
            } else {
                assert_eq!(
                    (reply.status, reply.body["error"]["code"].as_str()),
                    (405, Some("MethodNotAllowed")),
                    "{method} {template} is not documented but answered {reply:?}"
                );
            }
        }
    }
    for undocumented in [
        "/api",
        "/api/",
        "/api/notifications/{id}/other",
        "/api/notifications/{id}/message/extra",
        "/api/notify/extra",
        "/api/installation",
        "/notify",
        "/api/schedule",
        "/api/schedules/{id}/previews",
        "/api/schedules/{id}/preview/extra",
        "/api/schedules//preview",
    ] {
        for method in METHODS {
            let reply = h.call(method, &concrete(undocumented, &id), None).await;
            assert_eq!(
                (reply.status, reply.body["error"]["code"].as_str()),
                (404, Some("NotFound")),
                "{method} {undocumented} is not documented but answered {reply:?}"
            );
        }
    }
}

#[test]
fn request_examples_pass_the_parser_and_the_schema() {
    let spec = spec();
    let mut checked = 0;
    for (template, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(content) = operation.pointer("/requestBody/content/application~1json") else {
                continue;
            };
            for (name, example) in content["examples"].as_object().unwrap() {
                let value = &example["value"];
                let problems = violations(&spec, &content["schema"], value, "body");
                assert!(
                    problems.is_empty(),
                    "{method} {template} {name}: {problems:?}"
                );
                match template.as_str() {
                    "/api/notify" => {
                        NotifyRequest::from_json(value)
                            .unwrap_or_else(|e| panic!("example {name}: {e}"));
                    }
                    "/api/notifications/{id}/message" | "/api/render" => {
                        Message::from_json(value)
                            .and_then(|m| m.render())
                            .unwrap_or_else(|e| panic!("example {name}: {e}"));
                    }
                    "/api/schedules" => {
                        let notify =
                            json!({"target": value["target"], "message": value["message"]});
                        NotifyRequest::from_json(&notify)
                            .unwrap_or_else(|e| panic!("example {name}: {e}"));
                        ScheduleRule::from_json(value)
                            .unwrap_or_else(|e| panic!("example {name}: {e}"));
                        ScheduleZone::from_json(&value["timeZone"])
                            .unwrap_or_else(|e| panic!("example {name}: {e}"));
                    }
                    "/api/schedules/{id}" => {
                        if let Some(recurrence) = value.get("recurrence") {
                            Recurrence::from_json(recurrence)
                                .unwrap_or_else(|e| panic!("example {name}: {e}"));
                        }
                        if let Some(zone) = value.get("timeZone") {
                            ScheduleZone::from_json(zone)
                                .unwrap_or_else(|e| panic!("example {name}: {e}"));
                        }
                        assert!(!value.as_object().unwrap().is_empty());
                    }
                    "/api/audience" => {
                        herald_pipeline::request::parse_target(value.get("target"))
                            .unwrap_or_else(|e| panic!("example {name}: {e}"));
                    }
                    "/api/schedules/preview" => {
                        ScheduleRule::from_json(value)
                            .unwrap_or_else(|e| panic!("example {name}: {e}"));
                        ScheduleZone::from_json(&value["timeZone"])
                            .unwrap_or_else(|e| panic!("example {name}: {e}"));
                    }
                    other => panic!("a request body on {other} is not tested"),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 12);
}

#[test]
fn response_examples_match_their_schemas() {
    let spec = spec();
    for (template, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (status, response) in responses {
                let content = &response["content"]["application/json"];
                let problems =
                    violations(&spec, &content["schema"], &content["example"], "example");
                assert!(
                    problems.is_empty(),
                    "{method} {template} {status}: {problems:?}"
                );
            }
        }
    }
}

/// Produces each documented answer for real and compares it with the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_answers_match_the_documented_responses() {
    let spec = spec();
    let harness = Harness::new(Backend::Embedded).await;
    let h = &harness;

    // A notification with one delivered copy, one blocked recipient and a blocked installation.
    let mut megan = h.personal(TENANT, "Megan Bowen");
    megan.time_zone = Some("Europe/Berlin".parse().unwrap());
    let alex = h.personal(TENANT, "Alex Wilber");
    h.references.upsert(&megan).await.unwrap();
    h.references
        .set_status(
            &megan.key(),
            &StatusUpdate {
                status: ReferenceStatus::Blocked,
                at: at(60),
                reason: Some("blocked by the user (HTTP 403 MessageWritesBlocked)".into()),
            },
        )
        .await
        .unwrap();
    // Lee's copies cannot be edited: the answers list the error.
    let lee = h.personal(TENANT, "Lee Gu");
    let (id, deliveries) = h.delivered(&[&alex, &lee], "hello").await;
    h.emulator.inject(
        lee.conversation_id.as_str(),
        herald_teams_emulator::Fault::BadArgument,
    );
    let reply = h
        .call(
            "POST",
            "/api/notify",
            Some(
                &json!({"target": {"kind": "conversations", "ids": [megan.conversation_id]},
                         "message": {"text": "t"}, "idempotencyKey": "blocked-one"}),
            ),
        )
        .await;
    let blocked_id =
        herald_store::NotificationId::parse(reply.body["notificationId"].as_str().unwrap())
            .unwrap();
    let blocked = crate::delivery(&blocked_id, &megan, DeliveryStatus::Pending);
    h.outbox
        .append_page(&blocked_id, None, None, std::slice::from_ref(&blocked))
        .await
        .unwrap();
    h.record(
        &blocked_id,
        &blocked.delivery_id,
        DeliveryStatus::Blocked,
        None,
    )
    .await;
    assert_eq!(deliveries.len(), 2);

    let card_example = spec
        .pointer(
            "/paths/~1api~1notify/post/requestBody/content/application~1json/examples/card/value",
        )
        .unwrap()
        .clone();
    let too_large =
        json!({"target": {"kind": "all"}, "message": {"text": "x".repeat(MAX_ACTIVITY_BYTES)}});
    let missing = json!({"target": {"kind": "all"}, "message": {"card": {"type": "AdaptiveCard", "version": "1.5",
        "body": [{"type": "TextBlock", "text": "${user.name}"}]}}});
    let sent_id = id.as_str();
    let blocked_ref = blocked_id.as_str();
    // Schedules made from the documented example, as the listing's example shows them.
    let schedule_example = spec
        .pointer("/paths/~1api~1schedules/post/requestBody/content/application~1json/examples/weekdays/value")
        .unwrap()
        .clone();
    let mut schedule_ids = Vec::new();
    for _ in 0..2 {
        let reply = h
            .call("POST", "/api/schedules", Some(&schedule_example))
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        schedule_ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    // Every other create example is accepted too.
    for name in ["recipientLocal", "once"] {
        let example = spec
            .pointer(&format!("/paths/~1api~1schedules/post/requestBody/content/application~1json/examples/{name}/value"))
            .unwrap();
        let reply = h.call("POST", "/api/schedules", Some(example)).await;
        assert_eq!(reply.status, 201, "{name}: {reply:?}");
        let id = reply.body["id"].as_str().unwrap();
        let deleted = h
            .call("DELETE", &format!("/api/schedules/{id}"), None)
            .await;
        assert_eq!(deleted.status, 204);
    }
    let (sid, doomed) = (schedule_ids[0].as_str(), schedule_ids[1].as_str());
    let pause = json!({"paused": true});
    // (path template, method, status) -> the request that produces it.
    let cases: Vec<Case> = vec![
        (
            "/api/notify",
            "post",
            "202",
            "/api/notify".into(),
            Some(card_example),
            None,
        ),
        (
            "/api/notify",
            "post",
            "400",
            "/api/notify".into(),
            Some(missing),
            None,
        ),
        (
            "/api/notify",
            "post",
            "401",
            "/api/notify".into(),
            None,
            Some("Bearer nope"),
        ),
        (
            "/api/notify",
            "post",
            "413",
            "/api/notify".into(),
            Some(too_large.clone()),
            None,
        ),
        (
            "/api/notifications/{id}",
            "get",
            "200",
            format!("/api/notifications/{sent_id}"),
            None,
            None,
        ),
        (
            "/api/notifications/{id}",
            "get",
            "401",
            format!("/api/notifications/{sent_id}"),
            None,
            Some("Bearer nope"),
        ),
        (
            "/api/notifications/{id}",
            "get",
            "404",
            "/api/notifications/n-0f3c9a8e".into(),
            None,
            None,
        ),
        (
            "/api/notifications/{id}/deliveries",
            "get",
            "200",
            format!("/api/notifications/{blocked_ref}/deliveries"),
            None,
            None,
        ),
        (
            "/api/notifications/{id}/deliveries",
            "get",
            "400",
            format!("/api/notifications/{blocked_ref}/deliveries?status=delivered"),
            None,
            None,
        ),
        (
            "/api/notifications/{id}/deliveries",
            "get",
            "401",
            format!("/api/notifications/{blocked_ref}/deliveries"),
            None,
            Some("Bearer nope"),
        ),
        (
            "/api/notifications/{id}/deliveries",
            "get",
            "404",
            "/api/notifications/n-0f3c9a8e/deliveries".into(),
            None,
            None,
        ),
        (
            "/api/notifications/{id}/message",
            "put",
            "200",
            format!("/api/notifications/{sent_id}/message"),
            Some(json!({"text": "v2"})),
            None,
        ),
        (
            "/api/notifications/{id}/message",
            "put",
            "400",
            format!("/api/notifications/{sent_id}/message"),
            Some(json!({"card": {"type": "AdaptiveCard"}})),
            None,
        ),
        (
            "/api/notifications/{id}/message",
            "put",
            "401",
            format!("/api/notifications/{sent_id}/message"),
            Some(json!({"text": "v2"})),
            Some("Bearer nope"),
        ),
        (
            "/api/notifications/{id}/message",
            "put",
            "404",
            "/api/notifications/n-0f3c9a8e/message".into(),
            Some(json!({"text": "v2"})),
            None,
        ),
        (
            "/api/notifications/{id}/message",
            "put",
            "413",
            format!("/api/notifications/{sent_id}/message"),
            Some(too_large["message"].clone()),
            None,
        ),
        (
            "/api/notifications/{id}/message",
            "delete",
            "200",
            format!("/api/notifications/{sent_id}/message"),
            None,
            None,
        ),
        (
            "/api/notifications/{id}/message",
            "delete",
            "401",
            format!("/api/notifications/{sent_id}/message"),
            None,
            Some("Bearer nope"),
        ),
        (
            "/api/notifications/{id}/message",
            "delete",
            "404",
            "/api/notifications/n-0f3c9a8e/message".into(),
            None,
            None,
        ),
        (
            "/api/installations",
            "get",
            "200",
            "/api/installations?status=blocked".into(),
            None,
            None,
        ),
        (
            "/api/installations",
            "get",
            "400",
            "/api/installations?type=meeting".into(),
            None,
            None,
        ),
        (
            "/api/installations",
            "get",
            "401",
            "/api/installations".into(),
            None,
            Some("Bearer nope"),
        ),
        (
            "/api/schedules",
            "post",
            "201",
            "/api/schedules".into(),
            Some(schedule_example.clone()),
            None,
        ),
        (
            "/api/schedules",
            "post",
            "400",
            "/api/schedules".into(),
            Some({
                let mut bad = schedule_example.clone();
                bad["recurrence"]["time"] = json!("25:00");
                bad
            }),
            None,
        ),
        (
            "/api/schedules",
            "post",
            "401",
            "/api/schedules".into(),
            Some(schedule_example.clone()),
            Some("Bearer nope"),
        ),
        (
            "/api/schedules",
            "get",
            "200",
            "/api/schedules".into(),
            None,
            None,
        ),
        (
            "/api/schedules",
            "get",
            "400",
            "/api/schedules?limit=0".into(),
            None,
            None,
        ),
        (
            "/api/schedules",
            "get",
            "401",
            "/api/schedules".into(),
            None,
            Some("Bearer nope"),
        ),
        (
            "/api/schedules/{id}",
            "get",
            "200",
            format!("/api/schedules/{sid}"),
            None,
            None,
        ),
        (
            "/api/schedules/{id}",
            "get",
            "401",
            format!("/api/schedules/{sid}"),
            None,
            Some("Bearer nope"),
        ),
        (
            "/api/schedules/{id}",
            "get",
            "404",
            "/api/schedules/s-0123abcd".into(),
            None,
            None,
        ),
        (
            "/api/schedules/{id}/preview",
            "get",
            "200",
            format!("/api/schedules/{sid}/preview?count=2"),
            None,
            None,
        ),
        (
            "/api/schedules/{id}/preview",
            "get",
            "400",
            format!("/api/schedules/{sid}/preview?count=0"),
            None,
            None,
        ),
        (
            "/api/schedules/{id}/preview",
            "get",
            "401",
            format!("/api/schedules/{sid}/preview"),
            None,
            Some("Bearer nope"),
        ),
        (
            "/api/schedules/{id}/preview",
            "get",
            "404",
            "/api/schedules/s-0123abcd/preview".into(),
            None,
            None,
        ),
        (
            "/api/schedules/{id}",
            "patch",
            "200",
            format!("/api/schedules/{sid}"),
            Some(pause.clone()),
            None,
        ),
        (
            "/api/schedules/{id}",
            "patch",
            "400",
            format!("/api/schedules/{sid}"),
            Some(json!({"paused": "yes"})),
            None,
        ),
        (
            "/api/schedules/{id}",
            "patch",
            "401",
            format!("/api/schedules/{sid}"),
            Some(pause.clone()),
            Some("Bearer nope"),
        ),
        (
            "/api/schedules/{id}",
            "patch",
            "404",
            "/api/schedules/s-0123abcd".into(),
            Some(pause.clone()),
            None,
        ),
        (
            "/api/schedules/{id}",
            "patch",
            "409",
            format!("/api/schedules/{sid}"),
            Some(json!({"paused": false, "version": 1})),
            None,
        ),
        (
            "/api/schedules/{id}",
            "delete",
            "204",
            format!("/api/schedules/{doomed}"),
            None,
            None,
        ),
        (
            "/api/schedules/{id}",
            "delete",
            "401",
            format!("/api/schedules/{sid}"),
            None,
            Some("Bearer nope"),
        ),
        (
            "/api/schedules/{id}",
            "delete",
            "404",
            format!("/api/schedules/{doomed}"),
            None,
            None,
        ),
    ];

    let mut cases = cases;
    cases.extend(crate::drafts::documented_cases(h).await);
    let mut covered = HashSet::new();
    for (template, method, status, path, body, authorization) in cases {
        let reply: HttpReply = match authorization {
            Some(auth) => {
                let bytes = body
                    .map(|b| serde_json::to_vec(&b).unwrap())
                    .unwrap_or_default();
                h.raw(Some(auth), &method.to_uppercase(), &path, &bytes)
                    .await
            }
            None => h.call(&method.to_uppercase(), &path, body.as_ref()).await,
        };
        let response = format!(
            "/paths/{}/{method}/responses/{status}",
            template.replace('/', "~1")
        );
        if status == "204" {
            assert!(
                spec.pointer(&response).is_some(),
                "{method} {template} {status} is not documented"
            );
            assert!(
                spec.pointer(&format!("{response}/content")).is_none(),
                "{method} {template} 204 documents a body"
            );
            assert_eq!(
                (reply.status, &reply.body),
                (204, &Value::Null),
                "{method} {path}"
            );
            covered.insert(format!("{method} {template} {status}"));
            continue;
        }
        let pointer = format!("{response}/content/application~1json");
        let documented = spec
            .pointer(&pointer)
            .unwrap_or_else(|| panic!("{method} {template} {status} is not documented"));
        assert_eq!(
            reply.status.to_string(),
            status,
            "{method} {path}: {reply:?}"
        );
        let problems = violations(&spec, &documented["schema"], &reply.body, "answer");
        assert!(
            problems.is_empty(),
            "{method} {path} {status}: {problems:?}\n{}",
            reply.body
        );
        assert_eq!(
            shape_of(&reply.body),
            shape_of(&documented["example"]),
            "{method} {template} {status}: the answer's fields differ from the example's\nanswer: {}",
            reply.body
        );
        covered.insert(format!("{method} {template} {status}"));
    }
    // Every documented response was produced.
    for (template, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for status in operation
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|r| r.keys())
            {
                assert!(
                    covered.contains(&format!("{method} {template} {status}")),
                    "{method} {template} {status} is documented but not checked"
                );
            }
        }
    }
}
