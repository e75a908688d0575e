//! A recipient-local schedule on the day people change zones, on both stores: each fire is
//! expanded when it is created, as the outbox stream would, and everyone ends the day with
//! exactly one copy, the people who moved included.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::Duration;
use herald_connector::{ConnectorConfig, teams_connector};
use herald_domain::ConversationReference;
use herald_pipeline::{Expander, Expansion};
use herald_store::{NotificationId, PageRequest, ZoneFire};
use serde_json::json;

use crate::harness::{APP, Harness, Now as _, person, utc};

fn expander(h: &Harness) -> Expander {
    let env = HashMap::from([
        ("MicrosoftAppId", APP.to_owned()),
        ("MicrosoftAppPassword", "unused".to_owned()),
        ("MicrosoftAppTenantId", "t".to_owned()),
    ]);
    let config = ConnectorConfig::from_lookup(|n| env.get(n).cloned()).unwrap();
    Expander {
        references: h.references.clone(),
        outbox: h.outbox.clone(),
        connector: Arc::new(teams_connector(&config).unwrap()),
        clock: h.clock.clone(),
        retention: Duration::days(30),
        proactive_install: false,
    }
}

/// Ticks until `until`, expanding each fire at once; returns the fires.
async fn run_and_expand(h: &Harness, expander: &Expander, until: &str) -> Vec<NotificationId> {
    let fired = h.run_until(until).await;
    let mut ids = Vec::new();
    for (at, id) in fired {
        let record = h.outbox.get_notification(&id).await.unwrap().unwrap();
        assert_eq!(
            record.zone_fire.map(|f: ZoneFire| f.at),
            Some(at),
            "{:?}",
            record.zone_filter
        );
        // The clock stands still: `until` never passes, so expansion runs to the end.
        let until = h.clock.now_utc() + Duration::hours(1);
        let step = expander.expand(&id, until).await.unwrap();
        assert_eq!(step, Expansion::Done);
        ids.push(id);
    }
    ids
}

/// Person `n` as Teams reports them from `zone` at `at`.
fn reporting(n: u32, zone: &str, at: &str) -> ConversationReference {
    let mut r = person(n, Some(zone));
    r.updated_at = utc(at);
    r
}

async fn everyone_gets_one_fire_on_the_day_of_a_move(h: Harness) {
    // 1 flies Berlin -> New York after Berlin's 09:00 (08:00 UTC) and before New York's (14:00
    // UTC); 2 flies New York -> Berlin between the same fires. 3, 4 and 5 stay in Berlin, New
    // York and Tokyo, 6 has no zone (the default, UTC), 7 left Kolkata for Berlin in June.
    let people = [
        (1, Some("Europe/Berlin")),
        (2, Some("America/New_York")),
        (3, Some("Europe/Berlin")),
        (4, Some("America/New_York")),
        (5, Some("Asia/Tokyo")),
        (6, None),
        (7, Some("Asia/Kolkata")),
    ];
    for (n, zone) in people {
        h.references.upsert(&person(n, zone)).await.unwrap();
    }
    h.references
        .upsert(&reporting(7, "Europe/Berlin", "2026-06-01T00:00:00Z"))
        .await
        .unwrap();
    h.schedule(json!({"kind": "daily", "time": "09:00"}), "recipient")
        .await;
    let expander = expander(&h);
    let mut fired = run_and_expand(&h, &expander, "2026-12-02T09:59:00Z").await;
    for (n, zone) in [(1, "America/New_York"), (2, "Europe/Berlin")] {
        h.references
            .upsert(&reporting(n, zone, "2026-12-02T10:00:00Z"))
            .await
            .unwrap();
    }
    // The rest of 2 December in every zone: New York's 09:00, then no zone fires until Tokyo's
    // 3 December.
    fired.extend(run_and_expand(&h, &expander, "2026-12-02T23:59:00Z").await);

    let mut copies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut zones = Vec::new();
    for id in &fired {
        let record = h.outbox.get_notification(id).await.unwrap().unwrap();
        let zone = record.zone_filter.unwrap();
        zones.push(zone.clone());
        let page = h
            .outbox
            .list_deliveries(id, None, &PageRequest::default())
            .await
            .unwrap();
        assert!(page.next_cursor.is_none());
        for delivery in page.items {
            copies
                .entry(delivery.conversation_id.unwrap().to_string())
                .or_default()
                .push(zone.clone());
        }
    }
    let one = |zone: &str| vec![zone.to_owned()];
    let expected = BTreeMap::from([
        // Berlin's 09:00 reached 1 in Berlin; New York's is not theirs again.
        ("a:1".to_owned(), one("Europe/Berlin")),
        // In New York at Berlin's 09:00 and in Berlin at New York's: the later one.
        ("a:2".to_owned(), one("America/New_York")),
        ("a:3".to_owned(), one("Europe/Berlin")),
        ("a:4".to_owned(), one("America/New_York")),
        ("a:5".to_owned(), one("Asia/Tokyo")),
        ("a:6".to_owned(), one("none")),
        ("a:7".to_owned(), one("Europe/Berlin")),
    ]);
    assert_eq!(copies, expected);
    // One fire per zone someone is in or left that day: Kolkata, left in June, fires for nobody.
    assert_eq!(
        zones,
        ["Asia/Tokyo", "Europe/Berlin", "none", "America/New_York"]
    );
}

#[tokio::test]
async fn everyone_gets_one_fire_on_the_day_of_a_move_embedded() {
    everyone_gets_one_fire_on_the_day_of_a_move(Harness::embedded("2026-12-01T23:59:00Z")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_gets_one_fire_on_the_day_of_a_move_on_dynamodb() {
    everyone_gets_one_fire_on_the_day_of_a_move(Harness::dynamodb("2026-12-01T23:59:00Z").await)
        .await;
}
