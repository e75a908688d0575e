//! Typed extractors: every rejection answers with Herald's JSON error body.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use herald_http::{ApiError, Body, BodyLimit};
use herald_pipeline::request::RequestError;
use serde_json::Value;

use crate::Notify;
use crate::auth::Caller;
use crate::error::request_error;
use crate::query::Query;

impl BodyLimit for Notify {
    fn body_limit(&self) -> usize {
        crate::MAX_BODY_BYTES
    }
}

/// Every API route is behind this middleware, so no route can forget the key: a request without
/// a configured key is answered 401 before any handler runs; one with a key carries its
/// [`Caller`] to the handler.
pub(crate) async fn require_api_key(
    State(notify): State<Arc<Notify>>,
    mut request: Request,
    next: Next,
) -> Response {
    match authenticate(request.headers(), request.uri().path(), &notify) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(rejection) => rejection.into_response(),
    }
}

fn authenticate(headers: &HeaderMap, path: &str, notify: &Notify) -> Result<Caller, ApiError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    notify
        .config
        .api_keys
        .authenticate(authorization)
        .map_err(|failure| {
            tracing::warn!(reason = failure.message(), path, "rejected API request");
            ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", failure.message())
        })
}

/// The caller [`require_api_key`] let in (checked again if a route is ever served without it).
impl FromRequestParts<Arc<Notify>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, notify: &Arc<Notify>) -> Result<Self, ApiError> {
        match parts.extensions.get::<Caller>() {
            Some(caller) => Ok(caller.clone()),
            None => authenticate(&parts.headers, parts.uri.path(), notify),
        }
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

/// A JSON body within the size limit: 415 `UnsupportedMediaType` unless it is sent as
/// `application/json`, 413 past the limit, 400 `InvalidJson` when it does not parse.
///
/// Requiring the JSON media type keeps web pages out: a page in a browser may post a `text/plain`,
/// form or multipart body to any origin without asking first, but a JSON body needs a CORS
/// preflight, which Herald never grants
/// (<https://fetch.spec.whatwg.org/#cors-safelisted-request-header>). Every API route that reads
/// a body reads it through this extractor, the local runner's `/api/events` included.
pub struct JsonBody(pub Value);

impl<S: BodyLimit + Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        check_json_media_type(request.headers().get(header::CONTENT_TYPE))?;
        let Body(bytes) = Body::from_request(request, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| request_error(&RequestError::InvalidJson(e.to_string())))
    }
}

/// `application/json`, in any case and with any parameters (`; charset=utf-8`).
fn check_json_media_type(content_type: Option<&HeaderValue>) -> Result<(), ApiError> {
    let given = content_type.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let essence = given
        .as_deref()
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if essence.is_some_and(|e| e.eq_ignore_ascii_case("application/json")) {
        return Ok(());
    }
    let given = given.map_or_else(|| "none".to_owned(), |v| format!("{v:?}"));
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        format!("the body must be sent with Content-Type: application/json (given: {given})"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_json_media_type_is_read() {
        for accepted in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            " application/json ;charset=UTF-8",
        ] {
            let value = HeaderValue::from_static(accepted);
            assert!(check_json_media_type(Some(&value)).is_ok(), "{accepted}");
        }
        for refused in [
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "application/json-seq",
            "",
        ] {
            let value = HeaderValue::from_static(refused);
            let error = check_json_media_type(Some(&value)).unwrap_err();
            assert_eq!(
                error.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{refused}"
            );
            assert_eq!(error.code(), "UnsupportedMediaType");
        }
        let error = check_json_media_type(None).unwrap_err();
        assert!(error.message().contains("given: none"), "{error}");
    }
}
