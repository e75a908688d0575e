//! Calls an HTTP function's router in process, as API Gateway or the local runner would.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use serde_json::Value;
use tower::ServiceExt as _;

/// What a route answered: the status and the JSON body, if it had one.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: Option<Value>,
}

impl Response {
    /// A bare `200`, what Teams expects for most activities.
    #[must_use]
    pub fn ok() -> Self {
        Self {
            status: 200,
            body: None,
        }
    }

    #[must_use]
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
        }
    }
}

/// Sends one request to `router`; `uri` may carry a query string. Bodies are sent as JSON.
pub async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    authorization: Option<&str>,
    body: Vec<u8>,
) -> Response {
    call_as(
        router,
        method,
        uri,
        authorization,
        Some("application/json"),
        body,
    )
    .await
}

/// [`call`] with the body's `Content-Type` given (`None`: no header).
pub async fn call_as(
    router: &Router,
    method: &str,
    uri: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Response {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    let request = request
        .body(Body::from(body))
        .expect("a request the test built");
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("routers are infallible");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body in memory");
    let body = (!bytes.is_empty()).then(|| {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{status}: the body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    });
    Response { status, body }
}
