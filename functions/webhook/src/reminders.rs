//! Chat reminders: `remind me ...`, `reminders`, `cancel reminder <id>`.
//!
//! A reminder is a schedule like those of `POST /api/schedules`, owned by the conversation that
//! asked for it, targeting that conversation, in the user's effective time zone (their own choice,
//! else what Teams reports, else `HERALD_DEFAULT_TIME_ZONE`). The scheduler fires it; the chat only
//! creates, lists and cancels.

use chrono::{DateTime, Timelike, Utc};
use herald_domain::{ConversationReference, Target, TimeZone};
use herald_pipeline::request::Message;
use herald_schedule::{
    Recurrence, ReminderCommand, ScheduleRule, ScheduleZone, Weekdays, next_fire,
};
use herald_store::{ScheduleId, ScheduleRecord, StoreError};
use serde_json::json;

use crate::Webhook;

/// Where a reminder's zone came from, for the reply.
enum ZoneSource {
    User,
    Default,
}

/// The reply to one reminder command.
pub(crate) async fn answer(
    hook: &Webhook,
    reference: &ConversationReference,
    activity_id: Option<&str>,
    now: DateTime<Utc>,
    command: ReminderCommand,
) -> Result<String, StoreError> {
    match command {
        ReminderCommand::Create { recurrence, text } => {
            create(hook, reference, activity_id, now, recurrence, text).await
        }
        ReminderCommand::List => list(hook, reference).await,
        ReminderCommand::Cancel { id } => cancel(hook, reference, &id).await,
    }
}

/// The user's zone: what they chose, else what Teams reported, as stored (the activity's own
/// reference carries no override).
async fn zone_of(
    hook: &Webhook,
    reference: &ConversationReference,
) -> Result<(TimeZone, ZoneSource), StoreError> {
    let stored = hook.store.get(&reference.key()).await?;
    let zone = stored
        .as_ref()
        .and_then(ConversationReference::effective_time_zone)
        .or_else(|| reference.effective_time_zone());
    Ok(match zone {
        Some(zone) => (zone, ZoneSource::User),
        None => (hook.config.default_time_zone, ZoneSource::Default),
    })
}

/// The same message redelivered by Teams makes the same reminder, not a second one.
fn reminder_id(reference: &ConversationReference, activity_id: Option<&str>) -> ScheduleId {
    let Some(activity) = activity_id.filter(|a| !a.is_empty()) else {
        return ScheduleId::random();
    };
    let name = format!(
        "reminder|{}|{}|{activity}",
        reference.tenant_id, reference.conversation_id
    );
    let uuid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes());
    ScheduleId::parse(&format!("s-{}", uuid.simple())).unwrap_or_else(|_| ScheduleId::random())
}

async fn create(
    hook: &Webhook,
    reference: &ConversationReference,
    activity_id: Option<&str>,
    now: DateTime<Utc>,
    recurrence: Recurrence,
    text: String,
) -> Result<String, StoreError> {
    let (zone, source) = zone_of(hook, reference).await?;
    let rule = ScheduleRule::new(recurrence);
    let Some(next) = next_fire(&rule, zone, now) else {
        let local_now = now.with_timezone(&zone.tz());
        return Ok(format!(
            "That time ({}) has already passed in {zone} (it's {} there now). Pick a date and time still \
             ahead, like 'remind me on {} at 09:00 to {text}'.",
            describe(&recurrence),
            local_now.format("%Y-%m-%d %H:%M"),
            (local_now.date_naive() + chrono::Days::new(1)).format("%Y-%m-%d"),
        ));
    };
    let message = json!({"text": text});
    let activity = match Message::from_json(&message).and_then(|m| m.render()) {
        Ok(activity) => activity,
        Err(e) => {
            tracing::info!(error = %e, "reminder text refused");
            return Ok(
                "That reminder text is too long for a Teams message; please shorten it.".into(),
            );
        }
    };
    let record = ScheduleRecord::new(
        reminder_id(reference, activity_id),
        rule,
        ScheduleZone::Fixed(zone),
        Target::Conversations {
            ids: vec![reference.conversation_id.clone()],
        },
        message,
        activity,
        now,
    )
    .with_next_fire(Some(next))
    .owned_by(reference.key(), text.clone());
    match hook.schedules.create_schedule(&record).await {
        Ok(()) => {
            tracing::info!(schedule = %record.id, conversation = %reference.key(), zone = %zone, "reminder created");
        }
        // A redelivered message: the reminder exists already; confirm it again.
        Err(StoreError::Conflict(_)) => {
            tracing::info!(schedule = %record.id, "reminder already created by this message");
        }
        Err(e) => return Err(e),
    }
    let default_note = match source {
        ZoneSource::User => String::new(),
        ZoneSource::Default => format!(
            " I don't know your time zone yet, so I used {zone}: type **timezone Region/City** \
             (like timezone Europe/London) to set yours, then create the reminder again."
        ),
    };
    Ok(format!(
        "OK, I'll remind you {} to **{text}**. Next: **{}** ({zone}). Reminder id: **{}** \
         (type **cancel reminder {}** to cancel it).{default_note}",
        describe(&recurrence),
        local(next, zone),
        record.id,
        record.id,
    ))
}

async fn list(hook: &Webhook, reference: &ConversationReference) -> Result<String, StoreError> {
    let mut reminders = hook.schedules.schedules_of(&reference.key()).await?;
    if reminders.is_empty() {
        return Ok(
            "You have no reminders. Try 'remind me every weekday at 9:00 to stand up'.".into(),
        );
    }
    // Soonest first; those that will not fire again last.
    reminders.sort_by_key(|r| (r.next_fire.is_none(), r.next_fire, r.created_at));
    let mut lines = vec![format!("Your reminders ({}):", reminders.len())];
    for reminder in &reminders {
        let zone: Option<TimeZone> = reminder.time_zone.parse().ok();
        let when = match (reminder.paused, reminder.next_fire, zone) {
            (true, _, _) => "paused".to_owned(),
            (false, Some(next), Some(zone)) => format!("next {} ({zone})", local(next, zone)),
            (false, Some(next), None) => format!("next {}", next.format("%Y-%m-%d %H:%M UTC")),
            (false, None, _) => "done".to_owned(),
        };
        lines.push(format!(
            "- **{}**: {} to **{}**; {when}",
            reminder.id,
            describe(&reminder.rule.recurrence),
            reminder.label.as_deref().unwrap_or("(no text)"),
        ));
    }
    lines.push("Type **cancel reminder** *id* to cancel one.".into());
    Ok(lines.join("\n\n"))
}

async fn cancel(
    hook: &Webhook,
    reference: &ConversationReference,
    id: &str,
) -> Result<String, StoreError> {
    let unknown =
        || format!("You have no reminder {id}. Type **reminders** to see yours and their ids.");
    let Ok(parsed) = ScheduleId::parse(id) else {
        return Ok(unknown());
    };
    let owner = reference.key();
    // Someone else's reminder (or an API schedule) reads as unknown: ids are not a way in.
    let Some(found) = hook
        .schedules
        .get_schedule(&parsed)
        .await?
        .filter(|s| s.owner.as_ref() == Some(&owner))
    else {
        return Ok(unknown());
    };
    if !hook.schedules.delete_schedule(&parsed).await? {
        return Ok(unknown());
    }
    tracing::info!(schedule = %parsed, conversation = %owner, "reminder cancelled");
    Ok(format!(
        "Cancelled reminder **{}** ({} to **{}**).",
        found.id,
        describe(&found.rule.recurrence),
        found.label.as_deref().unwrap_or("(no text)"),
    ))
}

/// `Mon 23 Nov 2026, 09:00`.
fn local(at: DateTime<Utc>, zone: TimeZone) -> String {
    at.with_timezone(&zone.tz())
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

fn hhmm(time: chrono::NaiveTime) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

fn day_name(day: chrono::Weekday) -> &'static str {
    match day {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    }
}

/// `every weekday at 09:00`, `on 2026-12-24 at 08:00`, ...
fn describe(recurrence: &Recurrence) -> String {
    match *recurrence {
        Recurrence::Once { at } => {
            format!("on {} at {}", at.date().format("%Y-%m-%d"), hhmm(at.time()))
        }
        Recurrence::Daily { time } => format!("every day at {}", hhmm(time)),
        Recurrence::Weekly { days, time } => {
            let days = if days == Weekdays::MON_TO_FRI {
                "weekday".to_owned()
            } else if days == Weekdays::WEEKEND {
                "Saturday and Sunday".to_owned()
            } else {
                days.iter().map(day_name).collect::<Vec<_>>().join(", ")
            };
            format!("every {days} at {}", hhmm(time))
        }
        Recurrence::Monthly { day, time } => {
            let day = day.get();
            let note = if day > 28 {
                " (the last day in shorter months)"
            } else {
                ""
            };
            format!("monthly on day {day}{note} at {}", hhmm(time))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_schedule::MonthDay;

    #[test]
    fn describes_each_recurrence() {
        let time = chrono::NaiveTime::from_hms_opt(9, 5, 0).unwrap();
        assert_eq!(
            describe(&Recurrence::Weekly {
                days: Weekdays::MON_TO_FRI,
                time
            }),
            "every weekday at 09:05"
        );
        assert_eq!(
            describe(&Recurrence::Weekly {
                days: Weekdays::empty()
                    .with(chrono::Weekday::Mon)
                    .with(chrono::Weekday::Wed),
                time
            }),
            "every Monday, Wednesday at 09:05"
        );
        assert_eq!(
            describe(&Recurrence::Monthly {
                day: MonthDay::new(31).unwrap(),
                time
            }),
            "monthly on day 31 (the last day in shorter months) at 09:05"
        );
        assert_eq!(describe(&Recurrence::Daily { time }), "every day at 09:05");
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 24)
            .unwrap()
            .and_time(time);
        assert_eq!(describe(&Recurrence::Once { at }), "on 2026-12-24 at 09:05");
    }
}
