//! How the connector answers: Bot Framework error bodies, the answers of injected faults, and
//! their HTTP form
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference>).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::fault::{Fault, RetryAfter};
use crate::http::dropped_connection;

/// The body Teams answers (403) to a bot a user blocked or uninstalled, byte for byte as shown in
/// <https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages>.
pub const MESSAGE_WRITES_BLOCKED_BODY: &str = "{\"errorCode\":209,\"message\":\"{\\r\\n  \\\"subCode\\\": \\\"MessageWritesBlocked\\\",\\r\\n  \\\"details\\\": \\\"Thread is blocked from message writes.\\\",\\r\\n  \\\"errorCode\\\": null,\\r\\n  \\\"errorSubCode\\\": null\\r\\n}\"}";

/// How the emulator answers.
pub(crate) enum Answer {
    Json(StatusCode, Value),
    Raw(StatusCode, &'static str),
    Empty(StatusCode),
    Throttled(RetryAfter),
    Drop,
}

/// A Bot Framework `ErrorResponse`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Answer {
    Answer::Json(
        status,
        json!({ "error": { "code": code, "message": message } }),
    )
}

pub(crate) fn conversation_not_found() -> Answer {
    error(
        StatusCode::NOT_FOUND,
        "ConversationNotFound",
        "Conversation not found.",
    )
}

pub(crate) fn fault_answer(fault: &Fault) -> Answer {
    match fault {
        Fault::MessageWritesBlocked => {
            Answer::Raw(StatusCode::FORBIDDEN, MESSAGE_WRITES_BLOCKED_BODY)
        }
        Fault::ConversationBlockedByUser => error(
            StatusCode::FORBIDDEN,
            "ConversationBlockedByUser",
            "User blocked the conversation with the bot.",
        ),
        Fault::BotNotInConversationRoster => error(
            StatusCode::FORBIDDEN,
            "BotNotInConversationRoster",
            "The bot is not part of the conversation roster.",
        ),
        Fault::BotDisabledByAdmin => error(
            StatusCode::FORBIDDEN,
            "BotDisabledByAdmin",
            "The bot is disabled by the tenant admin.",
        ),
        Fault::ForbiddenOperation => error(
            StatusCode::FORBIDDEN,
            "ForbiddenOperationException",
            "Bot is not installed in user's personal scope",
        ),
        Fault::FailedToDecrypt => error(
            StatusCode::FORBIDDEN,
            "BadArgument",
            "Failed to decrypt conversation id",
        ),
        Fault::ConversationNotFound => conversation_not_found(),
        Fault::ActivityNotFound => error(
            StatusCode::NOT_FOUND,
            "ActivityNotFoundInConversation",
            "Unknown activity id.",
        ),
        Fault::TooLarge => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "MessageSizeTooBig",
            "Activity body too large for processing.",
        ),
        Fault::BadArgument => error(StatusCode::BAD_REQUEST, "BadArgument", "Malformed request."),
        Fault::PreconditionFailed => error(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "Conflicting concurrent operation.",
        ),
        Fault::Status(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Answer::Empty(status)
        }
        Fault::Throttled(retry_after) => Answer::Throttled(*retry_after),
        Fault::DropConnection => Answer::Drop,
        // Handled before answering; never reaches here.
        Fault::Delay(_) => Answer::Empty(StatusCode::OK),
    }
}

/// The response, and the status to log (`None`: the connection is closed without one).
pub(crate) fn into_response(answer: Answer) -> (Option<u16>, Response) {
    match answer {
        Answer::Json(status, body) => (
            Some(status.as_u16()),
            (status, axum::Json(body)).into_response(),
        ),
        Answer::Raw(status, body) => (
            Some(status.as_u16()),
            (
                status,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                body,
            )
                .into_response(),
        ),
        Answer::Empty(status) => (Some(status.as_u16()), status.into_response()),
        Answer::Throttled(retry_after) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"error": {"code": "Throttled", "message": "Too many requests. Retry after the time in the Retry-After header."}})),
            )
                .into_response();
            if let Some(value) = retry_after.header_value() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            (Some(429), response)
        }
        Answer::Drop => (None, dropped_connection()),
    }
}
