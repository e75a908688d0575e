//! The sender Lambda: DynamoDB stream batches from the outbox table, and EventBridge events.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use herald_connector::{ConnectorConfig, teams_connector};
use herald_domain::{BotAppId, SystemClock};
use herald_events::{EventBridgePublisher, EventsConfig};
use herald_pipeline::{Expander, ProactiveInstall, Sender};
use herald_sender::{SenderConfig, SenderFunction};
use herald_settings::Settings;
use herald_store::{DynamoOutboxStore, DynamoReferenceStore, StoreConfig};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // The environment, with the keys of the HERALD_SECRET_ARN secret (the bot password) over it.
    let settings = Settings::load(&aws).await?;
    let lookup = settings.lookup();
    let config = SenderConfig::from_lookup(lookup)?;
    let store_config = StoreConfig::from_lookup(lookup)?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let references = Arc::new(DynamoReferenceStore::new(dynamodb.clone(), &store_config));
    let outbox = Arc::new(DynamoOutboxStore::new(dynamodb, &config.outbox_table));
    let connector_config = ConnectorConfig::from_lookup(lookup)?;
    let connector = Arc::new(teams_connector(&connector_config)?);
    // HERALD_GRAPH_INSTALL: people without a personal chat get the app installed through Graph.
    let install =
        ProactiveInstall::from_lookup(lookup, &connector_config.credentials, outbox.clone())?;
    let events = Arc::new(EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(&aws),
        EventsConfig::from_lookup(lookup)?,
    ));
    let clock = Arc::new(SystemClock);
    let retention = chrono::Duration::days(config.retention_days);
    let bot: BotAppId = store_config.bot_app_id.clone();
    let function = SenderFunction {
        expander: Expander {
            references: references.clone(),
            outbox: outbox.clone(),
            connector: connector.clone(),
            clock: clock.clone(),
            retention,
            proactive_install: install.is_some(),
        },
        sender: Sender::new(
            references,
            outbox.clone(),
            connector,
            events,
            clock.clone(),
            bot,
        )
        .with_install(install),
        outbox,
        router: config.router,
        retention,
        clock,
        concurrency: config.concurrency,
        safety_margin: Duration::from_secs(5),
    };
    run(service_fn(|event: LambdaEvent<Value>| {
        handle(&function, event)
    }))
    .await
}

/// Stream batches carry `Records`; EventBridge events carry `detail-type`.
async fn handle(function: &SenderFunction, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let deadline = DateTime::<Utc>::from_timestamp_millis(
        i64::try_from(event.context.deadline).unwrap_or(i64::MAX),
    );
    if event.payload.get("Records").is_some() {
        let batch: DynamoDbEvent = serde_json::from_value(event.payload)?;
        let response = function.handle_stream(batch, deadline).await;
        return Ok(serde_json::to_value(response)?);
    }
    let event: EventBridgeEvent<Value> = serde_json::from_value(event.payload)?;
    let id = function.handle_event(&event).await?;
    Ok(serde_json::json!({"notificationId": id.map(|i| i.to_string())}))
}
