//! Every row of the webhook issue's lifecycle table, with Teams-shaped payloads.

use herald_domain::{ConversationType, ReferenceStatus};
use herald_events::EventKind::{
    InstallationAdded, InstallationArchived, InstallationRemoved, InstallationRestored,
};
use herald_testkit::http::Response as HttpReply;

use crate::support::{
    BOT_NAME, CLIENT_ZONE, Harness, TENANT, USER_NAME, ev, installation, sorted, t0, zone,
};

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
    let install = h
        .activity("team_install")
        .team(&team)
        .set("SELECTED_CHANNEL_ID", &incidents);
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

/// A team with General, the selected channel and a created channel, installed.
async fn installed_team(h: &Harness) -> (herald_teams_emulator::EmulatedTeam, String, String) {
    let team = h.team("Contoso Ops");
    let incidents = h.channel(&team, "Incidents");
    let announcements = h.channel(&team, "Announcements");
    h.ok(&h
        .activity("team_install")
        .team(&team)
        .set("SELECTED_CHANNEL_ID", &incidents))
        .await;
    h.ok(&h
        .activity("channel_created")
        .team(&team)
        .channel(&announcements, "Announcements")
        .at(h.later(60)))
        .await;
    (team, incidents, announcements)
}

impl Harness {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use herald_domain::Clock as _;
        self.clock.now()
    }

    async fn team_statuses(&self, team: &str) -> Vec<(String, ReferenceStatus)> {
        let mut statuses: Vec<_> = self
            .webhook
            .store
            .team_channels(&herald_domain::TeamId::new(team).unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.conversation_id.as_str().to_owned(), r.status))
            .collect();
        statuses.sort_by(|a, b| a.0.cmp(&b.0));
        statuses
    }
}

fn all_with(ids: &[&String], status: ReferenceStatus) -> Vec<(String, ReferenceStatus)> {
    let mut expected: Vec<_> = ids.iter().map(|id| ((*id).clone(), status)).collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    expected
}

#[tokio::test]
async fn channel_created_records_the_channel_by_name() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    let stored = h.stored(&announcements).await;
    assert_eq!(stored.status, ReferenceStatus::Active);
    assert_eq!(stored.conversation_type, ConversationType::Channel);
    assert_eq!(
        stored.channel.as_ref().unwrap().name.as_deref(),
        Some("Announcements")
    );
    let found = h
        .webhook
        .store
        .find_channel(
            &herald_domain::TeamId::new(&team.id).unwrap(),
            "announcements",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.conversation_id.as_str(), announcements);
    assert_eq!(
        h.team_statuses(&team.id).await,
        all_with(
            &[&team.id, &incidents, &announcements],
            ReferenceStatus::Active
        )
    );
    // A new channel is not a new installation: no welcome, no event.
    assert!(h.sent(&announcements).is_empty());
    assert_eq!(h.published().len(), 2);
}

#[tokio::test]
async fn team_uninstall_uninstalls_every_channel_of_the_team() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    h.ok(&h.activity("personal_install")).await;
    let events_before = h.published().len();
    h.ok(&h.activity("team_uninstall").team(&team).at(h.later(60)))
        .await;
    assert_eq!(
        h.team_statuses(&team.id).await,
        all_with(
            &[&team.id, &incidents, &announcements],
            ReferenceStatus::Uninstalled
        )
    );
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
    assert_eq!(
        sorted(h.published()[events_before..].to_vec()),
        sorted(vec![
            ev(InstallationRemoved, &team.id),
            ev(InstallationRemoved, &incidents),
            ev(InstallationRemoved, &announcements),
        ])
    );
}

#[tokio::test]
async fn bot_removed_from_team_members_is_an_uninstall() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    h.ok(&h
        .activity("team_members_removed")
        .team(&team)
        .at(h.later(60)))
        .await;
    assert_eq!(
        h.team_statuses(&team.id).await,
        all_with(
            &[&team.id, &incidents, &announcements],
            ReferenceStatus::Uninstalled
        )
    );
    assert_eq!(
        h.published()
            .iter()
            .filter(|(k, _)| *k == InstallationRemoved)
            .count(),
        3
    );
}

#[tokio::test]
async fn team_deleted_and_hard_deleted_uninstall_the_team() {
    for fixture in ["team_deleted", "team_hard_deleted"] {
        let h = Harness::new().await;
        let (team, incidents, announcements) = installed_team(&h).await;
        h.ok(&h.activity("personal_install")).await;
        h.ok(&h.activity(fixture).team(&team).at(h.later(60))).await;
        assert_eq!(
            h.team_statuses(&team.id).await,
            all_with(
                &[&team.id, &incidents, &announcements],
                ReferenceStatus::Uninstalled
            ),
            "{fixture}"
        );
        assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
        let removed: Vec<_> = h
            .published()
            .into_iter()
            .filter(|(k, _)| *k == InstallationRemoved)
            .collect();
        assert_eq!(removed.len(), 3, "{fixture}: {removed:?}");
        let reason = h.stored(&incidents).await.status_reason;
        assert_eq!(
            reason.as_deref(),
            Some(if fixture == "team_deleted" {
                "teamDeleted"
            } else {
                "teamHardDeleted"
            })
        );
    }
}

#[tokio::test]
async fn team_archived_then_unarchived() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    let channels = [&team.id, &incidents, &announcements];
    let before = h.published().len();
    h.ok(&h.activity("team_archived").team(&team).at(h.later(60)))
        .await;
    assert_eq!(
        h.team_statuses(&team.id).await,
        all_with(&channels, ReferenceStatus::Archived)
    );
    assert!(!h.stored(&incidents).await.is_sendable());
    h.ok(&h.activity("team_unarchived").team(&team).at(h.later(60)))
        .await;
    assert_eq!(
        h.team_statuses(&team.id).await,
        all_with(&channels, ReferenceStatus::Active)
    );
    let events = h.published()[before..].to_vec();
    assert_eq!(
        sorted(events[..3].to_vec()),
        sorted(
            channels
                .iter()
                .map(|c| ev(InstallationArchived, c))
                .collect()
        )
    );
    assert_eq!(
        sorted(events[3..].to_vec()),
        sorted(
            channels
                .iter()
                .map(|c| ev(InstallationRestored, c))
                .collect()
        )
    );
    // Restoring is not a new installation.
    assert_eq!(h.welcomes(&incidents).len(), 1);
}

#[tokio::test]
async fn team_restored_after_deletion_reactivates_the_team() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    let channels = [&team.id, &incidents, &announcements];
    h.ok(&h.activity("team_deleted").team(&team).at(h.later(60)))
        .await;
    let before = h.published().len();
    h.ok(&h.activity("team_restored").team(&team).at(h.later(60)))
        .await;
    assert_eq!(
        h.team_statuses(&team.id).await,
        all_with(&channels, ReferenceStatus::Active)
    );
    assert_eq!(
        sorted(h.published()[before..].to_vec()),
        sorted(
            channels
                .iter()
                .map(|c| ev(InstallationRestored, c))
                .collect()
        )
    );
    assert_eq!(h.welcomes(&incidents).len(), 1);
}

#[tokio::test]
async fn team_renamed_updates_every_channel() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    let mut renamed = team.clone();
    renamed.name = "Contoso Operations".to_owned();
    h.ok(&h.activity("team_renamed").team(&renamed).at(h.later(60)))
        .await;
    for id in [&team.id, &incidents, &announcements] {
        let stored = h.stored(id).await;
        assert_eq!(
            stored.team.as_ref().unwrap().name.as_deref(),
            Some("Contoso Operations"),
            "{id}"
        );
        assert_eq!(stored.status, ReferenceStatus::Active);
    }
    assert_eq!(
        h.stored(&announcements)
            .await
            .channel
            .unwrap()
            .name
            .as_deref(),
        Some("Announcements")
    );
    assert_eq!(h.published().len(), 2, "a rename is not a lifecycle event");
}

#[tokio::test]
async fn channel_renamed_updates_the_name() {
    let h = Harness::new().await;
    let (team, _, announcements) = installed_team(&h).await;
    h.ok(&h
        .activity("channel_renamed")
        .team(&team)
        .channel(&announcements, "News")
        .at(h.later(60)))
        .await;
    let stored = h.stored(&announcements).await;
    assert_eq!(stored.channel.unwrap().name.as_deref(), Some("News"));
    assert_eq!(stored.status, ReferenceStatus::Active);
    // The team's name is not lost by an event that carries only the team id.
    assert_eq!(stored.team.unwrap().name.as_deref(), Some("Contoso Ops"));
}

#[tokio::test]
async fn channel_deleted_then_restored() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    let before = h.published().len();
    h.ok(&h
        .activity("channel_deleted")
        .team(&team)
        .channel(&announcements, "Announcements")
        .at(h.later(60)))
        .await;
    assert_eq!(
        h.stored(&announcements).await.status,
        ReferenceStatus::Uninstalled
    );
    assert_eq!(h.stored(&incidents).await.status, ReferenceStatus::Active);
    assert_eq!(h.stored(&team.id).await.status, ReferenceStatus::Active);
    h.ok(&h
        .activity("channel_restored")
        .team(&team)
        .channel(&announcements, "Announcements")
        .at(h.later(60)))
        .await;
    assert_eq!(
        h.stored(&announcements).await.status,
        ReferenceStatus::Active
    );
    assert_eq!(
        h.published()[before..],
        [
            ev(InstallationRemoved, &announcements),
            ev(InstallationRestored, &announcements)
        ]
    );
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

#[tokio::test]
async fn a_channel_opt_out_survives_archiving_and_a_deleted_channel_stays_deleted() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    h.ok(&h
        .activity("message_channel_mention")
        .team(&team)
        .channel(&incidents, "Incidents")
        .text("stop")
        .at(h.later(60)))
        .await;
    h.ok(&h
        .activity("channel_deleted")
        .team(&team)
        .channel(&announcements, "Announcements")
        .at(h.later(60)))
        .await;
    let before = h.published().len();
    for fixture in ["team_archived", "team_unarchived"] {
        h.ok(&h.activity(fixture).team(&team).at(h.later(60))).await;
    }
    assert_eq!(h.stored(&incidents).await.status, ReferenceStatus::OptedOut);
    assert_eq!(h.stored(&team.id).await.status, ReferenceStatus::Active);
    assert_eq!(
        h.stored(&announcements).await.status,
        ReferenceStatus::Uninstalled
    );
    assert_eq!(
        h.published()[before..],
        [
            ev(InstallationArchived, &team.id),
            ev(InstallationRestored, &team.id)
        ]
    );
    // Deleted and restored as a team: the deleted channel keeps its reason and stays out.
    for fixture in ["team_deleted", "team_restored"] {
        h.ok(&h.activity(fixture).team(&team).at(h.later(60))).await;
    }
    let deleted = h.stored(&announcements).await;
    assert_eq!(deleted.status, ReferenceStatus::Uninstalled);
    assert_eq!(deleted.status_reason.as_deref(), Some("channelDeleted"));
    assert_eq!(h.stored(&team.id).await.status, ReferenceStatus::Active);
}
