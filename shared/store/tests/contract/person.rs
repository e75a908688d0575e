//! One personal record per person: the chat Graph names `19:...@unq.gbl.spaces` and the
//! connector's `a:` id of the same chat fold into one record, whichever is written first, and an
//! opt-out or block of the person in either wins.

use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationReference, ConversationType, ReferenceStatus,
};
use herald_store::{ListFilter, ReferenceStore, StatusOutcome, StatusUpdate, UpsertOutcome};

use crate::support::{APP, Harness, OTHER_APP, TENANT, aad, at, list_all, personal, tenant};

/// The chat Graph names for person `n` ([`personal`]'s), seen `seconds` in.
fn graph_chat(n: u32, seconds: i64) -> ConversationReference {
    let mut alias = personal(TENANT, n, seconds);
    alias.conversation_id =
        ConversationId::new(format!("19:{}_{APP}@unq.gbl.spaces", aad(n))).unwrap();
    alias
}

fn status(status: ReferenceStatus, seconds: i64) -> StatusUpdate {
    StatusUpdate {
        status,
        at: at(seconds),
        reason: Some(format!("{} in the test", status.as_str())),
    }
}

/// The person's records in the tenant.
async fn records_of(store: &dyn ReferenceStore, n: u32) -> Vec<ConversationReference> {
    let filter = ListFilter {
        tenant: Some(tenant()),
        conversation_type: Some(ConversationType::Personal),
        ..ListFilter::default()
    };
    let user = AadObjectId::new(aad(n)).unwrap();
    list_all(store, &filter, None)
        .await
        .into_iter()
        .filter(|r| r.user.as_ref().and_then(|u| u.aad_object_id.as_ref()) == Some(&user))
        .collect()
}

pub async fn a_persons_chat_ids_fold_into_one_record(h: &dyn Harness) {
    let store = h.references(APP).await;
    let user = AadObjectId::new(aad(20)).unwrap();

    // The person typed stop in their chat; then Graph's name for it was stored, active.
    let connector = personal(TENANT, 20, 0);
    store.upsert(&connector).await.unwrap();
    let stop = status(ReferenceStatus::OptedOut, 10);
    store.set_status(&connector.key(), &stop).await.unwrap();
    let alias = graph_chat(20, 60);
    assert_eq!(store.upsert(&alias).await.unwrap(), UpsertOutcome::Updated);

    let records = records_of(store.as_ref(), 20).await;
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].conversation_id, connector.conversation_id);
    assert_eq!(records[0].status, ReferenceStatus::OptedOut);
    assert_eq!(records[0].status_changed_at, at(10));
    assert_eq!(store.get(&alias.key()).await.unwrap(), None);
    let found = store
        .find_personal(&tenant(), &user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.conversation_id, connector.conversation_id);
    assert_eq!(found.status, ReferenceStatus::OptedOut);
    // Activities go on updating the one record.
    let later = personal(TENANT, 20, 120);
    assert_eq!(store.upsert(&later).await.unwrap(), UpsertOutcome::Updated);
    assert_eq!(records_of(store.as_ref(), 20).await.len(), 1);
}

pub async fn a_block_through_graphs_chat_id_wins_when_teams_speaks_of_the_chat(h: &dyn Harness) {
    let store = h.references(APP).await;
    // Sent through Graph's chat id, the send was refused: blocked. The chat's own id comes later.
    let connector = personal(TENANT, 21, 30);
    let mut alias = graph_chat(21, 0);
    alias.time_zone_override = Some("Asia/Tokyo".parse().unwrap());
    alias.time_zone = None;
    store.upsert(&alias).await.unwrap();
    store
        .set_status(&alias.key(), &status(ReferenceStatus::Blocked, 5))
        .await
        .unwrap();
    assert_eq!(
        store.upsert(&connector).await.unwrap(),
        UpsertOutcome::Updated
    );

    let records = records_of(store.as_ref(), 21).await;
    assert_eq!(records.len(), 1, "{records:#?}");
    let kept = &records[0];
    assert_eq!(kept.conversation_id, connector.conversation_id);
    assert_eq!(kept.status, ReferenceStatus::Blocked);
    assert_eq!(
        kept.installed_at,
        at(0),
        "installed since Graph found the chat"
    );
    assert_eq!(
        kept.time_zone_override.map(herald_domain::TimeZone::name),
        Some("Asia/Tokyo")
    );
    assert_eq!(store.get(&alias.key()).await.unwrap(), None);
    // The zone index holds the one record under the person's zone.
    let filter = ListFilter {
        zone: Some("Asia/Tokyo".into()),
        ..ListFilter::default()
    };
    let in_tokyo = list_all(store.as_ref(), &filter, None).await;
    assert_eq!(
        in_tokyo
            .iter()
            .map(|r| r.conversation_id.clone())
            .collect::<Vec<_>>(),
        vec![connector.conversation_id.clone()]
    );
    // The person's later start applies to the one record.
    let start = status(ReferenceStatus::Active, 40);
    assert!(matches!(
        store.set_status(&connector.key(), &start).await.unwrap(),
        StatusOutcome::Applied { .. }
    ));
    let found = store
        .find_personal(&tenant(), &AadObjectId::new(aad(21)).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.status, ReferenceStatus::Active);
}

pub async fn another_bots_chat_with_the_person_is_not_folded(h: &dyn Harness) {
    let foreign_store = h.references(OTHER_APP).await;
    let mut foreign = personal(TENANT, 22, 0);
    foreign.bot_app_id = BotAppId::new(OTHER_APP).unwrap();
    foreign.conversation_id = ConversationId::new("a:1other-bots-chat").unwrap();
    foreign_store.upsert(&foreign).await.unwrap();
    drop(foreign_store);

    let store = h.references(APP).await;
    let mine = personal(TENANT, 22, 10);
    assert_eq!(store.upsert(&mine).await.unwrap(), UpsertOutcome::Created);
    drop(store);
    let foreign_store = h.references(OTHER_APP).await;
    assert_eq!(
        foreign_store.get(&foreign.key()).await.unwrap(),
        Some(foreign)
    );
}
