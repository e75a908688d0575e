//! The embedded outbox's change feed, the local runner's stand-in for the DynamoDB stream.

use herald_domain::DeliveryStatus;
use herald_store::{
    Claim, EmbeddedOutboxStore, InstallResolution, InstallWaits, NotificationId, OutboxChange,
    OutboxStore,
};

use crate::support::{
    accepted, at, claim_resolved, delivery, expanded, finished, install, person, resolved,
};

#[tokio::test]
async fn embedded_feed_reports_changes_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedOutboxStore::open(dir.path()).unwrap();
    let mut feed = store.subscribe();
    let id = accepted(&store).await;
    let d = delivery(&id, 0, DeliveryStatus::Pending);
    store
        .append_page(&id, None, Some("c1"), std::slice::from_ref(&d))
        .await
        .unwrap();
    assert_eq!(
        feed.recv().await.unwrap(),
        OutboxChange::Notification(id.clone())
    );
    assert_eq!(
        feed.recv().await.unwrap(),
        OutboxChange::Notification(id.clone())
    );
    assert_eq!(
        feed.recv().await.unwrap(),
        OutboxChange::Delivery(id.clone(), d.delivery_id.clone())
    );
    drop(feed);
    drop(store);
    let store = EmbeddedOutboxStore::open(dir.path()).unwrap();
    let work = store.unfinished().await.unwrap();
    assert_eq!(
        work,
        vec![
            OutboxChange::Notification(id.clone()),
            OutboxChange::Delivery(id, d.delivery_id)
        ]
    );
}

#[tokio::test]
async fn embedded_feed_hands_back_resolved_and_retried_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedOutboxStore::open(dir.path()).unwrap();
    let id = NotificationId::random();
    let people: Vec<_> = (0..3)
        .map(|n| person(&id, "tenant-1", &format!("aad-{n}")))
        .collect();
    expanded(&store, &people).await;
    let mut waits = Vec::new();
    for p in &people {
        waits.push(install(&store, p, at(600)).await);
    }
    let mut feed = store.subscribe();
    // Installing deliveries are no work for the sender: claims find nothing to do.
    for p in &people {
        assert_eq!(
            store
                .claim_delivery(&id, &p.delivery_id, at(5), at(65))
                .await
                .unwrap(),
            Claim::Done
        );
    }

    assert!(
        store
            .end_install(&waits[0], &resolved(0), at(10))
            .await
            .unwrap()
    );
    assert_eq!(
        feed.try_recv().unwrap(),
        OutboxChange::Delivery(id.clone(), people[0].delivery_id.clone())
    );
    let retry = InstallResolution::Retry {
        error: "Graph 503".into(),
    };
    assert!(store.end_install(&waits[1], &retry, at(11)).await.unwrap());
    assert_eq!(
        feed.try_recv().unwrap(),
        OutboxChange::Delivery(id.clone(), people[1].delivery_id.clone())
    );
    // A final outcome, and an end that lost, announce nothing.
    let forbidden = finished(DeliveryStatus::InstallForbidden, "403");
    assert!(
        store
            .end_install(&waits[2], &forbidden, at(12))
            .await
            .unwrap()
    );
    assert!(
        !store
            .end_install(&waits[0], &forbidden, at(13))
            .await
            .unwrap()
    );
    assert!(matches!(
        feed.try_recv(),
        Err(tokio::sync::broadcast::error::TryRecvError::Empty)
    ));

    // After a restart, both are work again.
    drop(feed);
    drop(store);
    let store = EmbeddedOutboxStore::open(dir.path()).unwrap();
    assert_eq!(
        store.unfinished().await.unwrap(),
        vec![
            OutboxChange::Delivery(id.clone(), people[0].delivery_id.clone()),
            OutboxChange::Delivery(id.clone(), people[1].delivery_id.clone()),
        ]
    );
    claim_resolved(&store, &people[0], 0, at(20)).await;
}
