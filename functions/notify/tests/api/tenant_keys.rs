//! A key limited to one tenant (an ISV's customer): it sends only there, and sees only what
//! lies there; everything else is refused (403) or not found (404), never shown.

use serde_json::{Value, json};

use crate::{Harness, KEY, LIMITED_KEY, TENANT, on_both_backends};

on_both_backends!(a_limited_key_keeps_to_its_tenant);

const OTHER: &str = "00000000-0000-0000-0000-0000000000cc";

async fn as_limited(
    h: &Harness,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> crate::HttpReply {
    let bytes = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    h.raw(Some(&format!("Bearer {LIMITED_KEY}")), method, path, &bytes)
        .await
}

async fn a_limited_key_keeps_to_its_tenant(h: &Harness) {
    let ours = h.personal(TENANT, "Megan Bowen");
    let theirs = h.personal(OTHER, "Someone Else");
    h.references.upsert(&ours).await.unwrap();
    h.references.upsert(&theirs).await.unwrap();
    let text = json!({"text": "Maintenance at 18:00"});

    // Sending: its own tenant, in any case of the GUID; nowhere else, and nothing crossing.
    let own = as_limited(
        h,
        "POST",
        "/api/notify",
        Some(&json!({"target": {"kind": "tenant", "tenantId": TENANT.to_uppercase()}, "message": text})),
    )
    .await;
    assert_eq!(own.status, 202, "{own:?}");
    let own_id = own.body["notificationId"].as_str().unwrap().to_owned();
    let person = json!({"kind": "person", "tenantId": OTHER, "aadObjectId": "00000000-0000-0000-0000-000000000001"});
    let refused = as_limited(
        h,
        "POST",
        "/api/notify",
        Some(&json!({"target": person, "message": text})),
    )
    .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(refused.body["error"]["code"], "TenantNotAllowed");
    assert_eq!(refused.body["error"]["tenantId"], OTHER);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(OTHER)
    );
    for crossing in [
        json!({"kind": "all"}),
        json!({"kind": "type", "type": "personal"}),
        json!({"kind": "conversations", "ids": [theirs.conversation_id]}),
    ] {
        let reply = as_limited(
            h,
            "POST",
            "/api/notify",
            Some(&json!({"target": crossing, "message": text})),
        )
        .await;
        assert_eq!(reply.status, 403, "{crossing}: {reply:?}");
        assert_eq!(reply.body["error"]["code"], "TargetNotAllowed");
        assert_eq!(reply.body["error"]["field"], "target.kind");
    }

    // Reports: its own notification, not one sent everywhere by an unlimited key.
    let everyone = h
        .call(
            "POST",
            "/api/notify",
            Some(&json!({"target": {"kind": "all"}, "message": text})),
        )
        .await;
    let everyone_id = everyone.body["notificationId"].as_str().unwrap().to_owned();
    let seen = as_limited(h, "GET", &format!("/api/notifications/{own_id}"), None).await;
    assert_eq!(seen.status, 200, "{seen:?}");
    for path in [
        format!("/api/notifications/{everyone_id}"),
        format!("/api/notifications/{everyone_id}/deliveries"),
    ] {
        let hidden = as_limited(h, "GET", &path, None).await;
        assert_eq!(hidden.status, 404, "{path}: {hidden:?}");
        assert_eq!(hidden.body["error"]["code"], "NotificationNotFound");
    }
    for method in ["PUT", "DELETE"] {
        let body = (method == "PUT").then(|| json!({"text": "changed"}));
        let hidden = as_limited(
            h,
            method,
            &format!("/api/notifications/{everyone_id}/message"),
            body.as_ref(),
        )
        .await;
        assert_eq!(hidden.status, 404, "{method}: {hidden:?}");
    }
    // The unlimited key still sees both.
    let reply = h
        .call("GET", &format!("/api/notifications/{own_id}"), None)
        .await;
    assert_eq!(reply.status, 200);

    // Installations: its tenant's only, whether it names it or not.
    for path in [
        "/api/installations",
        &format!("/api/installations?tenantId={TENANT}"),
    ] {
        let listed = as_limited(h, "GET", path, None).await;
        assert_eq!(listed.status, 200, "{listed:?}");
        let tenants: Vec<&str> = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["tenantId"].as_str().unwrap())
            .collect();
        assert_eq!(tenants, [TENANT], "{path}");
    }
    let listed = as_limited(
        h,
        "GET",
        &format!("/api/installations?tenantId={OTHER}"),
        None,
    )
    .await;
    assert_eq!(listed.status, 403, "{listed:?}");
    let all = h.call("GET", "/api/installations", None).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);

    // Schedules: the key makes and sees its own; another tenant's is not there for it.
    let schedule = |tenant: &str| {
        json!({"target": {"kind": "tenant", "tenantId": tenant}, "message": text,
               "recurrence": {"kind": "weekly", "days": ["mon"], "time": "09:00"}, "timeZone": "Europe/Berlin"})
    };
    let mine = as_limited(h, "POST", "/api/schedules", Some(&schedule(TENANT))).await;
    assert_eq!(mine.status, 201, "{mine:?}");
    let mine = mine.body["id"].as_str().unwrap().to_owned();
    let refused = as_limited(h, "POST", "/api/schedules", Some(&schedule(OTHER))).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    let moved = as_limited(
        h,
        "PATCH",
        &format!("/api/schedules/{mine}"),
        Some(&json!({"target": {"kind": "all"}})),
    )
    .await;
    assert_eq!(moved.status, 403, "{moved:?}");
    let other = h
        .call("POST", "/api/schedules", Some(&schedule(OTHER)))
        .await;
    assert_eq!(other.status, 201, "{other:?}");
    let other = other.body["id"].as_str().unwrap().to_owned();
    let listed = as_limited(h, "GET", "/api/schedules", None).await;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    for (method, path) in [
        ("GET", format!("/api/schedules/{other}")),
        ("GET", format!("/api/schedules/{other}/preview")),
        ("PATCH", format!("/api/schedules/{other}")),
        ("DELETE", format!("/api/schedules/{other}")),
    ] {
        let body = (method == "PATCH").then(|| json!({"paused": true}));
        let hidden = as_limited(h, method, &path, body.as_ref()).await;
        assert_eq!(hidden.status, 404, "{method} {path}: {hidden:?}");
        assert_eq!(hidden.body["error"]["code"], "ScheduleNotFound");
    }
    // ... and it is still there, unpaused, for the unlimited key.
    let kept = h
        .raw(
            Some(&format!("Bearer {KEY}")),
            "GET",
            &format!("/api/schedules/{other}"),
            &[],
        )
        .await;
    assert_eq!(
        (kept.status, &kept.body["paused"]),
        (200, &json!(false)),
        "{kept:?}"
    );
}
