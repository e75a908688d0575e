//! Teams redelivers slow requests and sends several activities for one install: nothing happens
//! twice, and old news never overwrites new.

use herald_domain::ReferenceStatus;
use herald_events::EventKind::{InstallationAdded, InstallationRemoved};

use crate::support::{Harness, USER_NAME, ev, zone};

#[tokio::test]
async fn the_same_install_twice_gives_one_welcome_and_one_state() {
    let h = Harness::new().await;
    let install = h.activity("personal_install");
    h.ok(&install).await;
    let first = h.all().await;
    // Redelivered, byte for byte, a few seconds later.
    h.later(15);
    h.ok(&install).await;
    let second = h.all().await;
    assert_eq!(second.len(), 1);
    let (mut a, b) = (first[0].clone(), second[0].clone());
    // Only "last seen" (the receive time) moves.
    assert!(b.last_seen_at > a.last_seen_at);
    a.last_seen_at = b.last_seen_at;
    assert_eq!(a, b);
    assert_eq!(h.welcomes(&h.personal).len(), 1);
    assert_eq!(h.published(), [ev(InstallationAdded, &h.personal)]);
}

#[tokio::test]
async fn a_redelivered_team_install_welcomes_once() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    let incidents = h.channel(&team, "Incidents");
    let install = h.team_install(&team, &incidents);
    h.ok(&install).await;
    h.ok(&install).await;
    assert_eq!(h.welcomes(&incidents).len(), 1);
    assert!(h.welcomes(&team.id).is_empty());
    assert_eq!(h.all().await.len(), 2);
    assert_eq!(h.published().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_installation_update_and_members_added_welcome_once() {
    let h = Harness::new().await;
    // Several users, so a race that only sometimes double-welcomes shows up.
    let mut chats = Vec::new();
    for n in 0..6 {
        let (user, chat) = h.another_user(&format!("User {n}"));
        let install = h
            .activity("personal_install")
            .set("USER_ID", &user.id)
            .set("USER_AAD", &user.aad_object_id)
            .set("CONVERSATION_ID", &chat);
        let members_added = h
            .activity("personal_members_added")
            .set("USER_ID", &user.id)
            .set("USER_AAD", &user.aad_object_id)
            .set("CONVERSATION_ID", &chat);
        let (a, b) = tokio::join!(h.post(&install), h.post(&members_added));
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(b.status, 200, "{b:?}");
        chats.push(chat);
    }
    for chat in &chats {
        assert_eq!(h.welcomes(chat).len(), 1, "{chat}");
        assert_eq!(h.stored(chat).await.status, ReferenceStatus::Active);
    }
    let mut added: Vec<_> = h.published().into_iter().map(|(_, c)| c).collect();
    added.sort();
    let mut expected = chats.clone();
    expected.sort();
    assert_eq!(added, expected, "one InstallationAdded per chat");
}

#[tokio::test]
async fn an_older_activity_does_not_roll_back_service_url_or_zone() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    let older = h.later(60);
    let newer = h.later(60);
    let current_url = h.emulator.service_url();
    let stale_url = current_url.replace("/amer/", "/emea/");
    // The newer message arrives first...
    h.ok(&h
        .activity("message_personal_local_timezone")
        .text("hello")
        .set("TIMEZONE", "Europe/Berlin")
        .at(newer))
        .await;
    // ...then a late redelivery of an older one, from the old region and zone.
    let late = h
        .activity("message_personal_local_timezone")
        .text("hello")
        .set("TIMEZONE", "Asia/Tokyo")
        .set("SERVICE_URL", &stale_url)
        .edited(|a| a["from"]["name"] = "Megan (old name)".into());
    let late = {
        let mut late = late;
        late["timestamp"] = crate::support::teams_timestamp(older).into();
        late
    };
    assert_eq!(h.post_json(&late).await.status, 200);
    let stored = h.stored(&h.personal).await;
    assert_eq!(stored.service_url.as_str(), current_url);
    assert_eq!(stored.time_zone, Some(zone("Europe/Berlin")));
    assert_eq!(stored.user.unwrap().name.as_deref(), Some(USER_NAME));
    assert_eq!(
        stored.updated_at.timestamp_millis(),
        newer.timestamp_millis()
    );

    // A newer activity from a new region does move it.
    let moved = h
        .activity("message_personal_local_timezone")
        .text("hello")
        .set("SERVICE_URL", &stale_url)
        .at(h.later(60));
    assert_eq!(h.post(&moved).await.status, 200);
    assert_eq!(h.stored(&h.personal).await.service_url.as_str(), stale_url);
}

#[tokio::test]
async fn a_late_uninstall_does_not_undo_a_newer_install() {
    let h = Harness::new().await;
    let removed_at = h.later(60);
    let reinstalled_at = h.later(60);
    h.ok(&h.activity("personal_install").at(reinstalled_at))
        .await;
    h.ok(&h.activity("personal_uninstall").at(removed_at)).await;
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
    assert_eq!(h.published(), [ev(InstallationAdded, &h.personal)]);
}

#[tokio::test]
async fn uninstall_then_reinstall_is_a_new_installation() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    let uninstall = h.activity("personal_uninstall").at(h.later(600));
    h.ok(&uninstall).await;
    // The uninstall redelivered: no second event.
    h.ok(&uninstall).await;
    h.ok(&h.activity("personal_install").at(h.later(600))).await;
    h.ok(&h.activity("personal_members_added").at(h.later(1)))
        .await;
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
    assert_eq!(h.welcomes(&h.personal).len(), 2);
    assert_eq!(
        h.published(),
        [
            ev(InstallationAdded, &h.personal),
            ev(InstallationRemoved, &h.personal),
            ev(InstallationAdded, &h.personal),
        ]
    );
}

#[tokio::test]
async fn team_reinstall_welcomes_again_and_reactivates_known_channels() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    let incidents = h.channel(&team, "Incidents");
    let announcements = h.channel(&team, "Announcements");
    let old = h.channel(&team, "Old");
    h.ok(&h.team_install(&team, &incidents)).await;
    for (id, name) in [(&announcements, "Announcements"), (&old, "Old")] {
        h.ok(&h
            .activity("channel_created")
            .team(&team)
            .channel(id, name)
            .at(h.later(60)))
            .await;
    }
    h.ok(&h
        .activity("channel_deleted")
        .team(&team)
        .channel(&old, "Old")
        .at(h.later(60)))
        .await;
    h.ok(&h.activity("team_uninstall").team(&team).at(h.later(60)))
        .await;
    let before = h.published().len();
    h.ok(&h.activity("team_install").team(&team).at(h.later(60)))
        .await;
    assert_eq!(h.welcomes(&incidents).len(), 1);
    assert_eq!(h.welcomes(&team.id).len(), 1);
    // Installed in a team, the bot can post in all of its channels again...
    for id in [&team.id, &incidents, &announcements] {
        assert_eq!(h.stored(id).await.status, ReferenceStatus::Active, "{id}");
    }
    // ...but not in one that was deleted.
    assert_eq!(h.stored(&old).await.status, ReferenceStatus::Uninstalled);
    assert_eq!(
        crate::support::sorted(h.published()[before..].to_vec()),
        crate::support::sorted(vec![
            ev(InstallationAdded, &team.id),
            ev(InstallationAdded, &incidents),
            ev(InstallationAdded, &announcements),
        ])
    );
}

#[tokio::test]
async fn an_upgrade_does_not_undo_a_block_but_a_reinstall_does() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    // The delivery side found the user blocked the bot.
    let blocked = herald_store::StatusUpdate {
        status: ReferenceStatus::Blocked,
        at: h.later(60),
        reason: Some("ConversationBlockedByUser".to_owned()),
    };
    h.webhook
        .store
        .set_status(&Harness::key(&h.personal), &blocked)
        .await
        .unwrap();
    h.ok(&h.activity("personal_add_upgrade").at(h.later(60)))
        .await;
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Blocked);
    assert_eq!(h.welcomes(&h.personal).len(), 1);
    // The user installs Herald again: a new installation.
    h.ok(&h.activity("personal_install").at(h.later(60))).await;
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
    assert_eq!(h.welcomes(&h.personal).len(), 2);
}

#[tokio::test]
async fn a_failed_welcome_does_not_fail_the_request() {
    // A 5xx would make Teams redeliver an activity whose store change is already made.
    let h = Harness::new().await;
    h.emulator
        .inject_times(&h.personal, herald_teams_emulator::Fault::Status(503), 1);
    h.ok(&h.activity("personal_install")).await;
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
    assert_eq!(h.published(), [ev(InstallationAdded, &h.personal)]);
    let attempts: Vec<_> = h
        .emulator
        .requests_for(&h.personal)
        .into_iter()
        .map(|r| (r.operation, r.status))
        .collect();
    assert_eq!(attempts, [("sendToConversation", Some(503))]);
    assert!(h.emulator.activities(&h.personal).is_empty());
}

#[tokio::test]
async fn a_slow_connector_does_not_hold_the_answer_past_teams_patience() {
    let h = Harness::new().await;
    h.emulator.inject(
        &h.personal,
        herald_teams_emulator::Fault::Delay(std::time::Duration::from_secs(60)),
    );
    let started = std::time::Instant::now();
    h.ok(&h.activity("personal_install")).await;
    let took = started.elapsed();
    // Teams redelivers after about 15 s; the webhook gives a send 8 s.
    assert!(took < std::time::Duration::from_secs(12), "{took:?}");
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Active);
}

#[tokio::test]
async fn team_members_added_before_the_installation_update_welcomes_once() {
    // Teams' conversationUpdate names no selected channel; the installationUpdate does. Whichever
    // comes first, the team gets one welcome.
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    let incidents = h.channel(&team, "Incidents");
    h.ok(&h.activity("team_members_added").team(&team)).await;
    h.ok(&h.team_install(&team, &incidents).at(h.later(1)))
        .await;
    let total = h.welcomes(&team.id).len() + h.welcomes(&incidents).len();
    assert_eq!(total, 1, "one welcome per team installation");
    assert_eq!(h.stored(&incidents).await.status, ReferenceStatus::Active);
    assert_eq!(h.stored(&team.id).await.status, ReferenceStatus::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_team_install_activities_welcome_once() {
    let h = Harness::new().await;
    let mut teams = Vec::new();
    for n in 0..6 {
        let team = h.team(&format!("Team {n}"));
        let incidents = h.channel(&team, "Incidents");
        let install = h.team_install(&team, &incidents);
        let members_added = h.activity("team_members_added").team(&team);
        let (a, b) = tokio::join!(h.post(&install), h.post(&members_added));
        assert_eq!((a.status, b.status), (200, 200), "{a:?} {b:?}");
        teams.push((team, incidents));
    }
    for (team, incidents) in &teams {
        let total = h.welcomes(&team.id).len() + h.welcomes(incidents).len();
        assert_eq!(total, 1, "{}", team.name);
    }
}
