//! Installation waits: deliveries that wait for the app to be installed for their recipient.

use std::sync::Arc;

use chrono::Duration;
use herald_domain::{AadObjectId, ConversationId, DeliveryStatus, ServiceUrl, TenantId};
use herald_store::{Claim, InstallResolution, NotificationId, NotificationStatus, StoreError};

use crate::support::{
    Outbox, at, claim_resolved, counted, counts, delivery, delivery_now, did, expanded, finished,
    install, person, recipient_waits, resolved, sent, status_of,
};

pub async fn install_begins_only_from_sending(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    let people: Vec<_> = (0..3)
        .map(|n| person(&id, "tenant-1", &format!("aad-{n}")))
        .collect();
    let conversation = delivery(&id, 9, DeliveryStatus::Pending);
    let mut all = people.clone();
    all.push(conversation.clone());
    expanded(&*store, &all).await;
    let (p0, p1) = (&people[0].delivery_id, &people[1].delivery_id);

    // Pending (not claimed): nothing happens.
    assert!(
        !store
            .begin_install(&id, p0, at(61), at(600), at(2))
            .await
            .unwrap()
    );
    assert_eq!(delivery_now(&*store, &id, p0).await, people[0]);
    assert_eq!(
        recipient_waits(
            &*store,
            &people[0].tenant_id,
            people[0].recipient.as_ref().unwrap()
        )
        .await,
        vec![]
    );
    assert_eq!(store.due_waits(at(100_000), 10).await.unwrap(), vec![]);

    // A claim whose lease ran out and was taken over: only the new claim may install.
    let p2 = &people[2].delivery_id;
    assert!(matches!(
        store.claim_delivery(&id, p2, at(1), at(61)).await.unwrap(),
        Claim::Claimed(_)
    ));
    assert!(matches!(
        store
            .claim_delivery(&id, p2, at(70), at(130))
            .await
            .unwrap(),
        Claim::Claimed(_)
    ));
    assert!(
        !store
            .begin_install(&id, p2, at(61), at(200_000), at(71))
            .await
            .unwrap()
    );
    assert_eq!(
        delivery_now(&*store, &id, p2).await.status,
        DeliveryStatus::Sending
    );
    assert!(
        store
            .begin_install(&id, p2, at(130), at(200_000), at(71))
            .await
            .unwrap()
    );

    // Claimed: installing until the deadline, the lease given up.
    let wait = install(&*store, &people[0], at(600)).await;
    let stored = delivery_now(&*store, &id, p0).await;
    assert_eq!(stored.status, DeliveryStatus::Installing);
    assert_eq!(stored.install_deadline, Some(at(600)));
    assert_eq!(stored.lease_until, None);
    assert_eq!(stored.updated_at, at(2));
    assert_eq!(stored.attempts, 1);
    assert_eq!(
        recipient_waits(&*store, &wait.tenant_id, &wait.recipient).await,
        vec![wait.clone()]
    );
    assert_eq!(
        store.due_waits(at(600), 10).await.unwrap(),
        vec![wait.clone()]
    );

    // Installing already: no second wait, and a replayed trigger finds nothing to claim.
    assert!(
        !store
            .begin_install(&id, p0, at(61), at(900), at(3))
            .await
            .unwrap()
    );
    assert_eq!(delivery_now(&*store, &id, p0).await, stored);
    assert_eq!(
        store.claim_delivery(&id, p0, at(4), at(64)).await.unwrap(),
        Claim::Done
    );
    assert_eq!(store.due_waits(at(100_000), 10).await.unwrap(), vec![wait]);

    // Sent already.
    assert!(matches!(
        store.claim_delivery(&id, p1, at(1), at(61)).await.unwrap(),
        Claim::Claimed(_)
    ));
    assert!(
        store
            .record_outcome(&id, p1, at(61), &sent("1:a"), at(2))
            .await
            .unwrap()
    );
    assert!(
        !store
            .begin_install(&id, p1, at(61), at(600), at(3))
            .await
            .unwrap()
    );
    assert_eq!(
        delivery_now(&*store, &id, p1).await.status,
        DeliveryStatus::Sent
    );

    // No such delivery.
    assert!(
        !store
            .begin_install(&id, &did("tenant-1|aad:nobody"), at(61), at(600), at(3))
            .await
            .unwrap()
    );

    // A delivery without a recipient cannot wait for an installation.
    let c = &conversation.delivery_id;
    assert!(matches!(
        store.claim_delivery(&id, c, at(1), at(61)).await.unwrap(),
        Claim::Claimed(_)
    ));
    assert!(matches!(
        store.begin_install(&id, c, at(61), at(600), at(3)).await,
        Err(StoreError::InvalidData(_))
    ));
    assert_eq!(
        delivery_now(&*store, &id, c).await.status,
        DeliveryStatus::Sending
    );

    // Claimed deliveries count as pending; the installing ones moved.
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::Installing, 2),
            (DeliveryStatus::Sent, 1),
        ])
    );
    assert_eq!(store.due_waits(at(100_000), 10).await.unwrap().len(), 1);
}

pub async fn install_counts_follow_each_resolution(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    let people: Vec<_> = (0..3)
        .map(|n| person(&id, "tenant-1", &format!("aad-{n}")))
        .collect();
    expanded(&*store, &people).await;
    let mut waits = Vec::new();
    for (n, p) in (0..).zip(&people) {
        waits.push(install(&*store, p, at(600 + n)).await);
    }
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[(DeliveryStatus::Installing, 3)])
    );
    assert_eq!(status_of(&*store, &id).await, NotificationStatus::Sending);

    // Resolved: pending with the conversation, and claimable again.
    assert!(
        store
            .end_install(&waits[0], &resolved(0), at(10))
            .await
            .unwrap()
    );
    let d0 = delivery_now(&*store, &id, &people[0].delivery_id).await;
    assert_eq!(d0.status, DeliveryStatus::Pending);
    assert_eq!(
        d0.conversation_id,
        Some(ConversationId::new("a:installed-0").unwrap())
    );
    assert_eq!(
        d0.service_url,
        Some(ServiceUrl::parse("https://smba.trafficmanager.net/emea/").unwrap())
    );
    assert_eq!(
        (d0.install_deadline, d0.lease_until, d0.error),
        (None, None, None)
    );
    assert_eq!(d0.updated_at, at(10));
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::Installing, 2)
        ])
    );
    assert_eq!(status_of(&*store, &id).await, NotificationStatus::Sending);
    let claimed = claim_resolved(&*store, &people[0], 0, at(11)).await;
    assert_eq!(claimed.attempts, 2);
    assert!(
        store
            .record_outcome(&id, &people[0].delivery_id, at(71), &sent("1:a"), at(12))
            .await
            .unwrap()
    );

    // Retry: pending again without a conversation, the error kept.
    let retry = InstallResolution::Retry {
        error: "Graph 503".into(),
    };
    assert!(store.end_install(&waits[1], &retry, at(13)).await.unwrap());
    let d1 = delivery_now(&*store, &id, &people[1].delivery_id).await;
    assert_eq!(d1.status, DeliveryStatus::Pending);
    assert_eq!(d1.error.as_deref(), Some("Graph 503"));
    assert_eq!((d1.conversation_id, d1.install_deadline), (None, None));

    // Finished: the final status and its error.
    let forbidden = finished(DeliveryStatus::InstallForbidden, "403 Forbidden");
    assert!(
        store
            .end_install(&waits[2], &forbidden, at(14))
            .await
            .unwrap()
    );
    let d2 = delivery_now(&*store, &id, &people[2].delivery_id).await;
    assert_eq!(d2.status, DeliveryStatus::InstallForbidden);
    assert_eq!(d2.error.as_deref(), Some("403 Forbidden"));
    assert_eq!((d2.install_deadline, d2.lease_until), (None, None));
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::Sent, 1),
            (DeliveryStatus::InstallForbidden, 1),
        ])
    );
    assert_eq!(status_of(&*store, &id).await, NotificationStatus::Sending);

    // The retried one waits again and times out.
    let again = install(&*store, &people[1], at(900)).await;
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[
            (DeliveryStatus::Installing, 1),
            (DeliveryStatus::Sent, 1),
            (DeliveryStatus::InstallForbidden, 1),
        ])
    );
    assert_eq!(status_of(&*store, &id).await, NotificationStatus::Sending);
    let timed_out = finished(DeliveryStatus::InstallTimedOut, "no conversationUpdate");
    assert!(
        store
            .end_install(&again, &timed_out, at(901))
            .await
            .unwrap()
    );
    assert_eq!(
        counts(&*store, &id).await,
        counted(&[
            (DeliveryStatus::Sent, 1),
            (DeliveryStatus::InstallForbidden, 1),
            (DeliveryStatus::InstallTimedOut, 1),
        ])
    );
    assert_eq!(status_of(&*store, &id).await, NotificationStatus::Done);

    // Every wait is gone.
    for p in &people {
        assert_eq!(
            recipient_waits(&*store, &p.tenant_id, p.recipient.as_ref().unwrap()).await,
            vec![]
        );
    }
    assert_eq!(store.due_waits(at(100_000), 10).await.unwrap(), vec![]);

    // A wait cannot finish in a state that is not final.
    let other = NotificationId::random();
    let p = person(&other, "tenant-1", "aad-9");
    expanded(&*store, std::slice::from_ref(&p)).await;
    let wait = install(&*store, &p, at(600)).await;
    for status in [DeliveryStatus::Pending, DeliveryStatus::Installing] {
        assert!(matches!(
            store
                .end_install(&wait, &finished(status, "x"), at(3))
                .await,
            Err(StoreError::InvalidData(_))
        ));
    }
    assert_eq!(
        delivery_now(&*store, &other, &p.delivery_id).await.status,
        DeliveryStatus::Installing
    );
}

pub async fn waits_are_found_by_recipient_and_deadline(store: Arc<dyn Outbox>) {
    let (a, b) = (NotificationId::random(), NotificationId::random());
    let a_x = person(&a, "tenant-1", "aad-x");
    let a_y = person(&a, "tenant-1", "aad-y");
    let b_x = person(&b, "tenant-1", "aad-x");
    // The same object id in another tenant is another person.
    let b_x2 = person(&b, "tenant-2", "aad-x");
    expanded(&*store, &[a_x.clone(), a_y.clone()]).await;
    expanded(&*store, &[b_x.clone(), b_x2.clone()]).await;
    let x_in_a = install(&*store, &a_x, at(300)).await;
    let y_in_a = install(&*store, &a_y, at(100)).await;
    let x_in_b = install(&*store, &b_x, at(200)).await;
    let x_elsewhere = install(&*store, &b_x2, at(400)).await;

    let tenant = TenantId::new("tenant-1").unwrap();
    let x = AadObjectId::new("aad-x").unwrap();
    let mut found = recipient_waits(&*store, &tenant, &x).await;
    found.sort_by_key(|w| w.deadline);
    assert_eq!(found, vec![x_in_b.clone(), x_in_a.clone()]);
    assert_eq!(
        recipient_waits(&*store, &tenant, &AadObjectId::new("aad-y").unwrap()).await,
        vec![y_in_a.clone()]
    );
    assert_eq!(
        recipient_waits(&*store, &TenantId::new("tenant-2").unwrap(), &x).await,
        vec![x_elsewhere.clone()]
    );
    assert_eq!(
        recipient_waits(&*store, &tenant, &AadObjectId::new("aad-z").unwrap()).await,
        vec![]
    );

    assert_eq!(store.due_waits(at(99), 10).await.unwrap(), vec![]);
    // A deadline equal to now is due.
    assert_eq!(
        store.due_waits(at(200), 10).await.unwrap(),
        vec![y_in_a.clone(), x_in_b.clone()]
    );
    assert_eq!(
        store.due_waits(at(1000), 2).await.unwrap(),
        vec![y_in_a.clone(), x_in_b.clone()]
    );
    assert_eq!(
        store.due_waits(at(1000), 10).await.unwrap(),
        vec![
            y_in_a.clone(),
            x_in_b.clone(),
            x_in_a.clone(),
            x_elsewhere.clone()
        ]
    );
    assert_eq!(store.due_waits(at(1000), 0).await.unwrap(), vec![]);

    // Within one millisecond: half a millisecond early is not due.
    let c = NotificationId::random();
    let c_z = person(&c, "tenant-1", "aad-z");
    expanded(&*store, std::slice::from_ref(&c_z)).await;
    let precise = at(2000) + Duration::microseconds(500);
    let z_in_c = install(&*store, &c_z, precise).await;
    assert_eq!(store.due_waits(at(2000), 10).await.unwrap().len(), 4);
    assert_eq!(
        store.due_waits(precise, 10).await.unwrap().last(),
        Some(&z_in_c)
    );

    // Ended waits are found no more, by either way.
    let timed_out = finished(DeliveryStatus::InstallTimedOut, "timed out");
    assert!(
        store
            .end_install(&y_in_a, &timed_out, at(101))
            .await
            .unwrap()
    );
    assert!(
        store
            .end_install(&z_in_c, &timed_out, at(2001))
            .await
            .unwrap()
    );
    assert_eq!(
        store.due_waits(at(100_000), 10).await.unwrap(),
        vec![x_in_b.clone(), x_in_a.clone(), x_elsewhere]
    );
    assert_eq!(
        recipient_waits(&*store, &tenant, &AadObjectId::new("aad-y").unwrap()).await,
        vec![]
    );
    assert!(
        store
            .end_install(&x_in_a, &resolved(1), at(301))
            .await
            .unwrap()
    );
    assert_eq!(recipient_waits(&*store, &tenant, &x).await, vec![x_in_b]);
}

pub async fn end_install_happens_once(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    let people: Vec<_> = (0..2)
        .map(|n| person(&id, "tenant-1", &format!("aad-{n}")))
        .collect();
    expanded(&*store, &people).await;
    let wait = install(&*store, &people[0], at(600)).await;

    // The webhook and the timeout sweep race: one wins.
    let timed_out = finished(DeliveryStatus::InstallTimedOut, "timed out");
    let conversation = resolved(0);
    let (by_webhook, by_sweep) = tokio::join!(
        store.end_install(&wait, &conversation, at(10)),
        store.end_install(&wait, &timed_out, at(10)),
    );
    let (by_webhook, by_sweep) = (by_webhook.unwrap(), by_sweep.unwrap());
    assert!(by_webhook ^ by_sweep, "{by_webhook} {by_sweep}");
    let ended = delivery_now(&*store, &id, &people[0].delivery_id).await;
    let winner = if by_webhook {
        DeliveryStatus::Pending
    } else {
        DeliveryStatus::InstallTimedOut
    };
    assert_eq!(ended.status, winner);
    let after = if by_webhook {
        counted(&[(DeliveryStatus::Pending, 2)])
    } else {
        counted(&[
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::InstallTimedOut, 1),
        ])
    };
    assert_eq!(counts(&*store, &id).await, after);

    // Ended once: later ends change nothing.
    for resolution in [resolved(1), timed_out.clone()] {
        assert!(!store.end_install(&wait, &resolution, at(20)).await.unwrap());
    }
    assert_eq!(
        delivery_now(&*store, &id, &people[0].delivery_id).await,
        ended
    );
    assert_eq!(counts(&*store, &id).await, after);
    assert_eq!(
        recipient_waits(&*store, &wait.tenant_id, &wait.recipient).await,
        vec![]
    );

    // A stale wait (its delivery waits again, until a later deadline) ends nothing, and the
    // live wait stays.
    let first = install(&*store, &people[1], at(300)).await;
    let retry = InstallResolution::Retry {
        error: "Graph 429".into(),
    };
    assert!(store.end_install(&first, &retry, at(30)).await.unwrap());
    let second = install(&*store, &people[1], at(900)).await;
    assert!(
        !store
            .end_install(&first, &timed_out, at(301))
            .await
            .unwrap()
    );
    let live = delivery_now(&*store, &id, &people[1].delivery_id).await;
    assert_eq!(live.status, DeliveryStatus::Installing);
    assert_eq!(live.install_deadline, Some(at(900)));
    assert_eq!(
        recipient_waits(&*store, &second.tenant_id, &second.recipient).await,
        vec![second.clone()]
    );
    assert_eq!(
        store.due_waits(at(1000), 10).await.unwrap(),
        vec![second.clone()]
    );
    assert!(
        store
            .end_install(&second, &timed_out, at(901))
            .await
            .unwrap()
    );
    assert_eq!(store.due_waits(at(1000), 10).await.unwrap(), vec![]);
}
