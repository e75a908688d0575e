//! The routes a client checks a draft with before sending it, and the notifications list:
//! the audience a target reaches, the activity a message renders to, the fires of an unsaved
//! schedule, and every notification newest first. Also the documented answers of each, for the
//! OpenAPI check.

use chrono::Duration;
use herald_domain::{Clock as _, ReferenceStatus};
use herald_pipeline::request::MAX_ACTIVITY_BYTES;
use herald_store::StatusUpdate;
use serde_json::{Value, json};

use crate::openapi::Case;
use crate::{Harness, TENANT, at, on_both_backends};

on_both_backends!(
    audience_counts_who_would_get_it_and_who_is_skipped,
    render_binds_the_card_and_measures_it,
    draft_schedules_preview_their_fires,
    notifications_list_newest_first,
);

async fn set_status(
    h: &Harness,
    reference: &herald_domain::ConversationReference,
    status: ReferenceStatus,
) {
    h.references
        .set_status(
            &reference.key(),
            &StatusUpdate {
                status,
                at: at(60),
                reason: Some(format!("test: {status:?}")),
            },
        )
        .await
        .unwrap();
}

async fn audience_counts_who_would_get_it_and_who_is_skipped(h: &Harness) {
    let people: Vec<_> = [
        "Megan Bowen",
        "Alex Wilber",
        "Lee Gu",
        "Lidia Holloway",
        "Nestor Wilke",
    ]
    .iter()
    .map(|name| h.personal(TENANT, name))
    .collect();
    for person in &people {
        h.references.upsert(person).await.unwrap();
    }
    set_status(h, &people[1], ReferenceStatus::Blocked).await;
    set_status(h, &people[2], ReferenceStatus::OptedOut).await;
    set_status(h, &people[3], ReferenceStatus::Uninstalled).await;

    let everyone = h
        .call(
            "POST",
            "/api/audience",
            Some(&json!({"target": {"kind": "all"}})),
        )
        .await;
    assert_eq!(everyone.status, 200, "{everyone:?}");
    assert_eq!(
        everyone.body,
        json!({"target": {"kind": "all"}, "recipients": 2, "optedOut": 1, "blocked": 1,
               "uninstalled": 1, "archived": 0, "unresolved": 0, "total": 5, "complete": true})
    );
    // People by Entra id: one Herald has no conversation with is unresolved.
    let aad = |p: &herald_domain::ConversationReference| {
        p.user
            .as_ref()
            .unwrap()
            .aad_object_id
            .clone()
            .unwrap()
            .to_string()
    };
    let users = json!({"target": {"kind": "users", "tenantId": TENANT,
        "aadObjectIds": [aad(&people[0]), aad(&people[1]), "00000000-0000-0000-0000-0000000000aa"]}});
    let reply = h.call("POST", "/api/audience", Some(&users)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        (
            reply.body["recipients"].as_u64(),
            reply.body["blocked"].as_u64(),
            reply.body["unresolved"].as_u64(),
            reply.body["total"].as_u64()
        ),
        (Some(1), Some(1), Some(1), Some(3))
    );
    // Nothing was written: no notification exists.
    let list = h.call("GET", "/api/notifications", None).await;
    assert_eq!(list.body["items"], json!([]));

    for (body, field) in [
        (json!({"target": {"kind": "everyone"}}), "target.kind"),
        (json!({}), "target"),
        (
            json!({"target": {"kind": "all"}, "message": {"text": "t"}}),
            "message",
        ),
    ] {
        let reply = h.call("POST", "/api/audience", Some(&body)).await;
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(reply.body["error"]["field"], field, "{reply:?}");
    }
}

async fn render_binds_the_card_and_measures_it(h: &Harness) {
    let message = json!({
        "card": {"type": "AdaptiveCard", "version": "1.5",
                 "body": [{"type": "TextBlock", "text": "Hello ${name}"}]},
        "data": {"name": "Megan"},
        "summary": "Hello",
    });
    let reply = h.call("POST", "/api/render", Some(&message)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let activity = &reply.body["activity"];
    assert_eq!(
        activity["attachments"][0]["content"]["body"][0]["text"],
        "Hello Megan"
    );
    assert_eq!(activity["summary"], "Hello");
    assert_eq!(
        reply.body["bytes"].as_u64(),
        Some(serde_json::to_vec(activity).unwrap().len() as u64)
    );
    assert_eq!(
        reply.body["maxBytes"].as_u64(),
        Some(MAX_ACTIVITY_BYTES as u64)
    );

    let missing = json!({"card": message["card"].clone()});
    let reply = h.call("POST", "/api/render", Some(&missing)).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body["error"]["code"], "MissingPlaceholders");
    assert_eq!(reply.body["error"]["missing"], json!(["name"]));

    let huge = json!({"text": "x".repeat(MAX_ACTIVITY_BYTES)});
    let reply = h.call("POST", "/api/render", Some(&huge)).await;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(reply.body["error"]["bytes"].as_u64().unwrap() > MAX_ACTIVITY_BYTES as u64);
    assert_eq!(
        reply.body["error"]["maxBytes"].as_u64(),
        Some(MAX_ACTIVITY_BYTES as u64)
    );
}

async fn draft_schedules_preview_their_fires(h: &Harness) {
    // 2026-11-22T09:00Z is a Sunday; 09:00 in Tokyo is 00:00 UTC.
    let draft = json!({"target": {"kind": "all"}, "recurrence": {"kind": "daily", "time": "09:00"},
        "timeZone": "recipient"});
    let reply = h
        .call(
            "POST",
            "/api/schedules/preview?count=2&timeZone=Asia/Tokyo",
            Some(&draft),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["timeZone"], "Asia/Tokyo");
    assert_eq!(
        reply.body["fires"],
        json!([
            {"utc": "2026-11-23T00:00:00Z", "local": "2026-11-23T09:00:00+09:00", "timeZone": "Asia/Tokyo"},
            {"utc": "2026-11-24T00:00:00Z", "local": "2026-11-24T09:00:00+09:00", "timeZone": "Asia/Tokyo"},
        ])
    );
    // The saved schedule's preview says the same.
    let mut saved = draft.clone();
    saved["message"] = json!({"text": "Time sheet"});
    let created = h.call("POST", "/api/schedules", Some(&saved)).await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["id"].as_str().unwrap();
    let stored = h
        .call(
            "GET",
            &format!("/api/schedules/{id}/preview?count=2&timeZone=Asia/Tokyo"),
            None,
        )
        .await;
    assert_eq!(stored.body["fires"], reply.body["fires"]);
    // Nothing else was saved by the draft preview.
    let list = h.call("GET", "/api/schedules", None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);

    // A recipient-local draft needs whose zone to show; a fixed zone takes none; the target is
    // checked as POST /api/schedules checks it.
    let reply = h.call("POST", "/api/schedules/preview", Some(&draft)).await;
    assert_eq!(
        (reply.status, reply.body["error"]["field"].as_str()),
        (400, Some("timeZone"))
    );
    let berlin = json!({"recurrence": {"kind": "once", "at": "2026-12-24T18:00"}, "timeZone": "Europe/Berlin"});
    let reply = h
        .call("POST", "/api/schedules/preview", Some(&berlin))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["fires"][0]["utc"], "2026-12-24T17:00:00Z");
    let reply = h
        .call(
            "POST",
            "/api/schedules/preview?timeZone=Asia/Tokyo",
            Some(&berlin),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["error"]["field"].as_str()),
        (400, Some("timeZone"))
    );
    let person = json!({"target": {"kind": "person", "tenantId": TENANT, "aadObjectId": "00000000-0000-0000-0000-0000000000aa"},
        "recurrence": {"kind": "daily", "time": "09:00"}, "timeZone": "recipient"});
    let reply = h
        .call(
            "POST",
            "/api/schedules/preview?timeZone=Asia/Tokyo",
            Some(&person),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["error"]["field"].as_str()),
        (400, Some("target"))
    );
    let past = json!({"recurrence": {"kind": "once", "at": "2020-01-01T09:00"}, "timeZone": "UTC"});
    let reply = h.call("POST", "/api/schedules/preview", Some(&past)).await;
    assert_eq!(
        (reply.status, reply.body["fires"].clone()),
        (200, json!([]))
    );
}

async fn notifications_list_newest_first(h: &Harness) {
    let mut ids = Vec::new();
    for n in 0..3 {
        h.clock.set(at(0) + Duration::minutes(n));
        let reply = h
            .call(
                "POST",
                "/api/notify",
                Some(&json!({"target": {"kind": "all"}, "message": {"text": format!("n{n}")}})),
            )
            .await;
        ids.push(reply.body["notificationId"].as_str().unwrap().to_owned());
    }
    ids.reverse();
    let first = h.call("GET", "/api/notifications?limit=2", None).await;
    assert_eq!(first.status, 200, "{first:?}");
    let listed: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["notificationId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids[..2]);
    // Each item is the notification's own status answer.
    let status = h
        .call("GET", &format!("/api/notifications/{}", ids[0]), None)
        .await;
    assert_eq!(first.body["items"][0], status.body);
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let rest = h
        .call(
            "GET",
            &format!("/api/notifications?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(rest.body["items"][0]["notificationId"], ids[2].as_str());
    assert!(rest.body["nextCursor"].is_null(), "{rest:?}");
    for bad in ["limit=0", "cursor=nonsense", "status=sent"] {
        let reply = h
            .call("GET", &format!("/api/notifications?{bad}"), None)
            .await;
        assert_eq!(reply.status, 400, "{bad}: {reply:?}");
    }
}

/// The documented answers of the draft routes and the list, produced for real.
pub(crate) async fn documented_cases(h: &Harness) -> Vec<Case> {
    // The newest notification (a day later than the rest), as the list's example shows it.
    let now = h.clock.now();
    h.clock.set(now + Duration::days(1));
    let newest = h
        .call(
            "POST",
            "/api/notify",
            Some(&json!({"target": {"kind": "conversations", "ids": ["a:1Xk9", "19:ops@thread.tacv2"]},
                "message": {"text": "t"}, "idempotencyKey": "newest"})),
        )
        .await;
    assert_eq!(newest.status, 202, "{newest:?}");
    h.clock.set(now);
    let render = json!({"card": {"type": "AdaptiveCard", "version": "1.5",
        "body": [{"type": "TextBlock", "text": "Hello ${name}"}]}, "data": {"name": "Megan"}, "summary": "Hello"});
    let draft = json!({"target": {"kind": "all"}, "recurrence": {"kind": "daily", "time": "09:00"}, "timeZone": "recipient"});
    let no_key = Some("Bearer nope");
    let json_case = |template, method, status, path: &str, body: Option<Value>, auth| {
        (template, method, status, path.to_owned(), body, auth)
    };
    vec![
        json_case(
            "/api/notifications",
            "get",
            "200",
            "/api/notifications?limit=1",
            None,
            None,
        ),
        json_case(
            "/api/notifications",
            "get",
            "400",
            "/api/notifications?limit=0",
            None,
            None,
        ),
        json_case(
            "/api/notifications",
            "get",
            "401",
            "/api/notifications",
            None,
            no_key,
        ),
        json_case(
            "/api/audience",
            "post",
            "200",
            "/api/audience",
            Some(json!({"target": {"kind": "all"}})),
            None,
        ),
        json_case(
            "/api/audience",
            "post",
            "400",
            "/api/audience",
            Some(json!({"target": {"kind": "everyone"}})),
            None,
        ),
        json_case(
            "/api/audience",
            "post",
            "401",
            "/api/audience",
            Some(json!({"target": {"kind": "all"}})),
            no_key,
        ),
        json_case(
            "/api/render",
            "post",
            "200",
            "/api/render",
            Some(render.clone()),
            None,
        ),
        json_case(
            "/api/render",
            "post",
            "400",
            "/api/render",
            Some(json!({"card": render["card"].clone()})),
            None,
        ),
        json_case(
            "/api/render",
            "post",
            "401",
            "/api/render",
            Some(render.clone()),
            no_key,
        ),
        json_case(
            "/api/render",
            "post",
            "413",
            "/api/render",
            Some(json!({"text": "x".repeat(MAX_ACTIVITY_BYTES)})),
            None,
        ),
        json_case(
            "/api/schedules/preview",
            "post",
            "200",
            "/api/schedules/preview?timeZone=Asia/Tokyo&count=1",
            Some(draft.clone()),
            None,
        ),
        json_case(
            "/api/schedules/preview",
            "post",
            "400",
            "/api/schedules/preview",
            Some(draft.clone()),
            None,
        ),
        json_case(
            "/api/schedules/preview",
            "post",
            "401",
            "/api/schedules/preview",
            Some(draft),
            no_key,
        ),
    ]
}
