//! `POST /api/audience`: who a target reaches now, before anything is sent, counted the way
//! expansion records each recipient (to send; skipped as opted out, blocked, uninstalled or
//! archived; unresolved), so the console can show the audience of a draft.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use herald_domain::DeliveryStatus;
use herald_http::{ApiError, Reply};
use herald_pipeline::Expander;
use herald_pipeline::request::parse_target;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::{invalid, request_error};
use crate::extract::JsonBody;
use crate::{Notify, SOURCE};

/// How long an estimate reads recipients before answering with what it counted (marked
/// incomplete): well inside API Gateway's 30 s
/// (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html>).
pub const AUDIENCE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// A target the API key may not send to is refused as `POST /api/notify` refuses it.
pub(crate) async fn estimate(
    State(notify): State<Arc<Notify>>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Reply, ApiError> {
    let Value::Object(object) = &body else {
        return Err(invalid(
            "InvalidRequest",
            "",
            "the body must be a JSON object",
        ));
    };
    if let Some(unknown) = object.keys().find(|k| *k != "target") {
        return Err(invalid(
            "InvalidRequest",
            unknown,
            format!("{unknown}: unknown field (expected target)"),
        ));
    }
    let target = parse_target(object.get("target")).map_err(|e| request_error(&e))?;
    caller.allow_target(&target)?;
    let expander = Expander {
        references: notify.references.clone(),
        outbox: notify.outbox.clone(),
        connector: notify.connector.clone(),
        clock: notify.clock.clone(),
        retention: notify.retention,
        // People without a conversation are counted as unresolved whether or not the sender
        // would install the app for them through Graph.
        proactive_install: false,
    };
    let until = notify.clock.now()
        + chrono::Duration::from_std(AUDIENCE_DEADLINE).unwrap_or(chrono::Duration::zero());
    let estimate = expander.estimate(&target, until).await.map_err(|e| {
        tracing::error!(error = %e, source = SOURCE, "audience estimate failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "StoreUnavailable",
            e.to_string(),
        )
    })?;
    let skipped = |status| estimate.count(status);
    Ok(Reply::json(
        StatusCode::OK,
        json!({
            "target": target,
            "recipients": estimate.count(DeliveryStatus::Pending),
            "optedOut": skipped(DeliveryStatus::SkippedOptedOut),
            "blocked": skipped(DeliveryStatus::SkippedBlocked),
            "uninstalled": skipped(DeliveryStatus::SkippedUninstalled),
            "archived": skipped(DeliveryStatus::SkippedArchived),
            "unresolved": skipped(DeliveryStatus::Unresolved),
            "total": estimate.total(),
            "complete": estimate.complete,
        }),
    ))
}
