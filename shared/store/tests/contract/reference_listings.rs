//! The reference store's listings and lookups: filters, cursors, indexes and paging.

use std::collections::HashSet;
use std::sync::Arc;

use herald_domain::{
    AadObjectId, ConversationId, ConversationReference, ConversationType, ReferenceStatus, TeamId,
    TenantId,
};
use herald_store::{Cursor, ListFilter, PageRequest, ReferenceStore, StatusUpdate, StoreError};

use crate::support::{APP, Harness, TENANT, aad, at, channel, group, list_all, personal, tenant};

pub async fn listings_use_filters_and_cursors(h: &dyn Harness) {
    let store = h.references(APP).await;
    let other_tenant = "other-tenant";
    for n in 0..7 {
        store.upsert(&personal(TENANT, 200 + n, 0)).await.unwrap();
    }
    store.upsert(&personal(other_tenant, 300, 0)).await.unwrap();
    for n in 0..3 {
        store.upsert(&group(TENANT, n)).await.unwrap();
    }
    let team = "19:team-a@thread.tacv2";
    store
        .upsert(&channel(TENANT, team, team, None))
        .await
        .unwrap();
    store
        .upsert(&channel(TENANT, team, "19:ops@thread.tacv2", Some("Ops")))
        .await
        .unwrap();
    store
        .upsert(&channel(
            other_tenant,
            "19:team-b@thread.tacv2",
            "19:team-b@thread.tacv2",
            None,
        ))
        .await
        .unwrap();

    let everything = list_all(&*store, &ListFilter::all(), Some(4)).await;
    assert_eq!(everything.len(), 14);
    let unique: HashSet<_> = everything.iter().map(ConversationReference::key).collect();
    assert_eq!(unique.len(), 14, "each reference once");

    let personal_only = ListFilter {
        conversation_type: Some(ConversationType::Personal),
        ..ListFilter::default()
    };
    assert_eq!(list_all(&*store, &personal_only, Some(3)).await.len(), 8);
    let tenant_only = ListFilter {
        tenant: Some(TenantId::new(other_tenant).unwrap()),
        ..ListFilter::default()
    };
    assert_eq!(list_all(&*store, &tenant_only, Some(1)).await.len(), 2);
    let team_filter = ListFilter {
        team: Some(TeamId::new(team).unwrap()),
        ..ListFilter::default()
    };
    assert_eq!(list_all(&*store, &team_filter, None).await.len(), 2);
    let groups_of_tenant = ListFilter {
        tenant: Some(tenant()),
        conversation_type: Some(ConversationType::GroupChat),
        ..ListFilter::default()
    };
    assert_eq!(list_all(&*store, &groups_of_tenant, Some(2)).await.len(), 3);

    let key = personal(TENANT, 200, 0).key();
    store
        .set_status(
            &key,
            &StatusUpdate {
                status: ReferenceStatus::OptedOut,
                at: at(5),
                reason: None,
            },
        )
        .await
        .unwrap();
    let opted_out = ListFilter {
        status: Some(ReferenceStatus::OptedOut),
        ..ListFilter::default()
    };
    let found = list_all(&*store, &opted_out, None).await;
    assert_eq!(
        found
            .iter()
            .map(ConversationReference::key)
            .collect::<Vec<_>>(),
        vec![key]
    );
}

pub async fn cursors_are_checked(h: &dyn Harness) {
    let store = h.references(APP).await;
    for n in 0..3 {
        store.upsert(&personal(TENANT, 400 + n, 0)).await.unwrap();
    }
    let page = store
        .list(
            &ListFilter::all(),
            &PageRequest {
                cursor: None,
                limit: Some(1),
            },
        )
        .await
        .unwrap();
    let cursor = page.next_cursor.expect("more pages");
    let by_type = ListFilter {
        conversation_type: Some(ConversationType::Personal),
        ..ListFilter::default()
    };
    for (filter, cursor) in [
        (&by_type, cursor.clone()),
        (&ListFilter::all(), Cursor::from_client("garbage!")),
        (&ListFilter::all(), Cursor::from_client("")),
    ] {
        let result = store
            .list(
                filter,
                &PageRequest {
                    cursor: Some(cursor),
                    limit: Some(1),
                },
            )
            .await;
        assert!(
            matches!(result, Err(StoreError::InvalidCursor(_))),
            "{result:?}"
        );
    }
}

pub async fn finds_personal_conversation_by_aad_object_id(h: &dyn Harness) {
    let store = h.references(APP).await;
    let r = personal(TENANT, 6, 0);
    store.upsert(&r).await.unwrap();
    store.upsert(&personal("other-tenant", 6, 0)).await.unwrap();
    let tenant = tenant();
    let found = store
        .find_personal(&tenant, &AadObjectId::new(aad(6)).unwrap())
        .await
        .unwrap();
    assert_eq!(found, Some(r));
    assert_eq!(
        store
            .find_personal(&tenant, &AadObjectId::new(aad(7)).unwrap())
            .await
            .unwrap(),
        None
    );
}

pub async fn finds_references_by_conversation_id(h: &dyn Harness) {
    let store = h.references(APP).await;
    let person = personal(TENANT, 14, 0);
    let chat = group("other-tenant", 14);
    let general = channel(TENANT, "19:t14@thread.tacv2", "19:t14@thread.tacv2", None);
    let mut odd = group(TENANT, 15);
    odd.conversation_id = ConversationId::new("odd-shaped-id").unwrap();
    for r in [&person, &chat, &general, &odd] {
        store.upsert(r).await.unwrap();
        assert_eq!(
            store
                .find_by_conversation(&r.conversation_id)
                .await
                .unwrap()
                .as_ref(),
            Some(r)
        );
    }
    assert_eq!(
        store
            .find_by_conversation(&ConversationId::new("a:unknown").unwrap())
            .await
            .unwrap(),
        None
    );
}

pub async fn lists_recipients_by_effective_zone(h: &dyn Harness) {
    let store = h.references(APP).await;
    let berlin = personal(TENANT, 20, 0); // Europe/Berlin from the client
    let mut unknown = personal(TENANT, 21, 0);
    unknown.time_zone = None;
    let overridden = personal(TENANT, 22, 0);
    for r in [&berlin, &unknown, &overridden] {
        store.upsert(r).await.unwrap();
    }
    let chatham: herald_domain::TimeZone = "Pacific/Chatham".parse().unwrap();
    store
        .set_time_zone_override(&overridden.key(), Some(chatham), at(5))
        .await
        .unwrap();
    // A later activity reporting Berlin again does not move the user out of Chatham.
    store.upsert(&personal(TENANT, 22, 10)).await.unwrap();
    let in_zone = |zone: &str| ListFilter {
        zone: Some(zone.to_owned()),
        ..ListFilter::default()
    };
    let keys = |refs: Vec<ConversationReference>| {
        refs.iter()
            .map(ConversationReference::key)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(list_all(&*store, &in_zone("Europe/Berlin"), None).await),
        vec![berlin.key()]
    );
    assert_eq!(
        keys(list_all(&*store, &in_zone("Pacific/Chatham"), None).await),
        vec![overridden.key()]
    );
    assert_eq!(
        keys(list_all(&*store, &in_zone("none"), None).await),
        vec![unknown.key()]
    );
    // Learning a zone moves the reference between zone listings.
    let mut learned = personal(TENANT, 21, 20);
    learned.time_zone = Some("Asia/Kolkata".parse().unwrap());
    store.upsert(&learned).await.unwrap();
    assert!(list_all(&*store, &in_zone("none"), None).await.is_empty());
    assert_eq!(
        keys(list_all(&*store, &in_zone("Asia/Kolkata"), None).await),
        vec![unknown.key()]
    );
    store
        .set_time_zone_override(&overridden.key(), None, at(25))
        .await
        .unwrap();
    assert_eq!(
        list_all(&*store, &in_zone("Europe/Berlin"), None)
            .await
            .len(),
        2
    );
}

/// A channel's or group chat's zone is the one set for it, never a client's: a client zone on
/// the reference (a member's, as a webhook before this rule recorded it) is neither indexed nor
/// kept, and clearing the conversation's zone leaves it in the default zone's `none`.
pub async fn shared_conversations_list_by_the_zone_set_in_them(h: &dyn Harness) {
    let store = h.references(APP).await;
    let berlin: herald_domain::TimeZone = "Europe/Berlin".parse().unwrap();
    let team = "19:team-z@thread.tacv2";
    let mut general = channel(TENANT, team, team, None);
    let mut chat = group(TENANT, 40);
    for shared in [&mut general, &mut chat] {
        shared.time_zone = Some(berlin);
        store.upsert(shared).await.unwrap();
    }
    let in_zone = |zone: &str| ListFilter {
        zone: Some(zone.to_owned()),
        ..ListFilter::default()
    };
    let keys = |refs: Vec<ConversationReference>| {
        let mut keys: Vec<String> = refs.iter().map(|r| r.key().to_string()).collect();
        keys.sort();
        keys
    };
    let mut both = vec![general.key().to_string(), chat.key().to_string()];
    both.sort();
    assert!(
        list_all(&*store, &in_zone("Europe/Berlin"), None)
            .await
            .is_empty()
    );
    assert_eq!(keys(list_all(&*store, &in_zone("none"), None).await), both);
    let tokyo: herald_domain::TimeZone = "Asia/Tokyo".parse().unwrap();
    for shared in [&general, &chat] {
        store
            .set_time_zone_override(&shared.key(), Some(tokyo), at(25))
            .await
            .unwrap();
        assert_eq!(
            store.get(&shared.key()).await.unwrap().unwrap().time_zone,
            None
        );
    }
    // Members keep speaking from Berlin: the set zone stands.
    for shared in [&general, &chat] {
        let mut again = shared.clone();
        again.updated_at = at(30);
        store.upsert(&again).await.unwrap();
    }
    assert_eq!(
        keys(list_all(&*store, &in_zone("Asia/Tokyo"), None).await),
        both
    );
    for shared in [&general, &chat] {
        store
            .set_time_zone_override(&shared.key(), None, at(35))
            .await
            .unwrap();
    }
    assert!(
        list_all(&*store, &in_zone("Europe/Berlin"), None)
            .await
            .is_empty()
    );
    assert_eq!(keys(list_all(&*store, &in_zone("none"), None).await), both);
}

pub async fn finds_team_channels_by_name(h: &dyn Harness) {
    let store = h.references(APP).await;
    let team = "19:team-x@thread.tacv2";
    let general = channel(TENANT, team, team, None);
    let ops = channel(TENANT, team, "19:ops-x@thread.tacv2", Some("Ops Alerts"));
    store.upsert(&general).await.unwrap();
    store.upsert(&ops).await.unwrap();
    store.upsert(&group(TENANT, 9)).await.unwrap();
    let team_id = TeamId::new(team).unwrap();
    let tenant = tenant();
    assert_eq!(
        store.team_channels(&tenant, &team_id).await.unwrap().len(),
        2
    );
    assert_eq!(
        store
            .find_channel(&tenant, &team_id, "general")
            .await
            .unwrap(),
        Some(general)
    );
    assert_eq!(
        store
            .find_channel(&tenant, &team_id, "ops alerts")
            .await
            .unwrap(),
        Some(ops)
    );
    assert_eq!(
        store
            .find_channel(&tenant, &team_id, "Random")
            .await
            .unwrap(),
        None
    );
}

/// A team id another tenant's activities name (the same ids, even the same channel ids) is a
/// different team: lookups by team stay in the tenant they are asked for.
pub async fn team_channels_stay_in_their_tenant(h: &dyn Harness) {
    let store = h.references(APP).await;
    let team = "19:shared-id@thread.tacv2";
    let other_tenant = "0a1b2c3d-0000-4000-8000-00000000beef";
    let ours = [
        channel(TENANT, team, team, None),
        channel(TENANT, team, "19:ops-s@thread.tacv2", Some("Ops")),
    ];
    let theirs = [
        channel(other_tenant, team, team, None),
        channel(other_tenant, team, "19:ops-s@thread.tacv2", Some("Ops")),
        channel(other_tenant, team, "19:sales-s@thread.tacv2", Some("Sales")),
    ];
    for reference in ours.iter().chain(&theirs) {
        store.upsert(reference).await.unwrap();
    }
    let team_id = TeamId::new(team).unwrap();
    let keys = |references: Vec<ConversationReference>| {
        let mut keys: Vec<String> = references.iter().map(|r| r.key().to_string()).collect();
        keys.sort();
        keys
    };
    let expected = |references: &[ConversationReference]| keys(references.to_vec());
    let ours_tenant = tenant();
    let other = TenantId::new(other_tenant).unwrap();
    assert_eq!(
        keys(store.team_channels(&ours_tenant, &team_id).await.unwrap()),
        expected(&ours)
    );
    assert_eq!(
        keys(store.team_channels(&other, &team_id).await.unwrap()),
        expected(&theirs)
    );
    assert_eq!(
        store
            .find_channel(&ours_tenant, &team_id, "Ops")
            .await
            .unwrap(),
        Some(ours[1].clone())
    );
    assert_eq!(
        store
            .find_channel(&other, &team_id, "general")
            .await
            .unwrap(),
        Some(theirs[0].clone())
    );
    assert_eq!(
        store
            .find_channel(&ours_tenant, &team_id, "Sales")
            .await
            .unwrap(),
        None
    );
    let unknown = TenantId::new("11111111-2222-4333-8444-555555555555").unwrap();
    assert!(
        store
            .team_channels(&unknown, &team_id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// 5,000 references of about 600 bytes are 3 MB: DynamoDB answers in several 1 MB pages.
pub async fn lists_five_thousand_each_once(h: &dyn Harness) {
    let store = h.references(APP).await;
    let total = 5_000u32;
    let mut writes = futures_unordered(total, &store);
    while let Some(result) = writes.join_next().await {
        result.unwrap();
    }
    let mut seen = HashSet::new();
    let mut pages = 0;
    let mut request = PageRequest::default();
    loop {
        let page = store.list(&ListFilter::all(), &request).await.unwrap();
        pages += 1;
        for r in page.items {
            assert!(seen.insert(r.key()), "{} returned twice", r.key());
        }
        match page.next_cursor {
            Some(c) => request.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), total as usize);
    assert!(pages >= 3, "expected several pages, got {pages}");
}

/// Writes `total` personal references, 32 at a time.
fn futures_unordered(total: u32, store: &Arc<dyn ReferenceStore>) -> tokio::task::JoinSet<()> {
    let mut set = tokio::task::JoinSet::new();
    let chunk = total.div_ceil(32);
    for start in (0..total).step_by(chunk as usize) {
        let store = Arc::clone(store);
        set.spawn(async move {
            for n in start..(start + chunk).min(total) {
                let mut r = personal(TENANT, 10_000 + n, 0);
                r.team = None;
                if let Some(user) = r.user.as_mut() {
                    user.name = Some(format!(
                        "A realistic display name for user {n} ({})",
                        "x".repeat(180)
                    ));
                }
                store.upsert(&r).await.unwrap();
            }
        });
    }
    set
}
