//! `/api/schedules`: notifications fired by a time rule, in one IANA zone or at each recipient's
//! own wall-clock time. The rules, their validation and the first fire live in `herald-schedule`,
//! shared with the scheduler, so that what the API promises (`nextFire`, preview) is what fires.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use herald_domain::Target;
use herald_http::{ApiError, Reply};
use herald_pipeline::request::NotifyRequest;
use herald_schedule::{
    Recurrence, RuleError, ScheduleRule, ScheduleZone, first_fire, schedule_zone,
};
use herald_store::{ScheduleId, ScheduleRecord};
use serde_json::{Map, Value, json};

use crate::Notify;
use crate::auth::Caller;
use crate::error::{invalid, request_error, status, store_error};
use crate::extract::{Id, JsonBody, Params};

pub(crate) const CREATE_FIELDS: [&str; 6] = [
    "target",
    "message",
    "recurrence",
    "timeZone",
    "startDate",
    "endDate",
];
const PATCH_FIELDS: [&str; 8] = [
    "paused",
    "target",
    "message",
    "recurrence",
    "timeZone",
    "startDate",
    "endDate",
    "version",
];

pub(crate) fn rule_error(e: &RuleError) -> ApiError {
    invalid("InvalidSchedule", e.field(), e.to_string())
}

fn invalid_request(field: &str, message: impl Into<String>) -> ApiError {
    invalid("InvalidRequest", field, message)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ScheduleNotFound",
        format!("no schedule {id:?}"),
    )
}

pub(crate) fn body_object(value: Value, known: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(object) = value else {
        return Err(invalid_request("", "the body must be a JSON object"));
    };
    if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(invalid_request(
            unknown,
            format!("{unknown}: unknown field (expected {})", known.join(", ")),
        ));
    }
    Ok(object)
}

/// Validates `target` and `message` exactly as `POST /api/notify` does, rendering the activity.
pub(crate) fn notify_part(
    target: Option<&Value>,
    message: Option<&Value>,
) -> Result<NotifyRequest, ApiError> {
    let mut part = Map::new();
    if let Some(target) = target {
        part.insert("target".into(), target.clone());
    }
    if let Some(message) = message {
        part.insert("message".into(), message.clone());
    }
    NotifyRequest::from_json(&Value::Object(part)).map_err(|e| request_error(&e))
}

/// `timeZone: "recipient"` reads each recipient's zone from the stored installation, through the
/// zone index of a listing; only targets expanded by listing installations have one.
pub(crate) fn check_zone_fits_target(zone: ScheduleZone, target: &Target) -> Result<(), ApiError> {
    let listing = match target {
        Target::All | Target::Type { .. } | Target::Tenant { .. } => true,
        Target::Team { channel, .. } => channel == "*",
        Target::TeamMembers { .. }
        | Target::Person { .. }
        | Target::Users { .. }
        | Target::Conversations { .. }
        | Target::Unread { .. } => false,
    };
    if zone == ScheduleZone::Recipient && !listing {
        return Err(invalid(
            "InvalidTarget",
            "target",
            "target: timeZone \"recipient\" fires in each recipient's own zone, which Herald keeps \
             on the stored installations it lists; it needs a target of kind all, type, tenant, \
             or team with channel \"*\". For named conversations, a person or a team's members, \
             give an IANA timeZone such as \"Europe/Berlin\"",
        ));
    }
    Ok(())
}

/// A rule that will never fire again is refused, naming what ended it.
fn never_fires(rule: &ScheduleRule) -> ApiError {
    let (field, message) = match rule.recurrence {
        Recurrence::Once { .. } => (
            "recurrence.at",
            "recurrence.at is in the past: the schedule would never fire",
        ),
        _ if rule.end_date.is_some() => (
            "endDate",
            "endDate has passed (or leaves no fire): the schedule would never fire",
        ),
        _ => ("recurrence", "the schedule would never fire"),
    };
    invalid("InvalidSchedule", field, message)
}

fn instant(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| {
        Value::String(at.to_rfc3339_opts(SecondsFormat::Secs, true))
    })
}

/// A schedule as the API shows it.
pub(crate) fn schedule_json(record: &ScheduleRecord) -> Value {
    json!({
        "id": record.id,
        "target": record.target,
        "message": record.message,
        "recurrence": record.rule.recurrence,
        "timeZone": record.time_zone,
        "startDate": record.rule.start_date,
        "endDate": record.rule.end_date,
        "paused": record.paused,
        "nextFire": instant(record.next_fire),
        "lastFire": instant(record.last_fire),
        "fired": record.fired,
        "missed": record.missed,
        "label": record.label,
        "ownerConversationId": record.owner.as_ref().map(|o| o.conversation_id.as_str()),
        "createdAt": instant(Some(record.created_at)),
        "updatedAt": instant(Some(record.updated_at)),
        "version": record.version,
    })
}

pub(crate) fn stored_zone(record: &ScheduleRecord) -> Result<ScheduleZone, ApiError> {
    schedule_zone(&record.time_zone).ok_or_else(|| {
        tracing::error!(schedule = %record.id, zone = %record.time_zone, "unreadable stored zone");
        ApiError::new(
            status(500),
            "InvalidStoredSchedule",
            format!(
                "the stored timeZone {:?} is not readable; PATCH a new timeZone",
                record.time_zone
            ),
        )
    })
}

impl Notify {
    /// The schedule `id`, if the caller may see it (one it may not see is not found).
    pub(crate) async fn load_schedule(
        &self,
        id: &str,
        caller: &Caller,
    ) -> Result<ScheduleRecord, ApiError> {
        let parsed = ScheduleId::parse(id).map_err(|_| not_found(id))?;
        self.schedules
            .get_schedule(&parsed)
            .await
            .map_err(|e| store_error(&e))?
            .filter(|record| caller.may_see(&record.target))
            .ok_or_else(|| not_found(id))
    }
}

/// `POST /api/schedules`.
pub(crate) async fn create(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Reply, ApiError> {
    let object = body_object(body, &CREATE_FIELDS)?;
    let request = notify_part(object.get("target"), object.get("message"))?;
    caller.allow_target(&request.target)?;
    let rule =
        ScheduleRule::from_json(&Value::Object(object.clone())).map_err(|e| rule_error(&e))?;
    let zone = ScheduleZone::from_json(object.get("timeZone").unwrap_or(&Value::Null))
        .map_err(|e| rule_error(&e))?;
    check_zone_fits_target(zone, &request.target)?;
    let now = notify.clock.now();
    let next_fire = first_fire(&rule, zone, now).ok_or_else(|| never_fires(&rule))?;
    let record = ScheduleRecord::new(
        ScheduleId::random(),
        rule,
        zone,
        request.target,
        object.get("message").cloned().unwrap_or_default(),
        request.activity,
        now,
    )
    .with_next_fire(Some(next_fire));
    notify
        .schedules
        .create_schedule(&record)
        .await
        .map_err(|e| store_error(&e))?;
    tracing::info!(schedule = %record.id, zone = %record.time_zone, next = %next_fire, "schedule created");
    Ok(Reply::json(StatusCode::CREATED, schedule_json(&record)))
}

/// `GET /api/schedules`: for a key limited to some tenants, only the schedules it may see.
pub(crate) async fn list(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Params(query): Params,
) -> Result<Reply, ApiError> {
    let page = notify
        .schedules
        .list_schedules(&query.page_only()?)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(caller.visible_page("schedules", &page, schedule_json))
}

/// `GET /api/schedules/{id}`.
pub(crate) async fn get(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Id(id): Id,
) -> Result<Reply, ApiError> {
    let record = notify.load_schedule(&id, &caller).await?;
    Ok(Reply::json(StatusCode::OK, schedule_json(&record)))
}

/// `PATCH /api/schedules/{id}`: pause, resume, or change any part; the next fire is worked
/// out again from now, and the write is conditional on the version read.
pub(crate) async fn patch(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Id(id): Id,
    JsonBody(body): JsonBody,
) -> Result<Reply, ApiError> {
    let object = body_object(body, &PATCH_FIELDS)?;
    if object.is_empty() {
        return Err(invalid_request(
            "",
            format!("nothing to change: give one of {}", PATCH_FIELDS.join(", ")),
        ));
    }
    let expected_version = match object.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            invalid_request(
                "version",
                "version must be the schedule's version, a number",
            )
        })?),
    };
    let paused = match object.get("paused") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(invalid_request("paused", "paused must be true or false")),
    };
    let mut record = notify.load_schedule(&id, &caller).await?;
    if let Some(expected) = expected_version
        && expected != record.version
    {
        return Err(conflict(&record));
    }
    if object.contains_key("target") || object.contains_key("message") {
        let current_target = serde_json::to_value(&record.target).unwrap_or_default();
        let message = object.get("message").unwrap_or(&record.message).clone();
        let request = notify_part(
            Some(object.get("target").unwrap_or(&current_target)),
            Some(&message),
        )?;
        caller.allow_target(&request.target)?;
        record.target = request.target;
        record.activity = request.activity;
        record.message = message;
    }
    if ["recurrence", "startDate", "endDate"]
        .iter()
        .any(|k| object.contains_key(*k))
    {
        let mut merged = match serde_json::to_value(record.rule) {
            Ok(Value::Object(current)) => current,
            _ => Map::new(),
        };
        for key in ["recurrence", "startDate", "endDate"] {
            if let Some(value) = object.get(key) {
                merged.insert(key.into(), value.clone());
            }
        }
        record.rule =
            ScheduleRule::from_json(&Value::Object(merged)).map_err(|e| rule_error(&e))?;
    }
    let zone = match object.get("timeZone") {
        Some(value) => ScheduleZone::from_json(value).map_err(|e| rule_error(&e))?,
        None => stored_zone(&record)?,
    };
    check_zone_fits_target(zone, &record.target)?;
    record.time_zone = zone.to_string();
    if let Some(paused) = paused {
        record.paused = paused;
    }
    let now = notify.clock.now();
    let next = first_fire(&record.rule, zone, now);
    if !record.paused && next.is_none() {
        return Err(never_fires(&record.rule));
    }
    // Paused schedules have no next fire; resuming starts again from now (no catch-up).
    record.next_fire = if record.paused { None } else { next };
    record.version += 1;
    record.updated_at = now;
    let written = notify
        .schedules
        .update_schedule(&record)
        .await
        .map_err(|e| store_error(&e))?;
    if !written {
        return Err(conflict(&record));
    }
    tracing::info!(schedule = %record.id, paused = record.paused, next = ?record.next_fire, "schedule changed");
    Ok(Reply::json(StatusCode::OK, schedule_json(&record)))
}

/// `DELETE /api/schedules/{id}`.
pub(crate) async fn delete(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Id(id): Id,
) -> Result<Reply, ApiError> {
    let parsed = ScheduleId::parse(&id).map_err(|_| not_found(&id))?;
    if caller.tenants.is_some() {
        notify.load_schedule(&id, &caller).await?;
    }
    let deleted = notify
        .schedules
        .delete_schedule(&parsed)
        .await
        .map_err(|e| store_error(&e))?;
    if !deleted {
        return Err(not_found(&id));
    }
    tracing::info!(schedule = %parsed, "schedule deleted");
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn conflict(record: &ScheduleRecord) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "Conflict",
        format!(
            "schedule {} changed since it was read; read it again and retry",
            record.id
        ),
    )
}
