//! Every documented response, produced for real by the handler and checked against its schema
//! and its example's fields.

use std::collections::HashSet;

use herald_domain::{DeliveryStatus, ReferenceStatus};
use herald_pipeline::request::MAX_ACTIVITY_BYTES;
use herald_store::StatusUpdate;
use serde_json::{Value, json};

use super::refusals::refusals;
use super::schema::{shape_of, violations};
use super::{Case, spec};
use crate::{Backend, Harness, HttpReply, TENANT, at};

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
    let mut cases: Vec<Case> = vec![
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
            "409",
            "/api/notify".into(),
            Some(
                json!({"target": {"kind": "conversations", "ids": [megan.conversation_id]},
                       "message": {"text": "another text"}, "idempotencyKey": "blocked-one"}),
            ),
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
        check_answer(&spec, (template, method, status), &path, &reply);
        covered.insert(format!("{method} {template} {status}"));
    }
    covered.extend(refusals(h, &spec, sent_id, sid, &schedule_example, &pause).await);
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

/// The answer has the documented status, validates against the documented schema (or has no
/// body, for a 204) and has the example's fields.
pub(super) fn check_answer(
    spec: &Value,
    (template, method, status): (&str, &str, &str),
    path: &str,
    reply: &HttpReply,
) {
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
        return;
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
    let problems = violations(spec, &documented["schema"], &reply.body, "answer");
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
}
