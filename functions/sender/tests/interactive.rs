//! Interactive notifications in the sender, step by step on a manual clock and the embedded store
//! (each trigger run when the test says): an update of every copy reaches the copies sent and the
//! ones not sent yet, and a follow-up goes once to the unread only.

mod support;

use std::sync::Arc;

use chrono::Duration;
use herald_connector::{ConnectorConfig, teams_connector};
use herald_domain::{
    AadObjectId, BotAppId, Clock as _, ConversationId, ConversationReference, DeliveryStatus,
    ManualClock, ReferenceStatus, ServiceUrl, TenantId, UserId, UserInfo,
};
use herald_events::EmbeddedEventPublisher;
use herald_pipeline::follow_up::follow_up_id;
use herald_pipeline::request::NotifyRequest;
use herald_pipeline::{Editor, FollowUpSweep, Sender};
use herald_sender::{SenderFunction, TriggerResult};
use herald_store::{
    DeliveryRecord, Interactions, NotificationId, OutboxChange, OutboxStore, PageRequest,
    ReadReceipt, ReferenceStore, Revision, StatusUpdate,
};
use herald_teams_emulator::{EmulatorConfig, TeamsEmulator};
use herald_testkit::{Backend, TestStores};
use serde_json::{Value, json};

const TENANT: &str = "tenant-interactive";

struct World {
    emulator: TeamsEmulator,
    references: Arc<dyn ReferenceStore>,
    outbox: Arc<dyn OutboxStore>,
    interactions: Arc<dyn Interactions>,
    clock: Arc<ManualClock>,
    function: SenderFunction,
    follow_ups: FollowUpSweep,
    _stores: TestStores,
}

impl World {
    async fn new() -> Self {
        let emulator = TeamsEmulator::start(EmulatorConfig::default())
            .await
            .unwrap();
        let app = BotAppId::new(emulator.config().app_id.clone()).unwrap();
        let stores = herald_testkit::stores(Backend::Embedded, &app).await;
        let references = stores.stores.references().unwrap();
        let outbox = stores.stores.outbox().unwrap();
        let env = emulator.connector_env();
        let connector: Arc<dyn herald_connector::Connector> = Arc::new(
            teams_connector(&ConnectorConfig::from_lookup(|n| env.get(n).cloned()).unwrap())
                .unwrap(),
        );
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let retention = Duration::days(30);
        let sender = Sender::new(
            references.clone(),
            outbox.clone(),
            connector.clone(),
            Arc::new(EmbeddedEventPublisher::default()),
            clock.clone(),
            app.clone(),
        );
        let mut function = support::sender_function(sender, 4);
        function.editor = Some(Editor {
            outbox: outbox.clone(),
            edits: stores.stores.edit_jobs().unwrap(),
            connector,
            clock: clock.clone(),
            concurrency: 4,
        });
        let follow_ups = FollowUpSweep {
            follow_ups: stores.stores.follow_ups().unwrap(),
            outbox: outbox.clone(),
            clock: clock.clone(),
            retention,
        };
        Self {
            emulator,
            interactions: stores.stores.interactions().unwrap(),
            references,
            outbox,
            clock,
            function,
            follow_ups,
            _stores: stores,
        }
    }

    /// A person with a personal chat with the bot, stored.
    async fn person(&self, name: &str) -> ConversationReference {
        let user = self.emulator.add_user(TENANT, name);
        let chat = self.emulator.add_personal_chat(TENANT, &user.id);
        let app = BotAppId::new(self.emulator.config().app_id.clone()).unwrap();
        let reference = ConversationReference::personal(
            TenantId::new(TENANT).unwrap(),
            ConversationId::new(chat).unwrap(),
            ServiceUrl::parse(&self.emulator.service_url()).unwrap(),
            &app,
            UserInfo {
                id: UserId::new(&user.id).unwrap(),
                aad_object_id: Some(AadObjectId::new(&user.aad_object_id).unwrap()),
                name: Some(name.to_owned()),
            },
            self.clock.now(),
        );
        self.references.upsert(&reference).await.unwrap();
        reference
    }

    async fn notify(&self, body: &Value) -> NotificationId {
        let record = NotifyRequest::from_json(body).unwrap().into_notification(
            "api",
            self.clock.now(),
            Duration::days(30),
        );
        assert_eq!(
            self.outbox.create_notification(&record).await.unwrap(),
            None
        );
        record.id
    }

    async fn run(&self, change: OutboxChange) {
        assert_eq!(self.function.run(&change, None).await, TriggerResult::Done);
    }

    /// Expands the notification; returns its deliveries.
    async fn expand(&self, id: &NotificationId) -> Vec<DeliveryRecord> {
        self.run(OutboxChange::Notification(id.clone())).await;
        let page = self
            .outbox
            .list_deliveries(id, None, &PageRequest::default())
            .await
            .unwrap();
        assert!(page.next_cursor.is_none());
        page.items
    }

    async fn deliver(&self, d: &DeliveryRecord) {
        self.run(OutboxChange::Delivery(
            d.notification_id.clone(),
            d.delivery_id.clone(),
        ))
        .await;
    }

    fn chat(reference: &ConversationReference) -> &str {
        reference.conversation_id.as_str()
    }

    /// The texts of the messages in `reference`'s chat, and how often each was updated.
    fn messages(&self, reference: &ConversationReference) -> Vec<(String, u32)> {
        self.emulator
            .activities(Self::chat(reference))
            .iter()
            .map(|a| {
                let text = a.activity["text"].as_str().unwrap_or_default().to_owned();
                (text, a.updates)
            })
            .collect()
    }
}

fn delivery_of<'a>(
    deliveries: &'a [DeliveryRecord],
    reference: &ConversationReference,
) -> &'a DeliveryRecord {
    deliveries
        .iter()
        .find(|d| d.conversation_id.as_ref() == Some(&reference.conversation_id))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_of_every_copy_reaches_the_sent_and_the_late_ones() {
    let world = World::new().await;
    let (ada, bo, cy) = (
        world.person("Ada").await,
        world.person("Bo").await,
        world.person("Cy").await,
    );
    let id = world
        .notify(&json!({"target": {"kind": "all"}, "message": {"text": "Expense 42: approve?"}}))
        .await;
    let deliveries = world.expand(&id).await;
    assert_eq!(deliveries.len(), 3);
    for reference in [&ada, &bo] {
        world.deliver(delivery_of(&deliveries, reference)).await;
    }

    // Megan approved (the callback asked for an update of every copy); Cy's copy is not sent yet.
    let approved = json!({"type": "message", "text": "Approved by Megan at 10:42"});
    assert_eq!(
        world
            .outbox
            .revise_content(&id, &Revision::Update(approved), world.clock.now(), None)
            .await
            .unwrap(),
        Some(1)
    );
    world.run(OutboxChange::Edit(id.clone())).await;
    for reference in [&ada, &bo] {
        assert_eq!(
            world.messages(reference),
            [("Approved by Megan at 10:42".to_owned(), 1)]
        );
    }
    // The late copy is sent with the new content, not edited afterwards.
    world.deliver(delivery_of(&deliveries, &cy)).await;
    assert_eq!(
        world.messages(&cy),
        [("Approved by Megan at 10:42".to_owned(), 0)]
    );
    // The job finished: a repeated trigger edits nothing again.
    world.run(OutboxChange::Edit(id.clone())).await;
    for reference in [&ada, &bo] {
        assert_eq!(world.messages(reference)[0].1, 1);
    }
    let page = world
        .outbox
        .list_deliveries(&id, None, &PageRequest::default())
        .await
        .unwrap();
    assert!(
        page.items
            .iter()
            .all(|d| d.status == DeliveryStatus::Sent && d.content_version == 1),
        "{:#?}",
        page.items
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_goes_once_to_the_unread_only() {
    let world = World::new().await;
    let mut people = Vec::new();
    for name in ["Reader", "Unread", "Opted out", "Blocked"] {
        people.push(world.person(name).await);
    }
    let id = world
        .notify(&json!({
            "target": {"kind": "all"},
            "message": {"text": "Please sign the policy"},
            "followUp": {"ifUnreadAfter": "PT4H", "message": {"text": "Reminder: please sign"}},
        }))
        .await;
    let deliveries = world.expand(&id).await;
    for d in &deliveries {
        world.deliver(d).await;
    }
    // The reader's receipt covers their copy; two others stop receiving before the follow-up.
    let reader = &people[0];
    let copy = world.emulator.activities(World::chat(reader))[0].id.clone();
    let read = world
        .interactions
        .mark_read(&ReadReceipt::new(
            &reader.tenant_id,
            &reader.conversation_id,
            &copy,
            world.clock.now(),
        ))
        .await
        .unwrap();
    assert_eq!(read.len(), 1);
    for (reference, status) in [
        (&people[2], ReferenceStatus::OptedOut),
        (&people[3], ReferenceStatus::Blocked),
    ] {
        let update = StatusUpdate {
            status,
            at: world.clock.now(),
            reason: Some("test".into()),
        };
        world
            .references
            .set_status(&reference.key(), &update)
            .await
            .unwrap();
    }

    world
        .clock
        .advance(Duration::hours(4) - Duration::seconds(1));
    assert!(world.follow_ups.sweep().await.unwrap().is_empty());
    world.clock.advance(Duration::seconds(1));
    let follow_up = follow_up_id(&id);
    assert_eq!(
        world.follow_ups.sweep().await.unwrap(),
        std::slice::from_ref(&follow_up)
    );
    // Found through the due index once: later ticks create nothing.
    world.clock.advance(Duration::minutes(1));
    assert!(world.follow_ups.sweep().await.unwrap().is_empty());

    let follow_ups = world.expand(&follow_up).await;
    let statuses: Vec<DeliveryStatus> = people[1..]
        .iter()
        .map(|r| delivery_of(&follow_ups, r).status)
        .collect();
    assert_eq!(
        statuses,
        [
            DeliveryStatus::Pending,
            DeliveryStatus::SkippedOptedOut,
            DeliveryStatus::SkippedBlocked
        ]
    );
    assert_eq!(follow_ups.len(), 3, "the reader gets no follow-up");
    for d in &follow_ups {
        world.deliver(d).await;
    }
    let texts: Vec<Vec<String>> = people
        .iter()
        .map(|r| world.messages(r).into_iter().map(|m| m.0).collect())
        .collect();
    assert_eq!(
        texts,
        [
            vec!["Please sign the policy".to_owned()],
            vec![
                "Please sign the policy".to_owned(),
                "Reminder: please sign".to_owned()
            ],
            vec!["Please sign the policy".to_owned()],
            vec!["Please sign the policy".to_owned()],
        ]
    );
}
