//! The next fires of a schedule, each in UTC and local time: of a stored schedule
//! (`GET /api/schedules/{id}/preview`) or of a draft not saved yet (`POST
//! /api/schedules/preview`, the same body as `POST /api/schedules`), both worked out by
//! `herald-schedule`'s own rules, so what a preview shows is what fires.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use herald_domain::TimeZone;
use herald_http::{ApiError, Reply};
use herald_schedule::{Fire, ScheduleRule, ScheduleZone, upcoming};
use serde_json::{Value, json};

use crate::Notify;
use crate::auth::Caller;
use crate::error::invalid;
use crate::extract::{Id, JsonBody, Params};
use crate::query::Query;
use crate::schedules::{
    CREATE_FIELDS, body_object, check_zone_fits_target, notify_part, rule_error, stored_zone,
};

/// Fires a preview lists when `count` is not given.
pub const DEFAULT_PREVIEW_COUNT: u32 = 10;
/// The most fires a preview lists.
pub const MAX_PREVIEW_COUNT: u32 = 100;

/// `count` and `timeZone` of a preview's query.
fn preview_query(query: &Query) -> Result<(usize, Option<TimeZone>), ApiError> {
    query.only(&["count", "timeZone"])?;
    let count = query.bounded("count", DEFAULT_PREVIEW_COUNT, MAX_PREVIEW_COUNT)?;
    let asked: Option<TimeZone> =
        query.value("timeZone", "an IANA zone name such as Europe/Berlin")?;
    Ok((usize::try_from(count).unwrap_or(usize::MAX), asked))
}

/// The zone to show fires in: the schedule's own, or for a recipient-local one the zone asked.
fn preview_zone(zone: ScheduleZone, asked: Option<TimeZone>) -> Result<TimeZone, ApiError> {
    match (zone, asked) {
        (ScheduleZone::Fixed(zone), None) | (ScheduleZone::Recipient, Some(zone)) => Ok(zone),
        (ScheduleZone::Recipient, None) => Err(invalid(
            "InvalidParameter",
            "timeZone",
            "timeZone is required: this schedule fires at each recipient's own local time, \
                 so say whose (an IANA zone name such as Europe/Berlin)",
        )),
        (ScheduleZone::Fixed(zone), Some(_)) => Err(invalid(
            "InvalidParameter",
            "timeZone",
            format!(
                "timeZone applies only to schedules with timeZone \"recipient\"; this one fires in {zone}"
            ),
        )),
    }
}

fn fires(notify: &Notify, rule: &ScheduleRule, zone: TimeZone, count: usize) -> Value {
    let fires: Vec<Fire> = upcoming(rule, zone, notify.clock.now())
        .take(count)
        .collect();
    serde_json::to_value(&fires).unwrap_or_default()
}

/// `GET /api/schedules/{id}/preview?count=N[&timeZone=]`.
pub(crate) async fn saved(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Id(id): Id,
    Params(query): Params,
) -> Result<Reply, ApiError> {
    let (count, asked) = preview_query(&query)?;
    let record = notify.load_schedule(&id, &caller).await?;
    let zone = preview_zone(stored_zone(&record)?, asked)?;
    Ok(Reply::json(
        StatusCode::OK,
        json!({
            "id": record.id,
            "timeZone": zone.name(),
            "paused": record.paused,
            "fires": fires(&notify, &record.rule, zone, count),
        }),
    ))
}

/// `POST /api/schedules/preview?count=N[&timeZone=]`: a draft's fires; `target` and `message`
/// may be left out, and are checked as `POST /api/schedules` checks them when given (a target
/// the API key may not send to is refused).
pub(crate) async fn draft(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Params(query): Params,
    JsonBody(body): JsonBody,
) -> Result<Reply, ApiError> {
    let (count, asked) = preview_query(&query)?;
    let object = body_object(body, &CREATE_FIELDS)?;
    let rule =
        ScheduleRule::from_json(&Value::Object(object.clone())).map_err(|e| rule_error(&e))?;
    let schedule_zone = ScheduleZone::from_json(object.get("timeZone").unwrap_or(&Value::Null))
        .map_err(|e| rule_error(&e))?;
    if object.contains_key("target") {
        let request = notify_part(
            object.get("target"),
            Some(object.get("message").unwrap_or(&json!({"text": "preview"}))),
        )?;
        caller.allow_target(&request.target)?;
        check_zone_fits_target(schedule_zone, &request.target)?;
    }
    let zone = preview_zone(schedule_zone, asked)?;
    Ok(Reply::json(
        StatusCode::OK,
        json!({
            "timeZone": zone.name(),
            "fires": fires(&notify, &rule, zone, count),
        }),
    ))
}
