//! 20,000 personal reminders due in the same minute, on the deployed shape: the scheduler's
//! real binary in the Lambda test bed (its 55 s timeout, one instance), on DynamoDB Local. The
//! minute's tick pages through everything due and fires it in parallel; a tick out of time
//! leaves the rest to the next one. Target: every reminder is a notification within 60 s of the
//! minute, none recorded missed.
//!
//! Run: `.ci/with-services cargo bench -p herald-lambda-bed --bench reminders`
//! (`BENCH_REMINDERS` sets the count).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use chrono::{DateTime, Timelike as _, Utc};
use futures::StreamExt as _;
use herald_domain::{BotAppId, ConversationId, ConversationKey, Target, TenantId};
use herald_lambda_bed::{BedConfig, HeraldTables, LambdaBed, create_herald_tables};
use herald_schedule::{Recurrence, ScheduleRule, ScheduleZone};
use herald_store::{DynamoScheduleStore, ScheduleId, ScheduleRecord, ScheduleStore as _};
use serde_json::json;

const APP: &str = "00000000-0000-0000-0000-00000000b0b0";

/// A chat reminder of person `i`, daily at the minute of `due`, as the webhook stores one.
fn reminder(i: usize, due: DateTime<Utc>, now: DateTime<Utc>) -> ScheduleRecord {
    let key = ConversationKey::new(
        TenantId::new(format!("72f988bf-0000-4000-8000-{:012}", i % 50)).expect("tenant"),
        ConversationId::new(format!("a:reminder-{i}")).expect("chat"),
    );
    let rule = ScheduleRule::new(Recurrence::Daily {
        time: chrono::NaiveTime::from_hms_opt(due.hour(), due.minute(), 0).expect("a time"),
    });
    ScheduleRecord::new(
        ScheduleId::random(),
        rule,
        ScheduleZone::Fixed("UTC".parse().expect("UTC")),
        Target::Conversations {
            ids: vec![key.conversation_id.clone()],
        },
        json!({"text": "stand up"}),
        json!({"type": "message", "text": "stand up"}),
        now,
    )
    .with_next_fire(Some(due))
    .owned_by(key, "stand up")
}

/// Items of `table` matching `filter` on `:v` (a Scan that only counts).
async fn count(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    filter: &str,
    value: AttributeValue,
) -> u64 {
    let mut total = 0;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .select(Select::Count)
            .filter_expression(filter)
            .expression_attribute_values(":v", value.clone())
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        total += page.count() as u64;
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return total;
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let reminders: usize = std::env::var("BENCH_REMINDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let client = herald_testkit::dynamodb_client();
    let tables = HeraldTables::unique("reminders");
    let app = BotAppId::new(APP).expect("app id");
    create_herald_tables(&herald_testkit::dynamodb_endpoint(), &tables, &app)
        .await
        .expect("create tables on DynamoDB Local (is .ci/with-services running it?)");

    // Due at the start of a minute far enough ahead to store them all first.
    let store = DynamoScheduleStore::new(client.clone(), &tables.schedules);
    let now = Utc::now();
    let seeding = Instant::now();
    let due = (now + chrono::Duration::minutes(2))
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .expect("a minute");
    futures::stream::iter(0..reminders)
        .map(|i| {
            let store = &store;
            async move {
                store
                    .create_schedule(&reminder(i, due, now))
                    .await
                    .expect("store a reminder");
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    println!(
        "{reminders} reminders stored in {:.1} s, due at {due}",
        seeding.elapsed().as_secs_f64()
    );
    let mut refs = BTreeMap::from([
        ("BotAppId".to_owned(), APP.to_owned()),
        ("HeraldBus".to_owned(), herald_testkit::unique_name("bus")),
    ]);
    tables.add_refs(&mut refs);
    let mut config = BedConfig::new(refs);
    config.only = Some(vec!["SchedulerFunction".to_owned()]);
    let bed = LambdaBed::start(config).await.expect("start the bed");
    if let Ok(wait) = (due - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
    // EventBridge's rate(1 minute) schedule, once a minute from the due minute.
    let mut made = 0;
    let mut done_after = None;
    let mut next_tick = due;
    for tick in 0..3_usize {
        bed.fire_schedule("SchedulerFunction").expect("tick");
        let ended = bed
            .log()
            .wait(Duration::from_secs(60), |log| {
                let ticks = log.invocations_of("SchedulerFunction");
                (ticks.len() > tick).then(|| ticks[tick].clone())
            })
            .await
            .expect("the tick ended");
        let header = AttributeValue::S("#notification".to_owned());
        made = count(&client, &tables.outbox, "sk = :v", header).await;
        let at: DateTime<Utc> = ended.end.into();
        println!(
            "tick {} ({:?}): {:.1} s, {made} notifications {:.1} s after the minute",
            tick + 1,
            ended.outcome,
            ended
                .end
                .duration_since(ended.start)
                .unwrap_or_default()
                .as_secs_f64(),
            (at - due).as_seconds_f64()
        );
        if made as usize >= reminders {
            done_after = Some((at - due).as_seconds_f64());
            break;
        }
        next_tick += chrono::Duration::minutes(1);
        if let Ok(wait) = (next_tick - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
    }
    let zero = AttributeValue::N("0".to_owned());
    let missed = count(&client, &tables.schedules, "missed > :v", zero).await;
    match done_after {
        Some(seconds) => println!(
            "{reminders} reminders due in one minute: all {made} notifications within {seconds:.1} s \
             (target 60 s), {missed} recorded missed"
        ),
        None => println!(
            "{reminders} reminders due in one minute: only {made} notifications after 3 ticks, \
             {missed} recorded missed"
        ),
    }
}
