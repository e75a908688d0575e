//! What an emulator instance enforces and which faults it injects.

use std::time::Duration;

/// The Teams rate limits the emulator enforces (PROTOCOL 5). Data, so tests and benchmarks scale them.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorLimits {
    /// `(limit, period)` sliding windows per conversation for sends and create conversation.
    pub write: Vec<(u32, Duration)>,
    /// `(limit, period)` sliding windows per conversation/team for members and team reads.
    pub read: Vec<(u32, Duration)>,
    /// Requests per second per tenant (all routes), as a token bucket; `None` = unlimited.
    pub tenant_rate: Option<u32>,
    /// Bucket capacity; defaults to one second's worth of `tenant_rate`.
    pub tenant_burst: Option<u32>,
    /// A request this close to leaving a window no longer counts: the emulator is at least as
    /// lenient as an exact client at the boundary, absorbing loopback latency jitter.
    pub tolerance: Duration,
}

impl EmulatorLimits {
    /// Teams' published per-bot limits and 50 requests/s per tenant.
    #[must_use]
    pub fn teams() -> Self {
        let s = Duration::from_secs;
        Self {
            write: vec![(7, s(1)), (8, s(2)), (60, s(30)), (1800, s(3600))],
            read: vec![(14, s(1)), (16, s(2)), (120, s(30)), (3600, s(3600))],
            tenant_rate: Some(50),
            tenant_burst: None,
            tolerance: Duration::from_millis(20),
        }
    }

    /// Nothing enforced.
    #[must_use]
    pub fn off() -> Self {
        Self {
            write: Vec::new(),
            read: Vec::new(),
            tenant_rate: None,
            tenant_burst: None,
            tolerance: Duration::ZERO,
        }
    }

    #[must_use]
    pub fn tenant_rate(mut self, per_second: Option<u32>) -> Self {
        self.tenant_rate = per_second.filter(|r| *r > 0);
        self
    }

    #[must_use]
    pub fn tenant_burst(mut self, burst: u32) -> Self {
        self.tenant_burst = Some(burst.max(1));
        self
    }
}

/// How an emulator instance behaves.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The bot's `MicrosoftAppId` (the token endpoint's `client_id`, the bot's `28:` id).
    pub app_id: String,
    /// The bot's `MicrosoftAppPassword`.
    pub app_password: String,
    /// The bot's home tenant: the token endpoint accepts `/{app_tenant_id}/oauth2/v2.0/token`.
    pub app_tenant_id: String,
    /// Also accept the legacy `botframework.com` authority (a multi-tenant registration).
    pub multi_tenant: bool,
    /// The scope the token endpoint requires for connector tokens.
    pub scope: String,
    /// The scope of Graph tokens (issued from any tenant the emulator has users in).
    pub graph_scope: String,
    /// `expires_in` of issued tokens.
    pub token_lifetime: Duration,
    /// Connector routes answer 401 without a connector token this emulator issued, Graph routes
    /// without a Graph token.
    pub require_auth: bool,
    pub limits: EmulatorLimits,
    /// Larger activity bodies are answered 413 MessageSizeTooBig.
    pub max_message_bytes: usize,
    /// The serviceUrl path the connector routes live under, like Teams' regional `/amer/`.
    pub service_path: String,
    /// The loopback port to bind; 0 (the default) picks a free one.
    pub port: u16,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            app_id: "00000000-0000-0000-0000-00000000b0b0".to_owned(),
            app_password: "emulator-secret".to_owned(),
            app_tenant_id: "00000000-0000-0000-0000-0000000000e1".to_owned(),
            multi_tenant: false,
            scope: "https://api.botframework.com/.default".to_owned(),
            graph_scope: "https://graph.microsoft.com/.default".to_owned(),
            token_lifetime: Duration::from_secs(3600),
            require_auth: true,
            limits: EmulatorLimits::off(),
            max_message_bytes: 28 * 1024,
            service_path: "/amer/".to_owned(),
            port: 0,
        }
    }
}

impl EmulatorConfig {
    #[must_use]
    pub fn limits(mut self, limits: EmulatorLimits) -> Self {
        self.limits = limits;
        self
    }

    #[must_use]
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    #[must_use]
    pub fn require_auth(mut self, require: bool) -> Self {
        self.require_auth = require;
        self
    }
}

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

/// A misbehaviour injected for one conversation (or team, or user being created a chat with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 403 with PROTOCOL 6's exact `errorCode: 209` / nested `MessageWritesBlocked` body.
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
