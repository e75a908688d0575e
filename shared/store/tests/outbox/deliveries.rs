//! Notifications and their deliveries: idempotent creation, expansion pages, claims and
//! outcomes, listings.

use std::collections::HashSet;
use std::sync::Arc;

use herald_domain::{ConversationId, DeliveryStatus, ServiceUrl};
use herald_store::{
    Claim, Cursor, NotificationId, NotificationStatus, OutboxStore, Outcome, PageRequest, Revision,
    StoreError,
};
use serde_json::json;

use crate::support::{
    accepted, at, claim_and_record, delivery, delivery_now, did, expanded, notification, person,
    sent,
};

pub async fn create_is_idempotent(store: Arc<dyn OutboxStore>) {
    let id = NotificationId::for_idempotency_key("deploy-2026-11-01");
    assert_eq!(id, NotificationId::for_idempotency_key("deploy-2026-11-01"));
    let record = notification(id.clone());
    assert_eq!(store.create_notification(&record).await.unwrap(), None);
    let mut again = notification(id.clone());
    again.activity = json!({"type": "message", "text": "different"});
    let existing = store.create_notification(&again).await.unwrap();
    assert_eq!(existing, Some(record.clone()));
    assert_eq!(store.get_notification(&id).await.unwrap(), Some(record));
    assert_eq!(
        store
            .get_notification(&NotificationId::random())
            .await
            .unwrap(),
        None
    );
}

pub async fn pages_move_the_cursor_once(store: Arc<dyn OutboxStore>) {
    let id = accepted(&*store).await;
    assert_eq!(
        store.get_notification(&id).await.unwrap().unwrap().status(),
        NotificationStatus::Accepted
    );
    let first: Vec<_> = (0..3)
        .map(|n| delivery(&id, n, DeliveryStatus::Pending))
        .collect();
    assert!(
        store
            .append_page(&id, None, Some("c1"), &first)
            .await
            .unwrap()
    );
    // A replay of the same page finds the cursor moved and changes nothing.
    assert!(
        !store
            .append_page(&id, None, Some("c1"), &first)
            .await
            .unwrap()
    );
    let header = store.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.status(), NotificationStatus::Expanding);
    assert_eq!(header.count(DeliveryStatus::Pending), 3);

    // The last page: a recipient seen again, one skipped.
    let second = vec![
        delivery(&id, 2, DeliveryStatus::Pending),
        delivery(&id, 3, DeliveryStatus::Pending),
        delivery(&id, 4, DeliveryStatus::SkippedOptedOut),
    ];
    assert!(
        store
            .append_page(&id, Some("c1"), None, &second)
            .await
            .unwrap()
    );
    assert!(
        !store
            .append_page(&id, Some("c1"), None, &second)
            .await
            .unwrap()
    );
    let header = store.get_notification(&id).await.unwrap().unwrap();
    assert!(header.expanded);
    assert_eq!(header.expansion_cursor, None);
    assert_eq!(header.count(DeliveryStatus::Pending), 4);
    assert_eq!(header.count(DeliveryStatus::SkippedOptedOut), 1);
    assert_eq!(header.status(), NotificationStatus::Sending);
    let too_many: Vec<_> = (0..100)
        .map(|n| delivery(&id, n, DeliveryStatus::Pending))
        .collect();
    assert!(matches!(
        store.append_page(&id, None, None, &too_many).await,
        Err(StoreError::InvalidData(_))
    ));
}

pub async fn claims_and_outcomes_happen_once(store: Arc<dyn OutboxStore>) {
    let id = NotificationId::random();
    let deliveries: Vec<_> = (0..2)
        .map(|n| delivery(&id, n, DeliveryStatus::Pending))
        .collect();
    expanded(&*store, &deliveries).await;
    let d0 = &deliveries[0].delivery_id;

    let Claim::Claimed(claimed) = store.claim_delivery(&id, d0, at(1), at(61)).await.unwrap()
    else {
        panic!("first claim must succeed");
    };
    assert_eq!(
        (claimed.status, claimed.attempts),
        (DeliveryStatus::Sending, 1)
    );
    assert_eq!(
        store.claim_delivery(&id, d0, at(2), at(62)).await.unwrap(),
        Claim::Held { until: at(61) }
    );
    assert!(
        store
            .record_outcome(&id, d0, at(61), &sent("1:activity"), at(3))
            .await
            .unwrap()
    );
    // Recorded once: a second record and any later claim do nothing.
    assert!(
        !store
            .record_outcome(&id, d0, at(61), &sent("1:other"), at(4))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .claim_delivery(&id, d0, at(500), at(560))
            .await
            .unwrap(),
        Claim::Done
    );
    let stored = delivery_now(&*store, &id, d0).await;
    assert_eq!(stored.status, DeliveryStatus::Sent);
    assert_eq!(stored.activity_id.as_deref(), Some("1:activity"));
    assert_eq!(stored.lease_until, None);

    // A claim whose sender died is taken over after its lease.
    let d1 = &deliveries[1].delivery_id;
    assert!(matches!(
        store.claim_delivery(&id, d1, at(1), at(61)).await.unwrap(),
        Claim::Claimed(_)
    ));
    let Claim::Claimed(retaken) = store
        .claim_delivery(&id, d1, at(62), at(122))
        .await
        .unwrap()
    else {
        panic!("an expired lease must be claimable");
    };
    assert_eq!(retaken.attempts, 2);
    let blocked = Outcome {
        status: DeliveryStatus::Blocked,
        activity_id: None,
        error: Some("403 MessageWritesBlocked".into()),
        conversation_id: None,
        service_url: None,
        copy: None,
    };
    assert!(
        store
            .record_outcome(&id, d1, at(122), &blocked, at(63))
            .await
            .unwrap()
    );

    let header = store.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.count(DeliveryStatus::Pending), 0);
    assert_eq!(header.count(DeliveryStatus::Sent), 1);
    assert_eq!(header.count(DeliveryStatus::Blocked), 1);
    assert_eq!(header.status(), NotificationStatus::Done);
    assert_eq!(
        store
            .claim_delivery(&id, &did("tenant-1|a:none"), at(1), at(2))
            .await
            .unwrap(),
        Claim::Missing
    );
}

pub async fn concurrent_claims_have_one_winner(store: Arc<dyn OutboxStore>) {
    let id = NotificationId::random();
    let d = delivery(&id, 0, DeliveryStatus::Pending);
    expanded(&*store, std::slice::from_ref(&d)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (store, id, did) = (Arc::clone(&store), id.clone(), d.delivery_id.clone());
        tasks.spawn(async move {
            store
                .claim_delivery(&id, &did, at(1), at(61))
                .await
                .unwrap()
        });
    }
    let mut winners = 0;
    while let Some(claim) = tasks.join_next().await {
        if matches!(claim.unwrap(), Claim::Claimed(_)) {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

pub async fn deliveries_list_in_pages(store: Arc<dyn OutboxStore>) {
    let id = accepted(&*store).await;
    let mut cursor: Option<String> = None;
    for page in 0..3u32 {
        let items: Vec<_> = (0..10)
            .map(|n| {
                let status = if n % 5 == 0 {
                    DeliveryStatus::SkippedArchived
                } else {
                    DeliveryStatus::Pending
                };
                delivery(&id, page * 10 + n, status)
            })
            .collect();
        let next = (page < 2).then(|| format!("c{page}"));
        assert!(
            store
                .append_page(&id, cursor.as_deref(), next.as_deref(), &items)
                .await
                .unwrap()
        );
        cursor = next;
    }
    let mut seen = HashSet::new();
    let mut request = PageRequest {
        cursor: None,
        limit: Some(7),
    };
    loop {
        let page = store.list_deliveries(&id, None, &request).await.unwrap();
        assert!(page.items.len() <= 7, "a page of {}", page.items.len());
        for d in page.items {
            assert!(seen.insert(d.delivery_id));
        }
        match page.next_cursor {
            Some(c) => request.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 30);
    let mut archived = 0;
    let mut request = PageRequest {
        cursor: None,
        limit: Some(4),
    };
    loop {
        let page = store
            .list_deliveries(&id, Some(DeliveryStatus::SkippedArchived), &request)
            .await
            .unwrap();
        archived += page.items.len();
        assert!(
            page.items
                .iter()
                .all(|d| d.status == DeliveryStatus::SkippedArchived)
        );
        match page.next_cursor {
            Some(c) => request.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(archived, 6);
    let bad = PageRequest {
        cursor: Some(Cursor::from_client("nope")),
        limit: None,
    };
    assert!(matches!(
        store.list_deliveries(&id, None, &bad).await,
        Err(StoreError::InvalidCursor(_))
    ));
}

pub async fn activity_ids_can_be_replaced(store: Arc<dyn OutboxStore>) {
    let id = NotificationId::random();
    let d = delivery(&id, 0, DeliveryStatus::Pending);
    expanded(&*store, std::slice::from_ref(&d)).await;
    store
        .set_activity_id(&id, &d.delivery_id, Some("1:new"))
        .await
        .unwrap();
    assert_eq!(
        delivery_now(&*store, &id, &d.delivery_id)
            .await
            .activity_id
            .as_deref(),
        Some("1:new")
    );
    store
        .set_activity_id(&id, &d.delivery_id, None)
        .await
        .unwrap();
    assert_eq!(
        delivery_now(&*store, &id, &d.delivery_id).await.activity_id,
        None
    );
    assert!(matches!(
        store
            .set_activity_id(&id, &did("tenant-1|a:none"), None)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// An update or a retraction while copies go out: the content and its version change in one
/// write, and what the sender reads next is the revised content.
pub async fn content_revisions_bump_the_version(store: Arc<dyn OutboxStore>) {
    let id = NotificationId::random();
    let d = delivery(&id, 0, DeliveryStatus::Pending);
    expanded(&*store, std::slice::from_ref(&d)).await;
    let header = store.get_notification(&id).await.unwrap().unwrap();
    assert_eq!((header.content_version, header.retracted), (0, false));

    let update = Revision::Update(json!({"type": "message", "text": "Maintenance moved to 19:00"}));
    assert_eq!(
        store
            .revise_content(&id, &update, at(1), None)
            .await
            .unwrap(),
        Some(1)
    );
    let header = store.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.content_version, 1);
    assert_eq!(header.activity["text"], "Maintenance moved to 19:00");
    assert!(!header.retracted);
    // Nothing else of the header moved.
    assert!(header.expanded);
    assert_eq!(header.count(DeliveryStatus::Pending), 1);

    assert_eq!(
        store
            .revise_content(&id, &Revision::Retract, at(1), None)
            .await
            .unwrap(),
        Some(2)
    );
    let header = store.get_notification(&id).await.unwrap().unwrap();
    assert_eq!((header.content_version, header.retracted), (2, true));
    assert_eq!(header.activity["text"], "Maintenance moved to 19:00");

    // A retracted notification ends its copies not sent yet `retracted`, counted like the others.
    let outcome = Outcome {
        status: DeliveryStatus::Retracted,
        activity_id: None,
        error: Some("retracted".into()),
        conversation_id: None,
        service_url: None,
        copy: None,
    };
    claim_and_record(&*store, &d, &outcome).await;
    let header = store.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.count(DeliveryStatus::Retracted), 1);
    assert_eq!(header.count(DeliveryStatus::Pending), 0);
    assert_eq!(header.status(), NotificationStatus::Done);

    assert_eq!(
        store
            .revise_content(&NotificationId::random(), &Revision::Retract, at(3), None)
            .await
            .unwrap(),
        None
    );
}

/// A person's chat found at send time: the outcome records the conversation and the serviceUrl
/// the copy went through, which editing or retracting it later needs.
pub async fn a_chat_found_at_send_time_is_recorded_with_its_service_url(
    store: Arc<dyn OutboxStore>,
) {
    let id = NotificationId::random();
    let d = person(&id, "tenant-1", "aad-found");
    expanded(&*store, std::slice::from_ref(&d)).await;
    let outcome = Outcome {
        conversation_id: Some(ConversationId::new("a:found-at-send-time").unwrap()),
        service_url: Some(ServiceUrl::parse("https://smba.trafficmanager.net/emea/").unwrap()),
        ..sent("1700000000042")
    };
    claim_and_record(&*store, &d, &outcome).await;
    let stored = delivery_now(&*store, &id, &d.delivery_id).await;
    assert_eq!(
        (stored.conversation_id, stored.service_url),
        (outcome.conversation_id, outcome.service_url)
    );
}
