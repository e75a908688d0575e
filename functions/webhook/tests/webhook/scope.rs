//! Where an activity may act: only Teams' own channel (Azure Bot Service also enables Web Chat and
//! Direct Line, https://learn.microsoft.com/azure/bot-service/bot-service-channels-reference), and
//! a team's events only on the team's channels in the activity's own tenant.

use herald_domain::ReferenceStatus;
use herald_teams_emulator::identity::TokenKind;
use herald_testkit::http::Response as HttpReply;

use crate::support::{Harness, Payload, TENANT};

/// Another tenant, whose activities name the same team id as ours.
const OTHER_TENANT: &str = "0a1b2c3d-0000-4000-8000-00000000beef";

impl Harness {
    /// Posts `payload` from another channel, with a token that channel's key signs: Web Chat's
    /// key is endorsed for `webchat` only; a key without endorsements signs for any channel.
    async fn post_from(&self, payload: &Payload, channel: &str) -> HttpReply {
        let activity = payload.edited(|a| a["channelId"] = channel.into());
        let kind = if channel == "webchat" {
            TokenKind::NotEndorsed
        } else {
            TokenKind::KeyWithoutEndorsements
        };
        let token = self.token(&self.emulator.service_url(), kind);
        self.handle(
            Some(&format!("Bearer {token}")),
            &serde_json::to_vec(&activity).unwrap(),
        )
        .await
    }
}

#[tokio::test]
async fn activities_from_other_channels_are_acknowledged_and_change_nothing() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    let group = h.group_chat();
    for channel in ["webchat", "directline", "emulator"] {
        for payload in [
            h.activity("personal_install"),
            h.activity("personal_members_added"),
            h.activity("message_personal_local_timezone").text("help"),
            h.activity("message_card_submit"),
            h.activity("invoke_adaptive_card_action"),
            h.activity("team_install").team(&team),
            h.activity("team_deleted").team(&team),
            h.activity("group_install").set("CONVERSATION_ID", &group),
        ] {
            let reply = h.post_from(&payload, channel).await;
            assert_eq!(reply, HttpReply::ok(), "{} from {channel}", payload.fixture);
        }
    }
    assert!(h.all().await.is_empty());
    assert_eq!(h.bot_writes(), 0);
    assert!(h.published().is_empty());

    // The same activities from Teams do act (the check above is not vacuous).
    h.ok(&h.activity("personal_install")).await;
    assert_eq!(h.all().await.len(), 1);
    h.one_welcome(&h.personal);
}

#[tokio::test]
async fn a_token_for_another_channel_does_not_pass_for_teams() {
    let h = Harness::new().await;
    let install = h.activity("personal_install");
    // Web Chat's key signs a token the activity then claims is from Teams: refused.
    let token = h.token(&h.emulator.service_url(), TokenKind::NotEndorsed);
    let reply = h
        .handle(Some(&format!("Bearer {token}")), &install.bytes())
        .await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(h.all().await.is_empty());
}

/// A team installed in our tenant, a second channel recorded: (General, second channel).
async fn our_team(h: &Harness, team: &herald_teams_emulator::EmulatedTeam) -> String {
    h.ok(&h.activity("team_install").team(team)).await;
    let alerts = h.channel(team, "Alerts");
    h.ok(&h
        .activity("channel_created")
        .team(team)
        .channel(&alerts, "Alerts")
        .at(h.later(1)))
        .await;
    alerts
}

fn from_other_tenant(payload: Payload) -> Payload {
    payload.set("TENANT", OTHER_TENANT)
}

#[tokio::test]
async fn another_tenants_team_events_never_touch_our_channels() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    let alerts = our_team(&h, &team).await;
    let ours = [team.id.clone(), alerts.clone()];
    let events_before = h.published().len();

    for fixture in ["team_deleted", "team_hard_deleted", "team_archived"] {
        h.ok(&from_other_tenant(h.activity(fixture).team(&team)).at(h.later(60)))
            .await;
        for id in &ours {
            assert_eq!(
                h.stored(id).await.status,
                ReferenceStatus::Active,
                "{fixture}"
            );
        }
    }
    // Renamed there: our channels keep our team's name.
    let renamed = herald_teams_emulator::EmulatedTeam {
        name: "Hijacked".into(),
        ..team.clone()
    };
    h.ok(&from_other_tenant(h.activity("team_renamed").team(&renamed)).at(h.later(60)))
        .await;
    assert_eq!(
        h.stored(&alerts).await.team.unwrap().name.as_deref(),
        Some("Contoso Ops")
    );
    // Removed from the team there: ours stay installed.
    h.ok(&from_other_tenant(h.activity("team_members_removed").team(&team)).at(h.later(60)))
        .await;
    for id in &ours {
        assert_eq!(h.stored(id).await.status, ReferenceStatus::Active);
    }
    // None of our installations changed, so no event names them.
    assert!(
        h.published_events()[events_before..]
            .iter()
            .all(|e| crate::support::installation(e).tenant_id.as_str() == OTHER_TENANT),
        "{:?}",
        h.published_events()
    );

    // Our own tenant's event still applies to every channel of the team.
    h.ok(&h.activity("team_deleted").team(&team).at(h.later(60)))
        .await;
    for id in &ours {
        assert_eq!(h.stored(id).await.status, ReferenceStatus::Uninstalled);
    }
}

#[tokio::test]
async fn another_tenants_install_does_not_reactivate_our_channels() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    let alerts = our_team(&h, &team).await;
    h.ok(&h.activity("team_archived").team(&team).at(h.later(60)))
        .await;
    assert_eq!(h.stored(&alerts).await.status, ReferenceStatus::Archived);

    h.ok(&from_other_tenant(h.activity("team_install").team(&team)).at(h.later(60)))
        .await;
    assert_eq!(h.stored(&alerts).await.status, ReferenceStatus::Archived);
    assert_eq!(h.stored(&team.id).await.status, ReferenceStatus::Archived);
    assert_eq!(h.stored(&team.id).await.tenant_id.as_str(), TENANT);
}
