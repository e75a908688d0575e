//! The outbox contract, run against the embedded store and DynamoDB Local.

// Scenario tests read top to bottom as one story each.
#![allow(clippy::too_many_lines)]

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use herald_domain::{
    AadObjectId, ConversationId, ConversationType, DeliveryStatus, ServiceUrl, Target, TenantId,
};
use herald_store::{
    Claim, Cursor, DeliveryRecord, DynamoOutboxStore, EmbeddedOutboxStore, InstallResolution,
    InstallWait, InstallWaits, NotificationId, NotificationRecord, NotificationStatus,
    OutboxChange, OutboxStore, Outcome, PageRequest, StoreError,
};
use serde_json::json;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn notification(id: NotificationId) -> NotificationRecord {
    NotificationRecord::new(
        id,
        Target::All,
        json!({"type": "message", "text": "Server maintenance at 18:00"}),
        "api",
        at(0),
        Duration::days(3650),
    )
}

fn delivery(id: &NotificationId, n: u32, status: DeliveryStatus) -> DeliveryRecord {
    let tenant = TenantId::new("tenant-1").unwrap();
    let conversation = ConversationId::new(format!("a:conversation-{n}")).unwrap();
    DeliveryRecord {
        notification_id: id.clone(),
        delivery_id: DeliveryRecord::id_for_conversation(&tenant, &conversation),
        tenant_id: tenant,
        conversation_id: Some(conversation),
        conversation_type: ConversationType::Personal,
        service_url: Some(ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap()),
        member_id: None,
        recipient: None,
        status,
        attempts: 0,
        lease_until: None,
        activity_id: None,
        error: None,
        install_deadline: None,
        updated_at: at(0),
        // DynamoDB Local deletes expired items, as DynamoDB does: keep these alive.
        expires_at: (Utc::now() + Duration::days(30)).timestamp(),
    }
}

fn sent(activity: &str) -> Outcome {
    Outcome {
        status: DeliveryStatus::Sent,
        activity_id: Some(activity.to_owned()),
        error: None,
        conversation_id: None,
    }
}

async fn create_is_idempotent(store: Arc<dyn OutboxStore>) {
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

async fn pages_move_the_cursor_once(store: Arc<dyn OutboxStore>) {
    let id = NotificationId::random();
    store
        .create_notification(&notification(id.clone()))
        .await
        .unwrap();
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

async fn claims_and_outcomes_happen_once(store: Arc<dyn OutboxStore>) {
    let id = NotificationId::random();
    store
        .create_notification(&notification(id.clone()))
        .await
        .unwrap();
    let deliveries: Vec<_> = (0..2)
        .map(|n| delivery(&id, n, DeliveryStatus::Pending))
        .collect();
    store
        .append_page(&id, None, None, &deliveries)
        .await
        .unwrap();
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
            .record_outcome(&id, d0, &sent("1:activity"), at(3))
            .await
            .unwrap()
    );
    // Recorded once: a second record and any later claim do nothing.
    assert!(
        !store
            .record_outcome(&id, d0, &sent("1:other"), at(4))
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
    let stored = store.get_delivery(&id, d0).await.unwrap().unwrap();
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
    };
    assert!(
        store
            .record_outcome(&id, d1, &blocked, at(63))
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
            .claim_delivery(&id, "tenant-1|a:none", at(1), at(2))
            .await
            .unwrap(),
        Claim::Missing
    );
}

async fn concurrent_claims_have_one_winner(store: Arc<dyn OutboxStore>) {
    let id = NotificationId::random();
    store
        .create_notification(&notification(id.clone()))
        .await
        .unwrap();
    let d = delivery(&id, 0, DeliveryStatus::Pending);
    store
        .append_page(&id, None, None, std::slice::from_ref(&d))
        .await
        .unwrap();
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

async fn deliveries_list_in_pages(store: Arc<dyn OutboxStore>) {
    let id = NotificationId::random();
    store
        .create_notification(&notification(id.clone()))
        .await
        .unwrap();
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

async fn activity_ids_can_be_replaced(store: Arc<dyn OutboxStore>) {
    let id = NotificationId::random();
    store
        .create_notification(&notification(id.clone()))
        .await
        .unwrap();
    let d = delivery(&id, 0, DeliveryStatus::Pending);
    store
        .append_page(&id, None, None, std::slice::from_ref(&d))
        .await
        .unwrap();
    store
        .set_activity_id(&id, &d.delivery_id, Some("1:new"))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_delivery(&id, &d.delivery_id)
            .await
            .unwrap()
            .unwrap()
            .activity_id
            .as_deref(),
        Some("1:new")
    );
    store
        .set_activity_id(&id, &d.delivery_id, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_delivery(&id, &d.delivery_id)
            .await
            .unwrap()
            .unwrap()
            .activity_id,
        None
    );
    assert!(matches!(
        store.set_activity_id(&id, "tenant-1|a:none", None).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn embedded_feed_reports_changes_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedOutboxStore::open(dir.path()).unwrap();
    let mut feed = store.subscribe();
    let id = NotificationId::random();
    store
        .create_notification(&notification(id.clone()))
        .await
        .unwrap();
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

/// Both capabilities of an outbox, as the sender and the webhook see them.
trait Outbox: OutboxStore + InstallWaits {}

impl<T: OutboxStore + InstallWaits> Outbox for T {}

/// A person Herald has no conversation with: installed for through Graph.
fn person(id: &NotificationId, tenant: &str, aad: &str) -> DeliveryRecord {
    let tenant = TenantId::new(tenant).unwrap();
    let aad = AadObjectId::new(aad).unwrap();
    DeliveryRecord {
        notification_id: id.clone(),
        delivery_id: DeliveryRecord::id_for_person(&tenant, &aad),
        tenant_id: tenant,
        conversation_id: None,
        conversation_type: ConversationType::Personal,
        service_url: None,
        member_id: None,
        recipient: Some(aad),
        status: DeliveryStatus::Pending,
        attempts: 0,
        lease_until: None,
        activity_id: None,
        error: None,
        install_deadline: None,
        updated_at: at(0),
        expires_at: (Utc::now() + Duration::days(30)).timestamp(),
    }
}

fn wait_of(d: &DeliveryRecord, deadline: DateTime<Utc>) -> InstallWait {
    InstallWait {
        notification_id: d.notification_id.clone(),
        delivery_id: d.delivery_id.clone(),
        tenant_id: d.tenant_id.clone(),
        recipient: d.recipient.clone().unwrap(),
        deadline,
    }
}

fn resolved(n: u32) -> InstallResolution {
    InstallResolution::Resolved {
        conversation_id: ConversationId::new(format!("a:installed-{n}")).unwrap(),
        service_url: ServiceUrl::parse("https://smba.trafficmanager.net/emea/").unwrap(),
    }
}

fn finished(status: DeliveryStatus, error: &str) -> InstallResolution {
    InstallResolution::Finished(Outcome {
        status,
        activity_id: None,
        error: Some(error.to_owned()),
        conversation_id: None,
    })
}

/// A fully expanded notification with these deliveries, all pending.
async fn expanded(store: &dyn Outbox, deliveries: &[DeliveryRecord]) {
    let id = &deliveries[0].notification_id;
    store
        .create_notification(&notification(id.clone()))
        .await
        .unwrap();
    assert!(store.append_page(id, None, None, deliveries).await.unwrap());
}

/// Claims a delivery and turns it into an installation wait until `deadline`.
async fn install(store: &dyn Outbox, d: &DeliveryRecord, deadline: DateTime<Utc>) -> InstallWait {
    let (id, did) = (&d.notification_id, &d.delivery_id);
    assert!(matches!(
        store.claim_delivery(id, did, at(1), at(61)).await.unwrap(),
        Claim::Claimed(_)
    ));
    assert!(
        store
            .begin_install(id, did, at(61), deadline, at(2))
            .await
            .unwrap()
    );
    wait_of(d, deadline)
}

/// The header's non-zero counts.
async fn counts(store: &dyn Outbox, id: &NotificationId) -> Vec<(String, i64)> {
    let header = store.get_notification(id).await.unwrap().unwrap();
    header.counts.into_iter().filter(|(_, c)| *c != 0).collect()
}

fn counted(pairs: &[(DeliveryStatus, i64)]) -> Vec<(String, i64)> {
    let mut v: Vec<_> = pairs
        .iter()
        .map(|(s, c)| (s.as_str().to_owned(), *c))
        .collect();
    v.sort();
    v
}

async fn status_of(store: &dyn Outbox, id: &NotificationId) -> NotificationStatus {
    store.get_notification(id).await.unwrap().unwrap().status()
}

async fn install_begins_only_from_sending(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    let people: Vec<_> = (0..3)
        .map(|n| person(&id, "tenant-1", &format!("aad-{n}")))
        .collect();
    let conversation = delivery(&id, 9, DeliveryStatus::Pending);
    let mut all = people.clone();
    all.push(conversation.clone());
    expanded(&*store, &all).await;
    let (p0, p1) = (&people[0].delivery_id, &people[1].delivery_id);

    // Pending (not claimed): nothing happens.
    assert!(
        !store
            .begin_install(&id, p0, at(61), at(600), at(2))
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_delivery(&id, p0).await.unwrap().unwrap(),
        people[0]
    );
    assert_eq!(
        store
            .waits_for(&people[0].tenant_id, people[0].recipient.as_ref().unwrap())
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(store.due_waits(at(100_000), 10).await.unwrap(), vec![]);

    // A claim whose lease ran out and was taken over: only the new claim may install.
    let p2 = &people[2].delivery_id;
    assert!(matches!(
        store.claim_delivery(&id, p2, at(1), at(61)).await.unwrap(),
        Claim::Claimed(_)
    ));
    assert!(matches!(
        store
            .claim_delivery(&id, p2, at(70), at(130))
            .await
            .unwrap(),
        Claim::Claimed(_)
    ));
    assert!(
        !store
            .begin_install(&id, p2, at(61), at(200_000), at(71))
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_delivery(&id, p2).await.unwrap().unwrap().status,
        DeliveryStatus::Sending
    );
    assert!(
        store
            .begin_install(&id, p2, at(130), at(200_000), at(71))
            .await
            .unwrap()
    );

    // Claimed: installing until the deadline, the lease given up.
    let wait = install(&*store, &people[0], at(600)).await;
    let stored = store.get_delivery(&id, p0).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Installing);
    assert_eq!(stored.install_deadline, Some(at(600)));
    assert_eq!(stored.lease_until, None);
    assert_eq!(stored.updated_at, at(2));
    assert_eq!(stored.attempts, 1);
    assert_eq!(
        store
            .waits_for(&wait.tenant_id, &wait.recipient)
            .await
            .unwrap(),
        vec![wait.clone()]
    );
    assert_eq!(
        store.due_waits(at(600), 10).await.unwrap(),
        vec![wait.clone()]
    );

    // Installing already: no second wait, and a replayed trigger finds nothing to claim.
    assert!(
        !store
            .begin_install(&id, p0, at(61), at(900), at(3))
            .await
            .unwrap()
    );
    assert_eq!(store.get_delivery(&id, p0).await.unwrap().unwrap(), stored);
    assert_eq!(
        store.claim_delivery(&id, p0, at(4), at(64)).await.unwrap(),
        Claim::Done
    );
    assert_eq!(store.due_waits(at(100_000), 10).await.unwrap(), vec![wait]);

    // Sent already.
    assert!(matches!(
        store.claim_delivery(&id, p1, at(1), at(61)).await.unwrap(),
        Claim::Claimed(_)
    ));
    assert!(
        store
            .record_outcome(&id, p1, &sent("1:a"), at(2))
            .await
            .unwrap()
    );
    assert!(
        !store
            .begin_install(&id, p1, at(61), at(600), at(3))
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_delivery(&id, p1).await.unwrap().unwrap().status,
        DeliveryStatus::Sent
    );

    // No such delivery.
    assert!(
        !store
            .begin_install(&id, "tenant-1|aad:nobody", at(61), at(600), at(3))
            .await
            .unwrap()
    );

    // A delivery without a recipient cannot wait for an installation.
    let c = &conversation.delivery_id;
    assert!(matches!(
        store.claim_delivery(&id, c, at(1), at(61)).await.unwrap(),
        Claim::Claimed(_)
    ));
    assert!(matches!(
        store.begin_install(&id, c, at(61), at(600), at(3)).await,
        Err(StoreError::InvalidData(_))
    ));
    assert_eq!(
        store.get_delivery(&id, c).await.unwrap().unwrap().status,
        DeliveryStatus::Sending
    );

    // Claimed deliveries count as pending; the installing ones moved.
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::Installing, 2),
            (DeliveryStatus::Sent, 1),
        ])
    );
    assert_eq!(store.due_waits(at(100_000), 10).await.unwrap().len(), 1);
}

async fn install_counts_follow_each_resolution(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    let people: Vec<_> = (0..3)
        .map(|n| person(&id, "tenant-1", &format!("aad-{n}")))
        .collect();
    expanded(&*store, &people).await;
    let mut waits = Vec::new();
    for (n, p) in (0..).zip(&people) {
        waits.push(install(&*store, p, at(600 + n)).await);
    }
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[(DeliveryStatus::Installing, 3)])
    );
    assert_eq!(status_of(&*store, &id).await, NotificationStatus::Sending);

    // Resolved: pending with the conversation, and claimable again.
    assert!(
        store
            .end_install(&waits[0], &resolved(0), at(10))
            .await
            .unwrap()
    );
    let d0 = store
        .get_delivery(&id, &people[0].delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d0.status, DeliveryStatus::Pending);
    assert_eq!(
        d0.conversation_id,
        Some(ConversationId::new("a:installed-0").unwrap())
    );
    assert_eq!(
        d0.service_url,
        Some(ServiceUrl::parse("https://smba.trafficmanager.net/emea/").unwrap())
    );
    assert_eq!(
        (d0.install_deadline, d0.lease_until, d0.error),
        (None, None, None)
    );
    assert_eq!(d0.updated_at, at(10));
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::Installing, 2)
        ])
    );
    assert_eq!(status_of(&*store, &id).await, NotificationStatus::Sending);
    let Claim::Claimed(claimed) = store
        .claim_delivery(&id, &people[0].delivery_id, at(11), at(71))
        .await
        .unwrap()
    else {
        panic!("a resolved delivery must be claimable");
    };
    assert_eq!(
        claimed.conversation_id,
        Some(ConversationId::new("a:installed-0").unwrap())
    );
    assert_eq!(claimed.attempts, 2);
    assert!(
        store
            .record_outcome(&id, &people[0].delivery_id, &sent("1:a"), at(12))
            .await
            .unwrap()
    );

    // Retry: pending again without a conversation, the error kept.
    let retry = InstallResolution::Retry {
        error: "Graph 503".into(),
    };
    assert!(store.end_install(&waits[1], &retry, at(13)).await.unwrap());
    let d1 = store
        .get_delivery(&id, &people[1].delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d1.status, DeliveryStatus::Pending);
    assert_eq!(d1.error.as_deref(), Some("Graph 503"));
    assert_eq!((d1.conversation_id, d1.install_deadline), (None, None));

    // Finished: the final status and its error.
    let forbidden = finished(DeliveryStatus::InstallForbidden, "403 Forbidden");
    assert!(
        store
            .end_install(&waits[2], &forbidden, at(14))
            .await
            .unwrap()
    );
    let d2 = store
        .get_delivery(&id, &people[2].delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d2.status, DeliveryStatus::InstallForbidden);
    assert_eq!(d2.error.as_deref(), Some("403 Forbidden"));
    assert_eq!((d2.install_deadline, d2.lease_until), (None, None));
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::Sent, 1),
            (DeliveryStatus::InstallForbidden, 1),
        ])
    );
    assert_eq!(status_of(&*store, &id).await, NotificationStatus::Sending);

    // The retried one waits again and times out.
    let again = install(&*store, &people[1], at(900)).await;
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[
            (DeliveryStatus::Installing, 1),
            (DeliveryStatus::Sent, 1),
            (DeliveryStatus::InstallForbidden, 1),
        ])
    );
    assert_eq!(status_of(&*store, &id).await, NotificationStatus::Sending);
    let timed_out = finished(DeliveryStatus::InstallTimedOut, "no conversationUpdate");
    assert!(
        store
            .end_install(&again, &timed_out, at(901))
            .await
            .unwrap()
    );
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[
            (DeliveryStatus::Sent, 1),
            (DeliveryStatus::InstallForbidden, 1),
            (DeliveryStatus::InstallTimedOut, 1),
        ])
    );
    assert_eq!(status_of(&*store, &id).await, NotificationStatus::Done);

    // Every wait is gone.
    for p in &people {
        assert_eq!(
            store
                .waits_for(&p.tenant_id, p.recipient.as_ref().unwrap())
                .await
                .unwrap(),
            vec![]
        );
    }
    assert_eq!(store.due_waits(at(100_000), 10).await.unwrap(), vec![]);

    // A wait cannot finish in a state that is not final.
    let other = NotificationId::random();
    let p = person(&other, "tenant-1", "aad-9");
    expanded(&*store, std::slice::from_ref(&p)).await;
    let wait = install(&*store, &p, at(600)).await;
    for status in [DeliveryStatus::Pending, DeliveryStatus::Installing] {
        assert!(matches!(
            store
                .end_install(&wait, &finished(status, "x"), at(3))
                .await,
            Err(StoreError::InvalidData(_))
        ));
    }
    assert_eq!(
        store
            .get_delivery(&other, &p.delivery_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Installing
    );
}

async fn waits_are_found_by_recipient_and_deadline(store: Arc<dyn Outbox>) {
    let (a, b) = (NotificationId::random(), NotificationId::random());
    let a_x = person(&a, "tenant-1", "aad-x");
    let a_y = person(&a, "tenant-1", "aad-y");
    let b_x = person(&b, "tenant-1", "aad-x");
    // The same object id in another tenant is another person.
    let b_x2 = person(&b, "tenant-2", "aad-x");
    expanded(&*store, &[a_x.clone(), a_y.clone()]).await;
    expanded(&*store, &[b_x.clone(), b_x2.clone()]).await;
    let x_in_a = install(&*store, &a_x, at(300)).await;
    let y_in_a = install(&*store, &a_y, at(100)).await;
    let x_in_b = install(&*store, &b_x, at(200)).await;
    let x_elsewhere = install(&*store, &b_x2, at(400)).await;

    let tenant = TenantId::new("tenant-1").unwrap();
    let x = AadObjectId::new("aad-x").unwrap();
    let mut found = store.waits_for(&tenant, &x).await.unwrap();
    found.sort_by_key(|w| w.deadline);
    assert_eq!(found, vec![x_in_b.clone(), x_in_a.clone()]);
    assert_eq!(
        store
            .waits_for(&tenant, &AadObjectId::new("aad-y").unwrap())
            .await
            .unwrap(),
        vec![y_in_a.clone()]
    );
    assert_eq!(
        store
            .waits_for(&TenantId::new("tenant-2").unwrap(), &x)
            .await
            .unwrap(),
        vec![x_elsewhere.clone()]
    );
    assert_eq!(
        store
            .waits_for(&tenant, &AadObjectId::new("aad-z").unwrap())
            .await
            .unwrap(),
        vec![]
    );

    assert_eq!(store.due_waits(at(99), 10).await.unwrap(), vec![]);
    // A deadline equal to now is due.
    assert_eq!(
        store.due_waits(at(200), 10).await.unwrap(),
        vec![y_in_a.clone(), x_in_b.clone()]
    );
    assert_eq!(
        store.due_waits(at(1000), 2).await.unwrap(),
        vec![y_in_a.clone(), x_in_b.clone()]
    );
    assert_eq!(
        store.due_waits(at(1000), 10).await.unwrap(),
        vec![
            y_in_a.clone(),
            x_in_b.clone(),
            x_in_a.clone(),
            x_elsewhere.clone()
        ]
    );
    assert_eq!(store.due_waits(at(1000), 0).await.unwrap(), vec![]);

    // Within one millisecond: half a millisecond early is not due.
    let c = NotificationId::random();
    let c_z = person(&c, "tenant-1", "aad-z");
    expanded(&*store, std::slice::from_ref(&c_z)).await;
    let precise = at(2000) + Duration::microseconds(500);
    let z_in_c = install(&*store, &c_z, precise).await;
    assert_eq!(store.due_waits(at(2000), 10).await.unwrap().len(), 4);
    assert_eq!(
        store.due_waits(precise, 10).await.unwrap().last(),
        Some(&z_in_c)
    );

    // Ended waits are found no more, by either way.
    let timed_out = finished(DeliveryStatus::InstallTimedOut, "timed out");
    assert!(
        store
            .end_install(&y_in_a, &timed_out, at(101))
            .await
            .unwrap()
    );
    assert!(
        store
            .end_install(&z_in_c, &timed_out, at(2001))
            .await
            .unwrap()
    );
    assert_eq!(
        store.due_waits(at(100_000), 10).await.unwrap(),
        vec![x_in_b.clone(), x_in_a.clone(), x_elsewhere]
    );
    assert_eq!(
        store
            .waits_for(&tenant, &AadObjectId::new("aad-y").unwrap())
            .await
            .unwrap(),
        vec![]
    );
    assert!(
        store
            .end_install(&x_in_a, &resolved(1), at(301))
            .await
            .unwrap()
    );
    assert_eq!(store.waits_for(&tenant, &x).await.unwrap(), vec![x_in_b]);
}

async fn end_install_happens_once(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    let people: Vec<_> = (0..2)
        .map(|n| person(&id, "tenant-1", &format!("aad-{n}")))
        .collect();
    expanded(&*store, &people).await;
    let wait = install(&*store, &people[0], at(600)).await;

    // The webhook and the timeout sweep race: one wins.
    let timed_out = finished(DeliveryStatus::InstallTimedOut, "timed out");
    let conversation = resolved(0);
    let (by_webhook, by_sweep) = tokio::join!(
        store.end_install(&wait, &conversation, at(10)),
        store.end_install(&wait, &timed_out, at(10)),
    );
    let (by_webhook, by_sweep) = (by_webhook.unwrap(), by_sweep.unwrap());
    assert!(by_webhook ^ by_sweep, "{by_webhook} {by_sweep}");
    let ended = store
        .get_delivery(&id, &people[0].delivery_id)
        .await
        .unwrap()
        .unwrap();
    let winner = if by_webhook {
        DeliveryStatus::Pending
    } else {
        DeliveryStatus::InstallTimedOut
    };
    assert_eq!(ended.status, winner);
    let after = if by_webhook {
        counted(&[(DeliveryStatus::Pending, 2)])
    } else {
        counted(&[
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::InstallTimedOut, 1),
        ])
    };
    assert_eq!(counts(&*store, &id).await, after);

    // Ended once: later ends change nothing.
    for resolution in [resolved(1), timed_out.clone()] {
        assert!(!store.end_install(&wait, &resolution, at(20)).await.unwrap());
    }
    assert_eq!(
        store
            .get_delivery(&id, &people[0].delivery_id)
            .await
            .unwrap()
            .unwrap(),
        ended
    );
    assert_eq!(counts(&*store, &id).await, after);
    assert_eq!(
        store
            .waits_for(&wait.tenant_id, &wait.recipient)
            .await
            .unwrap(),
        vec![]
    );

    // A stale wait (its delivery waits again, until a later deadline) ends nothing, and the
    // live wait stays.
    let first = install(&*store, &people[1], at(300)).await;
    let retry = InstallResolution::Retry {
        error: "Graph 429".into(),
    };
    assert!(store.end_install(&first, &retry, at(30)).await.unwrap());
    let second = install(&*store, &people[1], at(900)).await;
    assert!(
        !store
            .end_install(&first, &timed_out, at(301))
            .await
            .unwrap()
    );
    let live = store
        .get_delivery(&id, &people[1].delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.status, DeliveryStatus::Installing);
    assert_eq!(live.install_deadline, Some(at(900)));
    assert_eq!(
        store
            .waits_for(&second.tenant_id, &second.recipient)
            .await
            .unwrap(),
        vec![second.clone()]
    );
    assert_eq!(
        store.due_waits(at(1000), 10).await.unwrap(),
        vec![second.clone()]
    );
    assert!(
        store
            .end_install(&second, &timed_out, at(901))
            .await
            .unwrap()
    );
    assert_eq!(store.due_waits(at(1000), 10).await.unwrap(), vec![]);
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
    let Claim::Claimed(claimed) = store
        .claim_delivery(&id, &people[0].delivery_id, at(20), at(80))
        .await
        .unwrap()
    else {
        panic!("a resolved delivery must be claimable");
    };
    assert_eq!(
        claimed.conversation_id,
        Some(ConversationId::new("a:installed-0").unwrap())
    );
}

/// Both stores, after the leftovers of `leftover` (a wait whose delivery is gone) were planted
/// beside the live `wait`: ending the leftover changes nothing and removes only its items.
async fn leftovers_go_quietly(store: &dyn Outbox, wait: &InstallWait, leftover: &InstallWait) {
    let mut found = store
        .waits_for(&wait.tenant_id, &wait.recipient)
        .await
        .unwrap();
    found.sort_by_key(|w| w.deadline);
    assert_eq!(found, vec![wait.clone(), leftover.clone()]);
    let timed_out = finished(DeliveryStatus::InstallTimedOut, "timed out");
    assert!(
        !store
            .end_install(leftover, &timed_out, at(701))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .waits_for(&wait.tenant_id, &wait.recipient)
            .await
            .unwrap(),
        vec![wait.clone()]
    );
    assert_eq!(
        store.due_waits(at(1000), 10).await.unwrap(),
        vec![wait.clone()]
    );
}

/// Both stores, after unreadable wait items were planted: an error, not a silently skipped wait.
async fn unreadable_waits_are_errors(store: &dyn Outbox, wait: &InstallWait) {
    assert!(matches!(
        store.waits_for(&wait.tenant_id, &wait.recipient).await,
        Err(StoreError::InvalidData(_))
    ));
    assert!(matches!(
        store.due_waits(at(1000), 10).await,
        Err(StoreError::InvalidData(_))
    ));
}

fn due_sk(wait: &InstallWait) -> String {
    format!(
        "{:015}#{}#{}",
        wait.deadline.timestamp_millis(),
        wait.notification_id,
        wait.delivery_id
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_wait_items_layout_leftovers_and_corruption() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use std::collections::HashMap;

    let client = herald_testkit::dynamodb_client();
    let table = herald_testkit::unique_name("outbox");
    let store = DynamoOutboxStore::new(client.clone(), table.clone());
    store.ensure_table().await.unwrap();
    let get = |pk: String, sk: String| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(pk))
                .key("sk", AttributeValue::S(sk))
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item
        }
    };

    let id = NotificationId::random();
    let p = person(&id, "tenant-1", "aad-0");
    expanded(&store, std::slice::from_ref(&p)).await;
    let wait = install(&store, &p, at(600)).await;
    let by_recipient = get(
        "install#tenant-1#aad-0".to_owned(),
        format!("{id}#{}", p.delivery_id),
    )
    .await
    .expect("the wait by recipient");
    let due = get("install-due".to_owned(), due_sk(&wait))
        .await
        .expect("the due marker");
    for item in [&by_recipient, &due] {
        assert_eq!(
            item.get("expiresAt"),
            Some(&AttributeValue::N(p.expires_at.to_string()))
        );
        assert_eq!(
            item.get("notificationId"),
            Some(&AttributeValue::S(id.to_string()))
        );
        assert_eq!(
            item.get("recipient"),
            Some(&AttributeValue::S("aad-0".to_owned()))
        );
    }

    // Leftovers of a wait whose delivery is gone are removed, and nothing else is written.
    let gone = NotificationId::random();
    let leftover = wait_of(&person(&gone, "tenant-1", "aad-0"), at(700));
    for (pk, sk, template) in [
        (
            "install#tenant-1#aad-0".to_owned(),
            format!("{gone}#{}", leftover.delivery_id),
            &by_recipient,
        ),
        ("install-due".to_owned(), due_sk(&leftover), &due),
    ] {
        let mut item: HashMap<_, _> = template.clone();
        item.insert("pk".into(), AttributeValue::S(pk));
        item.insert("sk".into(), AttributeValue::S(sk));
        item.insert("notificationId".into(), AttributeValue::S(gone.to_string()));
        item.insert(
            "deadline".into(),
            serde_dynamo::to_attribute_value(at(700)).unwrap(),
        );
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    leftovers_go_quietly(&store, &wait, &leftover).await;
    assert_eq!(
        get(format!("{gone}"), "#notification".to_owned()).await,
        None
    );
    assert_eq!(
        store
            .get_delivery(&id, &p.delivery_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Installing
    );

    // A wait item Herald cannot read is an error, not a silently skipped wait.
    for (pk, sk) in [
        ("install#tenant-1#aad-0", "n-corrupt#x"),
        ("install-due", "000000000000000#n-corrupt#x"),
    ] {
        client
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(pk.to_owned()))
            .item("sk", AttributeValue::S(sk.to_owned()))
            .item("deadline", AttributeValue::N("7".to_owned()))
            .send()
            .await
            .unwrap();
    }
    unreadable_waits_are_errors(&store, &wait).await;
}

#[tokio::test]
async fn embedded_wait_leftovers_and_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedOutboxStore::open(dir.path()).unwrap();
    let id = NotificationId::random();
    let p = person(&id, "tenant-1", "aad-0");
    expanded(&store, std::slice::from_ref(&p)).await;
    let wait = install(&store, &p, at(600)).await;
    drop(store);

    // Behind the store's back: leftovers of a wait whose delivery is gone.
    let gone = NotificationId::random();
    let leftover = wait_of(&person(&gone, "tenant-1", "aad-0"), at(700));
    let write = |entries: Vec<(&'static str, String, Vec<u8>)>| {
        let db = redb::Database::create(dir.path().join("outbox.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        for (table, key, value) in entries {
            txn.open_table(redb::TableDefinition::<&str, &[u8]>::new(table))
                .unwrap()
                .insert(key.as_str(), value.as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    };
    let json = serde_json::to_vec(&leftover).unwrap();
    write(vec![
        (
            "installWaits",
            format!("tenant-1\u{1f}aad-0\u{1f}{gone}#{}", leftover.delivery_id),
            json.clone(),
        ),
        ("installDue", due_sk(&leftover), json),
    ]);
    let store = EmbeddedOutboxStore::open(dir.path()).unwrap();
    leftovers_go_quietly(&store, &wait, &leftover).await;
    assert_eq!(store.get_notification(&gone).await.unwrap(), None);
    drop(store);

    write(vec![
        (
            "installWaits",
            "tenant-1\u{1f}aad-0\u{1f}n-corrupt#x".to_owned(),
            br#"{"deadline": 7}"#.to_vec(),
        ),
        (
            "installDue",
            "000000000000000#n-corrupt#x".to_owned(),
            br#"{"deadline": 7}"#.to_vec(),
        ),
    ]);
    let store = EmbeddedOutboxStore::open(dir.path()).unwrap();
    unreadable_waits_are_errors(&store, &wait).await;
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = herald_store::EmbeddedOutboxStore::open(dir.path()).unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = super::DynamoOutboxStore::new(
                        herald_testkit::dynamodb_client(),
                        herald_testkit::unique_name("outbox"),
                    );
                    store.ensure_table().await.unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

contract!(
    create_is_idempotent,
    pages_move_the_cursor_once,
    claims_and_outcomes_happen_once,
    concurrent_claims_have_one_winner,
    deliveries_list_in_pages,
    activity_ids_can_be_replaced,
    install_begins_only_from_sending,
    install_counts_follow_each_resolution,
    waits_are_found_by_recipient_and_deadline,
    end_install_happens_once,
);
