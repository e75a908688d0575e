use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// An error answer: `{"error": {"code", "message", "field"?, ...}}`, Herald's shape everywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: StatusCode,
    error: Map<String, Value>,
}

impl ApiError {
    /// An error with a machine-readable `code` and a message for people.
    #[must_use]
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        let mut error = Map::new();
        error.insert("code".into(), Value::String(code.to_owned()));
        error.insert("message".into(), Value::String(message.into()));
        Self { status, error }
    }

    /// Names the field or query parameter at fault; an empty name means the whole body and is
    /// left out.
    #[must_use]
    pub fn field(self, field: &str) -> Self {
        if field.is_empty() {
            return self;
        }
        self.with("field", Value::String(field.to_owned()))
    }

    /// Adds a detail to the error object (e.g. `missing` placeholders).
    #[must_use]
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.error.insert(key.to_owned(), value);
        self
    }

    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    #[must_use]
    pub fn code(&self) -> &str {
        self.error.get("code").and_then(Value::as_str).unwrap_or("")
    }

    #[must_use]
    pub fn message(&self) -> &str {
        self.error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), Value::Object(self.error.clone()));
        Value::Object(body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code(), self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_names_code_message_and_field() {
        let error = ApiError::new(StatusCode::BAD_REQUEST, "InvalidParameter", "limit=0")
            .field("limit")
            .with("missing", serde_json::json!(["a"]));
        assert_eq!(
            error.body(),
            serde_json::json!({"error": {"code": "InvalidParameter", "message": "limit=0",
                                         "field": "limit", "missing": ["a"]}})
        );
        let whole = ApiError::new(StatusCode::BAD_REQUEST, "InvalidRequest", "x").field("");
        assert!(whole.body()["error"].get("field").is_none());
    }
}
