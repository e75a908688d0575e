//! The scheduler Lambda, fired every minute by an EventBridge schedule rule.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use herald_domain::SystemClock;
use herald_events::{EventBridgePublisher, EventsConfig};
use herald_pipeline::InstallSweep;
use herald_scheduler::{Scheduler, SchedulerConfig};
use herald_store::{DynamoOutboxStore, DynamoReferenceStore, DynamoScheduleStore, StoreConfig};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let lookup = |name: &str| std::env::var(name).ok();
    let config = SchedulerConfig::from_lookup(lookup)?;
    let store_config = StoreConfig::from_env()?;
    let table =
        |name: &'static str| lookup(name).ok_or_else(|| Error::from(format!("{name} is not set")));
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let outbox = Arc::new(DynamoOutboxStore::new(
        dynamodb.clone(),
        table("HERALD_OUTBOX_TABLE")?,
    ));
    let references = Arc::new(DynamoReferenceStore::new(dynamodb.clone(), &store_config));
    let clock = Arc::new(SystemClock);
    let scheduler = Scheduler {
        schedules: Arc::new(DynamoScheduleStore::new(
            dynamodb,
            table("HERALD_SCHEDULES_TABLE")?,
        )),
        outbox: outbox.clone(),
        references: references.clone(),
        clock: clock.clone(),
        config,
        // Cheap when nothing waits (one query), and ends waits left from when it was enabled.
        install_sweep: Some(InstallSweep::new(
            outbox.clone(),
            outbox,
            references,
            Arc::new(EventBridgePublisher::new(
                aws_sdk_eventbridge::Client::new(&aws),
                EventsConfig::from_lookup(lookup)?,
            )),
            clock,
        )),
    };
    run(service_fn(
        |_event: LambdaEvent<EventBridgeEvent<Value>>| async {
            let report = scheduler.tick().await?;
            Ok::<_, Error>(json!({
                "due": report.due,
                "notifications": report.notifications.len(),
                "missed": report.missed,
                "conflicts": report.conflicts,
                "installWaitsEnded": report.installs.resumed + report.installs.retried + report.installs.timed_out,
            }))
        },
    ))
    .await
}
