//! Misbehaviours a test injects, and the queues that hand them out one request at a time.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::http::HeaderValue;

/// The two forms of `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Delta-seconds.
    Seconds(u64),
    /// An HTTP-date this far in the future (whole seconds, as the format allows).
    HttpDate(Duration),
    /// No header at all.
    Absent,
}

impl RetryAfter {
    /// The header value, `None` for [`RetryAfter::Absent`].
    pub(crate) fn header_value(self) -> Option<HeaderValue> {
        let value = match self {
            Self::Seconds(s) => s.to_string(),
            Self::HttpDate(d) => httpdate::fmt_http_date(SystemTime::now() + d),
            Self::Absent => return None,
        };
        HeaderValue::from_str(&value).ok()
    }
}

/// A misbehaviour injected for one conversation (or team, or user being created a chat with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 403 with the exact `errorCode: 209` / nested `MessageWritesBlocked` body Teams answers to a
    /// bot that was blocked or uninstalled
    /// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages>).
    MessageWritesBlocked,
    /// 403 ConversationBlockedByUser.
    ConversationBlockedByUser,
    /// 403 BotNotInConversationRoster.
    BotNotInConversationRoster,
    /// 403 BotDisabledByAdmin.
    BotDisabledByAdmin,
    /// 403 ForbiddenOperationException.
    ForbiddenOperation,
    /// 403 BadArgument "Failed to decrypt conversation id".
    FailedToDecrypt,
    /// 404 ConversationNotFound.
    ConversationNotFound,
    /// 404 ActivityNotFoundInConversation.
    ActivityNotFound,
    /// 413 MessageSizeTooBig.
    TooLarge,
    /// 400 BadArgument.
    BadArgument,
    /// 412 PreconditionFailed.
    PreconditionFailed,
    /// A bare status (502, 503, 504, 500...).
    Status(u16),
    /// 429 Throttled with the given `Retry-After`.
    Throttled(RetryAfter),
    /// Answer normally, but only after this long.
    Delay(Duration),
    /// Close the connection without answering.
    DropConnection,
}

/// A misbehaviour of the emulated Microsoft Graph, for one user or every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphFault {
    /// 403 Forbidden: the application permission is missing (Graph's exact message).
    MissingPermission,
    /// 401 InvalidAuthenticationToken.
    Unauthorized,
    /// 429 TooManyRequests with the given `Retry-After`.
    Throttled(RetryAfter),
    /// A status with a Graph error body (503 ServiceUnavailable, 504 GatewayTimeout, 500...).
    Status(u16),
    /// Answer normally, but only after this long.
    Delay(Duration),
    /// Close the connection without answering.
    DropConnection,
}

#[derive(Debug)]
struct Injection<F> {
    fault: F,
    /// `None` = every request until cleared.
    remaining: Option<u32>,
}

/// Injected faults by key (a conversation, a user...), each used in order until used up.
#[derive(Debug)]
pub(crate) struct Injections<F> {
    by_key: HashMap<String, Vec<Injection<F>>>,
}

impl<F> Default for Injections<F> {
    fn default() -> Self {
        Self {
            by_key: HashMap::new(),
        }
    }
}

impl<F: Clone> Injections<F> {
    /// Queues `fault` for `key`, for `remaining` requests (`None`: until cleared).
    pub fn push(&mut self, key: &str, fault: F, remaining: Option<u32>) {
        self.by_key
            .entry(key.to_owned())
            .or_default()
            .push(Injection { fault, remaining });
    }

    /// The next fault for `key`, consuming one use of it.
    pub fn take(&mut self, key: &str) -> Option<F> {
        let list = self.by_key.get_mut(key)?;
        let injection = list.first_mut()?;
        let fault = injection.fault.clone();
        if let Some(remaining) = &mut injection.remaining {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                list.remove(0);
            }
        }
        if list.is_empty() {
            self.by_key.remove(key);
        }
        Some(fault)
    }

    pub fn clear(&mut self, key: &str) {
        self.by_key.remove(key);
    }

    pub fn clear_all(&mut self) {
        self.by_key.clear();
    }
}
