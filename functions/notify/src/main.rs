//! The notify API Lambda: wires configuration and clients, then serves the routes of
//! `openapi.json`.
//!
//! | variable | |
//! |---|---|
//! | `HERALD_API_KEY_SHA256` | accepted keys as SHA-256 hex digests, comma-separated |
//! | `HERALD_API_KEY` | a plain key (local use); one of the two is required |
//! | `HERALD_REFERENCES_TABLE`, `HERALD_OUTBOX_TABLE`, `HERALD_SCHEDULES_TABLE` | the DynamoDB tables |
//! | `MicrosoftAppId`, `MicrosoftAppPassword`, ... | the bot, as `ConnectorConfig::from_env` reads it |
//! | `HERALD_DELIVERY_TTL_DAYS` | retention of notifications (default 30) |
//! | `HERALD_EDIT_CONCURRENCY`, `HERALD_EDIT_DEADLINE_SECONDS` | update/retract pacing (8, 20 s) |
//!
//! Routes are matched on the request path as API Gateway passes it: mount the function on the
//! `$default` stage (or strip the stage) so paths start with `/api/`.

use std::sync::Arc;

use herald_connector::{ConnectorConfig, teams_connector};
use herald_domain::SystemClock;
use herald_notify::{Notify, NotifyConfig};
use herald_settings::Settings;
use herald_store::{DynamoOutboxStore, DynamoReferenceStore, DynamoScheduleStore, StoreConfig};
use lambda_http::{Error, run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // The environment, with the keys of the HERALD_SECRET_ARN secret (API key hashes, the bot
    // password) over it.
    let settings = Settings::load(&aws).await?;
    let lookup = settings.lookup();
    // Refuses to start without an API key: there is no open mode.
    let config = NotifyConfig::from_lookup(lookup)?;
    let outbox_table = lookup("HERALD_OUTBOX_TABLE")
        .filter(|v| !v.trim().is_empty())
        .ok_or("HERALD_OUTBOX_TABLE is not set")?;
    let schedules_table = lookup("HERALD_SCHEDULES_TABLE")
        .filter(|v| !v.trim().is_empty())
        .ok_or("HERALD_SCHEDULES_TABLE is not set")?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let references =
        DynamoReferenceStore::new(dynamodb.clone(), &StoreConfig::from_lookup(lookup)?);
    let schedules = DynamoScheduleStore::new(dynamodb.clone(), schedules_table);
    let outbox = DynamoOutboxStore::new(dynamodb, outbox_table);
    let connector = teams_connector(&ConnectorConfig::from_lookup(lookup)?)?;
    let notify = Notify {
        references: Arc::new(references),
        outbox: Arc::new(outbox),
        schedules: Arc::new(schedules),
        connector: Arc::new(connector),
        clock: Arc::new(SystemClock),
        config,
    };
    run(herald_notify::router(Arc::new(notify))).await
}
