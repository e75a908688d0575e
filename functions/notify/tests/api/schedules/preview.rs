//! A schedule's next fires, across daylight-saving changes and with every query parameter.

use serde_json::json;

use super::{assert_error, create, daily_berlin, id_of, utc};
use crate::{Harness, HttpReply, on_both_backends};

on_both_backends!(preview_across_daylight_saving, preview_parameters);

async fn preview(h: &Harness, id: &str, query: &str) -> HttpReply {
    h.call("GET", &format!("/api/schedules/{id}/preview{query}"), None)
        .await
}

fn fires(reply: &HttpReply) -> Vec<(String, String)> {
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body["fires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["utc"].as_str().unwrap().to_owned(),
                f["local"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn preview_across_daylight_saving(h: &Harness) {
    // Berlin springs forward on 2026-03-29 at 02:00 (to 03:00, UTC+1 -> UTC+2).
    h.clock.set(utc(2026, 3, 27, 12, 0));
    let nine = id_of(&create(h, &daily_berlin("09:00")).await);
    let reply = preview(h, &nine, "?count=4").await;
    assert_eq!(reply.body["timeZone"], "Europe/Berlin");
    assert_eq!(reply.body["id"], nine.as_str());
    assert_eq!(
        fires(&reply),
        [
            ("2026-03-28T08:00:00Z", "2026-03-28T09:00:00+01:00"),
            ("2026-03-29T07:00:00Z", "2026-03-29T09:00:00+02:00"),
            ("2026-03-30T07:00:00Z", "2026-03-30T09:00:00+02:00"),
            ("2026-03-31T07:00:00Z", "2026-03-31T09:00:00+02:00"),
        ]
        .map(|(u, l)| (u.to_owned(), l.to_owned()))
    );
    assert!(
        reply.body["fires"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["timeZone"] == "Europe/Berlin")
    );

    // 02:30 does not exist on the 29th: it fires at 03:30 local, the same offset past the gap.
    let gap = id_of(&create(h, &daily_berlin("02:30")).await);
    assert_eq!(
        fires(&preview(h, &gap, "?count=3").await),
        [
            ("2026-03-28T01:30:00Z", "2026-03-28T02:30:00+01:00"),
            ("2026-03-29T01:30:00Z", "2026-03-29T03:30:00+02:00"),
            ("2026-03-30T00:30:00Z", "2026-03-30T02:30:00+02:00"),
        ]
        .map(|(u, l)| (u.to_owned(), l.to_owned()))
    );

    // Falling back on 2026-10-25 (03:00 -> 02:00): 02:30 happens twice and fires once, first.
    h.clock.set(utc(2026, 10, 23, 12, 0));
    assert_eq!(
        fires(&preview(h, &gap, "?count=3").await),
        [
            ("2026-10-24T00:30:00Z", "2026-10-24T02:30:00+02:00"),
            ("2026-10-25T00:30:00Z", "2026-10-25T02:30:00+02:00"),
            ("2026-10-26T01:30:00Z", "2026-10-26T02:30:00+01:00"),
        ]
        .map(|(u, l)| (u.to_owned(), l.to_owned()))
    );

    // A recipient schedule previewed in a southern-hemisphere zone: Sydney leaves DST on
    // 2026-04-05 (03:00 AEDT -> 02:00 AEST).
    h.clock.set(utc(2026, 4, 2, 0, 0));
    let mut recipient = daily_berlin("09:00");
    recipient["timeZone"] = json!("recipient");
    let recipient = id_of(&create(h, &recipient).await);
    let reply = preview(h, &recipient, "?count=4&timeZone=Australia/Sydney").await;
    assert_eq!(reply.body["timeZone"], "Australia/Sydney");
    assert_eq!(
        fires(&reply),
        [
            ("2026-04-02T22:00:00Z", "2026-04-03T09:00:00+11:00"),
            ("2026-04-03T22:00:00Z", "2026-04-04T09:00:00+11:00"),
            ("2026-04-04T23:00:00Z", "2026-04-05T09:00:00+10:00"),
            ("2026-04-05T23:00:00Z", "2026-04-06T09:00:00+10:00"),
        ]
        .map(|(u, l)| (u.to_owned(), l.to_owned()))
    );
    // A 45-minute offset, no DST.
    let reply = preview(h, &recipient, "?count=1&timeZone=Asia/Kathmandu").await;
    assert_eq!(
        fires(&reply),
        [(
            "2026-04-02T03:15:00Z".to_owned(),
            "2026-04-02T09:00:00+05:45".to_owned()
        )]
    );

    // A once ends the preview after its one fire; monthly on the 31st takes the last day.
    let mut once = daily_berlin("x");
    once["recurrence"] = json!({"kind": "once", "at": "2026-12-24T08:00"});
    let once = id_of(&create(h, &once).await);
    assert_eq!(
        fires(&preview(h, &once, "?count=5").await),
        [(
            "2026-12-24T07:00:00Z".to_owned(),
            "2026-12-24T08:00:00+01:00".to_owned()
        )]
    );
    let mut monthly = daily_berlin("x");
    monthly["recurrence"] = json!({"kind": "monthly", "day": 31, "time": "18:00"});
    let monthly = id_of(&create(h, &monthly).await);
    let locals: Vec<String> = fires(&preview(h, &monthly, "?count=3").await)
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    assert_eq!(
        locals,
        [
            "2026-04-30T18:00:00+02:00",
            "2026-05-31T18:00:00+02:00",
            "2026-06-30T18:00:00+02:00"
        ]
    );
}

async fn preview_parameters(h: &Harness) {
    let id = id_of(&create(h, &daily_berlin("09:00")).await);
    assert_eq!(fires(&preview(h, &id, "").await).len(), 10);
    assert_eq!(fires(&preview(h, &id, "?count=1").await).len(), 1);
    assert_eq!(fires(&preview(h, &id, "?count=100").await).len(), 100);
    for bad in ["?count=0", "?count=101", "?count=ten", "?count=-1"] {
        assert_error(
            &preview(h, &id, bad).await,
            400,
            "InvalidParameter",
            Some("count"),
        );
    }
    assert_error(
        &preview(h, &id, "?days=3").await,
        400,
        "InvalidParameter",
        Some("days"),
    );
    // A fixed-zone schedule has its own zone.
    assert_error(
        &preview(h, &id, "?timeZone=Asia/Tokyo").await,
        400,
        "InvalidParameter",
        Some("timeZone"),
    );
    let mut recipient = daily_berlin("09:00");
    recipient["timeZone"] = json!("recipient");
    let recipient = id_of(&create(h, &recipient).await);
    let missing = preview(h, &recipient, "?count=2").await;
    assert_error(&missing, 400, "InvalidParameter", Some("timeZone"));
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("required")
    );
    assert_error(
        &preview(h, &recipient, "?timeZone=Europe/Atlantis").await,
        400,
        "InvalidParameter",
        Some("timeZone"),
    );
    assert_error(
        &preview(h, "s-0123abcd", "").await,
        404,
        "ScheduleNotFound",
        None,
    );
}
