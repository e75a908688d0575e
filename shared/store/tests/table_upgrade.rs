//! A references table made before `byPreviousZone` existed gains the index when the store ensures
//! its table (the local runner's bootstrap does), and lists by it.
//!
//! DynamoDB Local brings a new index on an existing table to `ACTIVE` in seconds on a fresh
//! database, but leaves it `CREATING` for minutes in one the other suites have filled with
//! tables: this test keeps to a database of its own (DynamoDB Local keeps one per access key
//! and region).

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use herald_domain::{AadObjectId, BotAppId, ConversationType, ServiceUrl, UserId, UserInfo};
use herald_store::schema::{self, TableSchema};
use herald_store::{
    DynamoReferenceStore, ListFilter, PageRequest, ReferenceLister, ReferenceWriter, StoreConfig,
};

const APP: &str = "00000000-0000-0000-0000-00000000a001";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::seconds(seconds)
}

/// Megan's personal chat, her Teams client reporting `zone` at `seconds`.
fn megan_in(zone: &str, seconds: i64) -> herald_domain::ConversationReference {
    let mut r = herald_testkit::reference(
        TENANT,
        "a:1megan-personal-chat",
        ConversationType::Personal,
        ServiceUrl::parse("https://smba.trafficmanager.net/emea/").unwrap(),
        &BotAppId::new(APP).unwrap(),
        at(seconds),
    );
    r.user = Some(UserInfo {
        id: UserId::new("29:1megan").unwrap(),
        aad_object_id: Some(AadObjectId::new("aad-megan").unwrap()),
        name: Some("Megan Bowen".into()),
    });
    r.time_zone = Some(zone.parse().unwrap());
    r
}

#[tokio::test]
async fn an_older_table_gains_the_previous_zone_index() {
    let config = aws_sdk_dynamodb::config::Builder::from(&herald_testkit::aws_config(
        herald_testkit::dynamodb_endpoint(),
    ))
    .region(aws_sdk_dynamodb::config::Region::new("eu-north-1"))
    .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = herald_testkit::unique_name("references");
    let older = TableSchema {
        indexes: &[
            schema::BY_TYPE,
            schema::BY_TEAM,
            schema::BY_USER,
            schema::BY_ZONE,
        ],
        ..schema::REFERENCES
    };
    older.create(&client, &table).await.unwrap();
    let store = DynamoReferenceStore::new(
        client,
        &StoreConfig {
            references_table: table,
            bot_app_id: BotAppId::new(APP).unwrap(),
        },
    );
    store.ensure_table().await.unwrap();
    store.upsert(&megan_in("Europe/Berlin", 0)).await.unwrap();
    store.upsert(&megan_in("Asia/Tokyo", 60)).await.unwrap();
    let left_berlin = ListFilter {
        previous_zone: Some("Europe/Berlin".into()),
        ..ListFilter::default()
    };
    let page = store
        .list(&left_berlin, &PageRequest::default())
        .await
        .unwrap();
    let names: Vec<_> = page
        .items
        .iter()
        .filter_map(|r| r.user.as_ref()?.name.as_deref())
        .collect();
    assert_eq!(names, ["Megan Bowen"]);
    assert_eq!(page.next_cursor, None);
    // Ensuring it again changes nothing.
    store.ensure_table().await.unwrap();
}
