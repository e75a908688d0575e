//! How an emulator instance behaves: the bot's registration, tokens, size limits, where the
//! connector routes live and how late they answer.

use std::time::Duration;

use crate::limits::EmulatorLimits;

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
    /// A delay before each connector answer (see [`Latency`]); `None` (the default) answers at once.
    pub latency: Option<Latency>,
}

/// A simulated network and service delay before each connector answer, uniformly random in
/// `[min, max]`, so requests sent at an even pace arrive in order but are answered out of order.
///
/// It applies after the request was counted by the rate limiter and executed (a message is
/// stored when admitted, its answer comes late: a client that gives up first sees a timeout for
/// a message that was posted), to connector routes only (not the token endpoint nor Graph).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    min: Duration,
    max: Duration,
}

impl Latency {
    /// Uniformly random between the two bounds (in either order).
    #[must_use]
    pub fn between(a: Duration, b: Duration) -> Self {
        Self {
            min: a.min(b),
            max: a.max(b),
        }
    }

    /// Always `delay`.
    #[must_use]
    pub fn fixed(delay: Duration) -> Self {
        Self::between(delay, delay)
    }

    #[must_use]
    pub fn min(&self) -> Duration {
        self.min
    }

    #[must_use]
    pub fn max(&self) -> Duration {
        self.max
    }

    /// One delay drawn from the range.
    pub(crate) fn sample(self) -> Duration {
        use rand::Rng;
        if self.min == self.max {
            return self.min;
        }
        rand::rng().random_range(self.min..=self.max)
    }
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
            latency: None,
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
    pub fn latency(mut self, latency: Latency) -> Self {
        self.latency = Some(latency);
        self
    }

    #[must_use]
    pub fn require_auth(mut self, require: bool) -> Self {
        self.require_auth = require;
        self
    }
}
