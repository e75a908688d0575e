//! The webhook Lambda: `POST /api/messages` from Teams, served by `lambda_http`. It refuses to
//! start without `MicrosoftAppId` (there is no unauthenticated mode here); the other settings
//! (`HERALD_REFERENCES_TABLE`, `HERALD_SCHEDULES_TABLE`, `HERALD_OUTBOX_TABLE` for installation
//! waits, `HERALD_EVENT_BUS`, the bot password from the secret) are read by `herald-bootstrap`.

use std::sync::Arc;

use herald_bootstrap::Deps;
use herald_webhook::{Webhook, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let webhook = Webhook::from_deps(&Deps::lambda().await?)?;
    lambda_http::run(router(Arc::new(webhook))).await
}
