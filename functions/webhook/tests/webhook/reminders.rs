//! Chat reminders end to end: `remind me ...`, `reminders` and `cancel reminder <id>` typed in
//! Teams-shaped message activities, with the schedules they leave in the store (DynamoDB Local)
//! and the replies posted to the emulator.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone as _, Utc};
use herald_domain::Target;
use herald_schedule::{Recurrence, ReminderCommand, ReminderParseError, ScheduleRule, Weekdays};
use herald_store::{ScheduleId, ScheduleRecord};
use serde_json::json;

use crate::support::{Harness, Payload};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

impl Harness {
    /// A personal-chat message a minute later, from a client in `zone`.
    fn typed(&self, text: &str, zone: &str) -> Payload {
        self.activity("message_personal_local_timezone")
            .set("TIMEZONE", zone)
            .text(text)
            .at(self.later(60))
    }

    /// Says `text` in the personal chat (client in `zone`) and returns Herald's reply.
    async fn tell(&self, text: &str, zone: &str) -> String {
        self.ok(&self.typed(text, zone)).await;
        self.last_text(&self.personal)
    }

    async fn reminders_of(&self, conversation: &str) -> Vec<ScheduleRecord> {
        self.webhook
            .schedules
            .schedules_of(&Self::key(conversation))
            .await
            .unwrap()
    }

    async fn only_reminder(&self, conversation: &str) -> ScheduleRecord {
        let mut all = self.reminders_of(conversation).await;
        assert_eq!(all.len(), 1, "{all:#?}");
        all.remove(0)
    }
}

/// The reminder id quoted in a confirmation.
fn quoted_id(reply: &str) -> String {
    let start = reply.find("Reminder id: **").unwrap() + "Reminder id: **".len();
    let end = start + reply[start..].find("**").unwrap();
    reply[start..end].to_owned()
}

#[tokio::test]
async fn every_weekday_in_the_users_zone() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    // 2026-11-02 is a Monday; 15:05Z is 07:05 in Los Angeles (PST, UTC-8 since 1 November).
    let reply = h
        .tell(
            "remind me every weekday at 9:00 to Stand up!",
            "America/Los_Angeles",
        )
        .await;
    let stored = h.only_reminder(&h.personal).await;
    assert_eq!(
        stored.rule,
        ScheduleRule::new(Recurrence::Weekly {
            days: Weekdays::MON_TO_FRI,
            time: hm(9, 0)
        })
    );
    assert_eq!(stored.time_zone, "America/Los_Angeles");
    assert_eq!(stored.owner, Some(Harness::key(&h.personal)));
    assert_eq!(
        stored.target,
        Target::Conversations {
            ids: vec![herald_domain::ConversationId::new(&h.personal).unwrap()]
        }
    );
    assert_eq!(stored.label.as_deref(), Some("Stand up!"));
    assert_eq!(stored.message, json!({"text": "Stand up!"}));
    assert_eq!(stored.activity["type"], "message");
    assert_eq!(stored.activity["text"], "Stand up!");
    assert_eq!(stored.next_fire, Some(utc(2026, 11, 2, 17, 0)));
    assert!(!stored.paused);
    // The scheduler finds it due at that instant.
    let due = h
        .webhook
        .schedules
        .due_schedules(utc(2026, 11, 2, 17, 0), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        reply,
        format!(
            "OK, I'll remind you every weekday at 09:00 to **Stand up!**. Next: **Mon 2 Nov 2026, \
             09:00** (America/Los_Angeles). Reminder id: **{id}** (type **cancel reminder {id}** \
             to cancel it).",
            id = stored.id
        )
    );
    assert_eq!(quoted_id(&reply), stored.id.as_str());
}

#[tokio::test]
async fn daily_and_once_and_the_users_own_zone_choice() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    // 15:05Z is 20:35 in Kolkata: today's 17:30 has passed.
    let daily = h
        .tell("remind me daily at 17:30 to log hours", "Asia/Kolkata")
        .await;
    assert!(
        daily.contains("every day at 17:30 to **log hours**")
            && daily.contains("Next: **Tue 3 Nov 2026, 17:30** (Asia/Kolkata)"),
        "{daily}"
    );
    let stored = h.only_reminder(&h.personal).await;
    assert_eq!(
        stored.rule,
        ScheduleRule::new(Recurrence::Daily { time: hm(17, 30) })
    );
    assert_eq!(stored.time_zone, "Asia/Kolkata");
    assert_eq!(stored.next_fire, Some(utc(2026, 11, 3, 12, 0)));

    // The user's explicit zone wins over what the client reports.
    assert!(
        h.tell("timezone Europe/Berlin", "Asia/Kolkata")
            .await
            .starts_with("Got it")
    );
    let once = h
        .tell(
            "remind me on 2026-12-24 at 08:00 to buy bread",
            "Asia/Kolkata",
        )
        .await;
    assert!(
        once.contains("on 2026-12-24 at 08:00 to **buy bread**")
            && once.contains("Next: **Thu 24 Dec 2026, 08:00** (Europe/Berlin)"),
        "{once}"
    );
    let id = ScheduleId::parse(&quoted_id(&once)).unwrap();
    let stored = h
        .webhook
        .schedules
        .get_schedule(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.rule,
        ScheduleRule::new(Recurrence::Once {
            at: NaiveDate::from_ymd_opt(2026, 12, 24)
                .unwrap()
                .and_time(hm(8, 0))
        })
    );
    assert_eq!(stored.time_zone, "Europe/Berlin");
    assert_eq!(stored.next_fire, Some(utc(2026, 12, 24, 7, 0)));
    assert_eq!(h.reminders_of(&h.personal).await.len(), 2);
}

#[tokio::test]
async fn reminders_lists_ids_and_next_fires() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    assert_eq!(
        h.tell("reminders", "Europe/Berlin").await,
        "You have no reminders. Try 'remind me every weekday at 9:00 to stand up'."
    );
    let once = quoted_id(
        &h.tell(
            "remind me on 2026-12-24 at 08:00 to buy bread",
            "Europe/Berlin",
        )
        .await,
    );
    let daily = quoted_id(
        &h.tell("remind me daily at 17:30 to log hours", "Europe/Berlin")
            .await,
    );
    let monthly = quoted_id(
        &h.tell(
            "remind me monthly on 30 at 18:00 to pay rent",
            "Europe/Berlin",
        )
        .await,
    );
    // Soonest first: today 17:30 (16:09 in Berlin now), 30 Nov, 24 Dec.
    let list = h.tell("reminders", "Europe/Berlin").await;
    assert_eq!(
        list,
        format!(
            "Your reminders (3):\n\n\
             - **{daily}**: every day at 17:30 to **log hours**; next Mon 2 Nov 2026, 17:30 (Europe/Berlin)\n\n\
             - **{monthly}**: monthly on day 30 (the last day in shorter months) at 18:00 to **pay rent**; next Mon 30 Nov 2026, 18:00 (Europe/Berlin)\n\n\
             - **{once}**: on 2026-12-24 at 08:00 to **buy bread**; next Thu 24 Dec 2026, 08:00 (Europe/Berlin)\n\n\
             Type **cancel reminder** *id* to cancel one."
        )
    );
    // The same list after an @mention-style prefix and with other words for it.
    assert_eq!(
        h.tell("<at>Herald</at> show my reminders", "Europe/Berlin")
            .await,
        list
    );
}

#[tokio::test]
async fn cancel_only_from_the_owning_conversation() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    let id = quoted_id(
        &h.tell("remind me daily at 9:00 to stretch", "Europe/Berlin")
            .await,
    );

    // Another user's chat cannot cancel it, and learns nothing about it.
    let (other, chat) = h.another_user("Alex Wilber");
    let from_other = h
        .activity("message_personal_local_timezone")
        .set("CONVERSATION_ID", &chat)
        .set("USER_ID", &other.id)
        .set("USER_AAD", &other.aad_object_id)
        .set("USER_NAME", &other.name)
        .text(&format!("cancel reminder {id}"))
        .at(h.later(60));
    h.ok(&from_other).await;
    assert_eq!(
        h.last_text(&chat),
        format!("You have no reminder {id}. Type **reminders** to see yours and their ids.")
    );
    assert_eq!(h.only_reminder(&h.personal).await.id.as_str(), id);
    // Nor does their list show it.
    h.ok(&h
        .activity("message_personal_local_timezone")
        .set("CONVERSATION_ID", &chat)
        .set("USER_ID", &other.id)
        .set("USER_AAD", &other.aad_object_id)
        .set("USER_NAME", &other.name)
        .text("reminders")
        .at(h.later(60)))
        .await;
    assert!(h.last_text(&chat).starts_with("You have no reminders."));

    // Unknown and malformed ids get the same answer.
    for bad in ["s-0123abcd", "nonsense"] {
        assert_eq!(
            h.tell(&format!("cancel reminder {bad}"), "Europe/Berlin")
                .await,
            format!("You have no reminder {bad}. Type **reminders** to see yours and their ids.")
        );
    }
    assert_eq!(h.reminders_of(&h.personal).await.len(), 1);

    // The owner can.
    assert_eq!(
        h.tell(&format!("cancel reminder {id}"), "Europe/Berlin")
            .await,
        format!("Cancelled reminder **{id}** (every day at 09:00 to **stretch**).")
    );
    assert!(h.reminders_of(&h.personal).await.is_empty());
    assert!(
        h.webhook
            .schedules
            .get_schedule(&ScheduleId::parse(&id).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        h.tell(&format!("cancel reminder {id}"), "Europe/Berlin")
            .await
            .starts_with("You have no reminder")
    );
}

#[tokio::test]
async fn a_once_in_the_past_and_unreadable_commands_get_friendly_answers() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    let past = h
        .tell(
            "remind me on 2026-01-05 at 08:00 to file taxes",
            "Europe/Berlin",
        )
        .await;
    assert_eq!(
        past,
        "That time (on 2026-01-05 at 08:00) has already passed in Europe/Berlin (it's 2026-11-02 \
         16:05 there \
         now). Pick a date and time still ahead, like 'remind me on 2026-11-03 at 09:00 to file \
         taxes'."
    );
    for (text, error) in [
        (
            "remind me daily at 25:00 to sleep",
            ReminderParseError::InvalidTime("25:00".into()),
        ),
        ("remind me daily at 9:00", ReminderParseError::MissingText),
        (
            "remind me every funday at 9:00 to party",
            ReminderParseError::UnknownDay("funday".into()),
        ),
        (
            "remind me on 2026-02-30 at 9:00 to party",
            ReminderParseError::InvalidDate("2026-02-30".into()),
        ),
        ("cancel reminder", ReminderParseError::MissingId),
    ] {
        // The webhook answers with the parser's own message for exactly this error.
        assert_eq!(ReminderCommand::parse(text), Err(error.clone()), "{text}");
        assert_eq!(
            h.tell(text, "Europe/Berlin").await,
            error.to_string(),
            "{text}"
        );
    }
    assert!(h.reminders_of(&h.personal).await.is_empty());
}

#[tokio::test]
async fn an_unknown_zone_uses_the_default_and_says_so() {
    let h = Harness::new().await;
    // A first contact from a client that reports no zone.
    let payload = h
        .activity("message_personal_local_timezone")
        .text("remind me daily at 9:00 to water the plants")
        .at(h.later(60));
    let activity = payload.edited(|json| {
        json.as_object_mut().unwrap().remove("localTimezone");
    });
    assert_eq!(
        h.post_json(&activity).await,
        herald_testkit::http::Response::ok()
    );
    let reply = h.last_text(&h.personal);
    assert!(
        reply.contains("Next: **Tue 3 Nov 2026, 09:00** (UTC)")
            && reply.ends_with(
                "I don't know your time zone yet, so I used UTC: type **timezone Region/City** \
                 (like timezone Europe/London) to set yours, then create the reminder again."
            ),
        "{reply}"
    );
    let stored = h.only_reminder(&h.personal).await;
    assert_eq!(stored.time_zone, "UTC");
    assert_eq!(stored.next_fire, Some(utc(2026, 11, 3, 9, 0)));
}

#[tokio::test]
async fn a_redelivered_message_makes_one_reminder() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    let payload = h.typed("remind me daily at 9:00 to stretch", "Europe/Berlin");
    h.ok(&payload).await;
    let first = h.last_text(&h.personal);
    h.ok(&payload).await;
    assert_eq!(h.last_text(&h.personal), first);
    assert_eq!(h.reminders_of(&h.personal).await.len(), 1);
    // A new message with the same words is a new reminder.
    h.ok(&h.typed("remind me daily at 9:00 to stretch", "Europe/Berlin"))
        .await;
    assert_eq!(h.reminders_of(&h.personal).await.len(), 2);
}

#[tokio::test]
async fn a_group_chat_reminder_belongs_to_the_group() {
    let h = Harness::new().await;
    let group = h.group_chat();
    h.ok(&h.activity("group_install").set("CONVERSATION_ID", &group))
        .await;
    // Without a mention Herald stays quiet and stores nothing.
    let unmentioned = h
        .activity("message_group_mention")
        .set("CONVERSATION_ID", &group)
        .at(h.later(60))
        .edited(|json| {
            json["text"] = json!("remind me daily at 9:00 to stand up");
            json.as_object_mut().unwrap().remove("entities");
        });
    assert_eq!(
        h.post_json(&unmentioned).await,
        herald_testkit::http::Response::ok()
    );
    assert!(h.reminders_of(&group).await.is_empty());
    h.ok(&h
        .activity("message_group_mention")
        .set("CONVERSATION_ID", &group)
        .set("TIMEZONE", "Europe/Berlin")
        .text("remind me every mon,wed at 9:15 to stand up")
        .at(h.later(60)))
        .await;
    let stored = h.only_reminder(&group).await;
    assert_eq!(stored.owner, Some(Harness::key(&group)));
    assert_eq!(
        stored.target,
        Target::Conversations {
            ids: vec![herald_domain::ConversationId::new(&group).unwrap()]
        }
    );
    assert!(
        h.last_text(&group)
            .contains("every Monday, Wednesday at 09:15 to **stand up**"),
        "{}",
        h.last_text(&group)
    );
    assert!(h.reminders_of(&h.personal).await.is_empty());
}

#[tokio::test]
async fn help_lists_the_reminder_commands() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    let help = h.tell("help", "Europe/Berlin").await;
    for command in [
        "**remind me every weekday at 9:00 to**",
        "**remind me daily at 17:30 to**",
        "**remind me on 2026-12-24 at 08:00 to**",
        "**reminders**",
        "**cancel reminder** *id*",
    ] {
        assert!(help.contains(command), "{command} in {help}");
    }
}
