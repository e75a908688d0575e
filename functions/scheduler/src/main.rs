//! The scheduler Lambda, fired every minute by an EventBridge schedule rule. Settings are read
//! by `herald-bootstrap` (the three tables, the event bus, `HERALD_DELIVERY_TTL_DAYS`) and
//! `SchedulerConfig` (`HERALD_MAX_LATENESS`, `HERALD_DEFAULT_TIME_ZONE`).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use herald_bootstrap::Deps;
use herald_scheduler::Scheduler;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let scheduler = Scheduler::from_deps(&Deps::lambda().await?)?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<EventBridgeEvent<Value>>| async {
            scheduler
                .handle(event)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
