//! Typed extractors: every rejection answers with Herald's JSON error body.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use herald_http::{ApiError, Body, BodyLimit};
use herald_pipeline::request::RequestError;
use serde_json::Value;

use crate::Notify;
use crate::error::request_error;
use crate::query::Query;

impl BodyLimit for Notify {
    fn body_limit(&self) -> usize {
        crate::MAX_BODY_BYTES
    }
}

/// A caller that presented one of the configured API keys (`Authorization: Bearer <key>`).
/// Mounted as a layer over every route, so no route can forget it.
pub(crate) struct ApiKey;

impl FromRequestParts<Arc<Notify>> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, notify: &Arc<Notify>) -> Result<Self, ApiError> {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        notify
            .config
            .api_keys
            .check(authorization)
            .map(|()| ApiKey)
            .map_err(|failure| {
                tracing::warn!(reason = failure.message(), path = %parts.uri.path(), "rejected API request");
                ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", failure.message())
            })
    }
}

/// The query string, decoded once; a repeated parameter is a 400 naming it.
pub(crate) struct Params(pub Query);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Query::parse(parts.uri.query().unwrap_or_default()).map(Params)
    }
}

/// One path segment (`{id}`), as given; routes answer 404 for ids they cannot read, and an empty
/// segment (`/api/schedules//preview`) names no route at all.
pub(crate) struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let path = parts.uri.path().to_owned();
        let no_route = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("no route {path}"),
            )
        };
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) if !id.is_empty() => Ok(Id(id)),
            _ => Err(no_route()),
        }
    }
}

/// A JSON body within the size limit (413 past it, 400 `InvalidJson` when it does not parse).
pub(crate) struct Json(pub Value);

impl<S: BodyLimit + Send + Sync> FromRequest<S> for Json {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let Body(bytes) = Body::from_request(request, state).await?;
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| request_error(&RequestError::InvalidJson(e.to_string())))
    }
}
