//! The whole pipeline on DynamoDB Local (streams on) and the Teams emulator: a notification is
//! written, the outbox stream is read with the DynamoDB Streams API, wrapped in Lambda's event
//! shape and handed to the sender handler, batch by batch, replaying failed batches as Lambda
//! does, until the notification is done.

#[path = "../support/mod.rs"]
mod support;
mod world;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use herald_connector::{Call, Connector, Executed, Operation};
use herald_domain::{
    AadObjectId, ConversationId, ConversationKey, ConversationType, DeliveryStatus,
    ReferenceStatus, Target, TenantId,
};
use herald_sender::{Helper, Router};
use herald_store::{NotificationStatus, OutboxStore, ReferenceReader, ReferenceWriter};
use herald_teams_emulator::{EmulatorLimits, Fault, RetryAfter};
use serde_json::json;

use world::{StreamReader, TENANT, World, drain, event_of, expanded_deliveries};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_every_target_exactly_once() {
    let world = World::new(EmulatorLimits::teams()).await;
    let mut active = Vec::new();
    for n in 0..25 {
        active.push(world.user(n, ReferenceStatus::Active).await);
    }
    let mut opted_out = Vec::new();
    for n in 25..28 {
        opted_out.push(world.user(n, ReferenceStatus::OptedOut).await);
    }
    let blocked: Vec<_> = active.drain(..2).collect();
    for r in &blocked {
        world
            .emulator
            .inject(r.conversation_id.as_str(), Fault::MessageWritesBlocked);
    }
    // A reference whose conversation Teams no longer knows.
    let stale = world.reference("a:1gone-conversation", Some("29:gone"), None);
    world.references.upsert(&stale).await.unwrap();
    // A 502 burst and a 429 storm that retries ride out.
    world
        .emulator
        .inject_times(active[0].conversation_id.as_str(), Fault::Status(502), 2);
    world.emulator.inject_times(
        active[1].conversation_id.as_str(),
        Fault::Throttled(RetryAfter::Seconds(1)),
        2,
    );

    let id = world.notify("Maintenance tonight at 22:00").await;
    // DynamoDB Local cannot iterate an empty shard from TRIM_HORIZON: open after the first write.
    let mut stream = StreamReader::open(&world.outbox_table).await;
    let function = world.function(Arc::new(world.connector()), 16);
    drain(&world, &function, &id, &mut stream).await;

    for r in &active {
        assert_eq!(
            world.emulator.activities(r.conversation_id.as_str()).len(),
            1,
            "{}",
            r.conversation_id
        );
    }
    for r in opted_out.iter().chain(&blocked) {
        assert!(
            world
                .emulator
                .activities(r.conversation_id.as_str())
                .is_empty()
        );
    }
    for r in &blocked {
        let stored = world.references.get(&r.key()).await.unwrap().unwrap();
        assert_eq!(stored.status, ReferenceStatus::Blocked);
    }
    let stored = world.references.get(&stale.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, ReferenceStatus::Uninstalled);

    let header = world.outbox.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.count(DeliveryStatus::Sent), 23);
    assert_eq!(header.count(DeliveryStatus::Blocked), 2);
    assert_eq!(header.count(DeliveryStatus::NotFound), 1);
    assert_eq!(header.count(DeliveryStatus::SkippedOptedOut), 3);
    assert_eq!(header.count(DeliveryStatus::Pending), 0);
    let outcomes = world.events.recent();
    assert_eq!(
        outcomes
            .iter()
            .filter(|e| e.detail_type == "herald.NotificationDelivered")
            .count(),
        23
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|e| e.detail_type == "herald.RecipientBlocked")
            .count(),
        2
    );
    // No 429 reached a send that the throttle should have paced, beyond the two injected.
    assert_eq!(world.emulator.count_status(429), 2);
}

/// A connector that stops dead (as a killed process would) on its `crash_at`-th send, before the
/// request leaves, and works normally otherwise.
struct CrashingConnector<C> {
    inner: C,
    sends: AtomicUsize,
    crash_at: usize,
    crashed: tokio::sync::Notify,
}

#[async_trait]
impl<C: Connector> Connector for CrashingConnector<C> {
    async fn execute(&self, call: Call<'_>, operation: Operation<'_>) -> Executed {
        if matches!(operation, Operation::SendToConversation(..))
            && self.sends.fetch_add(1, Ordering::SeqCst) + 1 == self.crash_at
        {
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.execute(call, operation).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_mid_batch_and_replayed_sends_each_once() {
    let world = World::new(EmulatorLimits::off()).await;
    let mut users = Vec::new();
    for n in 0..12 {
        users.push(world.user(n, ReferenceStatus::Active).await);
    }
    let id = world.notify("Quarterly results are out").await;
    let mut stream = StreamReader::open(&world.outbox_table).await;

    let batch = event_of(expanded_deliveries(&world, &id, &mut stream, users.len()).await);

    // The first run dies on its 6th send.
    let crashing = Arc::new(CrashingConnector {
        inner: world.connector(),
        sends: AtomicUsize::new(0),
        crash_at: 6,
        crashed: tokio::sync::Notify::new(),
    });
    let function = Arc::new(world.function(crashing.clone(), 1));
    let run = {
        let (function, batch) = (function.clone(), batch.clone());
        tokio::spawn(async move { function.handle_stream(batch, None).await })
    };
    crashing.crashed.notified().await;
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());
    let sent_before: usize = users
        .iter()
        .map(|u| world.emulator.activities(u.conversation_id.as_str()).len())
        .sum();
    assert_eq!(sent_before, 5);

    // Lambda replays the whole batch; the delivery the dead sender held waits for its lease to
    // run out, when the scheduler's sweep wakes it and the stream brings it back.
    let replay = world.function(Arc::new(world.connector()), 4);
    let response = replay.handle_stream(batch.clone(), None).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    drain(&world, &replay, &id, &mut stream).await;
    for u in &users {
        assert_eq!(
            world.emulator.activities(u.conversation_id.as_str()).len(),
            1,
            "{} got a duplicate or nothing",
            u.conversation_id
        );
    }
    let header = world.outbox.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.count(DeliveryStatus::Sent), 12);
    assert_eq!(header.status(), NotificationStatus::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_notify_events_become_notifications_once() {
    let world = World::new(EmulatorLimits::off()).await;
    let function = world.function(Arc::new(world.connector()), 4);
    let event: aws_lambda_events::eventbridge::EventBridgeEvent = serde_json::from_value(json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "herald.Notify", "source": "contoso.billing",
        "account": "111122223333", "time": "2026-11-22T18:43:48Z", "region": "us-east-1",
        "resources": [],
        "detail": {"target": {"kind": "type", "type": "personal"}, "message": {"text": "Invoices are ready"}}
    }))
    .unwrap();
    let id = function.handle_event(&event).await.unwrap().unwrap();
    assert_eq!(
        function.handle_event(&event).await.unwrap(),
        Some(id.clone())
    );
    let stored = world.outbox.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.target,
        Target::Type {
            conversation_type: ConversationType::Personal
        }
    );
    assert_eq!(stored.source, "event:herald.Notify");
    let _ = ConversationKey::new(
        TenantId::new(TENANT).unwrap(),
        ConversationId::new("a:x").unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_members_and_people_are_reached_one_to_one() {
    let world = World::new(EmulatorLimits::teams()).await;
    let users: Vec<_> = (0..4)
        .map(|n| world.emulator.add_user(TENANT, &format!("Member {n}")))
        .collect();
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    let team = world.emulator.add_team(TENANT, "Contoso Sales", &ids);
    // Herald knows the team (installed in General) and already chats with member 0.
    let mut general = world.reference(&team.id, None, None);
    general.conversation_type = ConversationType::Channel;
    general.user = None;
    general.team = Some(herald_domain::TeamInfo {
        id: herald_domain::TeamId::new(&team.id).unwrap(),
        name: Some(team.name.clone()),
        aad_group_id: None,
    });
    general.channel = Some(herald_domain::ChannelInfo {
        id: herald_domain::ChannelId::new(&team.id).unwrap(),
        name: None,
    });
    world.references.upsert(&general).await.unwrap();
    let known_chat = world.emulator.add_personal_chat(TENANT, &users[0].id);
    world
        .references
        .upsert(&world.reference(
            &known_chat,
            Some(&users[0].id),
            Some(&users[0].aad_object_id),
        ))
        .await
        .unwrap();

    let body = json!({"target": {"kind": "teamMembers", "teamId": team.id}, "message": {"text": "Welcome to the sales kick-off"}});
    let id = world.notify_request(&body).await;
    let mut stream = StreamReader::open(&world.outbox_table).await;
    let function = world.function(Arc::new(world.connector()), 8);
    drain(&world, &function, &id, &mut stream).await;

    for user in &users {
        let chat = world.emulator.add_personal_chat(TENANT, &user.id);
        assert_eq!(world.emulator.activities(&chat).len(), 1, "{}", user.name);
        // The created conversation is stored and found by AAD object id from now on.
        let stored = world
            .references
            .find_personal(
                &TenantId::new(TENANT).unwrap(),
                &AadObjectId::new(&user.aad_object_id).unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.conversation_id.as_str(), chat);
    }
    let creates = world
        .emulator
        .requests()
        .iter()
        .filter(|r| r.operation == "createConversation")
        .count();
    assert_eq!(
        creates, 3,
        "only members without a stored chat get one created"
    );
    let header = world.outbox.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.count(DeliveryStatus::Sent), 4);

    // A person with a stored chat is reached; one Herald has never met is reported, not guessed.
    for (aad, expected) in [
        (users[1].aad_object_id.clone(), DeliveryStatus::Sent),
        (
            "00000000-0000-0000-0000-00000000dead".to_owned(),
            DeliveryStatus::Unresolved,
        ),
    ] {
        let body = json!({"target": {"kind": "person", "aadObjectId": aad, "tenantId": TENANT}, "message": {"text": "Your expense report was approved"}});
        let id = world.notify_request(&body).await;
        drain(&world, &function, &id, &mut stream).await;
        let header = world.outbox.get_notification(&id).await.unwrap().unwrap();
        assert_eq!(header.count(expected), 1, "{aad}");
    }
    assert_eq!(
        world
            .emulator
            .activities(&world.emulator.add_personal_chat(TENANT, &users[1].id))
            .len(),
        2
    );
}

/// Events travel through a real EventBridge API (moto on loopback): a `herald.Notify` event and a
/// routed event are put on a bus, delivered by a rule to SQS as EventBridge delivers them to a
/// target, handed to the sender, and their outcome events come back through EventBridge too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_events_trigger_notifications_and_outcomes_are_published() {
    let world = World::new(EmulatorLimits::off()).await;
    let users: Vec<_> =
        futures::future::join_all((0..3).map(|n| world.user(n, ReferenceStatus::Active))).await;
    let inbound = herald_testkit::capture_events("contoso.ci").await;
    let outcomes = herald_testkit::capture_events("herald").await;

    let mut function = world.function(Arc::new(world.connector()), 4);
    function.router = Router::from_json(
        r#"[{"source": "contoso.ci", "detailType": "Deployment Finished",
             "target": {"kind": "type", "type": "personal"},
             "message": {"card": {"type": "AdaptiveCard", "version": "1.4",
               "body": [{"type": "TextBlock", "text": "${service} ${version} is live"}]}}}]"#,
    )
    .unwrap();
    function.sender.events = Arc::new(herald_events::EventBridgePublisher::new(
        herald_testkit::eventbridge_client(),
        herald_events::EventsConfig {
            bus: outcomes.bus_name.clone(),
            source: "herald".into(),
        },
    ));

    let notify =
        json!({"target": {"kind": "all"}, "message": {"text": "Release train departs at 15:00"}});
    let deployed = json!({"service": "billing-api", "version": "2.4.1"});
    herald_testkit::eventbridge_client()
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(&inbound.bus_name)
                .source("contoso.ci")
                .detail_type("herald.Notify")
                .detail(notify.to_string())
                .build(),
        )
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(&inbound.bus_name)
                .source("contoso.ci")
                .detail_type("Deployment Finished")
                .detail(deployed.to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let envelopes = inbound.receive(2, Duration::from_secs(10)).await;
    assert_eq!(envelopes.len(), 2);

    let mut stream: Option<StreamReader> = None;
    for envelope in envelopes {
        let event: aws_lambda_events::eventbridge::EventBridgeEvent =
            serde_json::from_value(envelope).unwrap();
        let id = function
            .handle_event(&event)
            .await
            .unwrap()
            .expect("a notification");
        // The same event redelivered by EventBridge names the same notification.
        assert_eq!(
            function.handle_event(&event).await.unwrap(),
            Some(id.clone())
        );
        if stream.is_none() {
            stream = Some(StreamReader::open(&world.outbox_table).await);
        }
        drain(&world, &function, &id, stream.as_mut().unwrap()).await;
    }
    for user in &users {
        let texts: Vec<String> = world
            .emulator
            .activities(user.conversation_id.as_str())
            .iter()
            .map(|a| a.activity.to_string())
            .collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts.iter().any(|t| t.contains("Release train departs")));
        assert!(
            texts
                .iter()
                .any(|t| t.contains("billing-api 2.4.1 is live"))
        );
    }
    let published = outcomes.receive(6, Duration::from_secs(10)).await;
    assert_eq!(published.len(), 6);
    assert!(
        published
            .iter()
            .all(|e| e["detail-type"] == "herald.NotificationDelivered")
    );
}

/// A connector that answers each send to one of `slow` conversations `delay` late.
struct SlowConnector<C> {
    inner: C,
    slow: Vec<ConversationId>,
    delay: Duration,
}

#[async_trait]
impl<C: Connector> Connector for SlowConnector<C> {
    async fn execute(&self, call: Call<'_>, operation: Operation<'_>) -> Executed {
        if let Operation::SendToConversation(conversation, _) = &operation
            && self.slow.contains(conversation)
        {
            tokio::time::sleep(self.delay).await;
        }
        self.inner.execute(call, operation).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_takes_on_the_waiting_deliveries_of_tenants_it_leaves_idle() {
    let world = World::new(EmulatorLimits::off()).await;
    let mut ours = Vec::new();
    for n in 0..3 {
        ours.push(world.user(n, ReferenceStatus::Active).await);
    }
    // People of another tenant, whose deliveries sit in a stream batch no instance runs yet.
    let other_tenant = "tenant-waiting";
    let mut theirs = Vec::new();
    for n in 0..4 {
        let user = world
            .emulator
            .add_user(other_tenant, &format!("Waiting {n}"));
        let chat = world.emulator.add_personal_chat(other_tenant, &user.id);
        let mut reference = world.reference(&chat, Some(&user.id), Some(&user.aad_object_id));
        reference.tenant_id = TenantId::new(other_tenant).unwrap();
        world.references.upsert(&reference).await.unwrap();
        theirs.push(reference);
    }
    let id = world.notify("The office is closed on Friday").await;
    let mut stream = StreamReader::open(&world.outbox_table).await;

    // Expanded, and the batch this instance runs holds our tenant's deliveries only.
    let mut deliveries =
        expanded_deliveries(&world, &id, &mut stream, ours.len() + theirs.len()).await;
    deliveries.retain(|record| {
        matches!(
            herald_store::OutboxChange::from_stream_record(record),
            Some(herald_store::OutboxChange::Delivery(_, delivery)) if delivery.tenant_part() == TENANT
        )
    });
    let batch = event_of(deliveries);

    // Our sends take long enough for looks to find theirs, however loaded the machine.
    let slow = SlowConnector {
        inner: world.connector(),
        slow: ours.iter().map(|r| r.conversation_id.clone()).collect(),
        delay: Duration::from_secs(3),
    };
    let mut function = world.function(Arc::new(slow), 16);
    // A lease that outlasts our slow sends.
    function.sender.lease = chrono::Duration::seconds(30);
    function.helper = Some(Helper {
        first: Duration::from_millis(50),
        every: Duration::from_millis(100),
        ..Helper::new(world.outbox.clone(), function.sender.lease)
    });
    let response = function.handle_stream(batch, None).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    // The other tenant's people have their message, once each, before their own batch came.
    for r in ours.iter().chain(&theirs) {
        assert_eq!(
            world.emulator.activities(r.conversation_id.as_str()).len(),
            1,
            "{}",
            r.conversation_id
        );
    }
    let header = world.outbox.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.count(DeliveryStatus::Sent), 7);
    // Their batch comes at last and finds nothing left to send.
    let late = world.function(Arc::new(world.connector()), 4);
    drain(&world, &late, &id, &mut stream).await;
    for r in &theirs {
        assert_eq!(
            world.emulator.activities(r.conversation_id.as_str()).len(),
            1
        );
    }
}
