use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A successful answer: a status and a JSON body, or no body at all (Teams expects a bare 200 to
/// most activities; `204 No Content` has none).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<Value>,
}

impl Reply {
    #[must_use]
    pub fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
        }
    }

    /// `200` without a body.
    #[must_use]
    pub fn ok() -> Self {
        Self::empty(StatusCode::OK)
    }

    #[must_use]
    pub fn empty(status: StatusCode) -> Self {
        Self { status, body: None }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self.body {
            Some(body) => (self.status, Json(body)).into_response(),
            None => self.status.into_response(),
        }
    }
}
