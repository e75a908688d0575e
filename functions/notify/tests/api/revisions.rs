//! `PUT` and `DELETE /api/notifications/{id}/message` during a running broadcast: copies not
//! sent yet go out with the new content or not at all (`retracted`), and a copy whose send was
//! in flight while the edit ran (a slow conversation) is brought in line by the sender's edit job,
//! which the revision's request starts and which waits for copies being sent.

use std::sync::Arc;

use herald_connector::Deadline;
use herald_domain::{Clock, ConversationReference, DeliveryStatus};
use herald_events::EmbeddedEventPublisher;
use herald_pipeline::{Delivered, EditPass, Editor, Sender};
use herald_store::{DeliveryRecord, NotificationId};
use herald_teams_emulator::Fault;
use serde_json::json;

use crate::{Harness, TENANT, delivery, on_both_backends};

on_both_backends!(edits_and_retractions_reach_copies_not_sent_yet);

fn sender(h: &Harness) -> Arc<Sender> {
    Arc::new(Sender::new(
        h.references.clone(),
        h.outbox.clone(),
        h.connector.clone(),
        Arc::new(EmbeddedEventPublisher::default()),
        h.clock.clone(),
        h.app.clone(),
    ))
}

/// The edit job as the sender function runs it when a revision asks for it, started now.
fn edit_job(h: &Harness, id: &NotificationId) -> tokio::task::JoinHandle<EditPass> {
    let editor = Editor {
        outbox: h.outbox.clone(),
        edits: h.stores.stores.edit_jobs().unwrap(),
        connector: h.connector.clone(),
        clock: h.clock.clone(),
        concurrency: 4,
    };
    let (id, until) = (id.clone(), h.clock.now() + chrono::Duration::seconds(60));
    tokio::spawn(async move { editor.run(&id, until).await.unwrap() })
}

async fn send(sender: &Sender, d: &DeliveryRecord) -> Delivered {
    sender
        .deliver(
            &d.notification_id,
            &d.delivery_id,
            Deadline::after(std::time::Duration::from_secs(30)),
        )
        .await
        .unwrap()
}

/// The texts of the copies in a conversation, and whether each was deleted.
fn copies(h: &Harness, reference: &ConversationReference) -> Vec<(String, bool)> {
    h.emulator
        .activities(reference.conversation_id.as_str())
        .iter()
        .map(|a| {
            (
                a.activity["text"].as_str().unwrap_or_default().to_owned(),
                a.deleted,
            )
        })
        .collect()
}

async fn edits_and_retractions_reach_copies_not_sent_yet(h: &Harness) {
    let people: Vec<ConversationReference> = ["Adele", "Ben", "Cai", "Dee", "Eve"]
        .iter()
        .map(|name| h.personal(TENANT, name))
        .collect();
    for person in &people {
        h.references.upsert(person).await.unwrap();
    }
    let reply = h
        .call(
            "POST",
            "/api/notify",
            Some(&json!({
                "target": {"kind": "conversations",
                           "ids": people.iter().map(|p| p.conversation_id.as_str()).collect::<Vec<_>>()},
                "message": {"text": "v1"},
            })),
        )
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let id = NotificationId::parse(reply.body["notificationId"].as_str().unwrap()).unwrap();
    let deliveries: Vec<DeliveryRecord> = people
        .iter()
        .map(|p| delivery(&id, p, DeliveryStatus::Pending))
        .collect();
    assert!(
        h.outbox
            .append_page(&id, None, None, &deliveries)
            .await
            .unwrap()
    );
    let sender = sender(h);
    let sent = Delivered::Finished(DeliveryStatus::Sent);
    let message = format!("/api/notifications/{id}/message");

    // The broadcast is under way: Adele has v1; Ben's conversation is slow, his send in flight.
    assert_eq!(send(&sender, &deliveries[0]).await, sent);
    let slow = std::time::Duration::from_secs(5);
    h.emulator
        .inject_times(people[1].conversation_id.as_str(), Fault::Delay(slow), 1);
    let in_flight = {
        let (sender, d) = (sender.clone(), deliveries[1].clone());
        tokio::spawn(async move { send(&sender, &d).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let updated = h.call("PUT", &message, Some(&json!({"text": "v2"}))).await;
    assert_eq!(updated.status, 200, "{updated:?}");
    // Adele's copy was the one sent: updated in the request.
    assert_eq!(updated.body["updated"], 1, "{updated:?}");
    assert_eq!(copies(h, &people[0]), [("v2".to_owned(), false)]);
    // Ben's copy went out as v1 while the edit ran; the edit job waits for it and brings it to v2.
    let job = edit_job(h, &id);
    let ben = in_flight.await.unwrap();
    assert!(job.await.unwrap().complete);
    let stored = h
        .outbox
        .get_delivery(&id, &deliveries[1].delivery_id)
        .await
        .unwrap();
    assert_eq!(ben, sent, "{stored:?}");
    assert_eq!(copies(h, &people[1]), [("v2".to_owned(), false)]);
    // Cai, not reached yet, gets v2 as his first and only copy.
    assert_eq!(send(&sender, &deliveries[2]).await, sent);
    assert_eq!(copies(h, &people[2]), [("v2".to_owned(), false)]);
    let cai = h.emulator.activities(people[2].conversation_id.as_str());
    assert_eq!(cai[0].updates, 0);

    // A retraction while Dee's send is in flight: Eve, not reached yet, gets nothing.
    h.emulator
        .inject_times(people[3].conversation_id.as_str(), Fault::Delay(slow), 1);
    let in_flight = {
        let (sender, d) = (sender.clone(), deliveries[3].clone());
        tokio::spawn(async move { send(&sender, &d).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let retracted = h.call("DELETE", &message, None).await;
    assert_eq!(retracted.status, 200, "{retracted:?}");
    let job = edit_job(h, &id);
    let dee = in_flight.await.unwrap();
    assert!(job.await.unwrap().complete);
    let stored = h
        .outbox
        .get_delivery(&id, &deliveries[3].delivery_id)
        .await
        .unwrap();
    assert_eq!(dee, sent, "{stored:?}");
    assert_eq!(
        send(&sender, &deliveries[4]).await,
        Delivered::Finished(DeliveryStatus::Retracted)
    );
    for person in &people[..4] {
        assert_eq!(
            copies(h, person),
            [("v2".to_owned(), true)],
            "{}",
            person.conversation_id
        );
    }
    assert!(copies(h, &people[4]).is_empty());

    // The report counts the retracted delivery as an outcome of its own.
    let status = h
        .call("GET", &format!("/api/notifications/{id}"), None)
        .await;
    assert_eq!(status.body["counts"]["sent"], 4, "{status:?}");
    assert_eq!(status.body["counts"]["retracted"], 1, "{status:?}");
    assert_eq!(status.body["counts"]["pending"], 0, "{status:?}");
    let listed = h
        .call(
            "GET",
            &format!("/api/notifications/{id}/deliveries?status=retracted"),
            None,
        )
        .await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed:?}");
    assert_eq!(
        items[0]["conversationId"],
        people[4].conversation_id.as_str()
    );
}
