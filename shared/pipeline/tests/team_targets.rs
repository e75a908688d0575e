//! Team targets find channels among their own tenant's installations only: the same team id
//! named by another tenant's installations (its channels even sharing ids) gets nothing. Embedded
//! stores; no connector call is made for `team` targets.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, TimeZone as _, Utc};
use herald_connector::{ConnectorConfig, teams_connector};
use herald_domain::{
    BotAppId, ChannelId, ChannelInfo, Clock as _, ConversationId, ConversationReference,
    ManualClock, ServiceUrl, Target, TeamId, TeamInfo, TenantId,
};
use herald_pipeline::Expander;
use herald_store::{
    EmbeddedOutboxStore, EmbeddedReferenceStore, OutboxStore, PageRequest, ReferenceWriter,
};

const APP: &str = "5e3c1a7b-8d2f-4c61-9b0e-2a7f6d4c8e19";
const OURS: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const THEIRS: &str = "0a1b2c3d-0000-4000-8000-00000000beef";
const TEAM: &str = "19:shared-team@thread.tacv2";
const OPS: &str = "19:ops@thread.tacv2";

struct World {
    references: Arc<EmbeddedReferenceStore>,
    outbox: Arc<EmbeddedOutboxStore>,
    expander: Expander,
    clock: Arc<ManualClock>,
    _data: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let data = tempfile::tempdir().unwrap();
        let app = BotAppId::new(APP).unwrap();
        let references = Arc::new(EmbeddedReferenceStore::open(data.path(), app.clone()).unwrap());
        let outbox = Arc::new(EmbeddedOutboxStore::open(data.path()).unwrap());
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        ));
        let env = HashMap::from([
            ("MicrosoftAppId", APP.to_owned()),
            ("MicrosoftAppPassword", "unused".to_owned()),
            ("MicrosoftAppTenantId", OURS.to_owned()),
        ]);
        let config = ConnectorConfig::from_lookup(|n| env.get(n).cloned()).unwrap();
        let expander = Expander {
            references: references.clone(),
            outbox: outbox.clone(),
            connector: Arc::new(teams_connector(&config).unwrap()),
            clock: clock.clone(),
            retention: Duration::days(30),
            proactive_install: false,
        };
        Self {
            references,
            outbox,
            expander,
            clock,
            _data: data,
        }
    }

    /// General and Ops of the shared team id, in each tenant.
    async fn install_both_tenants(&self) {
        for tenant in [OURS, THEIRS] {
            self.install(tenant, TEAM, None).await;
            self.install(tenant, OPS, Some("Ops")).await;
        }
    }

    async fn install(&self, tenant: &str, channel: &str, name: Option<&str>) {
        let app = BotAppId::new(APP).unwrap();
        let now = self.clock.now();
        let reference = ConversationReference::channel(
            TenantId::new(tenant).unwrap(),
            ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap(),
            &app,
            TeamInfo {
                id: TeamId::new(TEAM).unwrap(),
                name: Some("Operations".into()),
                aad_group_id: None,
            },
            ChannelInfo {
                id: ChannelId::new(channel).unwrap(),
                name: name.map(str::to_owned),
            },
            now,
        )
        .unwrap();
        self.references.upsert(&reference).await.unwrap();
    }

    /// Expands a notification to `target`; the (tenant, conversation) of each delivery, sorted.
    async fn recipients(&self, target: Target) -> Vec<(String, String)> {
        let id = crate::support::notify_expanded(
            &*self.outbox,
            &self.expander,
            self.clock.now(),
            target,
        )
        .await;
        let page = self
            .outbox
            .list_deliveries(&id, None, &PageRequest::default())
            .await
            .unwrap();
        assert!(page.next_cursor.is_none());
        let mut recipients: Vec<(String, String)> = page
            .items
            .into_iter()
            .map(|d| {
                let conversation = d.conversation_id.map(ConversationId::into_inner);
                (d.tenant_id.into_inner(), conversation.unwrap_or_default())
            })
            .collect();
        recipients.sort();
        recipients
    }
}

fn team(tenant: Option<&str>, channel: &str) -> Target {
    Target::Team {
        team_id: TeamId::new(TEAM).unwrap(),
        tenant_id: tenant.map(|t| TenantId::new(t).unwrap()),
        channel: channel.to_owned(),
    }
}

fn ours(conversation: &str) -> (String, String) {
    (OURS.to_owned(), conversation.to_owned())
}

#[tokio::test]
async fn a_team_target_reaches_its_tenants_channels_only() {
    let world = World::new();
    world.install_both_tenants().await;
    assert_eq!(
        world.recipients(team(Some(OURS), "*")).await,
        [ours(OPS), ours(TEAM)]
    );
    assert_eq!(
        world.recipients(team(Some(OURS), "General")).await,
        [ours(TEAM)]
    );
    assert_eq!(world.recipients(team(Some(OURS), "ops")).await, [ours(OPS)]);
    let unknown = "11111111-2222-4333-8444-555555555555";
    assert!(world.recipients(team(Some(unknown), "*")).await.is_empty());
    assert!(
        world
            .recipients(team(Some(unknown), "General"))
            .await
            .is_empty()
    );
}

/// Targets stored before team targets named their tenant (schedules, notifications in flight)
/// reach the one tenant holding the team; a team id several tenants name reaches nobody.
#[tokio::test]
async fn a_stored_team_target_without_tenant_needs_one_tenant_holding_the_team() {
    let world = World::new();
    world.install(OURS, TEAM, None).await;
    world.install(OURS, OPS, Some("Ops")).await;
    assert_eq!(
        world.recipients(team(None, "*")).await,
        [ours(OPS), ours(TEAM)]
    );
    assert_eq!(world.recipients(team(None, "General")).await, [ours(TEAM)]);

    world.install(THEIRS, TEAM, None).await;
    assert!(world.recipients(team(None, "*")).await.is_empty());
    assert!(world.recipients(team(None, "General")).await.is_empty());
    // Named, the tenant decides even then.
    assert_eq!(
        world.recipients(team(Some(THEIRS), "*")).await,
        [(THEIRS.to_owned(), TEAM.to_owned())]
    );
}
