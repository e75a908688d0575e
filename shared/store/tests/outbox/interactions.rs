//! What people do with sent copies: the copies indexed with their outcome, card actions recorded
//! once, read receipts marking exactly the copies they cover, edits of every copy, follow-ups.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use herald_domain::cards::CardAnswer;
use herald_domain::{ConversationId, ConversationType, DeliveryStatus, TenantId};
use herald_store::{
    CardActionRecord, DeliveryRecord, EditRequest, FollowUp, FollowUpDue, NotificationId,
    OutboxChange, ReadReceipt, Revision, STRANDED_AFTER, SentCopy,
};
use serde_json::json;

use crate::support::{
    Outbox, assert_never_stranded, at, claim_and_send, delivery, delivery_now, notification,
};

/// A notification with one delivery to conversation `n` (of `kind`), sent as `activity_id`.
async fn sent_copy(
    store: &dyn Outbox,
    n: u32,
    kind: ConversationType,
    activity_id: &str,
) -> SentCopy {
    let id = NotificationId::random();
    let d = DeliveryRecord {
        conversation_type: kind,
        ..delivery(&id, n, DeliveryStatus::Pending)
    };
    store
        .create_notification(&notification(id.clone()))
        .await
        .unwrap();
    assert!(
        store
            .append_page(&id, None, None, std::slice::from_ref(&d))
            .await
            .unwrap()
    );
    claim_and_send(store, &d, activity_id).await
}

pub async fn copies_are_indexed_with_the_sent_outcome(store: Arc<dyn Outbox>) {
    let copy = sent_copy(&*store, 1, ConversationType::Personal, "1767765488332").await;
    let found = store
        .find_copy(&copy.tenant_id, &copy.conversation_id, "1767765488332")
        .await
        .unwrap();
    assert_eq!(found, Some(copy.clone()));
    let stored = delivery_now(&*store, &copy.notification_id, &copy.delivery_id).await;
    assert_eq!(stored.sent_at, Some(copy.sent_at));
    assert_eq!(stored.content_version, copy.content_version);
    // Another id, another conversation, another tenant: no such copy.
    let other = ConversationId::new("a:conversation-2").unwrap();
    let elsewhere = TenantId::new("tenant-2").unwrap();
    for (tenant, conversation, activity) in [
        (&copy.tenant_id, &copy.conversation_id, "1767765488333"),
        (&copy.tenant_id, &other, "1767765488332"),
        (&elsewhere, &copy.conversation_id, "1767765488332"),
    ] {
        assert_eq!(
            store
                .find_copy(tenant, conversation, activity)
                .await
                .unwrap(),
            None
        );
    }
}

pub async fn read_receipts_mark_exactly_the_copies_they_cover(store: Arc<dyn Outbox>) {
    // Three copies in one personal chat; "900" sorts after "1000" as text, before it as a number.
    let mut copies = Vec::new();
    for id in ["1100", "900", "1000"] {
        copies.push(sent_copy(&*store, 1, ConversationType::Personal, id).await);
    }
    let group = sent_copy(&*store, 2, ConversationType::GroupChat, "800").await;
    let (tenant, chat) = (&copies[0].tenant_id, &copies[0].conversation_id);

    let marked = store
        .mark_read(&ReadReceipt::new(tenant, chat, "1000", at(5)))
        .await
        .unwrap();
    let mut ids: Vec<&str> = marked.iter().map(|c| c.activity_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["1000", "900"]);
    assert!(marked.iter().all(|c| c.read_at == Some(at(5))));
    for copy in &copies {
        let header = store
            .get_notification(&copy.notification_id)
            .await
            .unwrap()
            .unwrap();
        let d = delivery_now(&*store, &copy.notification_id, &copy.delivery_id).await;
        let read = copy.activity_id != "1100";
        assert_eq!((header.read, d.read_at.is_some()), (i64::from(read), read));
        let indexed = store
            .find_copy(tenant, chat, &copy.activity_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(indexed.read_at.is_some(), read, "{}", copy.activity_id);
    }
    // The same receipt again marks nothing; a later one marks the rest, once.
    assert!(
        store
            .mark_read(&ReadReceipt::new(tenant, chat, "1000", at(6)))
            .await
            .unwrap()
            .is_empty()
    );
    let rest = store
        .mark_read(&ReadReceipt::new(tenant, chat, "1100", at(7)))
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].activity_id, "1100");
    // Group chats send no read receipts: a receipt there marks nothing.
    assert!(
        store
            .mark_read(&ReadReceipt::new(
                &group.tenant_id,
                &group.conversation_id,
                "900",
                at(8)
            ))
            .await
            .unwrap()
            .is_empty()
    );
    let header = store
        .get_notification(&group.notification_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(header.read, 0);
}

pub async fn card_actions_are_recorded_once(store: Arc<dyn Outbox>) {
    let copy = sent_copy(&*store, 1, ConversationType::Channel, "1:root").await;
    let action = |action_id: &str, verb: &str| CardActionRecord {
        action_id: action_id.to_owned(),
        notification_id: copy.notification_id.clone(),
        delivery_id: copy.delivery_id.clone(),
        verb: verb.to_owned(),
        at: at(9),
        expires_at: copy.expires_at,
    };
    assert!(
        store
            .record_action(&action("f:1", "approve"))
            .await
            .unwrap()
    );
    // Teams redelivers the same invoke: nothing moves.
    assert!(
        !store
            .record_action(&action("f:1", "approve"))
            .await
            .unwrap()
    );
    assert!(
        store
            .record_action(&action("f:2", "approve"))
            .await
            .unwrap()
    );
    assert!(store.record_action(&action("f:3", "reject")).await.unwrap());
    let header = store
        .get_notification(&copy.notification_id)
        .await
        .unwrap()
        .unwrap();
    let expected = BTreeMap::from([("approve".to_owned(), 2), ("reject".to_owned(), 1)]);
    assert_eq!(header.actions, expected);
    let d = delivery_now(&*store, &copy.notification_id, &copy.delivery_id).await;
    assert_eq!(d.actions, expected);
}

pub async fn interactive_notifications_keep_their_settings_apart(store: Arc<dyn Outbox>) {
    let plain = NotificationId::random();
    store
        .create_notification(&notification(plain.clone()))
        .await
        .unwrap();
    assert_eq!(store.settings(&plain).await.unwrap(), None);

    let id = NotificationId::random();
    let card = json!({"type": "AdaptiveCard", "version": "1.4", "body": [],
                      "actions": [{"type": "Action.Execute", "verb": "approve"}]});
    let mut record = notification(id.clone());
    record.activity = json!({"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]});
    record.callback = Some("https://hooks.contoso.com/herald".to_owned());
    record.acknowledgement = Some(CardAnswer::Message("Thanks".to_owned()));
    assert_eq!(store.create_notification(&record).await.unwrap(), None);
    let settings = store.settings(&id).await.unwrap().unwrap();
    assert_eq!(settings.callback, record.callback);
    assert_eq!(settings.acknowledgement, record.acknowledgement);
    assert_eq!(settings.card, Some(card));
    // Creating it again changes nothing.
    let mut again = record.clone();
    again.callback = Some("https://elsewhere.example/".to_owned());
    assert_eq!(
        store.create_notification(&again).await.unwrap(),
        Some(record)
    );
    assert_eq!(store.settings(&id).await.unwrap(), Some(settings));
}

pub async fn replaced_content_asks_for_one_edit_job(store: Arc<dyn Outbox>) {
    let copy = sent_copy(&*store, 1, ConversationType::Personal, "100").await;
    let id = copy.notification_id.clone();
    assert_eq!(store.edit_request(&id).await.unwrap(), None);
    let approved = json!({"type": "message", "text": "Approved by Megan at 10:42"});
    assert!(
        store
            .revise_content(
                &id,
                &Revision::Update(approved.clone()),
                at(10),
                Some(at(40))
            )
            .await
            .unwrap()
            .is_some()
    );
    let header = store.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(
        (header.activity, header.content_version),
        (approved.clone(), 1)
    );
    assert_eq!(
        store.edit_request(&id).await.unwrap(),
        Some(EditRequest {
            requests: 1,
            held_until: Some(at(40))
        })
    );
    // The API request that held the job is done: the job runs now.
    store.rearm_edit(&id, at(10)).await.unwrap();
    assert_eq!(
        store.edit_request(&id).await.unwrap(),
        Some(EditRequest {
            requests: 1,
            held_until: None
        })
    );
    // A second request while the job runs: finishing the first does not end the second.
    assert!(
        store
            .revise_content(&id, &Revision::Update(approved.clone()), at(11), None)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        !store
            .finish_edit(
                &id,
                &EditRequest {
                    requests: 1,
                    held_until: None
                }
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_edit(
                &id,
                &EditRequest {
                    requests: 2,
                    held_until: None
                }
            )
            .await
            .unwrap()
    );
    assert_eq!(store.edit_request(&id).await.unwrap(), None);
    assert_eq!(
        store
            .revise_content(
                &NotificationId::random(),
                &Revision::Update(approved),
                at(12),
                None
            )
            .await
            .unwrap(),
        None
    );

    // A copy edited to version 2 stays there (a late version 1 does not move it back).
    store
        .mark_edited(&id, &copy.delivery_id, "100", 2)
        .await
        .unwrap();
    store
        .mark_edited(&id, &copy.delivery_id, "100", 1)
        .await
        .unwrap();
    let d = delivery_now(&*store, &id, &copy.delivery_id).await;
    assert_eq!(
        (d.content_version, d.activity_id.as_deref()),
        (2, Some("100"))
    );
    assert!(
        store
            .mark_edited(
                &id,
                &herald_domain::DeliveryId::parse("t|x").unwrap(),
                "1",
                1
            )
            .await
            .is_err()
    );
}

pub async fn unfinished_edit_jobs_are_stranded_work(store: Arc<dyn Outbox>) {
    let copy = sent_copy(&*store, 1, ConversationType::Personal, "100").await;
    let id = copy.notification_id.clone();
    let text = json!({"type": "message", "text": "v2"});
    assert_eq!(
        store
            .revise_content(&id, &Revision::Update(text), at(10), None)
            .await
            .unwrap(),
        Some(1)
    );
    let edit = OutboxChange::Edit(id.clone());
    assert!(!store.stranded(at(11), 10).await.unwrap().contains(&edit));
    let due = at(10) + STRANDED_AFTER;
    assert!(store.stranded(due, 10).await.unwrap().contains(&edit));
    assert!(store.wake(&edit, due).await.unwrap());
    assert!(!store.stranded(due, 10).await.unwrap().contains(&edit));
    store.rearm_edit(&id, due).await.unwrap();
    let request = store.edit_request(&id).await.unwrap().unwrap();
    assert!(store.finish_edit(&id, &request).await.unwrap());
    assert_never_stranded(&*store, &edit).await;
    let much_later = at(0) + STRANDED_AFTER * 10;
    assert!(!store.wake(&edit, much_later).await.unwrap());
}

pub async fn follow_ups_come_due_through_their_index(store: Arc<dyn Outbox>) {
    let ids: Vec<NotificationId> = (0..3).map(|_| NotificationId::random()).collect();
    for (n, id) in ids.iter().enumerate() {
        let mut record = notification(id.clone());
        // The second has none.
        if n != 1 {
            record.follow_up = Some(FollowUp {
                if_unread_after: "PT4H".to_owned(),
                due_at: at(0) + Duration::hours(4) + Duration::seconds(i64::try_from(n).unwrap()),
                activity: json!({"type": "message", "text": "Did you see this?"}),
            });
        }
        store.create_notification(&record).await.unwrap();
    }
    let four_hours = at(0) + Duration::hours(4);
    assert!(
        store
            .due_follow_ups(four_hours - Duration::seconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store
        .due_follow_ups(four_hours + Duration::seconds(5), 10)
        .await
        .unwrap();
    let expected: Vec<FollowUpDue> = [0, 2]
        .iter()
        .map(|n| FollowUpDue {
            notification_id: ids[*n].clone(),
            due_at: four_hours + Duration::seconds(i64::try_from(*n).unwrap()),
        })
        .collect();
    assert_eq!(due, expected);
    store.end_follow_up(&expected[0]).await.unwrap();
    let left = store
        .due_follow_ups(four_hours + Duration::seconds(5), 10)
        .await
        .unwrap();
    assert_eq!(left, expected[1..]);
}
