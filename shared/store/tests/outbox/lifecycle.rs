//! Every delivery ends, and the numbers are true: counts that agree with the deliveries after
//! every kind of outcome (releases included), outcomes fenced by the claim's lease, backoffs that
//! hold, and stranded work the sweep finds and wakes.

use std::sync::Arc;

use chrono::Duration;
use herald_domain::DeliveryStatus;
use herald_store::{
    Claim, DeliveryRecord, NotificationId, NotificationStatus, OutboxChange, Outcome, PageRequest,
    Release, STRANDED_AFTER, StoreError,
};

use crate::support::{
    Outbox, assert_never_stranded, at, claim_and_record, delivery, delivery_now, expanded, sent,
};

fn release(not_before: i64, counted: bool, unknown: bool) -> Release {
    Release {
        not_before: at(not_before),
        error: "503 from Teams".into(),
        attempt_counted: counted,
        outcome_unknown: unknown,
    }
}

fn finished(status: DeliveryStatus) -> Outcome {
    Outcome {
        status,
        activity_id: None,
        error: Some(format!("{status} in the test")),
        conversation_id: None,
        service_url: None,
        copy: None,
    }
}

async fn claim(store: &dyn Outbox, d: &DeliveryRecord, now: i64, lease: i64) -> DeliveryRecord {
    match store
        .claim_delivery(&d.notification_id, &d.delivery_id, at(now), at(lease))
        .await
        .unwrap()
    {
        Claim::Claimed(record) => *record,
        other => panic!("{} must be claimable at {now}: {other:?}", d.delivery_id),
    }
}

/// Claims `d` at 1s for a minute and gives it back at 2s with `release`, which must hold.
async fn claim_and_release(store: &dyn Outbox, d: &DeliveryRecord, release: &Release) {
    claim(store, d, 1, 61).await;
    assert!(
        store
            .release_delivery(&d.notification_id, &d.delivery_id, at(61), release, at(2))
            .await
            .unwrap()
    );
}

/// The header's counts must equal the deliveries' statuses (a claimed one counts as pending).
async fn assert_counts_agree(store: &dyn Outbox, id: &NotificationId) {
    let header = store.get_notification(id).await.unwrap().unwrap();
    let deliveries = store
        .list_deliveries(id, None, &PageRequest::default())
        .await
        .unwrap()
        .items;
    for status in DeliveryStatus::ALL {
        let stored = deliveries
            .iter()
            .filter(|d| match d.status {
                DeliveryStatus::Sending => status == DeliveryStatus::Pending,
                s => s == status,
            })
            .count();
        assert_eq!(
            header.count(status),
            i64::try_from(stored).unwrap(),
            "{status}: {header:?}"
        );
    }
}

pub async fn counts_agree_after_every_kind_of_outcome(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    let all: Vec<_> = (0..6)
        .map(|n| delivery(&id, n, DeliveryStatus::Pending))
        .collect();
    expanded(&*store, &all).await;
    assert_counts_agree(&*store, &id).await;
    let (nid, d) = (&id, |n: usize| &all[n].delivery_id);

    claim(&*store, &all[0], 1, 61).await;
    assert!(
        store
            .record_outcome(nid, d(0), at(61), &sent("1:a"), at(2))
            .await
            .unwrap()
    );
    for (n, status) in [(1, DeliveryStatus::Blocked), (2, DeliveryStatus::Failed)] {
        claim(&*store, &all[n], 1, 61).await;
        let outcome = finished(status);
        assert!(
            store
                .record_outcome(nid, d(n), at(61), &outcome, at(2))
                .await
                .unwrap()
        );
    }
    assert_counts_agree(&*store, &id).await;
    // A release leaves the counts as they were: pending stays pending.
    let before = store.get_notification(&id).await.unwrap().unwrap().counts;
    for (n, counted) in [(3, true), (4, false)] {
        claim(&*store, &all[n], 1, 61).await;
        let given_back = release(5, counted, false);
        assert!(
            store
                .release_delivery(nid, d(n), at(61), &given_back, at(2))
                .await
                .unwrap()
        );
    }
    assert_eq!(
        store.get_notification(&id).await.unwrap().unwrap().counts,
        before
    );
    assert_counts_agree(&*store, &id).await;
    // Released ones are claimed again after their backoff and end like any other.
    for n in [3, 4, 5] {
        claim(&*store, &all[n], 10, 70).await;
        assert!(
            store
                .record_outcome(nid, d(n), at(70), &sent("1:b"), at(11))
                .await
                .unwrap()
        );
    }
    assert_counts_agree(&*store, &id).await;
    let header = store.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.count(DeliveryStatus::Sent), 4);
    assert_eq!(header.status(), NotificationStatus::Done);
    // An outcome must be final: giving back is a release.
    let pending = Outcome {
        status: DeliveryStatus::Pending,
        ..sent("x")
    };
    assert!(matches!(
        store
            .record_outcome(nid, d(0), at(61), &pending, at(3))
            .await,
        Err(StoreError::InvalidData(_))
    ));
}

pub async fn outcomes_are_fenced_by_the_claims_lease(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    let all: Vec<_> = (0..2)
        .map(|n| delivery(&id, n, DeliveryStatus::Pending))
        .collect();
    expanded(&*store, &all).await;
    let d0 = &all[0].delivery_id;

    let first = claim(&*store, &all[0], 1, 61).await;
    assert_eq!((first.attempts, first.lost_attempts), (1, 0));
    // The first sender stalls past its lease; a second takes over: that attempt is lost.
    let second = claim(&*store, &all[0], 62, 122).await;
    assert_eq!((second.attempts, second.lost_attempts), (2, 1));
    // The stalled sender can neither record nor release any more.
    assert!(
        !store
            .record_outcome(&id, d0, at(61), &sent("1:late"), at(63))
            .await
            .unwrap()
    );
    assert!(
        !store
            .release_delivery(&id, d0, at(61), &release(70, true, false), at(63))
            .await
            .unwrap()
    );
    assert_eq!(
        delivery_now(&*store, &id, d0).await.status,
        DeliveryStatus::Sending
    );
    // The current claim records; its send is a possible duplicate of the lost one's.
    assert!(
        store
            .record_outcome(&id, d0, at(122), &sent("1:a"), at(64))
            .await
            .unwrap()
    );
    let stored = delivery_now(&*store, &id, d0).await;
    assert!(stored.possibly_duplicated());
    assert_eq!(stored.activity_id.as_deref(), Some("1:a"));

    // A send cut off by its deadline: released as outcome unknown, then sent.
    let d1 = &all[1].delivery_id;
    claim_and_release(&*store, &all[1], &release(5, true, true)).await;
    let again = claim(&*store, &all[1], 6, 66).await;
    assert_eq!((again.attempts, again.lost_attempts), (2, 1));
    assert!(
        store
            .record_outcome(&id, d1, at(66), &sent("1:b"), at(7))
            .await
            .unwrap()
    );
    let header = store.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.possible_duplicates, 2);
    assert_eq!(header.count(DeliveryStatus::Sent), 2);
    assert_eq!(header.status(), NotificationStatus::Done);
}

pub async fn released_deliveries_wait_for_their_backoff(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    let all = vec![delivery(&id, 0, DeliveryStatus::Pending)];
    expanded(&*store, &all).await;
    let d0 = &all[0].delivery_id;
    // Not counted: a deadline ran out before anything was sent.
    claim_and_release(&*store, &all[0], &release(100, false, false)).await;
    let stored = delivery_now(&*store, &id, d0).await;
    assert_eq!(
        (stored.status, stored.attempts, stored.not_before),
        (DeliveryStatus::Pending, 0, Some(at(100)))
    );
    assert_eq!(stored.error.as_deref(), Some("503 from Teams"));
    assert_eq!(
        store
            .claim_delivery(&id, d0, at(50), at(110))
            .await
            .unwrap(),
        Claim::NotYet { until: at(100) }
    );
    let claimed = claim(&*store, &all[0], 100, 160).await;
    assert_eq!((claimed.attempts, claimed.not_before), (1, None));
}

pub async fn the_sweep_finds_and_wakes_stranded_work(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    let all: Vec<_> = (0..4)
        .map(|n| delivery(&id, n, DeliveryStatus::Pending))
        .collect();
    expanded(&*store, &all).await;
    let d = |n: usize| OutboxChange::Delivery(id.clone(), all[n].delivery_id.clone());
    // 0: its sender died holding it; 1: released until 100; 2: sent; 3: untouched.
    claim(&*store, &all[0], 1, 61).await;
    claim_and_release(&*store, &all[1], &release(100, true, false)).await;
    claim_and_record(&*store, &all[2], &sent("1:a")).await;

    let sorted = |mut v: Vec<OutboxChange>| {
        v.sort_by_key(|c| format!("{c:?}"));
        v
    };
    // Before any lease or backoff ends, nothing is due.
    assert!(store.stranded(at(30), 10).await.unwrap().is_empty());
    // The dead sender's lease ends at 61, the backoff at 100; the untouched one is due once
    // STRANDED_AFTER has passed since it was written, and the sent one never.
    assert_eq!(store.stranded(at(70), 10).await.unwrap(), vec![d(0)]);
    assert_eq!(
        sorted(store.stranded(at(100), 10).await.unwrap()),
        sorted(vec![d(0), d(1)])
    );
    let late = at(0) + STRANDED_AFTER;
    assert_eq!(
        sorted(store.stranded(late, 10).await.unwrap()),
        sorted(vec![d(0), d(1), d(3)])
    );
    assert_eq!(store.stranded(late, 2).await.unwrap().len(), 2);

    // Waking: the dead claim is pending again with a lost attempt; the backoff is over.
    assert!(store.wake(&d(0), at(70)).await.unwrap());
    let woken = delivery_now(&*store, &id, &all[0].delivery_id).await;
    assert_eq!(
        (woken.status, woken.lost_attempts),
        (DeliveryStatus::Pending, 1)
    );
    assert!(
        !store.wake(&d(1), at(90)).await.unwrap(),
        "its backoff has not ended"
    );
    assert!(store.wake(&d(1), at(100)).await.unwrap());
    assert!(!store.wake(&d(2), at(100)).await.unwrap(), "sent is final");
    // Woken work is due again only a while later, if nothing has claimed it by then.
    assert!(!store.stranded(at(101), 10).await.unwrap().contains(&d(0)));
    let again = at(70) + STRANDED_AFTER + Duration::seconds(1);
    assert!(store.stranded(again, 10).await.unwrap().contains(&d(0)));
    // Claimed again, and sent: the sweep has nothing left of it.
    claim(&*store, &all[0], 80, 140).await;
    let d0 = &all[0].delivery_id;
    assert!(
        store
            .record_outcome(&id, d0, at(140), &sent("1:b"), at(81))
            .await
            .unwrap()
    );
    assert_never_stranded(&*store, &d(0)).await;
}

pub async fn the_latest_waiting_deliveries_come_first(store: Arc<dyn Outbox>) {
    let id = NotificationId::random();
    // Written one second after another; 5 is claimed (due when its lease ends).
    let all: Vec<_> = (0..6)
        .map(|n| DeliveryRecord {
            due_at: Some(at(i64::from(n)) + STRANDED_AFTER),
            ..delivery(&id, n, DeliveryStatus::Pending)
        })
        .collect();
    expanded(&*store, &all).await;
    claim(&*store, &all[5], 5, 65).await;
    let d = |n: usize| OutboxChange::Delivery(id.clone(), all[n].delivery_id.clone());
    let latest = |after: i64, limit: usize| {
        let store = store.clone();
        async move {
            store
                .latest_due(at(after), at(5) + STRANDED_AFTER, limit)
                .await
                .unwrap()
        }
    };
    // Past every lease: the newest first (a limit that leaves every shard room for all).
    let room = 6 * herald_store::STRANDED_SHARDS as usize;
    assert_eq!(latest(70, room).await, vec![d(4), d(3), d(2), d(1), d(0)]);
    // A smaller limit: no more than asked for, the latest first, all of them waiting.
    let some = latest(70, 3).await;
    assert!(!some.is_empty() && some.len() <= 3, "{some:?}");
    let position = |c: &OutboxChange| (0..5).find(|n| d(*n) == *c).unwrap();
    assert!(
        some.windows(2).all(|p| position(&p[0]) > position(&p[1])),
        "{some:?}"
    );
    // From an earlier instant on, the claimed one is among them.
    assert!(latest(60, room).await.contains(&d(5)));
    // Only what falls inside the bounds.
    let two = store
        .latest_due(at(1) + STRANDED_AFTER, at(3) + STRANDED_AFTER, room)
        .await
        .unwrap();
    assert_eq!(two, vec![d(3), d(2)]);
}

pub async fn unexpanded_notifications_are_stranded_work_too(store: Arc<dyn Outbox>) {
    let id = crate::support::accepted(&*store).await;
    let header = OutboxChange::Notification(id.clone());
    assert!(store.stranded(at(1), 10).await.unwrap().is_empty());
    let due = at(0) + STRANDED_AFTER;
    assert_eq!(store.stranded(due, 10).await.unwrap(), vec![header.clone()]);
    assert!(store.wake(&header, due).await.unwrap());
    assert!(store.stranded(due, 10).await.unwrap().is_empty());
    // Expanded: nothing to wake any more.
    let page = vec![delivery(&id, 0, DeliveryStatus::Sent)];
    assert!(store.append_page(&id, None, None, &page).await.unwrap());
    assert_never_stranded(&*store, &header).await;
}
