//! Proactive installation, step by step on a manual clock: the embedded stores, the real Graph
//! installer and connector against the Teams emulator (its Graph routes), and no webhook, so
//! that each installation event, timeout and retry happens exactly when the test says.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, TimeZone as _, Utc};
use herald_connector::{ConnectorConfig, Deadline, teams_connector};
use herald_domain::{
    AadObjectId, BotAppId, BotId, Clock, ConversationId, ConversationReference, ConversationType,
    DeliveryStatus, ManualClock, ReferenceStatus, ServiceUrl, Target, TenantId, UserId, UserInfo,
};
use herald_events::EmbeddedEventPublisher;
use herald_graph::{GraphConfig, GraphInstaller};
use herald_pipeline::{
    Delivered, Expander, Expansion, InstallSweep, ProactiveInstall, Sender, SweepReport,
    resume_installed,
};
use herald_store::{
    DeliveryRecord, EmbeddedOutboxStore, EmbeddedReferenceStore, NotificationId,
    NotificationRecord, NotificationStatus, OutboxStore, ReferenceReader, ReferenceWriter,
};
use herald_teams_emulator::{EmulatedUser, EmulatorConfig, GraphFault, TeamsEmulator};
use serde_json::json;

const TENANT: &str = "00000000-0000-0000-0000-0000000000ee";
const CATALOG_APP: &str = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

struct World {
    emulator: TeamsEmulator,
    events: Arc<EmbeddedEventPublisher>,
    clock: Arc<ManualClock>,
    references: Arc<EmbeddedReferenceStore>,
    outbox: Arc<EmbeddedOutboxStore>,
    expander: Expander,
    sender: Sender,
    sweep: InstallSweep,
    _data: tempfile::TempDir,
}

impl World {
    async fn new(teams_app_id: &str) -> Self {
        let emulator = TeamsEmulator::start(EmulatorConfig::default())
            .await
            .unwrap();
        emulator.add_catalog_app(CATALOG_APP);
        let config = emulator.config().clone();
        let app = BotAppId::new(config.app_id.clone()).unwrap();
        let env = HashMap::from([
            ("MicrosoftAppId", config.app_id.clone()),
            ("MicrosoftAppPassword", config.app_password.clone()),
            ("MicrosoftAppTenantId", config.app_tenant_id.clone()),
            ("HERALD_TOKEN_URL", emulator.token_url()),
            ("HERALD_TRUSTED_SERVICE_HOSTS", emulator.host_port()),
        ]);
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
    async fn notify(&self, users: &[&EmulatedUser]) -> NotificationId {
        let target = Target::Users {
            aad_object_ids: users
                .iter()
                .map(|u| AadObjectId::new(&u.aad_object_id).unwrap())
                .collect(),
            tenant_id: TenantId::new(TENANT).unwrap(),
        };
        let record = NotificationRecord::new(
            NotificationId::random(),
            target,
            json!({"type": "message", "text": "Heads up"}),
            "api",
            self.clock.now(),
            Duration::days(30),
        );
        self.outbox.create_notification(&record).await.unwrap();
        let until = self.clock.now() + Duration::hours(1);
        assert_eq!(
            self.expander.expand(&record.id, until).await.unwrap(),
            Expansion::Done
        );
        record.id
    }

    async fn deliver(&self, id: &NotificationId, user: &EmulatedUser) -> Delivered {
        self.sender
            .deliver(
                id,
                &delivery_id(user),
                Deadline::after(StdDuration::from_secs(30)),
            )
            .await
            .unwrap()
    }

    async fn delivery(&self, id: &NotificationId, user: &EmulatedUser) -> DeliveryRecord {
        self.outbox
            .get_delivery(id, &delivery_id(user))
            .await
            .unwrap()
            .unwrap()
    }

    async fn notification(&self, id: &NotificationId) -> NotificationRecord {
        self.outbox.get_notification(id).await.unwrap().unwrap()
    }

    /// What the installation's conversationUpdate makes the webhook store.
    fn reference(&self, user: &EmulatedUser) -> ConversationReference {
        let chat = self.emulator.add_personal_chat(TENANT, &user.id);
        let app = BotAppId::new(self.emulator.config().app_id.clone()).unwrap();
        let now = self.clock.now();
        ConversationReference {
            tenant_id: TenantId::new(TENANT).unwrap(),
            conversation_id: ConversationId::new(chat).unwrap(),
            conversation_type: ConversationType::Personal,
            service_url: ServiceUrl::parse(&self.emulator.service_url()).unwrap(),
            bot_id: BotId::for_app(&app),
            bot_app_id: app,
            user: Some(UserInfo {
                id: UserId::new(&user.id).unwrap(),
                aad_object_id: Some(AadObjectId::new(&user.aad_object_id).unwrap()),
                name: None,
            }),
            team: None,
            channel: None,
            locale: None,
            time_zone: None,
            time_zone_override: None,
            status: ReferenceStatus::Active,
            status_reason: None,
            status_changed_at: now,
            installed_at: now,
            updated_at: now,
            last_seen_at: now,
        }
    }

    fn copies(&self, user: &EmulatedUser) -> usize {
        let chat = self.emulator.add_personal_chat(TENANT, &user.id);
        self.emulator
            .activities(&chat)
            .iter()
            .filter(|a| a.activity["text"] == "Heads up")
            .count()
    }
}

fn delivery_id(user: &EmulatedUser) -> String {
    DeliveryRecord::id_for_person(
        &TenantId::new(TENANT).unwrap(),
        &AadObjectId::new(&user.aad_object_id).unwrap(),
    )
}

#[tokio::test]
async fn an_installation_event_resumes_only_its_recipients_deliveries() {
    let world = World::new(CATALOG_APP).await;
    let (ada, bo) = (
        world.emulator.add_user(TENANT, "Ada"),
        world.emulator.add_user(TENANT, "Bo"),
    );
    let id = world.notify(&[&ada, &bo]).await;
    for user in [&ada, &bo] {
        assert_eq!(world.deliver(&id, user).await, Delivered::Installing);
        let waiting = world.delivery(&id, user).await;
        assert_eq!(waiting.status, DeliveryStatus::Installing);
        assert_eq!(
            waiting.install_deadline,
            Some(world.clock.now() + Duration::minutes(10))
        );
    }
    assert_eq!(world.emulator.install_requests(), 2);
    assert_eq!(
        world.notification(&id).await.status(),
        NotificationStatus::Sending
    );
    // A replayed trigger neither installs again nor sends.
    assert_eq!(world.deliver(&id, &ada).await, Delivered::AlreadyDone);
    assert_eq!(world.emulator.install_requests(), 2);

    // Ada's installation arrives (the webhook stores it, then resumes).
    let reference = world.reference(&ada);
    world.references.upsert(&reference).await.unwrap();
    assert_eq!(
        resume_installed(world.outbox.as_ref(), &reference, world.clock.as_ref())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        resume_installed(world.outbox.as_ref(), &reference, world.clock.as_ref())
            .await
            .unwrap(),
        0,
        "resumed once"
    );
    let resumed = world.delivery(&id, &ada).await;
    assert_eq!(resumed.status, DeliveryStatus::Pending);
    assert_eq!(resumed.conversation_id, Some(reference.conversation_id));
    assert_eq!(
        world.delivery(&id, &bo).await.status,
        DeliveryStatus::Installing
    );
    assert_eq!(
        world.deliver(&id, &ada).await,
        Delivered::Finished(DeliveryStatus::Sent)
    );
    assert_eq!(world.copies(&ada), 1);
    assert_eq!(world.copies(&bo), 0);
}

#[tokio::test]
async fn a_missed_event_times_out_and_the_retry_finds_the_chat_through_graph() {
    let world = World::new(CATALOG_APP).await;
    let cy = world.emulator.add_user(TENANT, "Cy");
    let id = world.notify(&[&cy]).await;
    assert_eq!(world.deliver(&id, &cy).await, Delivered::Installing);

    // Not yet due: the sweep leaves it alone.
    world.clock.advance(Duration::minutes(9));
    assert_eq!(world.sweep.sweep().await.unwrap(), SweepReport::default());
    assert_eq!(
        world.delivery(&id, &cy).await.status,
        DeliveryStatus::Installing
    );

    world.clock.advance(Duration::minutes(2));
    let report = world.sweep.sweep().await.unwrap();
    assert_eq!((report.retried, report.timed_out), (1, 0));
    let retried = world.delivery(&id, &cy).await;
    assert_eq!(retried.status, DeliveryStatus::Pending);
    assert!(
        retried
            .error
            .as_deref()
            .is_some_and(|e| e.contains("no installation event")),
        "{retried:?}"
    );

    // Installed already: Graph answers 409, the chat is looked up, stored, and sent to.
    assert_eq!(world.deliver(&id, &cy).await, Delivered::Requeued);
    assert_eq!(world.emulator.install_requests(), 2);
    assert_eq!(
        world.deliver(&id, &cy).await,
        Delivered::Finished(DeliveryStatus::Sent)
    );
    assert_eq!(world.copies(&cy), 1);
    let sent = world.delivery(&id, &cy).await;
    assert!(sent.conversation_id.is_some());
    let stored = world
        .references
        .find_personal(
            &TenantId::new(TENANT).unwrap(),
            &AadObjectId::new(&cy.aad_object_id).unwrap(),
        )
        .await
        .unwrap()
        .expect("the chat found through Graph is stored");
    assert_eq!(stored.user.unwrap().id.as_str(), cy.id);
    assert_eq!(
        world.notification(&id).await.status(),
        NotificationStatus::Done
    );
}

#[tokio::test]
async fn after_its_attempts_a_wait_ends_as_install_timed_out() {
    let mut world = World::new(CATALOG_APP).await;
    world.sweep.max_attempts = 1;
    let di = world.emulator.add_user(TENANT, "Di");
    let id = world.notify(&[&di]).await;
    assert_eq!(world.deliver(&id, &di).await, Delivered::Installing);
    world.clock.advance(Duration::minutes(11));
    assert_eq!(world.sweep.sweep().await.unwrap().timed_out, 1);
    let record = world.delivery(&id, &di).await;
    assert_eq!(record.status, DeliveryStatus::InstallTimedOut);
    let notification = world.notification(&id).await;
    assert_eq!(notification.count(DeliveryStatus::InstallTimedOut), 1);
    assert_eq!(notification.status(), NotificationStatus::Done);
    assert_eq!(world.sweep.sweep().await.unwrap(), SweepReport::default());
    // Announced like the sender's own failures.
    let failed: Vec<_> = world
        .events
        .recent()
        .into_iter()
        .filter(|e| e.detail_type == "herald.NotificationFailed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let detail: serde_json::Value = serde_json::from_str(&failed[0].detail).unwrap();
    assert_eq!(detail["errorCode"], "installTimedOut");
    assert_eq!(detail["recipientAadObjectId"], di.aad_object_id.as_str());
}

#[tokio::test]
async fn an_app_missing_from_the_catalog_is_a_final_outcome() {
    let world = World::new("11111111-2222-4333-8444-555555555555").await;
    let ed = world.emulator.add_user(TENANT, "Ed");
    let id = world.notify(&[&ed]).await;
    assert_eq!(
        world.deliver(&id, &ed).await,
        Delivered::Finished(DeliveryStatus::InstallAppNotInCatalog)
    );
    let record = world.delivery(&id, &ed).await;
    assert!(record.error.is_some_and(|e| e.contains("catalog")));
    assert_eq!(
        world.notification(&id).await.status(),
        NotificationStatus::Done
    );
}

#[tokio::test]
async fn graph_outages_give_the_delivery_back_and_a_later_trigger_installs() {
    let world = World::new(CATALOG_APP).await;
    let flo = world.emulator.add_user(TENANT, "Flo");
    world
        .emulator
        .inject_graph_times(&flo.aad_object_id, GraphFault::Status(503), 20);
    let id = world.notify(&[&flo]).await;
    assert_eq!(world.deliver(&id, &flo).await, Delivered::Released);
    let record = world.delivery(&id, &flo).await;
    assert_eq!(record.status, DeliveryStatus::Pending);
    assert!(record.conversation_id.is_none());
    world.emulator.clear_graph_faults();
    assert_eq!(world.deliver(&id, &flo).await, Delivered::Installing);
}

#[tokio::test]
async fn without_proactive_installation_people_are_reported_unresolved() {
    let mut world = World::new(CATALOG_APP).await;
    world.expander.proactive_install = false;
    let gus = world.emulator.add_user(TENANT, "Gus");
    let id = world.notify(&[&gus]).await;
    let record = world.delivery(&id, &gus).await;
    assert_eq!(record.status, DeliveryStatus::Unresolved);
    assert!(
        record
            .error
            .is_some_and(|e| e.contains("HERALD_GRAPH_INSTALL"))
    );
    assert_eq!(world.emulator.install_requests(), 0);
}
