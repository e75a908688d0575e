//! The world each installation test runs in: the embedded stores, the real Graph installer and
//! connector against the Teams emulator (its Graph routes), and a manual clock.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, TimeZone as _, Utc};
use herald_connector::{ConnectorConfig, Deadline, teams_connector};
use herald_domain::{
    AadObjectId, BotAppId, Clock, ConversationId, ConversationReference, DeliveryId, ManualClock,
    ServiceUrl, Target, TenantId, UserId, UserInfo,
};
use herald_events::EmbeddedEventPublisher;
use herald_graph::{GraphConfig, GraphInstaller};
use herald_pipeline::{Delivered, Expander, InstallSweep, ProactiveInstall, Sender};
use herald_store::{
    DeliveryRecord, EmbeddedOutboxStore, EmbeddedReferenceStore, NotificationId,
    NotificationRecord, OutboxStore,
};
use herald_teams_emulator::{EmulatedUser, EmulatorConfig, TeamsEmulator};

pub const TENANT: &str = "00000000-0000-0000-0000-0000000000ee";
pub const CATALOG_APP: &str = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

pub struct World {
    pub emulator: TeamsEmulator,
    pub events: Arc<EmbeddedEventPublisher>,
    pub clock: Arc<ManualClock>,
    pub references: Arc<EmbeddedReferenceStore>,
    pub outbox: Arc<EmbeddedOutboxStore>,
    pub expander: Expander,
    pub sender: Sender,
    pub sweep: InstallSweep,
    _data: tempfile::TempDir,
}

impl World {
    pub async fn new(teams_app_id: &str) -> Self {
        let emulator = TeamsEmulator::start(EmulatorConfig::default())
            .await
            .unwrap();
        emulator.add_catalog_app(CATALOG_APP);
        let config = emulator.config().clone();
        let app = BotAppId::new(config.app_id.clone()).unwrap();
        let env = emulator.connector_env();
        let connector_config = ConnectorConfig::from_lookup(|n| env.get(n).cloned()).unwrap();
        let connector = Arc::new(teams_connector(&connector_config).unwrap());
        let graph = GraphConfig::new(teams_app_id, herald_connector::Cloud::Public)
            .base_url(emulator.graph_base_url().parse().unwrap())
            .token_url(emulator.graph_token_url());
        let installer =
            GraphInstaller::from_config(graph, connector_config.credentials.clone()).unwrap();
        let data = tempfile::tempdir().unwrap();
        let references = Arc::new(EmbeddedReferenceStore::open(data.path(), app.clone()).unwrap());
        let outbox = Arc::new(EmbeddedOutboxStore::open(data.path()).unwrap());
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        ));
        let install = ProactiveInstall {
            installer: Arc::new(installer),
            waits: outbox.clone(),
            timeout: Duration::minutes(10),
            default_service_url: ServiceUrl::parse(&emulator.service_url()).unwrap(),
        };
        let events = Arc::new(EmbeddedEventPublisher::default());
        let sender = Sender::new(
            references.clone(),
            outbox.clone(),
            connector.clone(),
            events.clone(),
            clock.clone(),
            app,
        )
        .with_install(Some(install));
        Self {
            expander: Expander {
                references: references.clone(),
                outbox: outbox.clone(),
                connector,
                clock: clock.clone(),
                retention: Duration::days(30),
                proactive_install: true,
            },
            sweep: InstallSweep::new(
                outbox.clone(),
                outbox.clone(),
                references.clone(),
                events.clone(),
                clock.clone(),
            ),
            sender,
            emulator,
            events,
            clock,
            references,
            outbox,
            _data: data,
        }
    }

    /// A `users` notification to these people, expanded.
    pub async fn notify(&self, users: &[&EmulatedUser]) -> NotificationId {
        let target = Target::Users {
            aad_object_ids: users.iter().map(|u| aad(u)).collect(),
            tenant_id: tenant(),
        };
        self.notify_target(target).await
    }

    /// A notification to `target`, expanded.
    pub async fn notify_target(&self, target: Target) -> NotificationId {
        crate::support::notify_expanded(&*self.outbox, &self.expander, self.clock.now(), target)
            .await
    }

    pub async fn deliver(&self, id: &NotificationId, user: &EmulatedUser) -> Delivered {
        self.sender
            .deliver(
                id,
                &delivery_id(user),
                Deadline::after(StdDuration::from_secs(30)),
            )
            .await
            .unwrap()
    }

    pub async fn delivery(&self, id: &NotificationId, user: &EmulatedUser) -> DeliveryRecord {
        self.outbox
            .get_delivery(id, &delivery_id(user))
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn notification(&self, id: &NotificationId) -> NotificationRecord {
        self.outbox.get_notification(id).await.unwrap().unwrap()
    }

    /// What the installation's conversationUpdate makes the webhook store.
    pub fn reference(&self, user: &EmulatedUser) -> ConversationReference {
        let chat = self.emulator.add_personal_chat(TENANT, &user.id);
        let app = BotAppId::new(self.emulator.config().app_id.clone()).unwrap();
        ConversationReference::personal(
            tenant(),
            ConversationId::new(chat).unwrap(),
            ServiceUrl::parse(&self.emulator.service_url()).unwrap(),
            &app,
            UserInfo {
                id: UserId::new(&user.id).unwrap(),
                aad_object_id: Some(aad(user)),
                name: None,
            },
            self.clock.now(),
        )
    }

    pub fn copies(&self, user: &EmulatedUser) -> usize {
        let chat = self.emulator.add_personal_chat(TENANT, &user.id);
        self.emulator
            .activities(&chat)
            .iter()
            .filter(|a| a.activity["text"] == "Heads up")
            .count()
    }
}

pub fn tenant() -> TenantId {
    TenantId::new(TENANT).unwrap()
}

/// The person's Entra object id, as a `users` target names them.
pub fn aad(user: &EmulatedUser) -> AadObjectId {
    AadObjectId::new(&user.aad_object_id).unwrap()
}

fn delivery_id(user: &EmulatedUser) -> DeliveryId {
    DeliveryId::for_person(&tenant(), &aad(user))
}
