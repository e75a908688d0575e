//! What went wrong, as a sender needs to act on it: one variant per action (mark blocked, drop the
//! reference, retry later, fix the payload...). Classification happens once, here, from the HTTP
//! status and the service's error body, so no caller ever matches on strings. The codes are those
//! Teams documents for bots
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability>)
//! and for throttling (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>).

use std::fmt;
use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

use crate::token::TokenError;

/// Longest service message kept in an error (bodies are logged and stored as status reasons).
const MAX_MESSAGE_LEN: usize = 2048;

/// What the service said: HTTP status (none for transport failures), its error code and message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceError {
    pub status: Option<u16>,
    /// `error.code`, the nested `subCode`, or Teams' numeric `errorCode`, most specific first.
    pub code: Option<String>,
    pub message: Option<String>,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "HTTP {status}")?,
            None => f.write_str("no HTTP answer")?,
        }
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

/// Every way a connector call can fail.
#[derive(Debug, Error)]
pub enum ConnectorError {
    /// 403 MessageWritesBlocked (errorCode 209) or ConversationBlockedByUser: mark the target blocked.
    #[error("blocked by the user ({0})")]
    BlockedByUser(ServiceError),
    /// 403 BotNotInConversationRoster: the bot was removed; mark uninstalled until reinstalled.
    #[error("bot not in the conversation ({0})")]
    BotNotInConversation(ServiceError),
    /// 403 BotDisabledByAdmin: stop sending to that tenant/target.
    #[error("bot disabled by an admin ({0})")]
    DisabledByAdmin(ServiceError),
    /// "Failed to decrypt conversation id": the reference was minted for another app id/secret.
    #[error("conversation reference belongs to another bot registration ({0})")]
    ForeignConversationReference(ServiceError),
    /// Any other 403 (ForbiddenOperationException: not installed in that scope...).
    #[error("forbidden ({0})")]
    Forbidden(ServiceError),
    /// 404 ConversationNotFound: remove the reference.
    #[error("conversation not found ({0})")]
    ConversationNotFound(ServiceError),
    /// 404 ActivityNotFoundInConversation: drop the stored message id.
    #[error("activity not found ({0})")]
    ActivityNotFound(ServiceError),
    /// 429: retry after `retry_after` (when the service said).
    #[error("throttled, retry after {retry_after:?} ({detail})")]
    Throttled {
        retry_after: Option<Duration>,
        detail: ServiceError,
    },
    /// 413: the payload is too large; final.
    #[error("payload too large ({0})")]
    TooLarge(ServiceError),
    /// 400: malformed request; final.
    #[error("bad request ({0})")]
    BadRequest(ServiceError),
    /// 401: token missing, for the wrong tenant, or rejected.
    #[error("unauthorized ({0})")]
    Unauthorized(ServiceError),
    /// 412/502/503/504, timeouts and connection failures: safe to retry with backoff.
    #[error("transient failure, retry after {retry_after:?} ({detail})")]
    Transient {
        retry_after: Option<Duration>,
        detail: ServiceError,
    },
    /// The serviceUrl's host is not a trusted connector host; no request was made.
    #[error("untrusted serviceUrl {service_url}: the bearer token is only sent to trusted hosts")]
    UntrustedServiceUrl { service_url: String },
    /// Getting the bearer token failed.
    #[error("token: {0}")]
    Token(#[from] TokenError),
    /// The caller's deadline would pass before the call (or its next attempt) could complete.
    #[error("deadline would be exceeded (needed to wait {needed:?})")]
    DeadlineExceeded { needed: Duration },
    /// Anything else (500, unknown 404, an undecodable success body...).
    #[error("connector error ({0})")]
    Other(ServiceError),
}

impl ConnectorError {
    /// Whether the request may have reached Teams and been acted on although no answer says so:
    /// it timed out, or its connection broke after it was sent (a refused connection sent
    /// nothing). Repeating such a POST may deliver the message twice. HTTP answers, 5xx included,
    /// are Teams' word that it did not act, as its retry guidance assumes.
    #[must_use]
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Transient { detail, .. } => {
                detail.status.is_none()
                    && matches!(detail.code.as_deref(), Some("Timeout" | "Transport"))
            }
            _ => false,
        }
    }

    /// Whether the same call may succeed if repeated later: 412, 429, 502, 503, 504 and transport
    /// failures, the answers Teams says to retry with backoff.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Throttled { .. } | Self::Transient { .. } => true,
            Self::Token(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// The wait the service asked for, if any.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } | Self::Transient { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The service's answer behind this error, when there was one.
    #[must_use]
    pub fn detail(&self) -> Option<&ServiceError> {
        match self {
            Self::BlockedByUser(d)
            | Self::BotNotInConversation(d)
            | Self::DisabledByAdmin(d)
            | Self::ForeignConversationReference(d)
            | Self::Forbidden(d)
            | Self::ConversationNotFound(d)
            | Self::ActivityNotFound(d)
            | Self::TooLarge(d)
            | Self::BadRequest(d)
            | Self::Unauthorized(d)
            | Self::Other(d)
            | Self::Throttled { detail: d, .. }
            | Self::Transient { detail: d, .. } => Some(d),
            Self::UntrustedServiceUrl { .. } | Self::Token(_) | Self::DeadlineExceeded { .. } => {
                None
            }
        }
    }

    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.detail().and_then(|d| d.status)
    }

    #[must_use]
    pub fn code(&self) -> Option<&str> {
        self.detail().and_then(|d| d.code.as_deref())
    }

    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.detail().and_then(|d| d.message.as_deref())
    }

    /// Classifies a non-success answer. `retry_after` is the parsed `Retry-After` header.
    #[must_use]
    pub fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let detail = parse_body(status, body);
        let code = detail.code.as_deref().unwrap_or_default();
        let message = detail.message.as_deref().unwrap_or_default();
        if message.contains("Failed to decrypt conversation id") && (400..500).contains(&status) {
            return Self::ForeignConversationReference(detail);
        }
        match (status, code) {
            (403, "MessageWritesBlocked" | "209" | "ConversationBlockedByUser") => {
                Self::BlockedByUser(detail)
            }
            (403, "BotNotInConversationRoster") => Self::BotNotInConversation(detail),
            (403, "BotDisabledByAdmin") => Self::DisabledByAdmin(detail),
            (403, _) => Self::Forbidden(detail),
            (404, "ActivityNotFoundInConversation") => Self::ActivityNotFound(detail),
            (404, "ConversationNotFound") => Self::ConversationNotFound(detail),
            (429, _) => Self::Throttled {
                retry_after,
                detail,
            },
            (413, _) => Self::TooLarge(detail),
            (400, _) => Self::BadRequest(detail),
            (401, _) => Self::Unauthorized(detail),
            (412 | 502 | 503 | 504, _) => Self::Transient {
                retry_after,
                detail,
            },
            _ => Self::Other(detail),
        }
    }

    /// Classifies a failure below HTTP: timeouts and connection failures are transient.
    #[must_use]
    pub fn from_transport(error: &reqwest::Error) -> Self {
        let detail = ServiceError {
            status: None,
            code: Some(
                if error.is_timeout() {
                    "Timeout"
                } else if error.is_connect() {
                    "ConnectFailed"
                } else {
                    "Transport"
                }
                .to_owned(),
            ),
            message: Some(error_chain(error)),
        };
        if error.is_builder() {
            return Self::Other(detail);
        }
        Self::Transient {
            retry_after: None,
            detail,
        }
    }
}

/// The whole `source()` chain, since reqwest's top-level message hides the cause.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_MESSAGE_LEN {
        let mut end = MAX_MESSAGE_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Reads a code and message from either error shape:
/// `{"error":{"code","message"}}` (Bot Framework `ErrorResponse`) or Teams'
/// `{"errorCode":209,"message":"{\"subCode\":\"MessageWritesBlocked\",...}"}` where the message is
/// itself JSON. Anything else keeps the raw text as the message.
fn parse_body(status: u16, body: &[u8]) -> ServiceError {
    let raw = String::from_utf8_lossy(body).trim().to_owned();
    let mut detail = ServiceError {
        status: Some(status),
        code: None,
        message: None,
    };
    let Ok(Value::Object(json)) = serde_json::from_str::<Value>(&raw) else {
        if !raw.is_empty() {
            detail.message = Some(truncate(raw));
        }
        return detail;
    };
    let string_of = |value: Option<&Value>| match value {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let (code, message) = match json.get("error") {
        Some(Value::Object(error)) => (
            string_of(error.get("code")),
            string_of(error.get("message")),
        ),
        Some(Value::String(code)) => (
            Some(code.clone()),
            string_of(
                json.get("error_description")
                    .or_else(|| json.get("message")),
            ),
        ),
        _ => (string_of(json.get("code")), string_of(json.get("message"))),
    };
    let error_code = string_of(json.get("errorCode"));
    // Teams nests a second JSON document in `message`; its subCode is the specific reason.
    let sub_code = message
        .as_deref()
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .and_then(|inner| {
            string_of(inner.get("subCode"))
                .or_else(|| string_of(inner.get("code")))
                .or_else(|| inner.get("error").and_then(|e| string_of(e.get("code"))))
        });
    detail.code = sub_code.or(code).or(error_code);
    detail.message = message.map(truncate);
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCKED: &str = "{\"errorCode\":209,\"message\":\"{\\r\\n  \\\"subCode\\\": \\\"MessageWritesBlocked\\\",\\r\\n  \\\"details\\\": \\\"Thread is blocked from message writes.\\\",\\r\\n  \\\"errorCode\\\": null,\\r\\n  \\\"errorSubCode\\\": null\\r\\n}\"}";

    fn classify(status: u16, body: &str) -> ConnectorError {
        ConnectorError::from_response(status, body.as_bytes(), None)
    }

    #[test]
    fn nested_message_writes_blocked() {
        let error = classify(403, BLOCKED);
        assert!(
            matches!(error, ConnectorError::BlockedByUser(_)),
            "{error:?}"
        );
        assert_eq!(error.code(), Some("MessageWritesBlocked"));
        assert_eq!(error.status(), Some(403));
    }

    #[test]
    fn error_response_shape() {
        let body = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        assert!(matches!(
            classify(403, &body("ConversationBlockedByUser")),
            ConnectorError::BlockedByUser(_)
        ));
        assert!(matches!(
            classify(403, &body("BotNotInConversationRoster")),
            ConnectorError::BotNotInConversation(_)
        ));
        assert!(matches!(
            classify(403, &body("BotDisabledByAdmin")),
            ConnectorError::DisabledByAdmin(_)
        ));
        assert!(matches!(
            classify(403, &body("ForbiddenOperationException")),
            ConnectorError::Forbidden(_)
        ));
        assert!(matches!(
            classify(404, &body("ConversationNotFound")),
            ConnectorError::ConversationNotFound(_)
        ));
        assert!(matches!(
            classify(404, &body("ActivityNotFoundInConversation")),
            ConnectorError::ActivityNotFound(_)
        ));
        assert!(matches!(
            classify(404, &body("Nope")),
            ConnectorError::Other(_)
        ));
        let decrypt =
            r#"{"error":{"code":"BadArgument","message":"Failed to decrypt conversation id"}}"#;
        assert!(matches!(
            classify(403, decrypt),
            ConnectorError::ForeignConversationReference(_)
        ));
        assert!(matches!(
            classify(400, decrypt),
            ConnectorError::ForeignConversationReference(_)
        ));
        assert_eq!(classify(400, &body("BadArgument")).message(), Some("m"));
    }

    #[test]
    fn garbage_bodies_never_panic() {
        for body in [
            "",
            "null",
            "[]",
            "{",
            "\u{0}",
            "{\"error\":5}",
            "{\"message\":{}}",
            "{\"errorCode\":209,\"message\":\"{not json\"}",
            "<html>503</html>",
        ] {
            for status in [400, 403, 404, 413, 429, 500, 503] {
                let error = classify(status, body);
                assert_eq!(error.status(), Some(status));
            }
        }
        let bytes = [0xff_u8, 0xfe, 0x00];
        assert!(matches!(
            ConnectorError::from_response(502, &bytes, None),
            ConnectorError::Transient { .. }
        ));
        let long = "x".repeat(10_000);
        assert!(classify(500, &long).message().unwrap().len() <= MAX_MESSAGE_LEN);
    }

    #[test]
    fn retryable_classes() {
        for status in [412, 429, 502, 503, 504] {
            assert!(classify(status, "").is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 413, 500] {
            assert!(!classify(status, "").is_retryable(), "{status}");
        }
    }
}
