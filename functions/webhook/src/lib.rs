//! Herald's bot webhook: `POST /api/messages` from Teams.
//!
//! Every request is authenticated, every activity refreshes the conversation reference it comes
//! from, and lifecycle events (install, uninstall, team and channel changes) change the store
//! idempotently, so a redelivered activity never does anything twice. The handler is a plain
//! function over its dependencies: the Lambda binary and the local runner both mount it.

pub mod activity;
pub mod cards;
pub mod commands;
mod config;
mod lifecycle;
mod reminders;

use std::sync::Arc;
use std::time::Duration;

use herald_connector::Connector;
use herald_connector::inbound::{AuthError, JwtValidator};
use herald_domain::Clock;
use herald_events::EventPublisher;
use herald_store::{InstallWaits, ReferenceStore, ScheduleStore};
use serde_json::{Value, json};

pub use activity::{ActivityError, InboundActivity};
pub use cards::WelcomeText;
pub use config::{ConfigError, WebhookConfig, inbound_auth_config};

/// How inbound requests are authenticated.
// Built once per process: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum InboundAuth {
    /// Bot Framework JWT validation (PROTOCOL 3). The only mode the Lambda binary can build.
    BotFramework(JwtValidator),
    /// Bot Framework's local convention when no app id is configured (Agents Playground, the
    /// emulator): no token, and only activities whose serviceUrl is a loopback address. Only the
    /// local runner offers it.
    LoopbackOnly,
}

/// What the webhook works with; built once per process and shared by every request.
pub struct Webhook {
    pub store: Arc<dyn ReferenceStore>,
    /// Chat reminders (`remind me ...`) are schedules owned by the conversation.
    pub schedules: Arc<dyn ScheduleStore>,
    pub connector: Arc<dyn Connector>,
    pub auth: InboundAuth,
    /// Where installation events go (EventBridge in AWS).
    pub events: Arc<dyn EventPublisher>,
    pub clock: Arc<dyn Clock>,
    pub config: WebhookConfig,
    /// Deliveries waiting for a person's installation through Graph, resumed when it arrives;
    /// `None` where proactive installation is off.
    pub install_waits: Option<Arc<dyn InstallWaits>>,
}

/// The HTTP answer, independent of Lambda or axum types.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: u16,
    pub body: Option<Value>,
}

impl HttpReply {
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

    /// `{"error": {"code", "message"}}`, Herald's error shape everywhere.
    #[must_use]
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self::json(
            status,
            json!({"error": {"code": code, "message": message.into()}}),
        )
    }
}

/// Replies and welcome messages must not hold the request long: Teams redelivers slow requests.
const SEND_DEADLINE: Duration = Duration::from_secs(8);

impl Webhook {
    /// Handles one `POST /api/messages`: the raw `Authorization` header and body.
    pub async fn handle(&self, authorization: Option<&str>, body: &[u8]) -> HttpReply {
        if body.len() > self.config.max_body_bytes {
            return HttpReply::error(
                413,
                "PayloadTooLarge",
                format!(
                    "the activity is {} bytes; the limit is {}",
                    body.len(),
                    self.config.max_body_bytes
                ),
            );
        }
        if matches!(self.auth, InboundAuth::BotFramework(_)) && authorization.is_none() {
            return unauthorized(&AuthError::MissingHeader);
        }
        let activity: InboundActivity = match serde_json::from_slice(body) {
            Ok(activity) => activity,
            Err(e) => {
                return HttpReply::error(400, "BadRequest", format!("invalid activity JSON: {e}"));
            }
        };
        if let Err(reply) = self.authenticate(authorization, &activity).await {
            return reply;
        }
        match lifecycle::process(self, &activity).await {
            Ok(reply) => reply,
            Err(lifecycle::Failure::Activity(e)) => {
                tracing::warn!(error = %e, kind = %activity.kind, "rejected activity");
                HttpReply::error(400, "BadRequest", e.to_string())
            }
            Err(lifecycle::Failure::Store(e)) => {
                // 5xx makes Teams redeliver; writes are idempotent, so that is safe.
                tracing::error!(error = %e, kind = %activity.kind, "store failure");
                HttpReply::error(503, "StoreUnavailable", e.to_string())
            }
        }
    }

    async fn authenticate(
        &self,
        authorization: Option<&str>,
        activity: &InboundActivity,
    ) -> Result<(), HttpReply> {
        match &self.auth {
            InboundAuth::BotFramework(validator) => validator
                .validate(authorization, &activity.channel_id, &activity.service_url)
                .await
                .map(|_| ())
                .map_err(|e| {
                    if e.is_transient() {
                        tracing::error!(error = %e, "cannot validate tokens now");
                        HttpReply::error(503, "AuthUnavailable", e.to_string())
                    } else {
                        unauthorized(&e)
                    }
                }),
            InboundAuth::LoopbackOnly => {
                let loopback = activity
                    .service_url()
                    .is_ok_and(|url| herald_connector::is_loopback(&url));
                if loopback {
                    Ok(())
                } else {
                    Err(HttpReply::error(
                        401,
                        "Unauthorized",
                        "without MicrosoftAppId only loopback serviceUrls are accepted",
                    ))
                }
            }
        }
    }
}

fn unauthorized(e: &AuthError) -> HttpReply {
    tracing::warn!(reason = %e, "rejected inbound token");
    HttpReply::error(401, "Unauthorized", e.to_string())
}
