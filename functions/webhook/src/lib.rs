//! Herald's bot webhook: `POST /api/messages` from Teams.
//!
//! Every request is authenticated; activities from other channels than Teams are then
//! acknowledged without effect. Every Teams activity refreshes the conversation reference it
//! comes from, and lifecycle events (install, uninstall, team and channel changes) change the
//! store idempotently, so a redelivered activity never does anything twice. Actions on
//! notifications' cards reach the notification's callback and read receipts mark copies read
//! (`card_actions`, `read_receipts`). [`router`] is one
//! `axum::Router` over its dependencies: the Lambda binary hands it to `lambda_http::run`, the
//! local runner mounts it beside the notify API's, and tests call it in process.

pub mod activity;
mod bootstrap;
pub mod callback;
mod card_actions;
pub mod cards;
pub mod commands;
mod config;
mod event_type;
mod invokes;
mod lifecycle;
mod messages;
mod read_receipts;
mod reminders;
mod turn;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use herald_connector::Connector;
use herald_connector::inbound::{AuthError, JwtValidator};
use herald_domain::Clock;
use herald_events::EventPublisher;
use herald_http::{ApiError, Body, BodyLimit, Reply};
use herald_store::{InstallWaits, Interactions, ReferenceStore, ScheduleStore};

pub use activity::{ActivityError, InboundActivity};
pub use bootstrap::BuildError;
pub use cards::WelcomeText;
pub use config::{ConfigError, WebhookConfig, inbound_auth_config};

/// How inbound requests are authenticated.
// Built once per process: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum InboundAuth {
    /// Bot Framework JWT validation
    /// (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication).
    /// The only mode the Lambda binary can build.
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
    /// Card actions and read receipts on the copies Herald sent; `None` without an outbox
    /// (actions then get an empty answer and receipts are ignored).
    pub interactions: Option<Arc<dyn Interactions>>,
}

/// Replies and welcome messages must not hold the request long: Teams redelivers slow requests.
const SEND_DEADLINE: Duration = Duration::from_secs(8);

/// The `channelId` of Teams. Azure Bot Service also enables Web Chat and Direct Line for every
/// bot, whose tokens carry their own endorsements
/// (https://learn.microsoft.com/azure/bot-service/bot-service-channels-reference): their activities
/// are acknowledged and change nothing.
const TEAMS_CHANNEL: &str = "msteams";

impl BodyLimit for Webhook {
    fn body_limit(&self) -> usize {
        self.config.max_body_bytes
    }
}

/// The webhook as one router: `POST /api/messages`.
pub fn router(webhook: Arc<Webhook>) -> Router {
    Router::new()
        .route("/api/messages", post(messages))
        .with_state(webhook)
}

/// Checked in this order: the body's size (no token needed to be told), a token's presence, the
/// JSON, then the token against the activity it came with (its `serviceurl` claim); only then
/// is an activity from another channel than Teams acknowledged without effect.
async fn messages(
    State(hook): State<Arc<Webhook>>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if matches!(hook.auth, InboundAuth::BotFramework(_)) && authorization.is_none() {
        return Err(unauthorized(&AuthError::MissingHeader));
    }
    let activity: InboundActivity = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("invalid activity JSON: {e}"),
        )
    })?;
    hook.authenticate(authorization, &activity).await?;
    if activity.channel_id != TEAMS_CHANNEL {
        tracing::info!(channel = %activity.channel_id, kind = %activity.kind, "ignoring an activity from another channel than Teams");
        return Ok(Reply::ok());
    }
    turn::process(&hook, &activity)
        .await
        .map_err(|failure| failure.into_error(&activity.kind))
}

impl Webhook {
    async fn authenticate(
        &self,
        authorization: Option<&str>,
        activity: &InboundActivity,
    ) -> Result<(), ApiError> {
        match &self.auth {
            InboundAuth::BotFramework(validator) => validator
                .validate(authorization, &activity.channel_id, &activity.service_url)
                .await
                .map(|_| ())
                .map_err(|e| {
                    if e.is_transient() {
                        tracing::error!(error = %e, "cannot validate tokens now");
                        ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "AuthUnavailable",
                            e.to_string(),
                        )
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
                    Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "Unauthorized",
                        "without MicrosoftAppId only loopback serviceUrls are accepted",
                    ))
                }
            }
        }
    }
}

fn unauthorized(e: &AuthError) -> ApiError {
    tracing::warn!(reason = %e, "rejected inbound token");
    ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", e.to_string())
}
