//! GIVEN / WHEN / THEN scenarios of the API, run on the embedded stores and DynamoDB Local: the
//! requests and their answers here, the installations report (`installations`), and updating and
//! retracting what was sent (`copy_edits`).

mod copy_edits;
mod installations;

use std::collections::HashSet;

use chrono::Duration;
use herald_domain::{ConversationType, DeliveryStatus};
use herald_notify::MAX_BODY_BYTES;
use herald_pipeline::request::MAX_ACTIVITY_BYTES;
use herald_store::NotificationId;
use serde_json::{Value, json};

use crate::{Harness, KEY, TENANT, at, base, delivery, on_both_backends};

on_both_backends!(
    auth_failures_do_nothing,
    validation_errors_name_their_field,
    card_binding_is_stored_rendered,
    status_and_counts_follow_the_deliveries,
    deliveries_page_and_filter,
);

pub(super) fn notify_body(key: &str) -> Value {
    json!({
        "target": {"kind": "all"},
        "message": {"text": "Maintenance at 18:00"},
        "idempotencyKey": key,
    })
}

pub(super) fn assert_error(reply: &crate::HttpReply, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.body["error"]["code"], code, "{reply:?}");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(
        reply.body["error"].get("field").and_then(Value::as_str),
        field,
        "{reply:?}"
    );
}

async fn auth_failures_do_nothing(h: &Harness) {
    let body = serde_json::to_vec(&notify_body("auth-test")).unwrap();
    for authorization in [
        None,
        Some("Bearer wrong-key"),
        Some(KEY),
        Some("Basic dGVzdDp0ZXN0"),
        Some("Bearer "),
        Some("Bearer test-api-key-012345678"),
    ] {
        let reply = h.raw(authorization, "POST", "/api/notify", &body).await;
        assert_error(&reply, 401, "Unauthorized", None);
        // Unknown routes do not tell an unauthenticated caller anything either.
        let reply = h.raw(authorization, "GET", "/api/nothing", &[]).await;
        assert_eq!(reply.status, 401);
    }
    // The key's notification, as the second API key would name it (keys are scoped to the
    // caller's key digest).
    let digest = herald_notify::ApiKeys::from_plain(&["second-key"])
        .authenticate(Some("Bearer second-key"))
        .unwrap()
        .key_sha256;
    let id = NotificationId::for_scoped_key(&format!("api:{digest}"), "auth-test");
    assert_eq!(h.outbox.get_notification(&id).await.unwrap(), None);
    // Either configured key works, with the scheme in any case.
    let reply = h
        .raw(Some("bearer second-key"), "POST", "/api/notify", &body)
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert!(h.outbox.get_notification(&id).await.unwrap().is_some());
}

async fn validation_errors_name_their_field(h: &Harness) {
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!([1]), 400, "InvalidRequest", ""),
        (
            json!({"message": {"text": "t"}}),
            400,
            "InvalidTarget",
            "target",
        ),
        (
            json!({"target": {"kind": "nobody"}, "message": {"text": "t"}}),
            400,
            "InvalidTarget",
            "target.kind",
        ),
        (
            json!({"target": {"kind": "person", "tenantId": TENANT}, "message": {"text": "t"}}),
            400,
            "InvalidTarget",
            "target.aadObjectId",
        ),
        (
            json!({"target": {"kind": "all"}, "message": {"summary": "only"}}),
            400,
            "InvalidMessage",
            "message",
        ),
        (
            json!({"target": {"kind": "all"}, "message": {"text": "t", "alert": "loud"}}),
            400,
            "InvalidMessage",
            "message.alert",
        ),
        (
            json!({"target": {"kind": "all"},
                   "message": {"card": {"type": "AdaptiveCard", "version": "1.5", "body": [{"text": "x"}]}}}),
            400,
            "InvalidCard",
            "message.card.body[0].type",
        ),
        (
            json!({"target": {"kind": "all"}, "message": {"text": "t"}, "idempotencyKey": 7}),
            400,
            "InvalidRequest",
            "idempotencyKey",
        ),
        (
            json!({"target": {"kind": "all"}, "message": {"text": "x".repeat(MAX_ACTIVITY_BYTES)}}),
            413,
            "MessageTooLarge",
            "message",
        ),
    ];
    for (body, status, code, field) in cases {
        let reply = h.call("POST", "/api/notify", Some(&body)).await;
        assert_error(&reply, status, code, Some(field).filter(|f| !f.is_empty()));
    }

    let reply = h
        .call(
            "POST",
            "/api/notify",
            Some(&json!({"target": {"kind": "all"}, "message": {
                "card": {"type": "AdaptiveCard", "version": "1.5", "body": [
                    {"type": "TextBlock", "text": "${user.name} owes ${invoice.total}"}]},
                "data": {"user": {"name": "Megan"}},
            }})),
        )
        .await;
    assert_error(&reply, 400, "MissingPlaceholders", Some("message.data"));
    assert_eq!(reply.body["error"]["missing"], json!(["invoice.total"]));

    let malformed = h
        .raw(
            Some(&format!("Bearer {KEY}")),
            "POST",
            "/api/notify",
            b"{\"target\":",
        )
        .await;
    assert_error(&malformed, 400, "InvalidJson", None);
    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    let reply = h
        .raw(Some(&format!("Bearer {KEY}")), "POST", "/api/notify", &huge)
        .await;
    assert_error(&reply, 413, "PayloadTooLarge", None);

    assert_error(
        &h.call("GET", "/api/notify", None).await,
        405,
        "MethodNotAllowed",
        None,
    );
    assert_error(
        &h.call("POST", "/api/installations", None).await,
        405,
        "MethodNotAllowed",
        None,
    );
    // `/api/notifications` is the list (GET only); a path near it is still unknown.
    assert_error(
        &h.call("POST", "/api/notifications", None).await,
        405,
        "MethodNotAllowed",
        None,
    );
    assert_error(
        &h.call("GET", "/api/notification", None).await,
        404,
        "NotFound",
        None,
    );
    assert_error(&h.call("GET", "/notify", None).await, 404, "NotFound", None);
    assert_error(
        &h.call("GET", "/api/notifications/n-doesnotexist", None)
            .await,
        404,
        "NotificationNotFound",
        None,
    );
    assert_error(
        &h.call("GET", "/api/notifications/not-an-id/deliveries", None)
            .await,
        404,
        "NotificationNotFound",
        None,
    );
    // Nothing was stored by any of it.
    assert_eq!(
        h.call("GET", "/api/installations", None).await.body["items"],
        json!([])
    );
}

async fn card_binding_is_stored_rendered(h: &Harness) {
    let reply = h
        .call(
            "POST",
            "/api/notify",
            Some(&json!({
                "target": {"kind": "tenant", "tenantId": TENANT},
                "message": {
                    "card": {"type": "AdaptiveCard", "version": "1.5", "body": [
                        {"type": "TextBlock", "text": "Hi ${user.name}, ${items[1].title} is due"}]},
                    "data": {"user": {"name": "Megan"}, "items": [{"title": "a"}, {"title": "Q3 report"}]},
                    "summary": "Q3 due", "alert": true, "optOutButton": true,
                },
            })),
        )
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let id = NotificationId::parse(reply.body["notificationId"].as_str().unwrap()).unwrap();
    let stored = h.outbox.get_notification(&id).await.unwrap().unwrap();
    let card = &stored.activity["attachments"][0]["content"];
    assert_eq!(card["body"][0]["text"], "Hi Megan, Q3 report is due");
    assert_eq!(card["actions"][0]["data"]["herald"], "herald.optOut");
    assert_eq!(stored.activity["summary"], "Q3 due");
    assert_eq!(
        stored.activity["channelData"]["notification"]["alert"],
        true
    );
    assert_eq!(
        serde_json::to_value(&stored.target).unwrap(),
        json!({"kind": "tenant", "tenantId": TENANT})
    );
    assert_eq!(stored.expires_at, (at(0) + Duration::days(30)).timestamp());
}

async fn status_and_counts_follow_the_deliveries(h: &Harness) {
    let reply = h
        .call("POST", "/api/notify", Some(&notify_body("status")))
        .await;
    let id_text = reply.body["notificationId"].as_str().unwrap().to_owned();
    let id = NotificationId::parse(&id_text).unwrap();
    let path = format!("/api/notifications/{id_text}");

    let status = h.call("GET", &path, None).await;
    assert_eq!(status.status, 200, "{status:?}");
    assert_eq!(status.body["status"], "accepted");
    assert_eq!(status.body["total"], 0);
    assert_eq!(status.body["target"], json!({"kind": "all"}));
    assert_eq!(status.body["idempotencyKey"], "status");

    let refs: Vec<_> = (0..4)
        .map(|n| {
            base(
                h,
                TENANT,
                &format!("a:conversation-{n}"),
                ConversationType::Personal,
            )
        })
        .collect();
    let first: Vec<_> = refs[..2]
        .iter()
        .map(|r| delivery(&id, r, DeliveryStatus::Pending))
        .collect();
    assert!(
        h.outbox
            .append_page(&id, None, Some("page-2"), &first)
            .await
            .unwrap()
    );
    assert_eq!(h.call("GET", &path, None).await.body["status"], "expanding");

    let mut second: Vec<_> = refs[2..]
        .iter()
        .map(|r| delivery(&id, r, DeliveryStatus::Pending))
        .collect();
    second[1].status = DeliveryStatus::SkippedOptedOut;
    assert!(
        h.outbox
            .append_page(&id, Some("page-2"), None, &second)
            .await
            .unwrap()
    );
    let status = h.call("GET", &path, None).await;
    assert_eq!(status.body["status"], "sending");
    assert_eq!(status.body["expanded"], true);
    assert_eq!(status.body["counts"]["pending"], 3);
    assert_eq!(status.body["counts"]["skippedOptedOut"], 1);
    assert_eq!(status.body["total"], 4);

    h.record(
        &id,
        &first[0].delivery_id,
        DeliveryStatus::Sent,
        Some("1:a"),
    )
    .await;
    h.record(&id, &first[1].delivery_id, DeliveryStatus::Blocked, None)
        .await;
    let status = h.call("GET", &path, None).await;
    assert_eq!(status.body["status"], "sending");
    assert_eq!(
        (
            &status.body["counts"]["sent"],
            &status.body["counts"]["blocked"],
            &status.body["counts"]["pending"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    h.record(&id, &second[0].delivery_id, DeliveryStatus::Failed, None)
        .await;
    let status = h.call("GET", &path, None).await;
    assert_eq!(status.body["status"], "done");
    assert_eq!(status.body["counts"]["pending"], 0);
    assert_eq!(status.body["counts"]["failed"], 1);
    assert_eq!(status.body["total"], 4);
}

async fn deliveries_page_and_filter(h: &Harness) {
    let reply = h
        .call("POST", "/api/notify", Some(&notify_body("paging")))
        .await;
    let id_text = reply.body["notificationId"].as_str().unwrap().to_owned();
    let id = NotificationId::parse(&id_text).unwrap();
    let refs: Vec<_> = (0..7)
        .map(|n| {
            base(
                h,
                TENANT,
                &format!("a:recipient-{n}"),
                ConversationType::Personal,
            )
        })
        .collect();
    let deliveries: Vec<_> = refs
        .iter()
        .map(|r| delivery(&id, r, DeliveryStatus::Pending))
        .collect();
    h.outbox
        .append_page(&id, None, None, &deliveries)
        .await
        .unwrap();
    for (n, d) in deliveries.iter().enumerate() {
        let (status, activity) = if n % 3 == 0 {
            (DeliveryStatus::Blocked, None)
        } else {
            (DeliveryStatus::Sent, Some(format!("1:{n}")))
        };
        h.record(&id, &d.delivery_id, status, activity.as_deref())
            .await;
    }

    let path = format!("/api/notifications/{id_text}/deliveries");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit=2&cursor={c}"),
            None => format!("{path}?limit=2&cursor="),
        };
        let page = h.call("GET", &url, None).await;
        assert_eq!(page.status, 200, "{page:?}");
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|i| i["deliveryId"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 20, "paging does not end");
    }
    assert!(pages >= 4);
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (7, 7));

    let blocked = h.call("GET", &format!("{path}?status=blocked"), None).await;
    let items = blocked.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for item in items {
        assert_eq!(item["status"], "blocked");
        assert_eq!(item["error"], "blocked by the test");
        assert_eq!(item["activityId"], Value::Null);
        assert_eq!(item["attempts"], 1);
    }
    let sent = h
        .call("GET", &format!("{path}?status=sent&limit=100"), None)
        .await;
    let items = sent.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|i| {
        i["activityId"]
            .as_str()
            .is_some_and(|a| a.starts_with("1:"))
    }));
    assert_eq!(sent.body["nextCursor"], Value::Null);

    for (query, field) in [
        ("status=delivered", "status"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=eyJpIjoib3RoZXIiLCJrIjp7fX0", "cursor"),
        ("page=2", "page"),
        ("status=sent&status=blocked", "status"),
    ] {
        let reply = h.call("GET", &format!("{path}?{query}"), None).await;
        assert_error(&reply, 400, "InvalidParameter", Some(field));
    }
}
