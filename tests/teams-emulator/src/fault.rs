//! Misbehaviours a test injects (per conversation, per user, or service-wide outages), and the
//! queues that hand them out one request at a time.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::http::HeaderValue;
use tokio::time::Instant;

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

/// A service-wide failure that lasts a while, for resilience tests (see
/// [`crate::TeamsEmulator::outage`]). "Sends" are the write operations: create conversation,
/// send, reply, update and delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The token endpoint answers 503 `temporarily_unavailable`.
    TokenEndpoint,
    /// The token endpoint closes every connection without answering.
    TokenEndpointUnreachable,
    /// Every send is answered 429 with this `Retry-After`.
    ThrottleStorm(RetryAfter),
    /// Every send is answered with this status (502, 503...).
    ServerErrors(u16),
}

impl Outage {
    /// The fault every request it hits is answered with.
    pub(crate) fn fault(self) -> Fault {
        match self {
            Self::TokenEndpoint => Fault::Status(503),
            Self::TokenEndpointUnreachable => Fault::DropConnection,
            Self::ThrottleStorm(retry_after) => Fault::Throttled(retry_after),
            Self::ServerErrors(status) => Fault::Status(status),
        }
    }

    pub(crate) fn hits_token_endpoint(self) -> bool {
        matches!(self, Self::TokenEndpoint | Self::TokenEndpointUnreachable)
    }
}

#[derive(Debug)]
struct Injection<F> {
    fault: F,
    /// `None` = every request until cleared (or `until`).
    remaining: Option<u32>,
    /// `None` = no end in time.
    until: Option<Instant>,
}

impl<F> Injection<F> {
    fn over(&self, now: Instant) -> bool {
        self.remaining == Some(0) || self.until.is_some_and(|until| now >= until)
    }
}

/// Injected faults, each used in order until used up or over.
#[derive(Debug)]
pub(crate) struct FaultQueue<F>(Vec<Injection<F>>);

impl<F> Default for FaultQueue<F> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<F: Clone> FaultQueue<F> {
    /// Queues `fault` for `remaining` requests (`None`: until cleared).
    pub fn push(&mut self, fault: F, remaining: Option<u32>) {
        self.0.push(Injection {
            fault,
            remaining,
            until: None,
        });
    }

    /// Queues `fault` for every request until `until`.
    pub fn push_until(&mut self, fault: F, until: Instant) {
        self.0.push(Injection {
            fault,
            remaining: None,
            until: Some(until),
        });
    }

    /// The next fault, consuming one use of it.
    pub fn take(&mut self) -> Option<F> {
        let now = Instant::now();
        self.0.retain(|injection| !injection.over(now));
        let injection = self.0.first_mut()?;
        if let Some(remaining) = &mut injection.remaining {
            *remaining -= 1;
        }
        Some(injection.fault.clone())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Injected faults by key (a conversation, a user...).
#[derive(Debug)]
pub(crate) struct Injections<F> {
    by_key: HashMap<String, FaultQueue<F>>,
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
            .push(fault, remaining);
    }

    /// The next fault for `key`, consuming one use of it.
    pub fn take(&mut self, key: &str) -> Option<F> {
        let queue = self.by_key.get_mut(key)?;
        let fault = queue.take();
        if queue.is_empty() {
            self.by_key.remove(key);
        }
        fault
    }

    pub fn clear(&mut self, key: &str) {
        self.by_key.remove(key);
    }

    pub fn clear_all(&mut self) {
        self.by_key.clear();
    }
}
