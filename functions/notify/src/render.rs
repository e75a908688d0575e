//! `POST /api/render`: a message rendered to the activity every recipient would get (its card's
//! `${...}` placeholders bound to `data`), and its size against the limit, without sending
//! anything: the console's live preview shows exactly what Herald would post.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use herald_http::{ApiError, Reply};
use herald_pipeline::request::{MAX_ACTIVITY_BYTES, Message, RequestError};
use serde_json::json;

use crate::Notify;
use crate::error::request_error;
use crate::extract::JsonBody;

pub(crate) async fn render(
    State(_): State<Arc<Notify>>,
    JsonBody(body): JsonBody,
) -> Result<Reply, ApiError> {
    let activity = Message::from_json(&body)
        .and_then(|m| m.render())
        .map_err(|e| match e {
            // Say by how much, so a size meter can show it.
            RequestError::MessageTooLarge { bytes, limit, .. } => request_error(&e)
                .with("bytes", json!(bytes))
                .with("maxBytes", json!(limit)),
            e => request_error(&e),
        })?;
    let bytes = serde_json::to_vec(&activity).map_or(0, |b| b.len());
    Ok(Reply::json(
        StatusCode::OK,
        json!({"activity": activity, "bytes": bytes, "maxBytes": MAX_ACTIVITY_BYTES}),
    ))
}
