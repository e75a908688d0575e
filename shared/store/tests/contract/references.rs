//! The reference store's writes: upserts, status changes, time zones, deletes, and what a store
//! does with references it cannot use.

use herald_domain::{AadObjectId, BotAppId, ConversationId, ReferenceStatus, ServiceUrl, TeamId};
use herald_store::{
    ListFilter, PageRequest, SkipReason, StatusOutcome, StatusUpdate, StoreError, UpsertOutcome,
};

use crate::support::{APP, Harness, OTHER_APP, TENANT, aad, at, channel, key, personal, tenant};

pub async fn upsert_creates_then_updates(h: &dyn Harness) {
    let store = h.references(APP).await;
    let first = personal(TENANT, 1, 0);
    assert_eq!(store.upsert(&first).await.unwrap(), UpsertOutcome::Created);
    assert_eq!(store.get(&first.key()).await.unwrap(), Some(first.clone()));

    let mut later = personal(TENANT, 1, 60);
    later.service_url = ServiceUrl::parse("https://smba.trafficmanager.net/emea/").unwrap();
    later.installed_at = at(60);
    later.status = ReferenceStatus::Blocked;
    assert_eq!(store.upsert(&later).await.unwrap(), UpsertOutcome::Updated);
    let stored = store.get(&first.key()).await.unwrap().unwrap();
    assert_eq!(
        stored.service_url.as_str(),
        "https://smba.trafficmanager.net/emea/"
    );
    assert_eq!(stored.updated_at, at(60));
    // First sighting and status belong to the installation, not to each activity.
    assert_eq!(stored.installed_at, at(0));
    assert_eq!(stored.status, ReferenceStatus::Active);

    // Redelivery of the same activity is harmless.
    assert_eq!(store.upsert(&later).await.unwrap(), UpsertOutcome::Updated);
    let missing = key("a:none");
    assert_eq!(store.get(&missing).await.unwrap(), None);
}

pub async fn absent_fields_keep_stored_values(h: &dyn Harness) {
    let store = h.references(APP).await;
    let first = personal(TENANT, 2, 0);
    store.upsert(&first).await.unwrap();
    let mut install_event = personal(TENANT, 2, 10);
    install_event.time_zone = None;
    install_event.locale = None;
    store.upsert(&install_event).await.unwrap();
    let stored = store.get(&first.key()).await.unwrap().unwrap();
    assert_eq!(stored.time_zone, first.time_zone);
    assert_eq!(stored.locale.as_deref(), Some("en-US"));

    let mut moved = personal(TENANT, 2, 20);
    moved.time_zone = Some("Asia/Kathmandu".parse().unwrap());
    store.upsert(&moved).await.unwrap();
    let stored = store.get(&first.key()).await.unwrap().unwrap();
    assert_eq!(
        stored.time_zone.map(herald_domain::TimeZone::name),
        Some("Asia/Kathmandu")
    );
}

pub async fn time_zone_override_survives_activities(h: &dyn Harness) {
    let store = h.references(APP).await;
    let r = personal(TENANT, 13, 0);
    store.upsert(&r).await.unwrap();
    let chosen: herald_domain::TimeZone = "Pacific/Chatham".parse().unwrap();
    store
        .set_time_zone_override(&r.key(), Some(chosen), at(5))
        .await
        .unwrap();
    // The client keeps reporting Berlin; the user's choice stands.
    store.upsert(&personal(TENANT, 13, 10)).await.unwrap();
    let stored = store.get(&r.key()).await.unwrap().unwrap();
    assert_eq!(stored.effective_time_zone(), Some(chosen));
    assert_eq!(
        stored.time_zone.map(herald_domain::TimeZone::name),
        Some("Europe/Berlin")
    );
    store
        .set_time_zone_override(&r.key(), None, at(15))
        .await
        .unwrap();
    let stored = store.get(&r.key()).await.unwrap().unwrap();
    assert_eq!(
        stored
            .effective_time_zone()
            .map(herald_domain::TimeZone::name),
        Some("Europe/Berlin")
    );
    let missing = key("a:none");
    assert!(matches!(
        store
            .set_time_zone_override(&missing, Some(chosen), at(15))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn stale_activity_does_not_win(h: &dyn Harness) {
    let store = h.references(APP).await;
    let mut newer = personal(TENANT, 3, 100);
    newer.service_url = ServiceUrl::parse("https://smba.trafficmanager.net/emea/").unwrap();
    newer.time_zone = Some("America/Los_Angeles".parse().unwrap());
    store.upsert(&newer).await.unwrap();
    let older = personal(TENANT, 3, 50);
    assert_eq!(store.upsert(&older).await.unwrap(), UpsertOutcome::Stale);
    let stored = store.get(&newer.key()).await.unwrap().unwrap();
    assert_eq!(stored, newer);
}

pub async fn concurrent_upserts_of_one_reference(h: &dyn Harness) {
    let store = h.references(APP).await;
    for round in 0..10u32 {
        let a = personal(TENANT, 100 + round, 0);
        let mut b = personal(TENANT, 100 + round, 1);
        b.locale = Some("de-DE".into());
        let (ra, rb) = tokio::join!(store.upsert(&a), store.upsert(&b));
        let outcomes = [ra.unwrap(), rb.unwrap()];
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| **o == UpsertOutcome::Created)
                .count(),
            1,
            "exactly one write creates: {outcomes:?}"
        );
        let stored = store.get(&a.key()).await.unwrap().unwrap();
        assert_eq!(stored.updated_at, at(1), "the newer activity wins");
        assert_eq!(stored.locale.as_deref(), Some("de-DE"));
    }
}

pub async fn status_changes_are_ordered(h: &dyn Harness) {
    let store = h.references(APP).await;
    let r = personal(TENANT, 4, 0);
    store.upsert(&r).await.unwrap();
    let blocked = StatusUpdate {
        status: ReferenceStatus::Blocked,
        at: at(30),
        reason: Some("403 MessageWritesBlocked".into()),
    };
    assert_eq!(
        store.set_status(&r.key(), &blocked).await.unwrap(),
        StatusOutcome::Applied {
            previous: ReferenceStatus::Active
        }
    );
    let stored = store.get(&r.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, ReferenceStatus::Blocked);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("403 MessageWritesBlocked")
    );
    assert!(!stored.is_sendable());

    // A late "installed" from before the block does not undo it.
    let late = StatusUpdate {
        status: ReferenceStatus::Active,
        at: at(10),
        reason: None,
    };
    assert_eq!(
        store.set_status(&r.key(), &late).await.unwrap(),
        StatusOutcome::Stale
    );

    // Upserts from new activities keep the status.
    store.upsert(&personal(TENANT, 4, 40)).await.unwrap();
    assert_eq!(
        store.get(&r.key()).await.unwrap().unwrap().status,
        ReferenceStatus::Blocked
    );

    let reinstall = StatusUpdate {
        status: ReferenceStatus::Active,
        at: at(50),
        reason: None,
    };
    assert_eq!(
        store.set_status(&r.key(), &reinstall).await.unwrap(),
        StatusOutcome::Applied {
            previous: ReferenceStatus::Blocked
        }
    );
    let stored = store.get(&r.key()).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.status_reason),
        (ReferenceStatus::Active, None)
    );

    let missing = key("a:gone");
    assert!(matches!(
        store.set_status(&missing, &reinstall).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn delete_removes(h: &dyn Harness) {
    let store = h.references(APP).await;
    let r = personal(TENANT, 5, 0);
    store.upsert(&r).await.unwrap();
    assert!(store.delete(&r.key()).await.unwrap());
    assert!(!store.delete(&r.key()).await.unwrap());
    assert_eq!(store.get(&r.key()).await.unwrap(), None);
    let tenant = tenant();
    let user = AadObjectId::new(aad(5)).unwrap();
    assert_eq!(store.find_personal(&tenant, &user).await.unwrap(), None);
}

pub async fn other_bots_references_are_never_returned(h: &dyn Harness) {
    let foreign_store = h.references(OTHER_APP).await;
    let mut foreign = personal(TENANT, 8, 0);
    foreign.bot_app_id = BotAppId::new(OTHER_APP).unwrap();
    foreign_store.upsert(&foreign).await.unwrap();
    let mut foreign_channel = channel(TENANT, "19:t@thread.tacv2", "19:t@thread.tacv2", None);
    foreign_channel.bot_app_id = BotAppId::new(OTHER_APP).unwrap();
    foreign_store.upsert(&foreign_channel).await.unwrap();
    drop(foreign_store);

    let store = h.references(APP).await;
    assert_eq!(store.get(&foreign.key()).await.unwrap(), None);
    let tenant = tenant();
    assert_eq!(
        store
            .find_personal(&tenant, &AadObjectId::new(aad(8)).unwrap())
            .await
            .unwrap(),
        None
    );
    let page = store
        .list(&ListFilter::all(), &PageRequest::default())
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert!(
        page.skipped
            .iter()
            .all(|s| matches!(s.reason, SkipReason::ForeignBot(_)))
    );
    assert_eq!(page.skipped.len(), 2);
    assert!(
        store
            .team_channels(&tenant, &TeamId::new("19:t@thread.tacv2").unwrap())
            .await
            .unwrap()
            .is_empty()
    );

    // The new registration's own activity replaces the dead reference.
    let mine = personal(TENANT, 8, 10);
    assert_eq!(store.upsert(&mine).await.unwrap(), UpsertOutcome::Updated);
    assert_eq!(
        store.get(&mine.key()).await.unwrap().map(|r| r.bot_app_id),
        Some(mine.bot_app_id)
    );
}

pub async fn corrupt_items_are_reported_and_skipped(h: &dyn Harness) {
    let store = h.references(APP).await;
    let good = personal(TENANT, 9, 0);
    store.upsert(&good).await.unwrap();
    drop(store);
    h.corrupt_reference(TENANT, "a:broken").await;
    let store = h.references(APP).await;

    let page = store
        .list(&ListFilter::all(), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.items, vec![good.clone()]);
    assert_eq!(page.skipped.len(), 1);
    assert!(page.skipped[0].key.contains("a:broken"));
    assert!(matches!(page.skipped[0].reason, SkipReason::Corrupt(_)));
    let tenant_page = store
        .list(
            &ListFilter {
                tenant: Some(tenant()),
                ..ListFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(tenant_page.items.len(), 1);

    let broken = key("a:broken");
    assert!(matches!(
        store.get(&broken).await,
        Err(StoreError::InvalidData(_))
    ));
    // A fresh activity for that conversation repairs it.
    let mut repaired = personal(TENANT, 10, 0);
    repaired.conversation_id = ConversationId::new("a:broken").unwrap();
    store.upsert(&repaired).await.unwrap();
    assert_eq!(store.get(&broken).await.unwrap(), Some(repaired));
}

pub async fn invalid_references_are_rejected(h: &dyn Harness) {
    let store = h.references(APP).await;
    let mut r = personal(TENANT, 11, 0);
    r.user = None;
    assert!(matches!(
        store.upsert(&r).await,
        Err(StoreError::InvalidData(_))
    ));
    assert_eq!(store.get(&r.key()).await.unwrap(), None);
}

pub async fn data_survives_reopening(h: &dyn Harness) {
    let store = h.references(APP).await;
    let r = personal(TENANT, 12, 0);
    store.upsert(&r).await.unwrap();
    drop(store);
    let store = h.references(APP).await;
    assert_eq!(store.get(&r.key()).await.unwrap(), Some(r));
}
