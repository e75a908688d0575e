//! What is left of waits that ended elsewhere, and wait items that cannot be read: each backend
//! plants them behind the store's back, then both must behave alike.

use herald_domain::DeliveryStatus;
use herald_store::{
    DynamoOutboxStore, EmbeddedOutboxStore, InstallWait, NotificationId, OutboxStore, StoreError,
};

use crate::support::{Outbox, at, expanded, finished, install, person, recipient_waits, wait_of};

/// Both stores, after the leftovers of `leftover` (a wait whose delivery is gone) were planted
/// beside the live `wait`: ending the leftover changes nothing and removes only its items.
async fn leftovers_go_quietly(store: &dyn Outbox, wait: &InstallWait, leftover: &InstallWait) {
    let mut found = recipient_waits(store, &wait.tenant_id, &wait.recipient).await;
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
        recipient_waits(store, &wait.tenant_id, &wait.recipient).await,
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
