//! Activities as Microsoft publishes them (`tests/fixtures/published`, each file's source in its
//! `SOURCES.md`), fields left out and all: every one is answered 200, never 400 or 5xx, and has
//! the effect its kind should have. Each runs in a fresh world, with what it acts on stored first.

use chrono::{DateTime, TimeZone as _, Utc};
use herald_domain::{
    BotAppId, ChannelId, ChannelInfo, ConversationId, ConversationKey, ConversationReference,
    ConversationType, ReferenceStatus, ServiceUrl, TeamId, TeamInfo, TenantId,
};
use herald_events::EventKind::{
    self, InstallationAdded, InstallationArchived, InstallationRemoved, InstallationRestored,
};
use herald_store::StatusUpdate;
use herald_testkit::http::Response as HttpReply;

use crate::support::{Harness, ev, fixtures_dir, json_files, sorted};

/// Every published payload, each named by a test below.
const PUBLISHED: [&str; 21] = [
    "conversation_update_bot_added_to_personal_chat",
    "conversation_update_bot_added_to_team",
    "conversation_update_channel_created",
    "conversation_update_channel_deleted",
    "conversation_update_channel_renamed",
    "conversation_update_channel_restored",
    "conversation_update_team_archived",
    "conversation_update_team_deleted",
    "conversation_update_team_member_removed",
    "conversation_update_team_renamed",
    "conversation_update_team_restored",
    "conversation_update_team_unarchived",
    "conversation_update_user_added_to_meeting",
    "event_meeting_end",
    "event_meeting_start",
    "installation_update_add_team",
    "invoke_adaptive_card_action",
    "message_channel_mention",
    "message_personal",
    "message_reaction_added",
    "message_reaction_removed",
];

/// The ids of the team and channel samples on Microsoft's conversation-events page.
const DOCS_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const DOCS_TEAM: &str = "19:efa9296d959346209fea44151c742e73@thread.skype";
const DOCS_CHANNEL: &str = "19:6d97d816470f481dbcda38244b98689a@thread.skype";
/// Another tenant whose installations name the same team id.
const OTHER_TENANT: &str = "0a1b2c3d-0000-4000-8000-00000000beef";
/// The team the "bot added to a team" and team installationUpdate samples name.
const SAMPLE_TENANT: &str = "b28fdbfd-2b78-4f93-b0f8-8881793f0f8f";
const SAMPLE_CHANNEL: &str = "19:0b7f32667e064dd9b25d7969801541f4@thread.tacv2";
const SAMPLE_TEAM: &str = "19:zFLSDFWsesfzcmKArqKJ-65aOXJz@sgf462H2wz41@thread.tacv2";

/// Before every published timestamp: what a test stores first never outranks the payload.
fn long_ago() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()
}

impl Harness {
    /// Posts a published payload and requires Teams' plain 200.
    async fn deliver(&self, fixture: &str) {
        let reply = self.post(&self.as_published(fixture)).await;
        assert_eq!(reply, HttpReply::ok(), "{fixture}");
    }

    fn key_in(tenant: &str, conversation: &str) -> ConversationKey {
        ConversationKey::new(
            TenantId::new(tenant).unwrap(),
            ConversationId::new(conversation).unwrap(),
        )
    }

    async fn get_in(&self, tenant: &str, conversation: &str) -> Option<ConversationReference> {
        self.webhook
            .store
            .get(&Self::key_in(tenant, conversation))
            .await
            .unwrap()
    }

    async fn stored_in(&self, tenant: &str, conversation: &str) -> ConversationReference {
        self.get_in(tenant, conversation)
            .await
            .unwrap_or_else(|| panic!("nothing stored for {tenant}/{conversation}"))
    }

    /// A channel of a team installed long ago, in `status` for `reason`.
    async fn seed_channel(
        &self,
        tenant: &str,
        (team, team_name): (&str, Option<&str>),
        (channel, name): (&str, Option<&str>),
        status: ReferenceStatus,
        reason: Option<&str>,
    ) {
        let app = BotAppId::new(&self.app_id).unwrap();
        let reference = ConversationReference::channel(
            TenantId::new(tenant).unwrap(),
            ServiceUrl::parse(&self.emulator.service_url()).unwrap(),
            &app,
            TeamInfo {
                id: TeamId::new(team).unwrap(),
                name: team_name.map(str::to_owned),
                aad_group_id: None,
            },
            ChannelInfo {
                id: ChannelId::new(channel).unwrap(),
                name: name.map(str::to_owned),
            },
            long_ago(),
        )
        .unwrap();
        self.webhook.store.upsert(&reference).await.unwrap();
        if status != ReferenceStatus::Active {
            let update = StatusUpdate {
                status,
                at: long_ago(),
                reason: reason.map(str::to_owned),
            };
            self.webhook
                .store
                .set_status(&reference.key(), &update)
                .await
                .unwrap();
        }
    }

    /// The docs' team (General and one channel) in its tenant, and the same team id in another.
    async fn seed_docs_team(&self, status: ReferenceStatus, reason: Option<&str>) {
        for tenant in [DOCS_TENANT, OTHER_TENANT] {
            let team = (DOCS_TEAM, Some("Team Name"));
            self.seed_channel(tenant, team, (DOCS_TEAM, None), status, reason)
                .await;
            self.seed_channel(
                tenant,
                team,
                (DOCS_CHANNEL, Some("FunDiscussions")),
                status,
                reason,
            )
            .await;
        }
    }

    async fn docs_team_statuses(&self, tenant: &str) -> [ReferenceStatus; 2] {
        [
            self.stored_in(tenant, DOCS_TEAM).await.status,
            self.stored_in(tenant, DOCS_CHANNEL).await.status,
        ]
    }

    /// Requests of `operation` (sendToConversation, replyToActivity) to `conversation`.
    fn attempts(&self, operation: &str, conversation: &str) -> usize {
        self.emulator
            .requests_for(conversation)
            .iter()
            .filter(|r| r.operation == operation)
            .count()
    }

    fn nothing_sent_or_published(&self) {
        assert_eq!(self.bot_writes(), 0);
        assert!(self.published().is_empty(), "{:?}", self.published());
    }
}

fn both(kind: EventKind) -> Vec<(EventKind, String)> {
    sorted(vec![ev(kind, DOCS_TEAM), ev(kind, DOCS_CHANNEL)])
}

#[tokio::test]
async fn every_published_payload_is_answered_200_and_has_a_source() {
    let dir = format!("{}/published", fixtures_dir());
    let files = json_files(&dir);
    assert_eq!(files, PUBLISHED.map(str::to_owned), "a test per payload");
    let sources = std::fs::read_to_string(format!("{dir}/SOURCES.md")).unwrap();
    for fixture in &files {
        let line = sources
            .lines()
            .find(|l| l.starts_with(&format!("- `{fixture}.json`: ")))
            .unwrap_or_else(|| panic!("{fixture} has no line in SOURCES.md"));
        assert!(
            line.contains("https://") || line.contains("same page") || line.contains("same file"),
            "{line}"
        );
        // 200, with the invoke response for an invoke.
        let h = Harness::new().await;
        let reply = h.post(&h.as_published(fixture)).await;
        assert_eq!(reply.status, 200, "{fixture}: {reply:?}");
    }
}

#[tokio::test]
async fn a_created_channel_is_recorded_by_name() {
    let h = Harness::new().await;
    h.deliver("conversation_update_channel_created").await;
    let channel = h.stored_in(DOCS_TENANT, DOCS_CHANNEL).await;
    assert_eq!(channel.conversation_type, ConversationType::Channel);
    assert_eq!(channel.status, ReferenceStatus::Active);
    assert_eq!(
        channel.channel.unwrap().name.as_deref(),
        Some("FunDiscussions")
    );
    assert_eq!(channel.team.unwrap().id.as_str(), DOCS_TEAM);
    h.nothing_sent_or_published();
}

#[tokio::test]
async fn a_renamed_channel_gets_its_new_name() {
    let h = Harness::new().await;
    h.seed_docs_team(ReferenceStatus::Active, None).await;
    h.deliver("conversation_update_channel_renamed").await;
    let channel = h.stored_in(DOCS_TENANT, DOCS_CHANNEL).await;
    assert_eq!(
        channel.channel.unwrap().name.as_deref(),
        Some("PhotographyUpdates")
    );
    assert_eq!(channel.status, ReferenceStatus::Active);
    h.nothing_sent_or_published();
}

#[tokio::test]
async fn a_deleted_channel_is_uninstalled_and_a_restored_one_active() {
    let h = Harness::new().await;
    h.seed_docs_team(ReferenceStatus::Active, None).await;
    h.deliver("conversation_update_channel_deleted").await;
    let channel = h.stored_in(DOCS_TENANT, DOCS_CHANNEL).await;
    assert_eq!(channel.status, ReferenceStatus::Uninstalled);
    assert_eq!(channel.status_reason.as_deref(), Some("channelDeleted"));
    assert_eq!(h.published(), [ev(InstallationRemoved, DOCS_CHANNEL)]);

    let h = Harness::new().await;
    h.seed_docs_team(ReferenceStatus::Uninstalled, Some("channelDeleted"))
        .await;
    h.deliver("conversation_update_channel_restored").await;
    let channel = h.stored_in(DOCS_TENANT, DOCS_CHANNEL).await;
    assert_eq!(channel.status, ReferenceStatus::Active);
    assert_eq!(h.published(), [ev(InstallationRestored, DOCS_CHANNEL)]);
    assert_eq!(
        h.docs_team_statuses(OTHER_TENANT).await,
        [ReferenceStatus::Uninstalled; 2]
    );
}

#[tokio::test]
async fn team_events_change_the_teams_channels_in_its_tenant() {
    for (fixture, before, after, event) in [
        (
            "conversation_update_team_deleted",
            ReferenceStatus::Active,
            ReferenceStatus::Uninstalled,
            InstallationRemoved,
        ),
        (
            "conversation_update_team_archived",
            ReferenceStatus::Active,
            ReferenceStatus::Archived,
            InstallationArchived,
        ),
        (
            "conversation_update_team_unarchived",
            ReferenceStatus::Archived,
            ReferenceStatus::Active,
            InstallationRestored,
        ),
        // Published as `teamrestored`.
        (
            "conversation_update_team_restored",
            ReferenceStatus::Uninstalled,
            ReferenceStatus::Active,
            InstallationRestored,
        ),
    ] {
        let h = Harness::new().await;
        let reason = (before == ReferenceStatus::Uninstalled).then_some("teamDeleted");
        h.seed_docs_team(before, reason).await;
        h.deliver(fixture).await;
        assert_eq!(
            h.docs_team_statuses(DOCS_TENANT).await,
            [after; 2],
            "{fixture}"
        );
        assert_eq!(
            h.docs_team_statuses(OTHER_TENANT).await,
            [before; 2],
            "{fixture} in another tenant"
        );
        assert_eq!(sorted(h.published()), both(event), "{fixture}");
        assert_eq!(h.bot_writes(), 0);
    }
}

#[tokio::test]
async fn a_renamed_team_renames_every_channel_of_it() {
    let h = Harness::new().await;
    h.seed_docs_team(ReferenceStatus::Active, None).await;
    h.deliver("conversation_update_team_renamed").await;
    for conversation in [DOCS_TEAM, DOCS_CHANNEL] {
        let team = h.stored_in(DOCS_TENANT, conversation).await.team.unwrap();
        assert_eq!(
            team.name.as_deref(),
            Some("New Team Name"),
            "{conversation}"
        );
        let theirs = h.stored_in(OTHER_TENANT, conversation).await.team.unwrap();
        assert_eq!(theirs.name.as_deref(), Some("Team Name"), "{conversation}");
    }
    h.nothing_sent_or_published();
}

#[tokio::test]
async fn a_member_leaving_the_team_only_refreshes_it() {
    let h = Harness::new().await;
    h.seed_docs_team(ReferenceStatus::Active, None).await;
    h.deliver("conversation_update_team_member_removed").await;
    assert_eq!(
        h.docs_team_statuses(DOCS_TENANT).await,
        [ReferenceStatus::Active; 2]
    );
    h.nothing_sent_or_published();
}

#[tokio::test]
async fn the_bot_added_to_a_team_installs_and_welcomes_once() {
    for (fixture, aad_group) in [
        (
            "conversation_update_bot_added_to_team",
            "f3ec8cd2-e704-4344-8c47-9a3a21d683c0",
        ),
        (
            "installation_update_add_team",
            "da849743-4259-475f-ae7a-4f4b0fb49943",
        ),
    ] {
        let h = Harness::new().await;
        h.deliver(fixture).await;
        let channel = h.stored_in(SAMPLE_TENANT, SAMPLE_CHANNEL).await;
        assert_eq!(
            channel.conversation_type,
            ConversationType::Channel,
            "{fixture}"
        );
        assert_eq!(channel.status, ReferenceStatus::Active);
        let team = channel.team.unwrap();
        assert_eq!(team.id.as_str(), SAMPLE_TEAM);
        assert_eq!(team.name.as_deref(), Some("TestTeam2022"));
        assert_eq!(team.aad_group_id.as_deref(), Some(aad_group));
        assert_eq!(
            h.attempts("sendToConversation", SAMPLE_CHANNEL),
            1,
            "{fixture}"
        );
        assert_eq!(h.published(), [ev(InstallationAdded, SAMPLE_CHANNEL)]);
        // Teams sends the other announcement too: still one welcome.
        let other = if fixture == "installation_update_add_team" {
            "conversation_update_bot_added_to_team"
        } else {
            "installation_update_add_team"
        };
        h.deliver(other).await;
        assert_eq!(
            h.attempts("sendToConversation", SAMPLE_CHANNEL),
            1,
            "{fixture}"
        );
    }
}

#[tokio::test]
async fn the_bot_added_to_a_personal_chat_installs_and_welcomes() {
    let h = Harness::new().await;
    h.deliver("conversation_update_bot_added_to_personal_chat")
        .await;
    let chat = h.stored_in("<TENANT ID>", "***").await;
    assert_eq!(chat.conversation_type, ConversationType::Personal);
    assert_eq!(chat.status, ReferenceStatus::Active);
    assert_eq!(chat.user.unwrap().id.as_str(), "29:<USERID>");
    assert_eq!(h.attempts("sendToConversation", "***"), 1);
    assert_eq!(h.published(), [ev(InstallationAdded, "***")]);
}

/// No `conversationType`: `isGroup` without a team makes it a group chat.
#[tokio::test]
async fn a_user_added_to_a_meeting_refreshes_the_meeting_chat() {
    let h = Harness::new().await;
    h.deliver("conversation_update_user_added_to_meeting").await;
    let chat = h
        .stored_in(
            "e15762ef-a8d8-416b-871c-25516354f1fe",
            "19:meeting_MWJlNGViOTgtMGExYi00NDA3LWExODgtOTZhMWNlYjM4ZTRj@thread.v2",
        )
        .await;
    assert_eq!(chat.conversation_type, ConversationType::GroupChat);
    assert_eq!(chat.status, ReferenceStatus::Active);
    h.nothing_sent_or_published();
}

#[tokio::test]
async fn a_personal_message_is_stored_with_the_clients_zone_and_answered() {
    let h = Harness::new().await;
    h.deliver("message_personal").await;
    let conversation = "a:17I0kl9EkpE1O9PH5TWrzrLNwnWWcfrU7QZjKR0WSfOpzbfcAg2IaydGElSo10tVr4C7Fc6GtieTJX663WuJCc1uA83n4CSrHSgGBj5XNYLcVlJAs2ZX8DbYBPck201w-";
    let chat = h.stored_in(DOCS_TENANT, conversation).await;
    assert_eq!(chat.conversation_type, ConversationType::Personal);
    let user = chat.user.unwrap();
    assert_eq!(user.name.as_deref(), Some("Megan Bowen"));
    assert_eq!(
        user.aad_object_id.unwrap().as_str(),
        "7faf8ab2-3d56-4244-b585-20c8a42ed2b8"
    );
    assert_eq!(chat.time_zone.unwrap().name(), "America/Los_Angeles");
    assert_eq!(chat.locale.as_deref(), Some("en-US"));
    // Text Herald does not understand gets a short help, in the chat.
    assert_eq!(h.attempts("sendToConversation", conversation), 1);
    assert!(h.published().is_empty());
}

#[tokio::test]
async fn a_channel_mention_is_stored_under_its_channel_and_answered_in_the_thread() {
    let h = Harness::new().await;
    h.deliver("message_channel_mention").await;
    let channel_id = "19:6848757105754c8981c67612732d9aa7@thread.tacv2";
    let channel = h
        .stored_in("50612dbb-0237-4969-b378-8d42590f9c00", channel_id)
        .await;
    assert_eq!(channel.conversation_type, ConversationType::Channel);
    assert_eq!(
        channel.team.unwrap().id.as_str(),
        "19:66P469zibfbsGI-_a0aN_toLTZpyzS6u7CT3TsXdgPw1@thread.tacv2"
    );
    assert_eq!(h.attempts("replyToActivity", channel_id), 1);
    assert_eq!(h.bot_writes(), 1);
}

#[tokio::test]
async fn an_adaptive_card_action_gets_an_invoke_response() {
    let h = Harness::new().await;
    let reply = h.post(&h.as_published("invoke_adaptive_card_action")).await;
    assert_eq!(reply.status, 200);
    let body = reply.body.unwrap();
    assert_eq!(body["statusCode"], 200);
    assert_eq!(body["type"], "application/vnd.microsoft.activity.message");
    let chat = h
        .stored_in(
            "56653e9d-2158-46ee-90d7-675c39642038",
            "a:17vxw6pGQOb3Zfh8acXT8m_PqHycYpaFgzu2mFMUfkT-h0UskMctq5ZPPc7FIQxn2bx7rBSm5yE_HeUXsCcKZBrv77RgorB3_1_pAdvMhi39ClxQgawzyQ9GBFkdiwOxT",
        )
        .await;
    assert_eq!(chat.status, ReferenceStatus::Active);
    h.nothing_sent_or_published();
}

/// Reactions and meeting events: acknowledged; Herald acts on none of them.
#[tokio::test]
async fn reactions_and_meeting_events_are_acknowledged_and_ignored() {
    for fixture in [
        "message_reaction_added",
        "message_reaction_removed",
        "event_meeting_start",
        "event_meeting_end",
    ] {
        let h = Harness::new().await;
        h.deliver(fixture).await;
        assert!(h.all().await.is_empty(), "{fixture}");
        h.nothing_sent_or_published();
    }
}
