//! One contract suite, run against both store implementations so they cannot drift: the embedded
//! store on a temporary directory and the DynamoDB store on DynamoDB Local (a table per test).

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, TimeZone as _, Utc};
use herald_domain::{
    AadObjectId, BotAppId, BotId, ChannelId, ChannelInfo, ConversationId, ConversationKey,
    ConversationReference, ConversationType, ReferenceStatus, ServiceUrl, TeamId, TeamInfo,
    TenantId, UserId, UserInfo,
};
use herald_store::{
    Cursor, DynamoReferenceStore, EmbeddedReferenceStore, ListFilter, PageRequest, ReferenceStore,
    SkipReason, StatusOutcome, StatusUpdate, StoreConfig, StoreError, UpsertOutcome,
};

const APP: &str = "00000000-0000-0000-0000-00000000a001";
const OTHER_APP: &str = "00000000-0000-0000-0000-00000000b002";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Opens stores of one implementation over the same data.
#[async_trait]
trait Harness: Send + Sync {
    /// A store acting as bot `app`. For the embedded store, the previous one must be dropped.
    async fn open(&self, app: &str) -> Arc<dyn ReferenceStore>;
    /// Writes an undecodable item under (tenant, conversation), behind the store's back.
    async fn corrupt(&self, tenant: &str, conversation: &str);
}

struct Embedded {
    dir: tempfile::TempDir,
}

#[async_trait]
impl Harness for Embedded {
    async fn open(&self, app: &str) -> Arc<dyn ReferenceStore> {
        Arc::new(
            EmbeddedReferenceStore::open(self.dir.path(), BotAppId::new(app).unwrap()).unwrap(),
        )
    }

    async fn corrupt(&self, tenant: &str, conversation: &str) {
        let db = redb::Database::create(self.dir.path().join("references.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn
                .open_table(redb::TableDefinition::<&str, &[u8]>::new("references"))
                .unwrap();
            let key = format!("{tenant}\u{1f}{conversation}");
            table
                .insert(
                    key.as_str(),
                    br#"{"tenantId": 7, "serviceUrl": "nope"}"#.as_slice(),
                )
                .unwrap();
        }
        txn.commit().unwrap();
    }
}

struct Dynamo {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl Dynamo {
    async fn new() -> Self {
        let harness = Self {
            client: herald_testkit::dynamodb_client(),
            table: herald_testkit::unique_name("references"),
        };
        harness.store(APP).ensure_table().await.unwrap();
        harness
    }

    fn store(&self, app: &str) -> DynamoReferenceStore {
        let config = StoreConfig {
            references_table: self.table.clone(),
            bot_app_id: BotAppId::new(app).unwrap(),
        };
        DynamoReferenceStore::new(self.client.clone(), &config)
    }
}

#[async_trait]
impl Harness for Dynamo {
    async fn open(&self, app: &str) -> Arc<dyn ReferenceStore> {
        Arc::new(self.store(app))
    }

    async fn corrupt(&self, tenant: &str, conversation: &str) {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(tenant.into()))
            .item("sk", AttributeValue::S(conversation.into()))
            .item("tenantId", AttributeValue::N("7".into()))
            .item("serviceUrl", AttributeValue::S("nope".into()))
            .send()
            .await
            .unwrap();
    }
}

// ---- fixtures -------------------------------------------------------------------------------

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn base(
    tenant: &str,
    conversation: &str,
    kind: ConversationType,
    seconds: i64,
) -> ConversationReference {
    ConversationReference {
        tenant_id: TenantId::new(tenant).unwrap(),
        conversation_id: ConversationId::new(conversation).unwrap(),
        conversation_type: kind,
        service_url: ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap(),
        bot_app_id: BotAppId::new(APP).unwrap(),
        bot_id: BotId::new(format!("28:{APP}")).unwrap(),
        user: None,
        team: None,
        channel: None,
        locale: Some("en-US".into()),
        time_zone: None,
        time_zone_override: None,
        status: ReferenceStatus::Active,
        status_reason: None,
        status_changed_at: at(seconds),
        installed_at: at(seconds),
        updated_at: at(seconds),
        last_seen_at: at(seconds),
    }
}

fn personal(tenant: &str, n: u32, seconds: i64) -> ConversationReference {
    let mut r = base(
        tenant,
        &format!("a:1{n:08}-personal-conversation-id-for-user-{n}"),
        ConversationType::Personal,
        seconds,
    );
    r.user = Some(UserInfo {
        id: UserId::new(format!("29:1user-{n:08}-teams-id")).unwrap(),
        aad_object_id: Some(AadObjectId::new(aad(n)).unwrap()),
        name: Some(format!("User Number {n}")),
    });
    r.time_zone = Some("Europe/Berlin".parse().unwrap());
    r
}

fn aad(n: u32) -> String {
    format!("6b2f0c8e-0000-4000-8000-{n:012}")
}

fn channel(tenant: &str, team: &str, id: &str, name: Option<&str>) -> ConversationReference {
    let mut r = base(tenant, id, ConversationType::Channel, 0);
    r.team = Some(TeamInfo {
        id: TeamId::new(team).unwrap(),
        name: Some("Contoso Sales".into()),
        aad_group_id: Some("aad-group-1".into()),
    });
    r.channel = Some(ChannelInfo {
        id: ChannelId::new(id).unwrap(),
        name: name.map(str::to_owned),
    });
    r
}

fn group(tenant: &str, n: u32) -> ConversationReference {
    base(
        tenant,
        &format!("19:group{n}@thread.v2"),
        ConversationType::GroupChat,
        0,
    )
}

async fn list_all(
    store: &dyn ReferenceStore,
    filter: &ListFilter,
    limit: Option<u32>,
) -> Vec<ConversationReference> {
    let mut out = Vec::new();
    let mut request = PageRequest {
        cursor: None,
        limit,
    };
    loop {
        let page = store.list(filter, &request).await.unwrap();
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => request.cursor = Some(c),
            None => return out,
        }
    }
}

// ---- the contract ---------------------------------------------------------------------------

async fn upsert_creates_then_updates(h: &dyn Harness) {
    let store = h.open(APP).await;
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
    let missing = ConversationKey::new(
        TenantId::new(TENANT).unwrap(),
        ConversationId::new("a:none").unwrap(),
    );
    assert_eq!(store.get(&missing).await.unwrap(), None);
}

async fn absent_fields_keep_stored_values(h: &dyn Harness) {
    let store = h.open(APP).await;
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

async fn time_zone_override_survives_activities(h: &dyn Harness) {
    let store = h.open(APP).await;
    let r = personal(TENANT, 13, 0);
    store.upsert(&r).await.unwrap();
    let chosen: herald_domain::TimeZone = "Pacific/Chatham".parse().unwrap();
    store
        .set_time_zone_override(&r.key(), Some(chosen))
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
    store.set_time_zone_override(&r.key(), None).await.unwrap();
    let stored = store.get(&r.key()).await.unwrap().unwrap();
    assert_eq!(
        stored
            .effective_time_zone()
            .map(herald_domain::TimeZone::name),
        Some("Europe/Berlin")
    );
    let missing = ConversationKey::new(
        TenantId::new(TENANT).unwrap(),
        ConversationId::new("a:none").unwrap(),
    );
    assert!(matches!(
        store.set_time_zone_override(&missing, Some(chosen)).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn stale_activity_does_not_win(h: &dyn Harness) {
    let store = h.open(APP).await;
    let mut newer = personal(TENANT, 3, 100);
    newer.service_url = ServiceUrl::parse("https://smba.trafficmanager.net/emea/").unwrap();
    newer.time_zone = Some("America/Los_Angeles".parse().unwrap());
    store.upsert(&newer).await.unwrap();
    let older = personal(TENANT, 3, 50);
    assert_eq!(store.upsert(&older).await.unwrap(), UpsertOutcome::Stale);
    let stored = store.get(&newer.key()).await.unwrap().unwrap();
    assert_eq!(stored, newer);
}

async fn concurrent_upserts_of_one_reference(h: &dyn Harness) {
    let store = h.open(APP).await;
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

async fn status_changes_are_ordered(h: &dyn Harness) {
    let store = h.open(APP).await;
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

    let missing = ConversationKey::new(
        TenantId::new(TENANT).unwrap(),
        ConversationId::new("a:gone").unwrap(),
    );
    assert!(matches!(
        store.set_status(&missing, &reinstall).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn delete_removes(h: &dyn Harness) {
    let store = h.open(APP).await;
    let r = personal(TENANT, 5, 0);
    store.upsert(&r).await.unwrap();
    assert!(store.delete(&r.key()).await.unwrap());
    assert!(!store.delete(&r.key()).await.unwrap());
    assert_eq!(store.get(&r.key()).await.unwrap(), None);
    let tenant = TenantId::new(TENANT).unwrap();
    let user = AadObjectId::new(aad(5)).unwrap();
    assert_eq!(store.find_personal(&tenant, &user).await.unwrap(), None);
}

async fn listings_use_filters_and_cursors(h: &dyn Harness) {
    let store = h.open(APP).await;
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
        tenant: Some(TenantId::new(TENANT).unwrap()),
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

async fn cursors_are_checked(h: &dyn Harness) {
    let store = h.open(APP).await;
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

async fn finds_personal_conversation_by_aad_object_id(h: &dyn Harness) {
    let store = h.open(APP).await;
    let r = personal(TENANT, 6, 0);
    store.upsert(&r).await.unwrap();
    store.upsert(&personal("other-tenant", 6, 0)).await.unwrap();
    let tenant = TenantId::new(TENANT).unwrap();
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

async fn finds_references_by_conversation_id(h: &dyn Harness) {
    let store = h.open(APP).await;
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

async fn lists_recipients_by_effective_zone(h: &dyn Harness) {
    let store = h.open(APP).await;
    let berlin = personal(TENANT, 20, 0); // Europe/Berlin from the client
    let mut unknown = personal(TENANT, 21, 0);
    unknown.time_zone = None;
    let overridden = personal(TENANT, 22, 0);
    for r in [&berlin, &unknown, &overridden] {
        store.upsert(r).await.unwrap();
    }
    let chatham: herald_domain::TimeZone = "Pacific/Chatham".parse().unwrap();
    store
        .set_time_zone_override(&overridden.key(), Some(chatham))
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
        .set_time_zone_override(&overridden.key(), None)
        .await
        .unwrap();
    assert_eq!(
        list_all(&*store, &in_zone("Europe/Berlin"), None)
            .await
            .len(),
        2
    );
}

async fn finds_team_channels_by_name(h: &dyn Harness) {
    let store = h.open(APP).await;
    let team = "19:team-x@thread.tacv2";
    let general = channel(TENANT, team, team, None);
    let ops = channel(TENANT, team, "19:ops-x@thread.tacv2", Some("Ops Alerts"));
    store.upsert(&general).await.unwrap();
    store.upsert(&ops).await.unwrap();
    store.upsert(&group(TENANT, 9)).await.unwrap();
    let team_id = TeamId::new(team).unwrap();
    assert_eq!(store.team_channels(&team_id).await.unwrap().len(), 2);
    assert_eq!(
        store.find_channel(&team_id, "general").await.unwrap(),
        Some(general)
    );
    assert_eq!(
        store.find_channel(&team_id, "ops alerts").await.unwrap(),
        Some(ops)
    );
    assert_eq!(store.find_channel(&team_id, "Random").await.unwrap(), None);
}

async fn other_bots_references_are_never_returned(h: &dyn Harness) {
    let foreign_store = h.open(OTHER_APP).await;
    let mut foreign = personal(TENANT, 8, 0);
    foreign.bot_app_id = BotAppId::new(OTHER_APP).unwrap();
    foreign_store.upsert(&foreign).await.unwrap();
    let mut foreign_channel = channel(TENANT, "19:t@thread.tacv2", "19:t@thread.tacv2", None);
    foreign_channel.bot_app_id = BotAppId::new(OTHER_APP).unwrap();
    foreign_store.upsert(&foreign_channel).await.unwrap();
    drop(foreign_store);

    let store = h.open(APP).await;
    assert_eq!(store.get(&foreign.key()).await.unwrap(), None);
    let tenant = TenantId::new(TENANT).unwrap();
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
            .team_channels(&TeamId::new("19:t@thread.tacv2").unwrap())
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

async fn corrupt_items_are_reported_and_skipped(h: &dyn Harness) {
    let store = h.open(APP).await;
    let good = personal(TENANT, 9, 0);
    store.upsert(&good).await.unwrap();
    drop(store);
    h.corrupt(TENANT, "a:broken").await;
    let store = h.open(APP).await;

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
                tenant: Some(TenantId::new(TENANT).unwrap()),
                ..ListFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(tenant_page.items.len(), 1);

    let broken = ConversationKey::new(
        TenantId::new(TENANT).unwrap(),
        ConversationId::new("a:broken").unwrap(),
    );
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

async fn invalid_references_are_rejected(h: &dyn Harness) {
    let store = h.open(APP).await;
    let mut r = personal(TENANT, 11, 0);
    r.user = None;
    assert!(matches!(
        store.upsert(&r).await,
        Err(StoreError::InvalidData(_))
    ));
    assert_eq!(store.get(&r.key()).await.unwrap(), None);
}

async fn data_survives_reopening(h: &dyn Harness) {
    let store = h.open(APP).await;
    let r = personal(TENANT, 12, 0);
    store.upsert(&r).await.unwrap();
    drop(store);
    let store = h.open(APP).await;
    assert_eq!(store.get(&r.key()).await.unwrap(), Some(r));
}

/// 5,000 references of about 600 bytes are 3 MB: DynamoDB answers in several 1 MB pages.
async fn lists_five_thousand_each_once(h: &dyn Harness) {
    let store = h.open(APP).await;
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

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    let harness = super::Embedded { dir: tempfile::tempdir().unwrap() };
                    super::$name(&harness).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let harness = super::Dynamo::new().await;
                    super::$name(&harness).await;
                }
            )*
        }
    };
}

contract!(
    upsert_creates_then_updates,
    absent_fields_keep_stored_values,
    stale_activity_does_not_win,
    time_zone_override_survives_activities,
    concurrent_upserts_of_one_reference,
    status_changes_are_ordered,
    delete_removes,
    listings_use_filters_and_cursors,
    cursors_are_checked,
    finds_personal_conversation_by_aad_object_id,
    finds_team_channels_by_name,
    finds_references_by_conversation_id,
    lists_recipients_by_effective_zone,
    other_bots_references_are_never_returned,
    corrupt_items_are_reported_and_skipped,
    invalid_references_are_rejected,
    data_survives_reopening,
    lists_five_thousand_each_once,
);
