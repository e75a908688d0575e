//! Installs and uninstalls in every scope, with Teams-shaped payloads
//! (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events).

use herald_domain::{ConversationType, ReferenceStatus};
use herald_events::EventKind::{InstallationAdded, InstallationRemoved};
use herald_testkit::http::Response as HttpReply;

use crate::support::{
    BOT_NAME, CLIENT_ZONE, Harness, TENANT, USER_NAME, ev, installation, sorted, t0, zone,
};
use crate::team_events::installed_team;

#[tokio::test]
async fn personal_install_stores_the_reference_and_welcomes_once() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    // Teams sends the conversationUpdate with the bot in membersAdded alongside.
    let members_added = h.activity("personal_members_added").at(h.later(1));
    h.ok(&members_added).await;

    let stored = h.stored(&h.personal).await;
    assert_eq!(stored.status, ReferenceStatus::Active);
    assert_eq!(stored.conversation_type, ConversationType::Personal);
    assert_eq!(stored.service_url.as_str(), h.emulator.service_url());
    assert_eq!(stored.bot_id.as_str(), h.bot_id());
    assert_eq!(stored.tenant_id.as_str(), TENANT);
    let user = stored.user.as_ref().unwrap();
    assert_eq!(user.id.as_str(), h.user.id);
    assert_eq!(
        user.aad_object_id.as_ref().unwrap().as_str(),
        h.user.aad_object_id
    );
    assert_eq!(stored.time_zone, Some(zone(CLIENT_ZONE)));
    assert_eq!(stored.time_zone_override, None);
    assert_eq!(stored.locale.as_deref(), Some("en-US"));
    assert_eq!(stored.team, None);
    // Teams' 7-digit timestamp, kept to the millisecond.
    assert_eq!(
        stored.installed_at.timestamp_millis(),
        t0().timestamp_millis()
    );
    assert_eq!(h.all().await.len(), 1);

    let card = h.one_welcome(&h.personal);
    assert!(
        card.text.contains("Herald was added to your chats."),
        "{}",
        card.text
    );
    // Installed by the user themself: no "by ...".
    assert!(!card.text.contains(" by "), "{}", card.text);
    card.assert_opt_out();

    let events = h.published_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind(), InstallationAdded);
    let added = installation(&events[0]);
    assert_eq!(added.conversation_id.as_str(), h.personal);
    assert_eq!(added.conversation_type, ConversationType::Personal);
    assert_eq!(added.by.as_ref().unwrap().id.as_str(), h.user.id);
    assert_eq!(added.at.timestamp_millis(), t0().timestamp_millis());
    assert_eq!(added.cause.as_deref(), Some("installed"));
}

#[tokio::test]
async fn members_added_alone_installs_and_the_later_installation_update_does_not_welcome_again() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_members_added")).await;
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
    h.ok(&h.activity("personal_install").at(h.later(1))).await;
    h.one_welcome(&h.personal).assert_opt_out();
    assert_eq!(h.published(), [ev(InstallationAdded, &h.personal)]);
}

#[tokio::test]
async fn team_install_welcomes_in_the_selected_channel_and_records_general() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    let incidents = h.channel(&team, "Incidents");
    let install = h.team_install(&team, &incidents);
    h.ok(&install).await;
    let members_added = h.activity("team_members_added").team(&team).at(h.later(1));
    h.ok(&members_added).await;

    for id in [&team.id, &incidents] {
        let stored = h.stored(id).await;
        assert_eq!(stored.status, ReferenceStatus::Active, "{id}");
        assert_eq!(stored.conversation_type, ConversationType::Channel);
        let stored_team = stored.team.as_ref().unwrap();
        assert_eq!(stored_team.id.as_str(), team.id);
        assert_eq!(stored_team.name.as_deref(), Some("Contoso Ops"));
        assert_eq!(
            stored_team.aad_group_id.as_deref(),
            Some(team.aad_group_id.as_str())
        );
        assert_eq!(stored.channel.as_ref().unwrap().id.as_str(), id.as_str());
        assert_eq!(stored.user, None);
        assert_eq!(stored.service_url.as_str(), h.emulator.service_url());
    }
    assert_eq!(h.all().await.len(), 2);

    // One welcome, in the channel the installer picked; nothing in General.
    let card = h.one_welcome(&incidents);
    assert!(h.sent(&team.id).is_empty());
    assert!(card.text.contains("Contoso Ops"), "{}", card.text);
    assert!(
        card.text.contains(&format!("by {USER_NAME}")),
        "{}",
        card.text
    );
    card.assert_opt_out();

    assert_eq!(
        sorted(h.published()),
        sorted(vec![
            ev(InstallationAdded, &team.id),
            ev(InstallationAdded, &incidents)
        ])
    );
    for event in h.published_events() {
        assert_eq!(
            installation(&event).team_id.as_ref().unwrap().as_str(),
            team.id
        );
    }
}

#[tokio::test]
async fn team_install_in_general_names_the_channel() {
    let h = Harness::new().await;
    let team = h.team("Northwind Traders");
    h.ok(&h.activity("team_install").team(&team)).await;
    let card = h.one_welcome(&team.id);
    assert!(
        card.text.contains(&format!(
            "{BOT_NAME} was added to the team Northwind Traders and posts in General by {USER_NAME}."
        )),
        "{}",
        card.text
    );
    card.assert_opt_out();
    assert_eq!(h.all().await.len(), 1);
    assert_eq!(h.published(), [ev(InstallationAdded, &team.id)]);
}

#[tokio::test]
async fn team_install_by_members_added_alone_installs() {
    let h = Harness::new().await;
    let team = h.team("Fabrikam");
    h.ok(&h.activity("team_members_added").team(&team)).await;
    assert_eq!(h.stored(&team.id).await.status, ReferenceStatus::Active);
    let card = h.one_welcome(&team.id);
    assert!(card.text.contains("Fabrikam"), "{}", card.text);
    assert_eq!(h.published(), [ev(InstallationAdded, &team.id)]);
}

#[tokio::test]
async fn group_chat_install_welcomes_the_chat_once() {
    let h = Harness::new().await;
    let group = h.group_chat();
    h.ok(&h
        .activity("group_install")
        .set("CONVERSATION_ID", &group)
        .set("TIMEZONE", "Europe/London"))
        .await;
    h.ok(&h
        .activity("group_members_added")
        .set("CONVERSATION_ID", &group)
        .at(h.later(1)))
        .await;
    let stored = h.stored(&group).await;
    assert_eq!(stored.status, ReferenceStatus::Active);
    assert_eq!(stored.conversation_type, ConversationType::GroupChat);
    assert_eq!(stored.user, None);
    assert_eq!(stored.team, None);
    assert_eq!(stored.locale.as_deref(), Some("en-GB"));
    let card = h.one_welcome(&group);
    assert!(
        card.text.contains(&format!(
            "{BOT_NAME} was added to this group chat by {USER_NAME}."
        )),
        "{}",
        card.text
    );
    card.assert_opt_out();
    assert!(
        card.text.contains("Mention me with **stop**"),
        "{}",
        card.text
    );
    assert_eq!(h.published(), [ev(InstallationAdded, &group)]);
}

#[tokio::test]
async fn personal_uninstall_keeps_the_reference_as_uninstalled() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    h.ok(&h.activity("personal_uninstall").at(h.later(60)))
        .await;
    let stored = h.stored(&h.personal).await;
    assert_eq!(stored.status, ReferenceStatus::Uninstalled);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("installationUpdate remove")
    );
    assert_eq!(stored.status_changed_at, h.clock_now());
    assert_eq!(h.welcomes(&h.personal).len(), 1);
    assert_eq!(
        h.published(),
        [
            ev(InstallationAdded, &h.personal),
            ev(InstallationRemoved, &h.personal)
        ]
    );
    assert_eq!(h.bot_writes(), 1, "nothing is sent on uninstall");
}

#[tokio::test]
async fn remove_upgrade_uninstalls() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    h.ok(&h.activity("personal_remove_upgrade").at(h.later(60)))
        .await;
    assert_eq!(
        h.stored(&h.personal).await.status,
        ReferenceStatus::Uninstalled
    );
    assert_eq!(
        h.published(),
        [
            ev(InstallationAdded, &h.personal),
            ev(InstallationRemoved, &h.personal)
        ]
    );
}

#[tokio::test]
async fn add_upgrade_of_a_known_installation_changes_nothing_visible() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    h.ok(&h.activity("personal_add_upgrade").at(h.later(3600)))
        .await;
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
    assert_eq!(h.welcomes(&h.personal).len(), 1);
    assert_eq!(h.published(), [ev(InstallationAdded, &h.personal)]);
}

#[tokio::test]
async fn add_upgrade_of_an_unknown_installation_is_an_install() {
    // Installed before Herald's store existed: the upgrade is Herald's first sighting.
    let h = Harness::new().await;
    h.ok(&h.activity("personal_add_upgrade")).await;
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
    h.one_welcome(&h.personal).assert_opt_out();
    assert_eq!(h.published(), [ev(InstallationAdded, &h.personal)]);
}

#[tokio::test]
async fn add_upgrade_does_not_undo_an_opt_out() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    h.ok(&h
        .activity("message_personal_local_timezone")
        .text("stop")
        .at(h.later(60)))
        .await;
    assert_eq!(
        h.stored(&h.personal).await.status,
        ReferenceStatus::OptedOut
    );
    // An admin pushes a new app version: Teams sends add-upgrade and membersAdded again.
    h.ok(&h.activity("personal_add_upgrade").at(h.later(3600)))
        .await;
    h.ok(&h.activity("personal_members_added").at(h.later(1)))
        .await;
    assert_eq!(
        h.stored(&h.personal).await.status,
        ReferenceStatus::OptedOut
    );
    assert_eq!(h.welcomes(&h.personal).len(), 1);
    assert_eq!(h.published(), [ev(InstallationAdded, &h.personal)]);
}

#[tokio::test]
async fn messages_refresh_the_time_zone_from_local_timezone_and_client_info() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    let local = h
        .activity("message_personal_local_timezone")
        .set("TIMEZONE", "Asia/Kathmandu")
        .text("hello")
        .at(h.later(60));
    h.ok(&local).await;
    assert_eq!(
        h.stored(&h.personal).await.time_zone,
        Some(zone("Asia/Kathmandu"))
    );
    let client_info = h
        .activity("message_personal_client_info")
        .set("TIMEZONE", "Europe/Berlin")
        .text("hello")
        .at(h.later(60));
    assert!(client_info.json().get("localTimezone").is_none());
    h.ok(&client_info).await;
    let stored = h.stored(&h.personal).await;
    assert_eq!(stored.time_zone, Some(zone("Europe/Berlin")));
    // The user's name arrives with messages.
    assert_eq!(
        stored.user.as_ref().unwrap().name.as_deref(),
        Some(USER_NAME)
    );
    // An invalid name is ignored: the known zone stays.
    let bogus = h
        .activity("message_personal_local_timezone")
        .set("TIMEZONE", "Mars/Olympus_Mons")
        .text("hello")
        .at(h.later(60));
    h.ok(&bogus).await;
    assert_eq!(
        h.stored(&h.personal).await.time_zone,
        Some(zone("Europe/Berlin"))
    );
}

#[tokio::test]
async fn an_installation_update_without_names_keeps_the_known_names() {
    let h = Harness::new().await;
    h.ok(&h.activity("message_personal_local_timezone").text("hello"))
        .await;
    assert_eq!(
        h.stored(&h.personal).await.user.unwrap().name.as_deref(),
        Some(USER_NAME)
    );
    // installationUpdate carries the user's ids but not their name.
    h.ok(&h.activity("personal_add_upgrade").at(h.later(60)))
        .await;
    assert_eq!(
        h.stored(&h.personal).await.user.unwrap().name.as_deref(),
        Some(USER_NAME)
    );
}

#[tokio::test]
async fn a_channel_message_refreshes_the_channel_without_losing_names() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    let before = h.stored(&announcements).await;
    // Channel messages carry the team and channel ids only.
    let message = h
        .activity("message_channel_mention")
        .team(&team)
        .channel(&announcements, "unused")
        .text("hi there, no command")
        .at(h.later(60));
    assert!(message.json()["channelData"]["team"].get("name").is_none());
    h.ok(&message).await;
    let stored = h.stored(&announcements).await;
    assert_eq!(
        stored.team.as_ref().unwrap().name.as_deref(),
        Some("Contoso Ops")
    );
    assert_eq!(
        stored.channel.as_ref().unwrap().name.as_deref(),
        Some("Announcements")
    );
    assert!(stored.updated_at > before.updated_at);
    // Still findable by name, the point of recording channels.
    assert!(
        h.webhook
            .store
            .find_channel(
                &herald_domain::TenantId::new(TENANT).unwrap(),
                &herald_domain::TeamId::new(&team.id).unwrap(),
                "Announcements"
            )
            .await
            .unwrap()
            .is_some()
    );
    // Keyed by the channel, not the reply thread.
    assert_eq!(h.all().await.len(), 3);
    let _ = incidents;
}

#[tokio::test]
async fn unknown_activity_types_are_acknowledged_and_ignored() {
    let h = Harness::new().await;
    for fixture in ["typing", "message_reaction"] {
        let reply = h.post(&h.activity(fixture)).await;
        assert_eq!(reply, HttpReply::ok(), "{fixture}");
    }
    assert!(h.all().await.is_empty());
    assert_eq!(h.bot_writes(), 0);
    assert!(h.published().is_empty());
}

#[tokio::test]
async fn a_channel_activity_without_its_team_is_rejected_naming_the_field() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    let message = h
        .activity("message_channel_no_team")
        .set("CHANNEL_ID", &team.id)
        .text("status");
    let reply = h.post(&message).await;
    let message = crate::support::error_message(&reply, 400, "BadRequest");
    assert!(message.contains("channelData.team"), "{message}");
    assert!(h.all().await.is_empty());
    assert_eq!(h.bot_writes(), 0);
}
