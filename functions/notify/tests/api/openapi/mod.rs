//! `openapi.json` against the implementation: every documented route and method is served and
//! nothing else is; request examples pass the parser; and for every documented response the
//! handler's real answer validates against the documented schema and has the example's fields
//! (`answers`).

mod answers;
mod refusals;
mod schema;

use herald_pipeline::request::{Message, NotifyRequest};
use herald_schedule::{Recurrence, ScheduleRule, ScheduleZone};
use serde_json::{Value, json};

use crate::{Backend, Harness};
use schema::violations;

const SPEC: &str = include_str!("../../../openapi.json");

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
    assert_eq!(checked, 13);
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
