//! Zone moves: a write that changes a reference's zone key records the zone it left and when,
//! and the references that left a zone are listed by it (a recipient-local schedule's fire on
//! the day of a move reaches the person once).

use herald_domain::{ConversationReference, TimeZone, ZoneMove};
use herald_store::{ListFilter, ReferenceStore};

use crate::support::{APP, Harness, TENANT, at, channel, list_all, personal};

fn zone(name: &str) -> TimeZone {
    name.parse().unwrap()
}

fn moved(from: &str, seconds: i64) -> ZoneMove {
    ZoneMove {
        previous_zone_key: from.to_owned(),
        zone_moved_at: at(seconds),
    }
}

/// Person `n` reporting `zone_name` from their Teams client at `seconds`.
fn reporting(n: u32, zone_name: &str, seconds: i64) -> ConversationReference {
    let mut r = personal(TENANT, n, seconds);
    r.time_zone = Some(zone(zone_name));
    r
}

async fn stored_move(store: &dyn ReferenceStore, r: &ConversationReference) -> Option<ZoneMove> {
    store.get(&r.key()).await.unwrap().unwrap().zone_move
}

pub async fn a_move_records_previous_zone_and_time(h: &dyn Harness) {
    let store = h.references(APP).await;
    let berlin = reporting(60, "Europe/Berlin", 0);
    store.upsert(&berlin).await.unwrap();
    assert_eq!(stored_move(&*store, &berlin).await, None);

    // Teams reports a new localTimezone.
    store
        .upsert(&reporting(60, "America/New_York", 60))
        .await
        .unwrap();
    assert_eq!(
        stored_move(&*store, &berlin).await,
        Some(moved("Europe/Berlin", 60))
    );
    // The person chooses a zone (`timezone Asia/Tokyo`), then follows Teams again.
    store
        .set_time_zone_override(&berlin.key(), Some(zone("Asia/Tokyo")), at(90))
        .await
        .unwrap();
    assert_eq!(
        stored_move(&*store, &berlin).await,
        Some(moved("America/New_York", 90))
    );
    store
        .set_time_zone_override(&berlin.key(), None, at(120))
        .await
        .unwrap();
    assert_eq!(
        stored_move(&*store, &berlin).await,
        Some(moved("Asia/Tokyo", 120))
    );

    // A channel without a zone of its own is in `none` until one is set in it.
    let team = "19:team-moves@thread.tacv2";
    let general = channel(TENANT, team, team, None);
    store.upsert(&general).await.unwrap();
    store
        .set_time_zone_override(&general.key(), Some(zone("Asia/Tokyo")), at(30))
        .await
        .unwrap();
    assert_eq!(
        stored_move(&*store, &general).await,
        Some(moved("none", 30))
    );
}

pub async fn a_write_that_keeps_the_zone_keeps_the_move(h: &dyn Harness) {
    let store = h.references(APP).await;
    let person = reporting(61, "Europe/Berlin", 0);
    store.upsert(&person).await.unwrap();
    store
        .upsert(&reporting(61, "America/New_York", 60))
        .await
        .unwrap();
    let expected = Some(moved("Europe/Berlin", 60));

    store
        .upsert(&reporting(61, "America/New_York", 100))
        .await
        .unwrap();
    assert_eq!(stored_move(&*store, &person).await, expected);
    // An activity without localTimezone keeps the zone.
    let mut silent = personal(TENANT, 61, 110);
    silent.time_zone = None;
    store.upsert(&silent).await.unwrap();
    assert_eq!(stored_move(&*store, &person).await, expected);
    // Choosing the zone one is already in is no move.
    store
        .set_time_zone_override(&person.key(), Some(zone("America/New_York")), at(120))
        .await
        .unwrap();
    assert_eq!(stored_move(&*store, &person).await, expected);
    // While the choice stands, a client reporting another zone moves nobody.
    store
        .upsert(&reporting(61, "Asia/Kolkata", 130))
        .await
        .unwrap();
    assert_eq!(stored_move(&*store, &person).await, expected);
    // A caller's move is never taken, on an update or on a create.
    let mut claimed = reporting(61, "Asia/Kolkata", 140);
    claimed.zone_move = Some(moved("Australia/Sydney", 5));
    store.upsert(&claimed).await.unwrap();
    assert_eq!(stored_move(&*store, &person).await, expected);
    let mut fresh = reporting(62, "Asia/Kolkata", 0);
    fresh.zone_move = Some(moved("Australia/Sydney", 5));
    store.upsert(&fresh).await.unwrap();
    assert_eq!(stored_move(&*store, &fresh).await, None);
}

pub async fn lists_references_by_the_zone_they_left(h: &dyn Harness) {
    let store = h.references(APP).await;
    for n in 63..=66 {
        let from = if n == 66 {
            "America/New_York"
        } else {
            "Europe/Berlin"
        };
        store.upsert(&reporting(n, from, 0)).await.unwrap();
    }
    // 63 and 64 leave Berlin, 65 stays, 66 moves from New York to Berlin.
    for (n, to) in [
        (63, "America/New_York"),
        (64, "Asia/Tokyo"),
        (65, "Europe/Berlin"),
        (66, "Europe/Berlin"),
    ] {
        store.upsert(&reporting(n, to, 60)).await.unwrap();
    }
    let left = |zone: &str| ListFilter {
        previous_zone: Some(zone.to_owned()),
        ..ListFilter::default()
    };
    let people = |refs: Vec<ConversationReference>| {
        let mut names: Vec<String> = refs
            .into_iter()
            .filter_map(|r| r.user.and_then(|u| u.name))
            .collect();
        names.sort();
        names
    };
    // One page at a time, too.
    assert_eq!(
        people(list_all(&*store, &left("Europe/Berlin"), Some(1)).await),
        ["User Number 63", "User Number 64"]
    );
    assert_eq!(
        people(list_all(&*store, &left("America/New_York"), None).await),
        ["User Number 66"]
    );
    // Moving on replaces the zone left: 63 left New York last.
    store
        .upsert(&reporting(63, "Asia/Tokyo", 120))
        .await
        .unwrap();
    assert_eq!(
        people(list_all(&*store, &left("Europe/Berlin"), None).await),
        ["User Number 64"]
    );
    assert_eq!(
        people(list_all(&*store, &left("America/New_York"), None).await),
        ["User Number 63", "User Number 66"]
    );
    // The other filters still apply.
    let tokyo_leavers_in_tokyo = ListFilter {
        zone: Some("Asia/Tokyo".into()),
        previous_zone: Some("Europe/Berlin".into()),
        ..ListFilter::default()
    };
    assert_eq!(
        people(list_all(&*store, &tokyo_leavers_in_tokyo, None).await),
        ["User Number 64"]
    );
    assert!(
        list_all(&*store, &left("Asia/Tokyo"), None)
            .await
            .is_empty()
    );
}
