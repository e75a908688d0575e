//! The two backends behind one harness, and the fixtures the suites share.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, TimeZone as _, Utc};
use herald_domain::{
    AadObjectId, BotAppId, ChannelId, ChannelInfo, ConversationId, ConversationKey,
    ConversationReference, ConversationType, ServiceUrl, TeamId, TeamInfo, TenantId, UserId,
    UserInfo,
};
use herald_store::{
    DynamoReferenceStore, DynamoScheduleStore, EmbeddedReferenceStore, EmbeddedScheduleStore,
    ListFilter, PageRequest, REFERENCES_FILE_NAME, ReferenceStore, SCHEDULES_FILE_NAME,
    ScheduleStore, StoreConfig,
};
use tokio::sync::OnceCell;

pub const APP: &str = "00000000-0000-0000-0000-00000000a001";
pub const OTHER_APP: &str = "00000000-0000-0000-0000-00000000b002";
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Opens stores of one backend over the same data.
#[async_trait]
pub trait Harness: Send + Sync {
    /// A reference store acting as bot `app`. For the embedded backend, the previous one must be
    /// dropped.
    async fn references(&self, app: &str) -> Arc<dyn ReferenceStore>;
    /// Writes an undecodable reference under (tenant, conversation), behind the store's back.
    async fn corrupt_reference(&self, tenant: &str, conversation: &str);
    /// The schedule store. For the embedded backend, the previous one must be dropped.
    async fn schedules(&self) -> Arc<dyn ScheduleStore>;
    /// Writes an undecodable schedule under `id`, behind the store's back.
    async fn corrupt_schedule(&self, id: &str);
}

/// `redb` files in a temporary directory.
pub struct Embedded {
    pub dir: tempfile::TempDir,
}

impl Embedded {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Inserts `value` under `key` into `table` of the file `file_name`, as no store would.
    fn plant(&self, file_name: &str, table: &str, key: &str, value: &[u8]) {
        let db = redb::Database::create(self.dir.path().join(file_name)).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(redb::TableDefinition::<&str, &[u8]>::new(table))
            .unwrap()
            .insert(key, value)
            .unwrap();
        txn.commit().unwrap();
    }
}

#[async_trait]
impl Harness for Embedded {
    async fn references(&self, app: &str) -> Arc<dyn ReferenceStore> {
        Arc::new(
            EmbeddedReferenceStore::open(self.dir.path(), BotAppId::new(app).unwrap()).unwrap(),
        )
    }

    async fn corrupt_reference(&self, tenant: &str, conversation: &str) {
        let key = format!("{tenant}\u{1f}{conversation}");
        let value = br#"{"tenantId": 7, "serviceUrl": "nope"}"#;
        self.plant(REFERENCES_FILE_NAME, "references", &key, value);
    }

    async fn schedules(&self) -> Arc<dyn ScheduleStore> {
        Arc::new(EmbeddedScheduleStore::open(self.dir.path()).unwrap())
    }

    async fn corrupt_schedule(&self, id: &str) {
        let value = br#"{"id": 7, "rule": "nope"}"#;
        self.plant(SCHEDULES_FILE_NAME, "schedules", id, value);
    }
}

/// DynamoDB Local, a table per test and store, created when first used.
pub struct Dynamo {
    client: aws_sdk_dynamodb::Client,
    references: String,
    schedules: String,
    references_created: OnceCell<()>,
    schedules_created: OnceCell<()>,
}

impl Dynamo {
    pub fn new() -> Self {
        Self {
            client: herald_testkit::dynamodb_client(),
            references: herald_testkit::unique_name("references"),
            schedules: herald_testkit::unique_name("schedules"),
            references_created: OnceCell::new(),
            schedules_created: OnceCell::new(),
        }
    }

    fn reference_store(&self, app: &str) -> DynamoReferenceStore {
        let config = StoreConfig {
            references_table: self.references.clone(),
            bot_app_id: BotAppId::new(app).unwrap(),
        };
        DynamoReferenceStore::new(self.client.clone(), &config)
    }

    async fn reference_table(&self) -> &str {
        self.references_created
            .get_or_init(|| async { self.reference_store(APP).ensure_table().await.unwrap() })
            .await;
        &self.references
    }

    async fn schedule_store(&self) -> DynamoScheduleStore {
        let store = DynamoScheduleStore::new(self.client.clone(), self.schedules.clone());
        self.schedules_created
            .get_or_init(|| async { store.ensure_table().await.unwrap() })
            .await;
        store
    }

    /// Puts an item with these string and number attributes, as no store would.
    async fn plant(&self, table: &str, attributes: &[(&str, AttributeValue)]) {
        let item = attributes
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
}

#[async_trait]
impl Harness for Dynamo {
    async fn references(&self, app: &str) -> Arc<dyn ReferenceStore> {
        self.reference_table().await;
        Arc::new(self.reference_store(app))
    }

    async fn corrupt_reference(&self, tenant: &str, conversation: &str) {
        let table = self.reference_table().await.to_owned();
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let attributes = [
            ("pk", s(tenant)),
            ("sk", s(conversation)),
            ("tenantId", AttributeValue::N("7".into())),
            ("serviceUrl", s("nope")),
        ];
        self.plant(&table, &attributes).await;
    }

    async fn schedules(&self) -> Arc<dyn ScheduleStore> {
        Arc::new(self.schedule_store().await)
    }

    async fn corrupt_schedule(&self, id: &str) {
        self.schedule_store().await;
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let attributes = [
            ("pk", s(id)),
            ("sk", s("#schedule")),
            ("id", AttributeValue::N("7".into())),
            ("rule", s("nope")),
        ];
        self.plant(&self.schedules, &attributes).await;
    }
}

// ---- fixtures -------------------------------------------------------------------------------

pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::seconds(seconds)
}

pub fn tenant() -> TenantId {
    TenantId::new(TENANT).unwrap()
}

/// The key of a conversation of [`TENANT`].
pub fn key(conversation: &str) -> ConversationKey {
    ConversationKey::new(tenant(), ConversationId::new(conversation).unwrap())
}

fn base(
    tenant: &str,
    conversation: &str,
    kind: ConversationType,
    seconds: i64,
) -> ConversationReference {
    herald_testkit::reference(
        tenant,
        conversation,
        kind,
        ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap(),
        &BotAppId::new(APP).unwrap(),
        at(seconds),
    )
}

pub fn personal(tenant: &str, n: u32, seconds: i64) -> ConversationReference {
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

pub fn aad(n: u32) -> String {
    format!("6b2f0c8e-0000-4000-8000-{n:012}")
}

pub fn channel(tenant: &str, team: &str, id: &str, name: Option<&str>) -> ConversationReference {
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

pub fn group(tenant: &str, n: u32) -> ConversationReference {
    base(
        tenant,
        &format!("19:group{n}@thread.v2"),
        ConversationType::GroupChat,
        0,
    )
}

/// Every reference a listing returns, page after page.
pub async fn list_all(
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
