//! The notify API Lambda: the routes of `openapi.json`, served by `lambda_http`. Settings are
//! read by `herald-bootstrap`: the tables (`HERALD_REFERENCES_TABLE`, `HERALD_OUTBOX_TABLE`,
//! `HERALD_SCHEDULES_TABLE`), the bot (`MicrosoftAppId` and its password from the secret), the API
//! key hashes (`HERALD_API_KEY_SHA256`, from the secret), `HERALD_DELIVERY_TTL_DAYS`,
//! `HERALD_EDIT_CONCURRENCY` and `HERALD_EDIT_DEADLINE_SECONDS`. Mount the function on the
//! `$default` stage (or strip the stage) so paths start with `/api/`.

use std::sync::Arc;

use herald_bootstrap::Deps;
use herald_notify::{Notify, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let notify = Notify::from_deps(&Deps::lambda().await?)?;
    lambda_http::run(router(Arc::new(notify))).await
}
