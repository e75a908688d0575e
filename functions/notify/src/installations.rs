//! `GET /api/installations`: stored conversation references, filtered and paged. With
//! `status=blocked` (or uninstalled, optedOut) it is the report of who turned the bot away, when,
//! and what showed it. A key limited to some tenants lists one of its tenants at a time.

use std::sync::Arc;

use axum::extract::State;
use herald_domain::ReferenceStatus;
use herald_http::{ApiError, Reply};
use herald_store::ListFilter;
use serde_json::Value;

use crate::Notify;
use crate::auth::Caller;
use crate::error::store_error;
use crate::extract::Params;
use crate::query::page_reply;

pub(crate) async fn list(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    Params(query): Params,
) -> Result<Reply, ApiError> {
    query.only(&["type", "tenantId", "teamId", "status", "cursor", "limit"])?;
    let filter = ListFilter {
        tenant: caller.listing_tenant(query.value("tenantId", "a tenant id")?)?,
        conversation_type: query.value("type", "one of personal, groupChat, channel")?,
        team: query.value("teamId", "a team id")?,
        status: query.value::<ReferenceStatus>(
            "status",
            "one of active, uninstalled, blocked, optedOut, archived",
        )?,
        zone: None,
        previous_zone: None,
    };
    let page = query.page()?;
    let page = notify
        .references
        .list(&filter, &page)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(page_reply("installations", &page, |reference| {
        let mut item = serde_json::to_value(reference).unwrap_or_default();
        if let Some(object) = item.as_object_mut() {
            object.entry("statusReason").or_insert(Value::Null);
        }
        item
    }))
}
