//! Records, fixtures and steps the outbox suites share.

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use herald_domain::{
    AadObjectId, ConversationId, DeliveryId, DeliveryStatus, ServiceUrl, Target, TenantId,
};
use herald_store::{
    Claim, DeliveryRecord, EditJobs, FollowUps, InstallResolution, InstallWait, InstallWaits,
    Interactions, NotificationId, NotificationRecord, NotificationStatus, OutboxChange,
    OutboxStore, Outcome, STRANDED_AFTER, SentCopy, StrandedWork,
};
use serde_json::json;

/// Every capability of an outbox, as the sender, the webhook, the notify API and the scheduler
/// see them.
pub trait Outbox:
    OutboxStore + InstallWaits + StrandedWork + Interactions + EditJobs + FollowUps
{
}

impl<T: OutboxStore + InstallWaits + StrandedWork + Interactions + EditJobs + FollowUps> Outbox
    for T
{
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::seconds(seconds)
}

pub fn notification(id: NotificationId) -> NotificationRecord {
    NotificationRecord::new(
        id,
        Target::All,
        json!({"type": "message", "text": "Server maintenance at 18:00"}),
        "api",
        at(0),
        Duration::days(3650),
    )
}

pub fn delivery(id: &NotificationId, n: u32, status: DeliveryStatus) -> DeliveryRecord {
    let tenant = TenantId::new("tenant-1").unwrap();
    let conversation = ConversationId::new(format!("a:conversation-{n}")).unwrap();
    // DynamoDB Local deletes expired items, as DynamoDB does: keep these alive.
    let expires_at = (Utc::now() + Duration::days(30)).timestamp();
    DeliveryRecord {
        conversation_id: Some(conversation.clone()),
        service_url: Some(ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap()),
        status,
        // As the store keeps it: unfinished work is due for the stranded-work sweep.
        due_at: (!status.is_final()).then(|| at(0) + herald_store::STRANDED_AFTER),
        ..DeliveryRecord::new(
            id.clone(),
            DeliveryId::for_conversation(&tenant, &conversation),
            tenant,
            at(0),
            expires_at,
        )
    }
}

pub fn sent(activity: &str) -> Outcome {
    Outcome {
        status: DeliveryStatus::Sent,
        activity_id: Some(activity.to_owned()),
        error: None,
        conversation_id: None,
        service_url: None,
        copy: None,
    }
}

/// Asserts that the stranded-work sweep, long after, does not find `change`.
pub async fn assert_never_stranded(store: &dyn Outbox, change: &OutboxChange) {
    let much_later = at(0) + STRANDED_AFTER * 10;
    assert!(
        !store
            .stranded(much_later, 10)
            .await
            .unwrap()
            .contains(change)
    );
}

/// Claims `d` at 1s for a minute and records `outcome` at 2s, both of which must succeed.
pub async fn claim_and_record(store: &dyn OutboxStore, d: &DeliveryRecord, outcome: &Outcome) {
    let (id, did) = (&d.notification_id, &d.delivery_id);
    let Claim::Claimed(claimed) = store.claim_delivery(id, did, at(1), at(61)).await.unwrap()
    else {
        panic!("{did} is not claimable");
    };
    let lease = claimed.lease_until.unwrap();
    assert!(
        store
            .record_outcome(id, did, lease, outcome, at(2))
            .await
            .unwrap()
    );
}

/// Claims `d` and records it sent as `activity_id`, indexing the copy as the sender does.
pub async fn claim_and_send(store: &dyn Outbox, d: &DeliveryRecord, activity_id: &str) -> SentCopy {
    let copy = SentCopy::of(d, d.conversation_id.clone().unwrap(), activity_id, 0, at(2));
    let outcome = Outcome {
        copy: Some(Box::new(copy.clone())),
        ..sent(activity_id)
    };
    claim_and_record(store, d, &outcome).await;
    copy
}

/// A person Herald has no conversation with: installed for through Graph.
pub fn person(id: &NotificationId, tenant: &str, aad: &str) -> DeliveryRecord {
    let tenant = TenantId::new(tenant).unwrap();
    let aad = AadObjectId::new(aad).unwrap();
    DeliveryRecord {
        delivery_id: DeliveryId::for_person(&tenant, &aad),
        tenant_id: tenant,
        conversation_id: None,
        service_url: None,
        recipient: Some(aad),
        ..delivery(id, 0, DeliveryStatus::Pending)
    }
}

pub fn wait_of(d: &DeliveryRecord, deadline: DateTime<Utc>) -> InstallWait {
    InstallWait {
        notification_id: d.notification_id.clone(),
        delivery_id: d.delivery_id.clone(),
        tenant_id: d.tenant_id.clone(),
        recipient: d.recipient.clone().unwrap(),
        deadline,
    }
}

pub fn resolved(n: u32) -> InstallResolution {
    InstallResolution::Resolved {
        conversation_id: ConversationId::new(format!("a:installed-{n}")).unwrap(),
        service_url: ServiceUrl::parse("https://smba.trafficmanager.net/emea/").unwrap(),
    }
}

pub fn finished(status: DeliveryStatus, error: &str) -> InstallResolution {
    InstallResolution::Finished(Outcome {
        status,
        activity_id: None,
        error: Some(error.to_owned()),
        conversation_id: None,
        service_url: None,
        copy: None,
    })
}

/// A new notification, stored and not expanded yet.
pub async fn accepted(store: &dyn OutboxStore) -> NotificationId {
    let id = NotificationId::random();
    store
        .create_notification(&notification(id.clone()))
        .await
        .unwrap();
    id
}

/// A fully expanded notification with these deliveries (of one notification).
pub async fn expanded(store: &dyn OutboxStore, deliveries: &[DeliveryRecord]) {
    let id = &deliveries[0].notification_id;
    store
        .create_notification(&notification(id.clone()))
        .await
        .unwrap();
    assert!(store.append_page(id, None, None, deliveries).await.unwrap());
}

/// A delivery as stored now.
pub async fn delivery_now(
    store: &dyn OutboxStore,
    id: &NotificationId,
    delivery: &DeliveryId,
) -> DeliveryRecord {
    store.get_delivery(id, delivery).await.unwrap().unwrap()
}

/// The waits stored for a recipient.
pub async fn recipient_waits(
    store: &dyn InstallWaits,
    tenant: &TenantId,
    recipient: &AadObjectId,
) -> Vec<InstallWait> {
    store.waits_for(tenant, recipient).await.unwrap()
}

/// Claims a delivery and turns it into an installation wait until `deadline`.
pub async fn install(
    store: &dyn Outbox,
    d: &DeliveryRecord,
    deadline: DateTime<Utc>,
) -> InstallWait {
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

/// Claims a delivery whose installation ended as [`resolved`]`(n)`, for a minute from `now`: the
/// claim carries the conversation the installation brought.
pub async fn claim_resolved(
    store: &dyn OutboxStore,
    d: &DeliveryRecord,
    n: u32,
    now: DateTime<Utc>,
) -> DeliveryRecord {
    let lease = now + Duration::seconds(60);
    let claim = store.claim_delivery(&d.notification_id, &d.delivery_id, now, lease);
    let Claim::Claimed(claimed) = claim.await.unwrap() else {
        panic!("a resolved delivery must be claimable");
    };
    assert_eq!(
        claimed.conversation_id,
        Some(ConversationId::new(format!("a:installed-{n}")).unwrap())
    );
    *claimed
}

/// The header's non-zero counts.
pub async fn counts(store: &dyn Outbox, id: &NotificationId) -> Vec<(String, i64)> {
    let header = store.get_notification(id).await.unwrap().unwrap();
    header.counts.into_iter().filter(|(_, c)| *c != 0).collect()
}

pub fn counted(pairs: &[(DeliveryStatus, i64)]) -> Vec<(String, i64)> {
    let mut v: Vec<_> = pairs
        .iter()
        .map(|(s, c)| (s.as_str().to_owned(), *c))
        .collect();
    v.sort();
    v
}

pub async fn status_of(store: &dyn Outbox, id: &NotificationId) -> NotificationStatus {
    store.get_notification(id).await.unwrap().unwrap().status()
}

/// A delivery id written out in a test.
pub fn did(value: &str) -> DeliveryId {
    DeliveryId::parse(value).unwrap()
}
