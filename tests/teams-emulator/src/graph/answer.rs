//! How the emulated Graph answers: Graph's error bodies, the answers of injected faults, and their
//! HTTP form (<https://learn.microsoft.com/graph/errors>).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::fault::{GraphFault, RetryAfter};
use crate::http::dropped_connection;

/// Graph's message when the application permission is missing, as Graph words it.
pub const MISSING_PERMISSION_MESSAGE: &str = "Missing role permissions on the request. API requires one of 'TeamsAppInstallation.ReadWriteSelfForUser.All, TeamsAppInstallation.ReadWriteForUser.All'. Roles on the request ''.";

/// How the emulated Graph answers.
pub(crate) enum GraphAnswer {
    Json(StatusCode, Value),
    Empty(StatusCode),
    Throttled(RetryAfter),
    Drop,
}

/// Graph's error body, with the `innerError` ids Graph adds.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> GraphAnswer {
    GraphAnswer::Json(status, error_body(code, message))
}

fn error_body(code: &str, message: &str) -> Value {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": now,
                "request-id": uuid::Uuid::new_v4().to_string(),
                "client-request-id": uuid::Uuid::new_v4().to_string(),
            }
        }
    })
}

pub(crate) fn unauthorized(message: &str) -> GraphAnswer {
    graph_error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        message,
    )
}

pub(crate) fn fault_answer(fault: &GraphFault) -> GraphAnswer {
    match fault {
        GraphFault::MissingPermission => graph_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            MISSING_PERMISSION_MESSAGE,
        ),
        GraphFault::Unauthorized => {
            unauthorized("Lifetime validation failed, the token is expired.")
        }
        GraphFault::Throttled(retry_after) => GraphAnswer::Throttled(*retry_after),
        GraphFault::Status(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = match status.as_u16() {
                503 => "ServiceUnavailable",
                504 => "GatewayTimeout",
                502 => "BadGateway",
                500 => "InternalServerError",
                _ => "UnknownError",
            };
            graph_error(status, code, status.canonical_reason().unwrap_or("Error"))
        }
        GraphFault::DropConnection => GraphAnswer::Drop,
        // Handled before answering; never reaches here.
        GraphFault::Delay(_) => GraphAnswer::Empty(StatusCode::OK),
    }
}

/// The response, and the status to log (`None`: the connection is closed without one).
pub(crate) fn respond(answer: GraphAnswer) -> (Option<u16>, Response) {
    match answer {
        GraphAnswer::Json(status, body) => (
            Some(status.as_u16()),
            (status, axum::Json(body)).into_response(),
        ),
        GraphAnswer::Empty(status) => (Some(status.as_u16()), status.into_response()),
        GraphAnswer::Throttled(retry_after) => {
            let body = error_body("TooManyRequests", "Too many requests.");
            let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            if let Some(value) = retry_after.header_value() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            (Some(429), response)
        }
        GraphAnswer::Drop => (None, dropped_connection()),
    }
}
