//! Team and channel events: created, renamed, deleted and restored channels; teams uninstalled,
//! deleted, archived, restored and renamed, each reaching every channel Herald knows of the team
//! (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events).

use herald_domain::{ConversationType, ReferenceStatus};
use herald_events::EventKind::{
    self, InstallationArchived, InstallationRemoved, InstallationRestored,
};

use herald_teams_emulator::EmulatedTeam;

use crate::support::{Harness, TENANT, ev, sorted};

/// A team with General, the selected channel and a created channel, installed.
pub(crate) async fn installed_team(h: &Harness) -> (EmulatedTeam, String, String) {
    let team = h.team("Contoso Ops");
    let incidents = h.channel(&team, "Incidents");
    let announcements = h.channel(&team, "Announcements");
    h.ok(&h.team_install(&team, &incidents)).await;
    h.channel_event("channel_created", &team, &announcements, "Announcements")
        .await;
    (team, incidents, announcements)
}

impl Harness {
    /// The team event `fixture` of `team`, a minute later.
    async fn team_event(&self, fixture: &str, team: &EmulatedTeam) {
        self.ok(&self.activity(fixture).team(team).at(self.later(60)))
            .await;
    }

    /// The channel event `fixture` of `team`'s channel `id` named `name`, a minute later.
    async fn channel_event(&self, fixture: &str, team: &EmulatedTeam, id: &str, name: &str) {
        self.ok(&self
            .activity(fixture)
            .team(team)
            .channel(id, name)
            .at(self.later(60)))
            .await;
    }

    /// Asserts that Herald knows exactly `channels` of `team`, each with `status`.
    async fn assert_team(
        &self,
        team: &EmulatedTeam,
        channels: &[&String],
        status: ReferenceStatus,
    ) {
        assert_eq!(
            self.team_statuses(&team.id).await,
            all_with(channels, status)
        );
    }

    async fn team_statuses(&self, team: &str) -> Vec<(String, ReferenceStatus)> {
        let mut statuses: Vec<_> = self
            .webhook
            .store
            .team_channels(
                &herald_domain::TenantId::new(TENANT).unwrap(),
                &herald_domain::TeamId::new(team).unwrap(),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.conversation_id.as_str().to_owned(), r.status))
            .collect();
        statuses.sort_by(|a, b| a.0.cmp(&b.0));
        statuses
    }
}

/// The event `kind` for each of `channels`, sorted as [`sorted`] sorts.
fn each(kind: EventKind, channels: &[&String]) -> Vec<(EventKind, String)> {
    sorted(channels.iter().map(|c| ev(kind, c)).collect())
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
            &herald_domain::TenantId::new(TENANT).unwrap(),
            &herald_domain::TeamId::new(&team.id).unwrap(),
            "announcements",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.conversation_id.as_str(), announcements);
    h.assert_team(
        &team,
        &[&team.id, &incidents, &announcements],
        ReferenceStatus::Active,
    )
    .await;
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
    h.team_event("team_uninstall", &team).await;
    h.assert_team(
        &team,
        &[&team.id, &incidents, &announcements],
        ReferenceStatus::Uninstalled,
    )
    .await;
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
    h.team_event("team_members_removed", &team).await;
    h.assert_team(
        &team,
        &[&team.id, &incidents, &announcements],
        ReferenceStatus::Uninstalled,
    )
    .await;
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
        h.team_event(fixture, &team).await;
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
    h.team_event("team_archived", &team).await;
    h.assert_team(&team, &channels, ReferenceStatus::Archived)
        .await;
    assert!(!h.stored(&incidents).await.is_sendable());
    h.team_event("team_unarchived", &team).await;
    h.assert_team(&team, &channels, ReferenceStatus::Active)
        .await;
    let events = h.published()[before..].to_vec();
    assert_eq!(
        sorted(events[..3].to_vec()),
        each(InstallationArchived, &channels)
    );
    assert_eq!(
        sorted(events[3..].to_vec()),
        each(InstallationRestored, &channels)
    );
    // Restoring is not a new installation.
    assert_eq!(h.welcomes(&incidents).len(), 1);
}

#[tokio::test]
async fn team_restored_after_deletion_reactivates_the_team() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    let channels = [&team.id, &incidents, &announcements];
    h.team_event("team_deleted", &team).await;
    let before = h.published().len();
    h.team_event("team_restored", &team).await;
    h.assert_team(&team, &channels, ReferenceStatus::Active)
        .await;
    assert_eq!(
        sorted(h.published()[before..].to_vec()),
        each(InstallationRestored, &channels)
    );
    assert_eq!(h.welcomes(&incidents).len(), 1);
}

#[tokio::test]
async fn team_renamed_updates_every_channel() {
    let h = Harness::new().await;
    let (team, incidents, announcements) = installed_team(&h).await;
    let mut renamed = team.clone();
    renamed.name = "Contoso Operations".to_owned();
    h.team_event("team_renamed", &renamed).await;
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
    h.channel_event("channel_renamed", &team, &announcements, "News")
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
    h.channel_event("channel_deleted", &team, &announcements, "Announcements")
        .await;
    assert_eq!(
        h.stored(&announcements).await.status,
        ReferenceStatus::Uninstalled
    );
    assert_eq!(h.stored(&incidents).await.status, ReferenceStatus::Active);
    assert_eq!(h.stored(&team.id).await.status, ReferenceStatus::Active);
    h.channel_event("channel_restored", &team, &announcements, "Announcements")
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
    h.channel_event("channel_deleted", &team, &announcements, "Announcements")
        .await;
    let before = h.published().len();
    for fixture in ["team_archived", "team_unarchived"] {
        h.team_event(fixture, &team).await;
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
        h.team_event(fixture, &team).await;
    }
    let deleted = h.stored(&announcements).await;
    assert_eq!(deleted.status, ReferenceStatus::Uninstalled);
    assert_eq!(deleted.status_reason.as_deref(), Some("channelDeleted"));
    assert_eq!(h.stored(&team.id).await.status, ReferenceStatus::Active);
}
