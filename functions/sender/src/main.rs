//! The sender Lambda: batches of the outbox table's DynamoDB stream, and EventBridge events.
//! Settings are read by `herald-bootstrap` (the tables, the bot and its password, the event bus,
//! `HERALD_DELIVERY_TTL_DAYS`) and `SenderConfig` (`HERALD_SENDER_CONCURRENCY`,
//! `HERALD_EVENT_ROUTES`), Graph installation by `herald-graph` (`HERALD_GRAPH_INSTALL`, ...).

use herald_bootstrap::Deps;
use herald_sender::{SenderEvent, SenderFunction};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let function = SenderFunction::from_deps(&Deps::lambda().await?)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SenderEvent>| async {
        function
            .handle(event)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
