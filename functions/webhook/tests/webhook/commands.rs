//! Commands in personal chat and after an @mention, the card opt-out (Action.Submit) and the
//! `adaptiveCard/action` invoke.

use herald_domain::ReferenceStatus;
use herald_testkit::http::Response as HttpReply;
use serde_json::json;

use crate::support::{CLIENT_ZONE, Harness, Payload, zone};

impl Harness {
    /// Installs the personal chat, then says `text` there a minute later.
    async fn say(&self, text: &str) -> String {
        self.ok(&self
            .activity("message_personal_local_timezone")
            .text(text)
            .at(self.later(60)))
            .await;
        self.last_text(&self.personal)
    }

    async fn installed(&self) {
        self.ok(&self.activity("personal_install")).await;
    }

    fn message(&self, text: &str) -> Payload {
        self.activity("message_personal_local_timezone")
            .text(text)
            .at(self.later(60))
    }
}

#[tokio::test]
async fn help_lists_the_commands() {
    let h = Harness::new().await;
    h.installed().await;
    let reply = h.say("help").await;
    assert!(
        reply.starts_with("Here's what Herald understands:"),
        "{reply}"
    );
    for command in [
        "**help**",
        "**status**",
        "**stop**",
        "**start**",
        "**timezone Region/City**",
        "**timezone auto**",
    ] {
        assert!(reply.contains(command), "{command} in {reply}");
    }
    // An empty message (only the mention, say) gets the same list.
    assert_eq!(h.say("   ").await, reply);
}

#[tokio::test]
async fn stop_and_start_toggle_the_subscription() {
    let h = Harness::new().await;
    h.installed().await;
    let before_events = h.published().len();
    let reply = h.say("stop").await;
    assert_eq!(
        reply,
        "You're unsubscribed: I won't send you notifications any more. Type **start** to turn them back on."
    );
    let stored = h.stored(&h.personal).await;
    assert_eq!(stored.status, ReferenceStatus::OptedOut);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("opted out by Megan Bowen")
    );

    let reply = h.say("start").await;
    assert_eq!(
        reply,
        "Notifications are on again here. Type **stop** to turn them off."
    );
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);

    // The synonyms.
    h.say("unsubscribe").await;
    assert_eq!(
        h.stored(&h.personal).await.status,
        ReferenceStatus::OptedOut
    );
    h.say("Subscribe").await;
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
    // Opting out and in is not an installation change.
    assert_eq!(h.published().len(), before_events);
    assert_eq!(h.welcomes(&h.personal).len(), 1);
}

#[tokio::test]
async fn status_reports_the_subscription_and_zone() {
    let h = Harness::new().await;
    h.installed().await;
    assert_eq!(
        h.say("status").await,
        format!("Notifications here are **on**. Time zone: {CLIENT_ZONE} (reported by Teams).")
    );
    h.say("stop").await;
    assert_eq!(
        h.say("status").await,
        format!("Notifications here are **off**. Time zone: {CLIENT_ZONE} (reported by Teams).")
    );
}

#[tokio::test]
async fn timezone_override_survives_client_zones_until_auto() {
    let h = Harness::new().await;
    h.installed().await;
    let message = h.message("timezone Asia/Kolkata");
    h.ok(&message).await;
    // The clock says 15:05:05 UTC: 20:35 in Kolkata.
    assert_eq!(
        h.last_text(&h.personal),
        "Got it: your reminders now follow Asia/Kolkata (it's 20:35 there). \
         Type **timezone auto** to follow Teams again."
    );
    let stored = h.stored(&h.personal).await;
    assert_eq!(stored.time_zone_override, Some(zone("Asia/Kolkata")));
    assert_eq!(stored.time_zone, Some(zone(CLIENT_ZONE)));

    // The client keeps reporting another zone: the choice stands.
    let message = h
        .message("status")
        .set("TIMEZONE", "America/Chicago")
        .at(h.later(60));
    h.ok(&message).await;
    assert_eq!(
        h.last_text(&h.personal),
        "Notifications here are **on**. Time zone: Asia/Kolkata (set by you)."
    );
    let stored = h.stored(&h.personal).await;
    assert_eq!(stored.time_zone_override, Some(zone("Asia/Kolkata")));
    assert_eq!(stored.time_zone, Some(zone("America/Chicago")));

    let message = h
        .message("timezone auto")
        .set("TIMEZONE", "America/Chicago");
    h.ok(&message).await;
    assert_eq!(
        h.last_text(&h.personal),
        "OK, your time zone follows what Teams reports again (America/Chicago)."
    );
    assert_eq!(h.stored(&h.personal).await.time_zone_override, None);
    let message = h.message("status").set("TIMEZONE", "America/Chicago");
    h.ok(&message).await;
    assert_eq!(
        h.last_text(&h.personal),
        "Notifications here are **on**. Time zone: America/Chicago (reported by Teams)."
    );
}

#[tokio::test]
async fn an_unknown_zone_is_refused_and_nothing_changes() {
    let h = Harness::new().await;
    h.installed().await;
    assert_eq!(
        h.say("timezone Mars/Base").await,
        "I don't know the time zone \"Mars/Base\". Use an IANA name such as \
         Europe/London, America/New_York or Asia/Kolkata."
    );
    assert_eq!(h.stored(&h.personal).await.time_zone_override, None);
}

#[tokio::test]
async fn unknown_text_gets_a_short_help() {
    let h = Harness::new().await;
    h.installed().await;
    assert_eq!(
        h.say("what can you do").await,
        "Sorry, I didn't get \"what can you do\". Type **help** to see what I understand."
    );
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
}

#[tokio::test]
async fn commands_work_on_a_first_contact_without_install_event() {
    // A message can be the first thing Herald sees of a chat (installed before Herald's store).
    let h = Harness::new().await;
    assert!(
        h.say("status")
            .await
            .starts_with("Notifications here are **on**.")
    );
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
    assert!(h.welcomes(&h.personal).is_empty());
}

#[tokio::test]
async fn a_channel_mention_is_answered_in_its_thread() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    let incidents = h.channel(&team, "Incidents");
    h.ok(&h.team_install(&team, &incidents)).await;
    let mention = h
        .activity("message_channel_mention")
        .team(&team)
        .channel(&incidents, "Incidents")
        .text("status")
        .at(h.later(60));
    let thread = mention.json()["id"].as_str().unwrap().to_owned();
    assert!(
        mention.json()["conversation"]["id"]
            .as_str()
            .unwrap()
            .ends_with(&format!(";messageid={thread}"))
    );
    h.ok(&mention).await;
    let replies: Vec<_> = h
        .emulator
        .activities(&incidents)
        .into_iter()
        .filter(|a| a.reply_to_id.is_some())
        .collect();
    assert_eq!(replies.len(), 1, "{replies:#?}");
    assert_eq!(replies[0].reply_to_id.as_deref(), Some(thread.as_str()));
    // The speaker's client zone is theirs, not the channel's.
    assert_eq!(
        replies[0].activity["text"],
        "Notifications here are **on**. Time zone: UTC (the default; mention me with \
         **timezone Region/City** to set this conversation's)."
    );
    // Stored under the channel, not the thread.
    assert_eq!(h.all().await.len(), 2);

    // Mentioned with stop: the channel opts out, and says how to undo it.
    let stop = h
        .activity("message_channel_mention")
        .team(&team)
        .channel(&incidents, "Incidents")
        .text("stop")
        .at(h.later(60));
    h.ok(&stop).await;
    assert_eq!(h.stored(&incidents).await.status, ReferenceStatus::OptedOut);
    assert_eq!(h.stored(&team.id).await.status, ReferenceStatus::Active);
    assert_eq!(
        h.last_text(&incidents),
        "Notifications to this conversation are off. Mention me with **start** to turn them back on."
    );
}

#[tokio::test]
async fn a_channel_or_group_chat_has_the_zone_set_in_it_not_the_speakers() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    h.ok(&h.activity("team_install").team(&team)).await;
    let group = h.group_chat();
    h.ok(&h.activity("group_install").set("CONVERSATION_ID", &group))
        .await;
    let say = |conversation: &str, text: &str, speaker_zone: &str| {
        let payload = if conversation == group {
            h.activity("message_group_mention")
                .set("CONVERSATION_ID", &group)
        } else {
            h.activity("message_channel_mention")
                .team(&team)
                .channel(&team.id, "General")
        };
        payload
            .text(text)
            .set("TIMEZONE", speaker_zone)
            .at(h.later(60))
    };
    for conversation in [team.id.as_str(), group.as_str()] {
        // People in Chicago and Kolkata speak: the conversation has no zone of theirs.
        h.ok(&say(conversation, "status", "America/Chicago")).await;
        h.ok(&say(conversation, "help", "Asia/Kolkata")).await;
        let stored = h.stored(conversation).await;
        assert_eq!(stored.time_zone, None, "{conversation}");
        assert_eq!(stored.zone_key(), herald_domain::NO_ZONE);

        // The zone set in it is its zone, whoever speaks next.
        h.ok(&say(conversation, "timezone Asia/Tokyo", "America/Chicago"))
            .await;
        let said = h.last_text(conversation);
        assert!(
            said.starts_with("Got it: this conversation's time is now Asia/Tokyo"),
            "{said}"
        );
        h.ok(&say(conversation, "status", "Asia/Kolkata")).await;
        assert_eq!(
            h.last_text(conversation),
            "Notifications here are **on**. Time zone: Asia/Tokyo (set for this conversation)."
        );
        assert_eq!(h.stored(conversation).await.zone_key(), "Asia/Tokyo");

        h.ok(&say(conversation, "timezone auto", "Asia/Kolkata"))
            .await;
        assert_eq!(
            h.last_text(conversation),
            "OK, this conversation uses the default zone again (UTC)."
        );
        assert_eq!(
            h.stored(conversation).await.zone_key(),
            herald_domain::NO_ZONE
        );
    }
}

#[tokio::test]
async fn channel_and_group_messages_without_a_mention_get_no_answer() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    h.ok(&h.activity("team_install").team(&team)).await;
    let writes = h.bot_writes();
    let message = h
        .activity("message_channel_mention")
        .team(&team)
        .channel(&team.id, "General")
        .at(h.later(60))
        .edited(|m| m["text"] = json!("stop the build, everyone"));
    assert_eq!(h.post_json(&message).await, HttpReply::ok());
    assert_eq!(h.bot_writes(), writes);
    assert_eq!(h.stored(&team.id).await.status, ReferenceStatus::Active);
}

#[tokio::test]
async fn a_group_chat_mention_is_answered() {
    let h = Harness::new().await;
    let group = h.group_chat();
    h.ok(&h.activity("group_install").set("CONVERSATION_ID", &group))
        .await;
    h.ok(&h
        .activity("message_group_mention")
        .set("CONVERSATION_ID", &group)
        .text("help")
        .at(h.later(60)))
        .await;
    assert!(
        h.last_text(&group)
            .starts_with("Here's what Herald understands:")
    );
    h.ok(&h
        .activity("message_group_mention")
        .set("CONVERSATION_ID", &group)
        .text("stop")
        .at(h.later(60)))
        .await;
    assert_eq!(h.stored(&group).await.status, ReferenceStatus::OptedOut);
}

#[tokio::test]
async fn card_submit_opts_out() {
    let h = Harness::new().await;
    h.installed().await;
    let submit = h.activity("message_card_submit").at(h.later(60));
    assert!(submit.json().get("text").is_none());
    h.ok(&submit).await;
    assert_eq!(
        h.stored(&h.personal).await.status,
        ReferenceStatus::OptedOut
    );
    assert_eq!(
        h.last_text(&h.personal),
        "You're unsubscribed: I won't send you notifications any more. Type **start** to turn them back on."
    );
}

#[tokio::test]
async fn invoke_action_execute_opts_out_with_an_invoke_response() {
    let h = Harness::new().await;
    h.installed().await;
    let writes = h.bot_writes();
    let reply = h
        .post(&h.activity("invoke_adaptive_card_action").at(h.later(60)))
        .await;
    assert_eq!(
        reply,
        HttpReply::json(
            200,
            json!({
                "statusCode": 200,
                "type": "application/vnd.microsoft.activity.message",
                "value": "You're unsubscribed: I won't send you notifications any more. Type **start** to turn them back on.",
            })
        )
    );
    assert_eq!(
        h.stored(&h.personal).await.status,
        ReferenceStatus::OptedOut
    );
    // The answer travels in the HTTP response, not as a message.
    assert_eq!(h.bot_writes(), writes);
}

#[tokio::test]
async fn invoke_with_another_verb_is_answered_and_changes_nothing() {
    let h = Harness::new().await;
    h.installed().await;
    let reply = h
        .post(
            &h.activity("invoke_adaptive_card_action")
                .set("VERB", "somebody.else")
                .at(h.later(60)),
        )
        .await;
    assert_eq!(reply.status, 200);
    let body = reply.body.unwrap();
    assert_eq!(body["statusCode"], 200);
    assert_eq!(body["type"], "application/vnd.microsoft.activity.message");
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
}
