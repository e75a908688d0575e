//! The documented refusals that take a request of their own shape: bodies not sent as JSON (415)
//! and a tenant-limited key reaching past its tenants (403).

use serde_json::{Value, json};

use super::answers::check_answer;
use crate::{Harness, KEY, LIMITED_KEY, TENANT};

/// A tenant the limited key does not reach.
const OTHER_TENANT: &str = "00000000-0000-0000-0000-0000000000bb";

/// Produces each refusal and checks it against the document; returns what it covered
/// (`"<method> <template> <status>"`).
pub(super) async fn refusals(
    h: &Harness,
    spec: &Value,
    sent_id: &str,
    sid: &str,
    schedule_example: &Value,
    pause: &Value,
) -> Vec<String> {
    let mut covered = Vec::new();
    // 415: every body a web page could post across origins without a preflight.
    for (template, method, path, body) in [
        (
            "/api/notify",
            "post",
            "/api/notify".to_owned(),
            json!({"target": {"kind": "all"}, "message": {"text": "t"}}),
        ),
        (
            "/api/notifications/{id}/message",
            "put",
            format!("/api/notifications/{sent_id}/message"),
            json!({"text": "v3"}),
        ),
        (
            "/api/schedules",
            "post",
            "/api/schedules".to_owned(),
            schedule_example.clone(),
        ),
        (
            "/api/schedules/{id}",
            "patch",
            format!("/api/schedules/{sid}"),
            pause.clone(),
        ),
        (
            "/api/schedules/preview",
            "post",
            "/api/schedules/preview".to_owned(),
            schedule_example.clone(),
        ),
        (
            "/api/audience",
            "post",
            "/api/audience".to_owned(),
            json!({"target": {"kind": "all"}}),
        ),
        (
            "/api/render",
            "post",
            "/api/render".to_owned(),
            json!({"text": "t"}),
        ),
    ] {
        let reply = crate::request_as(
            &h.notify,
            Some(&format!("Bearer {KEY}")),
            Some("text/plain"),
            &method.to_uppercase(),
            &path,
            body.to_string().as_bytes(),
        )
        .await;
        check_answer(spec, (template, method, "415"), &path, &reply);
        covered.push(format!("{method} {template} 415"));
    }

    // 403: the limited key, past its tenant.
    let limited = format!("Bearer {LIMITED_KEY}");
    let as_limited = |method: &'static str, path: String, body: Option<Value>| {
        let limited = limited.clone();
        async move {
            let bytes = body
                .map(|b| serde_json::to_vec(&b).unwrap())
                .unwrap_or_default();
            h.raw(Some(&limited), method, &path, &bytes).await
        }
    };
    let mut own_schedule = schedule_example.clone();
    own_schedule["target"] = json!({"kind": "tenant", "tenantId": TENANT});
    let own = as_limited("POST", "/api/schedules".into(), Some(own_schedule.clone())).await;
    assert_eq!(own.status, 201, "{own:?}");
    let own = own.body["id"].as_str().unwrap().to_owned();
    let elsewhere = json!({"kind": "tenant", "tenantId": OTHER_TENANT});
    let mut foreign_schedule = own_schedule;
    foreign_schedule["target"] = elsewhere.clone();
    for (template, method, path, body) in [
        (
            "/api/notify",
            "post",
            "/api/notify".to_owned(),
            Some(json!({"target": elsewhere, "message": {"text": "t"}})),
        ),
        (
            "/api/schedules",
            "post",
            "/api/schedules".to_owned(),
            Some(foreign_schedule),
        ),
        (
            "/api/schedules/{id}",
            "patch",
            format!("/api/schedules/{own}"),
            Some(json!({"target": elsewhere})),
        ),
        (
            "/api/schedules/preview",
            "post",
            "/api/schedules/preview".to_owned(),
            Some(
                json!({"target": elsewhere, "recurrence": {"kind": "daily", "time": "09:00"},
                "timeZone": "Europe/Berlin"}),
            ),
        ),
        (
            "/api/audience",
            "post",
            "/api/audience".to_owned(),
            Some(json!({"target": elsewhere})),
        ),
        (
            "/api/installations",
            "get",
            format!("/api/installations?tenantId={OTHER_TENANT}"),
            None,
        ),
    ] {
        let reply = as_limited(method_name(method), path.clone(), body).await;
        check_answer(spec, (template, method, "403"), &path, &reply);
        assert_eq!(reply.body["error"]["tenantId"], OTHER_TENANT, "{reply:?}");
        covered.push(format!("{method} {template} 403"));
    }
    covered
}

fn method_name(method: &str) -> &'static str {
    match method {
        "post" => "POST",
        "patch" => "PATCH",
        _ => "GET",
    }
}
