//! The schedule store: conditional writes, the due index the scheduler reads every minute, the
//! owner index chat reminders are listed from, and paging.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use herald_domain::{ConversationKey, Target};
use herald_schedule::ScheduleRule;
use herald_store::{
    Cursor, ListFilter, PageRequest, ScheduleId, ScheduleRecord, ScheduleStore, SkipReason,
    StoreError,
};
use serde_json::json;

use crate::support::{APP, Harness, TENANT, at, key, personal};

/// A daily stand-up reminder, next firing at `next_fire`.
fn schedule(next_fire: Option<DateTime<Utc>>) -> ScheduleRecord {
    let rule = ScheduleRule::from_json(&json!({"recurrence": {"kind": "daily", "time": "09:00"}}))
        .unwrap();
    ScheduleRecord::new(
        ScheduleId::random(),
        rule,
        "Europe/Berlin".parse().unwrap(),
        Target::All,
        json!({"text": "Stand-up in 5 minutes"}),
        json!({"type": "message", "text": "Stand-up in 5 minutes"}),
        at(0),
    )
    .with_next_fire(next_fire)
}

/// The record as its next write would store it: `change`d, one version on.
fn next_version(
    record: &ScheduleRecord,
    change: impl FnOnce(&mut ScheduleRecord),
) -> ScheduleRecord {
    let mut next = record.clone();
    change(&mut next);
    next.version += 1;
    next.updated_at += chrono::Duration::seconds(1);
    next
}

async fn created(store: &dyn ScheduleStore, records: &[&ScheduleRecord]) {
    for record in records {
        store.create_schedule(record).await.unwrap();
    }
}

fn ids(records: &[ScheduleRecord]) -> Vec<ScheduleId> {
    records.iter().map(|r| r.id.clone()).collect()
}

/// Owner listings name no order: compared sorted by id.
async fn owned_by(store: &dyn ScheduleStore, owner: &ConversationKey) -> Vec<ScheduleRecord> {
    let mut found = store.schedules_of(owner).await.unwrap();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}

fn sorted(mut records: Vec<ScheduleRecord>) -> Vec<ScheduleRecord> {
    records.sort_by(|a, b| a.id.cmp(&b.id));
    records
}

pub async fn schedules_are_created_once(h: &dyn Harness) {
    let store = h.schedules().await;
    let record = schedule(Some(at(60)));
    assert_eq!(record.version, 1);
    store.create_schedule(&record).await.unwrap();
    assert_eq!(
        store.get_schedule(&record.id).await.unwrap(),
        Some(record.clone())
    );
    // The same id again (a redelivered chat message, a retried API call) is a conflict.
    let mut again = schedule(None);
    again.id = record.id.clone();
    assert!(matches!(
        store.create_schedule(&again).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_schedule(&record.id).await.unwrap(), Some(record));
    assert_eq!(
        store.get_schedule(&ScheduleId::random()).await.unwrap(),
        None
    );
}

pub async fn updates_are_conditional_on_the_version(h: &dyn Harness) {
    let store = h.schedules().await;
    let record = schedule(Some(at(60)));
    created(&*store, &[&record]).await;

    let fired = next_version(&record, |r| {
        r.fired = 1;
        r.last_fire = Some(at(60));
        r.next_fire = Some(at(86_460));
    });
    assert!(store.update_schedule(&fired).await.unwrap());
    assert_eq!(
        store.get_schedule(&record.id).await.unwrap(),
        Some(fired.clone())
    );

    // A writer that read the old version loses, and changes nothing.
    let late = next_version(&record, |r| r.paused = true);
    assert!(!store.update_schedule(&late).await.unwrap());
    assert_eq!(
        store.get_schedule(&record.id).await.unwrap(),
        Some(fired.clone())
    );

    // An update must name the version it replaces.
    let mut unversioned = fired.clone();
    unversioned.version = 0;
    assert!(matches!(
        store.update_schedule(&unversioned).await,
        Err(StoreError::InvalidData(_))
    ));

    // A schedule deleted meanwhile is not brought back.
    let missing = next_version(&schedule(Some(at(60))), |_| {});
    assert!(!store.update_schedule(&missing).await.unwrap());
    assert_eq!(store.get_schedule(&missing.id).await.unwrap(), None);
}

pub async fn deletes_leave_no_index_entries(h: &dyn Harness) {
    let store = h.schedules().await;
    let owner = key("a:owner-of-deleted");
    let record = schedule(Some(at(60))).owned_by(owner.clone(), "stand-up");
    let kept = schedule(Some(at(120)));
    created(&*store, &[&record, &kept]).await;
    assert!(store.delete_schedule(&record.id).await.unwrap());
    assert!(!store.delete_schedule(&record.id).await.unwrap());
    assert_eq!(store.get_schedule(&record.id).await.unwrap(), None);
    assert_eq!(owned_by(&*store, &owner).await, vec![]);
    assert_eq!(
        store.due_schedules(at(1000), 10).await.unwrap(),
        vec![kept.clone()]
    );
    let page = store.list_schedules(&PageRequest::default()).await.unwrap();
    assert_eq!(page.items, vec![kept]);
}

pub async fn due_schedules_come_earliest_first(h: &dyn Harness) {
    let store = h.schedules().await;
    let third = schedule(Some(at(300)));
    let first = schedule(Some(at(100)));
    let second = schedule(Some(at(200)));
    let later = schedule(Some(at(1000)));
    let mut paused = schedule(Some(at(50)));
    paused.paused = true;
    let finished = schedule(None);
    created(
        &*store,
        &[&third, &first, &second, &later, &paused, &finished],
    )
    .await;

    assert_eq!(store.due_schedules(at(99), 10).await.unwrap(), vec![]);
    // A next fire equal to now is due.
    assert_eq!(
        store.due_schedules(at(200), 10).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        store.due_schedules(at(999), 10).await.unwrap(),
        vec![first.clone(), second.clone(), third.clone()]
    );
    assert_eq!(
        store.due_schedules(at(999), 2).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    // Paused schedules and those that never fire again are never due.
    assert_eq!(
        store.due_schedules(at(1_000_000), 10).await.unwrap(),
        vec![first, second, third, later]
    );
}

/// A tick reads what is due a page at a time and advances each schedule it fired before it
/// reads the next page: nothing is read twice, nothing is skipped.
pub async fn due_schedules_page_past_what_was_fired(h: &dyn Harness) {
    let store = h.schedules().await;
    let due: Vec<ScheduleRecord> = (1..=7).map(|i| schedule(Some(at(i * 10)))).collect();
    let later = schedule(Some(at(1000)));
    created(&*store, &due.iter().chain([&later]).collect::<Vec<_>>()).await;
    let mut request = PageRequest {
        cursor: None,
        limit: Some(3),
    };
    let mut read = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.due_page(at(500), &request).await.unwrap();
        pages += 1;
        for record in &page.items {
            read.push(record.id.clone());
            let fired = next_version(record, |r| r.next_fire = Some(at(2000)));
            assert!(store.update_schedule(&fired).await.unwrap());
        }
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(read, due.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
    // A cursor of another listing is refused.
    let listing = store
        .list_schedules(&PageRequest {
            cursor: None,
            limit: Some(1),
        })
        .await
        .unwrap();
    let foreign = PageRequest {
        cursor: listing.next_cursor,
        limit: Some(3),
    };
    assert!(matches!(
        store.due_page(at(500), &foreign).await,
        Err(StoreError::InvalidCursor(_))
    ));
}

pub async fn due_index_follows_every_update(h: &dyn Harness) {
    let store = h.schedules().await;
    let record = schedule(Some(at(100)));
    created(&*store, &[&record]).await;

    let paused = next_version(&record, |r| r.paused = true);
    assert!(store.update_schedule(&paused).await.unwrap());
    assert_eq!(store.due_schedules(at(500), 10).await.unwrap(), vec![]);

    let resumed = next_version(&paused, |r| {
        r.paused = false;
        r.next_fire = Some(at(600));
    });
    assert!(store.update_schedule(&resumed).await.unwrap());
    assert_eq!(store.due_schedules(at(500), 10).await.unwrap(), vec![]);
    assert_eq!(
        store.due_schedules(at(600), 10).await.unwrap(),
        vec![resumed.clone()]
    );

    let ended = next_version(&resumed, |r| r.next_fire = None);
    assert!(store.update_schedule(&ended).await.unwrap());
    assert_eq!(
        store.due_schedules(at(1_000_000), 10).await.unwrap(),
        vec![]
    );

    // A write that lost moves nothing in the index either.
    let lost = next_version(&resumed, |r| r.next_fire = Some(at(10)));
    assert!(!store.update_schedule(&lost).await.unwrap());
    assert_eq!(
        store.due_schedules(at(1_000_000), 10).await.unwrap(),
        vec![]
    );
}

pub async fn owners_list_their_reminders(h: &dyn Harness) {
    let store = h.schedules().await;
    let (alice, bob) = (key("a:alice-personal"), key("a:bob-personal"));
    let water = schedule(Some(at(60))).owned_by(alice.clone(), "drink water");
    let report = schedule(Some(at(120))).owned_by(alice.clone(), "weekly report");
    let stand_up = schedule(Some(at(180))).owned_by(bob.clone(), "stand-up");
    let unowned = schedule(Some(at(240)));
    created(&*store, &[&water, &report, &stand_up, &unowned]).await;
    assert_eq!(report.label.as_deref(), Some("weekly report"));

    assert_eq!(
        owned_by(&*store, &alice).await,
        sorted(vec![water.clone(), report.clone()])
    );
    assert_eq!(owned_by(&*store, &bob).await, vec![stand_up.clone()]);
    assert_eq!(owned_by(&*store, &key("a:nobody")).await, vec![]);

    // Owners move with updates.
    let handed_over = next_version(&report, |r| r.owner = Some(bob.clone()));
    assert!(store.update_schedule(&handed_over).await.unwrap());
    let disowned = next_version(&water, |r| {
        r.owner = None;
        r.label = None;
    });
    assert!(store.update_schedule(&disowned).await.unwrap());
    assert_eq!(owned_by(&*store, &alice).await, vec![]);
    assert_eq!(
        owned_by(&*store, &bob).await,
        sorted(vec![handed_over, stand_up])
    );
}

pub async fn listings_page_with_checked_cursors(h: &dyn Harness) {
    let store = h.schedules().await;
    let records: Vec<_> = (0..7).map(|n| schedule(Some(at(60 * n)))).collect();
    for record in &records {
        store.create_schedule(record).await.unwrap();
    }
    let mut seen = HashSet::new();
    let mut pages = 0;
    let mut request = PageRequest {
        cursor: None,
        limit: Some(3),
    };
    loop {
        let page = store.list_schedules(&request).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        for record in page.items {
            assert!(records.contains(&record), "{record:?}");
            assert!(
                seen.insert(record.id.clone()),
                "{} returned twice",
                record.id
            );
        }
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, ids(&records).into_iter().collect());
    assert!(pages >= 3, "expected several pages, got {pages}");
    let whole = store.list_schedules(&PageRequest::default()).await.unwrap();
    assert_eq!(sorted(whole.items), sorted(records));
    assert_eq!(whole.next_cursor, None);

    // A cursor of another listing (the reference store's) is refused, as is garbage.
    let references = h.references(APP).await;
    for n in 0..2 {
        references.upsert(&personal(TENANT, n, 0)).await.unwrap();
    }
    let first = PageRequest {
        cursor: None,
        limit: Some(1),
    };
    let foreign = references
        .list(&ListFilter::all(), &first)
        .await
        .unwrap()
        .next_cursor
        .expect("more references");
    for cursor in [
        foreign,
        Cursor::from_client("garbage!"),
        Cursor::from_client(""),
    ] {
        let request = PageRequest {
            cursor: Some(cursor),
            limit: Some(3),
        };
        let result = store.list_schedules(&request).await;
        assert!(
            matches!(result, Err(StoreError::InvalidCursor(_))),
            "{result:?}"
        );
    }
}

pub async fn corrupt_schedules_are_reported_and_skipped(h: &dyn Harness) {
    let store = h.schedules().await;
    let good = schedule(Some(at(60)));
    store.create_schedule(&good).await.unwrap();
    drop(store);
    h.corrupt_schedule("s-broken").await;
    let store = h.schedules().await;

    let page = store.list_schedules(&PageRequest::default()).await.unwrap();
    assert_eq!(page.items, vec![good]);
    assert_eq!(page.skipped.len(), 1);
    assert_eq!(page.skipped[0].key, "s-broken");
    assert!(matches!(page.skipped[0].reason, SkipReason::Corrupt(_)));

    let broken = ScheduleId::parse("s-broken").unwrap();
    assert!(matches!(
        store.get_schedule(&broken).await,
        Err(StoreError::InvalidData(_))
    ));
    // An unreadable schedule still holds its id.
    let mut again = schedule(None);
    again.id = broken;
    assert!(matches!(
        store.create_schedule(&again).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn schedules_survive_reopening(h: &dyn Harness) {
    let store = h.schedules().await;
    let record = schedule(Some(at(60))).owned_by(key("a:reopened"), "still here");
    store.create_schedule(&record).await.unwrap();
    drop(store);
    let store = h.schedules().await;
    assert_eq!(
        store.get_schedule(&record.id).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        store.due_schedules(at(60), 10).await.unwrap(),
        vec![record.clone()]
    );
    assert_eq!(owned_by(&*store, &key("a:reopened")).await, vec![record]);
}
