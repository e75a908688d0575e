//! Proactive installation, step by step on a manual clock: no webhook, so that each installation
//! event, timeout and retry happens exactly when the test says.

#[path = "../support/mod.rs"]
mod support;
mod world;

use chrono::Duration;
use herald_domain::{Clock, DeliveryStatus, ReferenceStatus, Target};
use herald_pipeline::{Delivered, SweepReport, resume_installed};
use herald_store::{
    NotificationStatus, OutboxStore, PageRequest, ReferenceReader, ReferenceWriter, StatusUpdate,
};
use herald_teams_emulator::GraphFault;
use world::{CATALOG_APP, TENANT, World};

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
async fn a_chat_stored_after_expansion_is_sent_to_and_recorded_with_its_service_url() {
    let world = World::new(CATALOG_APP).await;
    let eve = world.emulator.add_user(TENANT, "Eve");
    let id = world.notify(&[&eve]).await;
    // Eve opens the app before her delivery goes out: her chat is stored, nothing is installed.
    let reference = world.reference(&eve);
    world.references.upsert(&reference).await.unwrap();
    assert_eq!(
        world.deliver(&id, &eve).await,
        Delivered::Finished(DeliveryStatus::Sent)
    );
    assert_eq!(world.emulator.install_requests(), 0);
    assert_eq!(world.copies(&eve), 1);
    // The copy keeps what editing it needs.
    let sent = world.delivery(&id, &eve).await;
    assert_eq!(
        (sent.conversation_id, sent.service_url),
        (Some(reference.conversation_id), Some(reference.service_url))
    );
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
        .find_personal(&world::tenant(), &world::aad(&cy))
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
async fn a_chat_graph_finds_is_the_one_record_teams_speaks_of() {
    let world = World::new(CATALOG_APP).await;
    let dee = world.emulator.add_user(TENANT, "Dee");
    // Installed before Herald knew: Graph answers 409 and names the chat `19:...@unq.gbl.spaces`.
    let installation = world.emulator.mark_installed(&dee, CATALOG_APP);
    let id = world.notify(&[&dee]).await;
    assert_eq!(world.deliver(&id, &dee).await, Delivered::Requeued);
    assert_eq!(
        world.deliver(&id, &dee).await,
        Delivered::Finished(DeliveryStatus::Sent)
    );
    assert_eq!(world.copies(&dee), 1);
    // Stored by the id Teams speaks of (the connector's `a:` id), not by Graph's.
    let chat = world.emulator.add_personal_chat(TENANT, &dee.id);
    let stored = world
        .references
        .find_personal(&world::tenant(), &world::aad(&dee))
        .await
        .unwrap()
        .expect("the chat found through Graph is stored");
    assert_eq!(stored.conversation_id.as_str(), chat);
    assert_ne!(stored.conversation_id.as_str(), installation.chat_id);
    // The copy keeps what editing it needs: the chat and the serviceUrl it went through.
    let sent = world.delivery(&id, &dee).await;
    assert_eq!(
        (sent.conversation_id, sent.service_url),
        (
            Some(stored.conversation_id.clone()),
            Some(stored.service_url.clone())
        )
    );

    // Dee writes in the chat and types stop there: one record, and a broadcast skips Dee once.
    let spoken = world.reference(&dee);
    world.references.upsert(&spoken).await.unwrap();
    let stop = StatusUpdate {
        status: ReferenceStatus::OptedOut,
        at: world.clock.now(),
        reason: Some("opted out by Dee".into()),
    };
    world
        .references
        .set_status(&spoken.key(), &stop)
        .await
        .unwrap();
    let broadcast = world
        .notify_target(Target::Tenant {
            tenant_id: world::tenant(),
        })
        .await;
    let deliveries = world
        .outbox
        .list_deliveries(&broadcast, None, &PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    assert_eq!(deliveries[0].status, DeliveryStatus::SkippedOptedOut);
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
