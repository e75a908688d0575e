//! The webhook Lambda: wires configuration and clients, then serves `POST /api/messages`.

use std::sync::Arc;

use herald_connector::inbound::JwtValidator;
use herald_connector::{ConnectorConfig, teams_connector};
use herald_domain::SystemClock;
use herald_events::{EventBridgePublisher, EventsConfig};
use herald_settings::Settings;
use herald_store::{
    DynamoOutboxStore, DynamoReferenceStore, DynamoScheduleStore, InstallWaits, StoreConfig,
};
use herald_webhook::{InboundAuth, Webhook, WebhookConfig, inbound_auth_config};
use lambda_http::{Error, run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // The environment, with the keys of the HERALD_SECRET_ARN secret (the bot password) over it.
    let settings = Settings::load(&aws).await?;
    let lookup = settings.lookup();
    // Refuses to start without MicrosoftAppId: there is no unauthenticated mode here.
    let config = WebhookConfig::from_lookup(lookup)?;
    let validator = JwtValidator::new(inbound_auth_config(&config.bot_app_id, lookup))?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let store = DynamoReferenceStore::new(dynamodb.clone(), &StoreConfig::from_lookup(lookup)?);
    // Chat reminders (`remind me ...`) are stored as schedules.
    let schedules_table = lookup("HERALD_SCHEDULES_TABLE")
        .filter(|v| !v.trim().is_empty())
        .ok_or("HERALD_SCHEDULES_TABLE is not set")?;
    // Deliveries waiting for an installation through Graph live in the outbox.
    let install_waits = lookup("HERALD_OUTBOX_TABLE")
        .filter(|v| !v.trim().is_empty())
        .map(|table| {
            Arc::new(DynamoOutboxStore::new(dynamodb.clone(), table)) as Arc<dyn InstallWaits>
        });
    let schedules = DynamoScheduleStore::new(dynamodb, schedules_table);
    let connector = teams_connector(&ConnectorConfig::from_lookup(lookup)?)?;
    let events = EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(&aws),
        EventsConfig::from_lookup(lookup)?,
    );
    let webhook = Webhook {
        store: Arc::new(store),
        schedules: Arc::new(schedules),
        connector: Arc::new(connector),
        auth: InboundAuth::BotFramework(validator),
        events: Arc::new(events),
        clock: Arc::new(SystemClock),
        config,
        install_waits,
    };
    run(herald_webhook::router(Arc::new(webhook))).await
}
