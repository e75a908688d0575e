//! `/api/schedules` through the handler, on both backends: create, read, list, change, pause,
//! resume, delete (`lifecycle`), every validation error (`validation`), and previews across
//! daylight-saving changes (`preview`).

mod lifecycle;
mod preview;
mod validation;

use chrono::{DateTime, TimeZone as _, Utc};
use herald_store::{ScheduleId, ScheduleRecord};
use serde_json::{Value, json};

use crate::{Harness, HttpReply};

pub(super) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

pub(super) fn daily_berlin(time: &str) -> Value {
    json!({
        "target": {"kind": "all"},
        "message": {"text": "Stand-up"},
        "recurrence": {"kind": "daily", "time": time},
        "timeZone": "Europe/Berlin",
    })
}

pub(super) fn assert_error(reply: &HttpReply, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.body["error"]["code"], code, "{reply:?}");
    assert_eq!(
        reply.body["error"]["field"].as_str(),
        field,
        "{}",
        reply.body
    );
    assert!(
        !reply.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
}

pub(super) async fn create(h: &Harness, body: &Value) -> Value {
    let reply = h.call("POST", "/api/schedules", Some(body)).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

pub(super) fn id_of(schedule: &Value) -> String {
    schedule["id"].as_str().unwrap().to_owned()
}

pub(super) async fn stored(h: &Harness, id: &str) -> ScheduleRecord {
    h.schedules
        .get_schedule(&ScheduleId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap()
}

pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) async fn patch(h: &Harness, id: &str, body: &Value) -> HttpReply {
    h.call("PATCH", &format!("/api/schedules/{id}"), Some(body))
        .await
}
