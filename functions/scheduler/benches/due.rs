//! Items DynamoDB reads per scheduler tick as the number of stored schedules grows, with 100 due.
//! Needs DynamoDB Local (run it as `.ci/with-services cargo bench -p herald-scheduler`).
//!
//! The target is at most 2x the due count and flat as stored schedules grow: a tick queries the
//! sparse due index, so what is not due is never read.

#[path = "../tests/support/schedule.rs"]
mod schedule;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use herald_domain::{BotAppId, ManualClock};
use herald_schedule::ScheduleRule;
use herald_scheduler::{Scheduler, SchedulerConfig};
use herald_store::{
    DynamoOutboxStore, DynamoReferenceStore, DynamoScheduleStore, ScheduleRecord, ScheduleStore,
    StoreConfig,
};
use schedule::stored_schedule;
use serde_json::json;

const DUE: usize = 100;

fn record(now: DateTime<Utc>, minute_of_day: u32) -> ScheduleRecord {
    let time = format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60);
    let rule = ScheduleRule::from_json(&json!({"recurrence": {"kind": "daily", "time": time}}))
        .expect("valid rule");
    stored_schedule(rule, "UTC", "bench", now)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES").ok().map_or_else(
        || vec![1_000, 10_000, 100_000],
        |s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
    );
    let client = herald_testkit::dynamodb_client();
    // 08:59 UTC; the due schedules fire at 09:00, the others later in the day.
    let start = DateTime::parse_from_rfc3339("2026-11-23T08:59:00Z")
        .expect("time")
        .with_timezone(&Utc);
    println!("scheduler tick cost on DynamoDB Local ({DUE} due per tick)");
    println!(
        "{:>9} {:>6} {:>11} {:>9} {:>13}",
        "stored", "due", "items read", "per due", "notifications"
    );
    for stored in sizes {
        let schedules = DynamoScheduleStore::new(
            client.clone(),
            herald_testkit::unique_name("bench-schedules"),
        );
        schedules.ensure_table().await.expect("schedules table");
        let outbox =
            DynamoOutboxStore::new(client.clone(), herald_testkit::unique_name("bench-outbox"));
        outbox.ensure_table().await.expect("outbox table");
        let references = DynamoReferenceStore::new(
            client.clone(),
            &StoreConfig {
                references_table: herald_testkit::unique_name("bench-references"),
                bot_app_id: BotAppId::new("bench").expect("app"),
            },
        );
        references.ensure_table().await.expect("references table");
        let schedules = Arc::new(schedules);

        // Seed: DUE schedules at 09:00, the rest spread from 09:01 to 23:59.
        let mut tasks = tokio::task::JoinSet::new();
        let workers = 48;
        for worker in 0..workers {
            let schedules = Arc::clone(&schedules);
            tasks.spawn(async move {
                let mut n = worker;
                while n < stored {
                    let minute = if n < DUE {
                        9 * 60
                    } else {
                        9 * 60 + 1 + (n % (15 * 60 - 1)) as u32
                    };
                    schedules
                        .create_schedule(&record(start, minute))
                        .await
                        .expect("seed");
                    n += workers;
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("seed task");
        }

        let clock = Arc::new(ManualClock::new(start + Duration::minutes(1)));
        let ticker = Scheduler {
            schedules: schedules.clone(),
            outbox: Arc::new(outbox),
            references: Arc::new(references),
            clock,
            retention: chrono::Duration::days(30),
            config: SchedulerConfig::default(),
            install_sweep: None,
            stranded_sweep: None,
            follow_up_sweep: None,
        };
        let before = schedules.items_read();
        let report = ticker.tick().await.expect("tick");
        let read = schedules.items_read() - before;
        println!(
            "{stored:>9} {:>6} {read:>11} {:>9.2} {:>13}",
            report.due,
            read as f64 / report.due.max(1) as f64,
            report.notifications.len()
        );
    }
}
