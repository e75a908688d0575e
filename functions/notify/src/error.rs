//! How the notify API's failures answer: configuration errors at start-up, and the mapping of the
//! pipeline's and the store's errors to HTTP.

use axum::http::StatusCode;
use herald_http::ApiError;
use herald_pipeline::request::RequestError;
use herald_store::StoreError;
use serde_json::json;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(
        "no API key is configured: set HERALD_API_KEY_SHA256 (comma-separated SHA-256 hex digests) or HERALD_API_KEY"
    )]
    NoApiKey,
    #[error("{name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error(transparent)]
    Bootstrap(#[from] herald_bootstrap::BootstrapError),
}

pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A request that does not validate, naming its field (and the missing placeholders).
pub(crate) fn request_error(e: &RequestError) -> ApiError {
    let error = ApiError::new(status(e.status()), e.code(), e.to_string()).field(e.field());
    match e {
        RequestError::MissingPlaceholders { paths, .. } => error.with("missing", json!(paths)),
        _ => error,
    }
}

/// 400 for a cursor the client mangled; 503 for anything the store could not do now.
pub(crate) fn store_error(e: &StoreError) -> ApiError {
    match e {
        StoreError::InvalidCursor(why) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("cursor: {why}; pass back nextCursor unchanged"),
        )
        .field("cursor"),
        StoreError::Throttled(_) => {
            tracing::warn!(error = %e, "store throttled");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "StoreUnavailable",
                e.to_string(),
            )
        }
        _ => {
            tracing::error!(error = %e, "store failure");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "StoreUnavailable",
                e.to_string(),
            )
        }
    }
}

/// `400` naming one query parameter or body field.
pub(crate) fn invalid(code: &str, field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message).field(field)
}
