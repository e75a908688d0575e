//! The HTTP side: connector routes, the client-credentials token endpoint and the identity
//! routes on one loopback listener, served by hyper directly so a fault can close a connection
//! without answering.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::config::{EmulatorConfig, EmulatorLimits, Fault, RetryAfter};
use crate::identity::Identity;
use crate::state::{
    Class, Conversation, ConversationKind, EmulatedTeam, EmulatedUser, Injection, IssuedToken,
    RateLimiter, RequestRecord, StoredActivity, World, random_token,
};

/// PROTOCOL 6's body for a user who blocked or uninstalled the bot, byte for byte.
pub const MESSAGE_WRITES_BLOCKED_BODY: &str = "{\"errorCode\":209,\"message\":\"{\\r\\n  \\\"subCode\\\": \\\"MessageWritesBlocked\\\",\\r\\n  \\\"details\\\": \\\"Thread is blocked from message writes.\\\",\\r\\n  \\\"errorCode\\\": null,\\r\\n  \\\"errorSubCode\\\": null\\r\\n}\"}";

pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) world: Mutex<World>,
    pub(crate) identity: Identity,
    /// The emulator's own client, for installation events sent to the bot endpoint.
    pub(crate) http: reqwest::Client,
    /// `http://127.0.0.1:PORT`, for absolute URLs in answers (Graph's `@odata.nextLink`).
    pub(crate) base: String,
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks a response the connection loop must replace by closing the connection.
#[derive(Clone, Copy)]
pub(crate) struct DropConnection;

#[derive(Debug)]
struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

/// A running emulator. Dropping it stops the server.
pub struct TeamsEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    identity: Identity,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for TeamsEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsEmulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TeamsEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TeamsEmulator {
    /// Binds 127.0.0.1 (on a free port unless `config.port` names one) and starts serving.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let identity = Identity::new(&config.app_id);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            world: Mutex::new(World::new(config.limits.clone())),
            config,
            identity: identity.clone(),
            http,
            base: format!("http://{addr}"),
        });
        let router = router(&shared)
            .merge(crate::graph::router(&shared))
            .merge(identity.router());
        let task = tokio::spawn(serve(listener, router));
        Ok(Self {
            addr,
            shared,
            identity,
            task,
        })
    }

    #[must_use]
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// The inbound identity (OpenID metadata, JWKS, minted tokens) this server also serves.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// `127.0.0.1:PORT`, the entry for `HERALD_TRUSTED_SERVICE_HOSTS`.
    #[must_use]
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`: stands in for `https://login.microsoftonline.com`.
    #[must_use]
    pub fn login_host(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The serviceUrl of every conversation here, like `https://smba.trafficmanager.net/amer/`.
    #[must_use]
    pub fn service_url(&self) -> String {
        let path = self.shared.config.service_path.trim_matches('/');
        if path.is_empty() {
            format!("http://{}/", self.addr)
        } else {
            format!("http://{}/{path}/", self.addr)
        }
    }

    /// `{login_host}/{app tenant}`, the OAuth authority of the bot.
    #[must_use]
    pub fn authority(&self) -> String {
        format!("{}/{}", self.login_host(), self.shared.config.app_tenant_id)
    }

    /// The client-credentials token endpoint (`HERALD_TOKEN_URL`).
    #[must_use]
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v2.0/token", self.authority())
    }

    /// Stands in for `https://login.botframework.com/v1/.well-known/openidconfiguration`.
    #[must_use]
    pub fn openid_metadata_url(&self) -> String {
        format!(
            "{}{}",
            self.login_host(),
            crate::identity::OPENID_METADATA_PATH
        )
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.shared.world()
    }

    /// Adds a user of `tenant` with fresh `29:` and AAD object ids.
    #[must_use]
    pub fn add_user(&self, tenant: &str, name: &str) -> EmulatedUser {
        let user = EmulatedUser {
            id: format!("29:1{}", random_token(40)),
            aad_object_id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            user_principal_name: format!(
                "{}@{}.example",
                name.to_ascii_lowercase().replace(' ', "."),
                tenant.get(..8).unwrap_or(tenant)
            ),
            tenant_id: tenant.to_owned(),
        };
        self.world().users.insert(user.id.clone(), user.clone());
        user
    }

    /// The bot's 1:1 chat with `user` (the id create conversation would return), made if needed.
    #[must_use]
    pub fn add_personal_chat(&self, tenant: &str, user_id: &str) -> String {
        self.world().personal_chat(tenant, user_id)
    }

    /// A group chat the bot was added to.
    #[must_use]
    pub fn add_group_chat(&self, tenant: &str, members: &[&str]) -> String {
        let id = format!("19:{}@thread.v2", uuid::Uuid::new_v4().simple());
        self.world().conversations.insert(
            id.clone(),
            Conversation {
                kind: ConversationKind::GroupChat,
                tenant_id: tenant.to_owned(),
                members: members.iter().map(|m| (*m).to_owned()).collect(),
                team_id: None,
                activities: Vec::new(),
            },
        );
        id
    }

    /// A team with its General channel (same id as the team, no name).
    #[must_use]
    pub fn add_team(&self, tenant: &str, name: &str, members: &[&str]) -> EmulatedTeam {
        let id = format!("19:{}@thread.tacv2", uuid::Uuid::new_v4().simple());
        let team = EmulatedTeam {
            id: id.clone(),
            name: name.to_owned(),
            aad_group_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant.to_owned(),
            channels: vec![(id.clone(), None)],
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        };
        let mut world = self.world();
        world.conversations.insert(
            id.clone(),
            Conversation {
                kind: ConversationKind::Channel,
                tenant_id: tenant.to_owned(),
                members: team.members.clone(),
                team_id: Some(id.clone()),
                activities: Vec::new(),
            },
        );
        world.teams.insert(id, team.clone());
        team
    }

    /// A named channel in `team_id`; `None` if the team is unknown.
    #[must_use]
    pub fn add_channel(&self, team_id: &str, name: &str) -> Option<String> {
        let id = format!("19:{}@thread.tacv2", uuid::Uuid::new_v4().simple());
        let mut world = self.world();
        let team = world.teams.get_mut(team_id)?;
        team.channels.push((id.clone(), Some(name.to_owned())));
        let conversation = Conversation {
            kind: ConversationKind::Channel,
            tenant_id: team.tenant_id.clone(),
            members: team.members.clone(),
            team_id: Some(team_id.to_owned()),
            activities: Vec::new(),
        };
        world.conversations.insert(id.clone(), conversation);
        Some(id)
    }

    /// Forgets a conversation (later calls get 404 ConversationNotFound).
    pub fn remove_conversation(&self, id: &str) {
        self.world().conversations.remove(id);
    }

    /// Answers every request addressed to `key` (a conversation id, team id, or the user id /
    /// channel id a conversation is being created with) with `fault`, until cleared.
    pub fn inject(&self, key: &str, fault: Fault) {
        self.push_fault(key, fault, None);
    }

    /// Answers the next `times` requests addressed to `key` with `fault` (a burst of 503s...).
    pub fn inject_times(&self, key: &str, fault: Fault, times: u32) {
        if times > 0 {
            self.push_fault(key, fault, Some(times));
        }
    }

    fn push_fault(&self, key: &str, fault: Fault, remaining: Option<u32>) {
        self.world()
            .faults
            .entry(key.to_owned())
            .or_default()
            .push(Injection { fault, remaining });
    }

    pub fn clear_faults(&self, key: &str) {
        self.world().faults.remove(key);
    }

    /// Replaces the enforced limits (buckets start empty).
    pub fn set_limits(&self, limits: EmulatorLimits) {
        self.world().limiter = RateLimiter::new(limits);
    }

    /// Every request received so far, in arrival order.
    #[must_use]
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.world().log.clone()
    }

    /// The requests that addressed `conversation` (thread suffix ignored).
    #[must_use]
    pub fn requests_for(&self, conversation: &str) -> Vec<RequestRecord> {
        let base = strip_message_id(conversation);
        self.world()
            .log
            .iter()
            .filter(|r| r.conversation.as_deref() == Some(base))
            .cloned()
            .collect()
    }

    /// How many requests were answered with `status`.
    #[must_use]
    pub fn count_status(&self, status: u16) -> usize {
        self.world()
            .log
            .iter()
            .filter(|r| r.status == Some(status))
            .count()
    }

    pub fn clear_log(&self) {
        self.world().log.clear();
    }

    /// The messages the bot posted in `conversation`, deleted ones included (flagged).
    #[must_use]
    pub fn activities(&self, conversation: &str) -> Vec<StoredActivity> {
        let world = self.world();
        world
            .conversations
            .get(&world.canonical(conversation))
            .map(|c| c.activities.clone())
            .unwrap_or_default()
    }

    /// How many times the token endpoint was called (successfully or not).
    #[must_use]
    pub fn token_fetches(&self) -> usize {
        self.world().token_fetches
    }

    /// Issues a valid access token directly, for tests that do not exercise the token endpoint.
    #[must_use]
    pub fn issue_token(&self) -> String {
        let token = random_token(64);
        let expires = Instant::now() + self.shared.config.token_lifetime;
        self.world().tokens.insert(
            token.clone(),
            IssuedToken {
                expires,
                scope: self.shared.config.scope.clone(),
                tenant: self.shared.config.app_tenant_id.clone(),
            },
        );
        token
    }
}

async fn serve(listener: TcpListener, router: Router) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                        let router = router.clone();
                        async move {
                            let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
                            if response.extensions().get::<DropConnection>().is_some() {
                                // hyper closes the connection without writing anything.
                                return Err(DroppedByFault);
                            }
                            Ok(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// `pageSize` and `continuationToken` of a paged-members request.
#[derive(Debug, Clone, Default)]
struct Paging {
    page_size: Option<String>,
    continuation_token: Option<String>,
}

/// What the request carried, for the handler and the log.
struct Received {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// A Bot Framework connector operation, parsed from the route.
#[derive(Debug, Clone)]
enum Op {
    Create,
    Send(String),
    Reply(String, String),
    Update(String, String),
    Delete(String, String),
    Members(String, Paging),
    Member(String, String),
    Team(String),
    Channels(String),
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Self::Create => "createConversation",
            Self::Send(_) => "sendToConversation",
            Self::Reply(..) => "replyToActivity",
            Self::Update(..) => "updateActivity",
            Self::Delete(..) => "deleteActivity",
            Self::Members(..) => "getPagedMembers",
            Self::Member(..) => "getConversationMember",
            Self::Team(_) => "getTeamDetails",
            Self::Channels(_) => "getTeamChannels",
        }
    }

    fn class(&self) -> Class {
        match self {
            Self::Create
            | Self::Send(_)
            | Self::Reply(..)
            | Self::Update(..)
            | Self::Delete(..) => Class::Write,
            Self::Members(..) | Self::Member(..) | Self::Team(_) | Self::Channels(_) => Class::Read,
        }
    }

    fn conversation(&self) -> Option<&str> {
        match self {
            Self::Send(c)
            | Self::Reply(c, _)
            | Self::Update(c, _)
            | Self::Delete(c, _)
            | Self::Members(c, _)
            | Self::Member(c, _) => Some(c),
            Self::Create | Self::Team(_) | Self::Channels(_) => None,
        }
    }
}

pub(crate) fn strip_message_id(id: &str) -> &str {
    match id.find(";messageid=") {
        Some(at) if at > 0 => &id[..at],
        _ => id,
    }
}

fn router(shared: &Arc<Shared>) -> Router {
    let connector = Router::new()
        .route("/v3/conversations", post(create))
        .route("/v3/conversations/{conversation}/activities", post(send))
        .route(
            "/v3/conversations/{conversation}/activities/{activity}",
            post(reply).put(update).delete(delete),
        )
        .route(
            "/v3/conversations/{conversation}/pagedmembers",
            get(members),
        )
        .route(
            "/v3/conversations/{conversation}/members/{member}",
            get(member),
        )
        .route("/v3/teams/{team}", get(team))
        .route("/v3/teams/{team}/conversations", get(channels));
    let path = shared.config.service_path.trim_matches('/');
    let connector = if path.is_empty() {
        connector
    } else {
        Router::new().nest(&format!("/{path}"), connector)
    };
    connector
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .with_state(shared.clone())
}

async fn create(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    dispatch(shared, Op::Create, request).await
}

async fn send(
    State(shared): State<Arc<Shared>>,
    Path(conversation): Path<String>,
    request: Request,
) -> Response {
    dispatch(shared, Op::Send(conversation), request).await
}

async fn reply(
    State(shared): State<Arc<Shared>>,
    Path((conversation, activity)): Path<(String, String)>,
    request: Request,
) -> Response {
    dispatch(shared, Op::Reply(conversation, activity), request).await
}

async fn update(
    State(shared): State<Arc<Shared>>,
    Path((conversation, activity)): Path<(String, String)>,
    request: Request,
) -> Response {
    dispatch(shared, Op::Update(conversation, activity), request).await
}

async fn delete(
    State(shared): State<Arc<Shared>>,
    Path((conversation, activity)): Path<(String, String)>,
    request: Request,
) -> Response {
    dispatch(shared, Op::Delete(conversation, activity), request).await
}

async fn members(
    State(shared): State<Arc<Shared>>,
    Path(conversation): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let paging = Paging {
        page_size: query.get("pageSize").cloned(),
        continuation_token: query.get("continuationToken").cloned(),
    };
    dispatch(shared, Op::Members(conversation, paging), request).await
}

async fn member(
    State(shared): State<Arc<Shared>>,
    Path((conversation, member)): Path<(String, String)>,
    request: Request,
) -> Response {
    dispatch(shared, Op::Member(conversation, member), request).await
}

async fn team(
    State(shared): State<Arc<Shared>>,
    Path(team): Path<String>,
    request: Request,
) -> Response {
    dispatch(shared, Op::Team(team), request).await
}

async fn channels(
    State(shared): State<Arc<Shared>>,
    Path(team): Path<String>,
    request: Request,
) -> Response {
    dispatch(shared, Op::Channels(team), request).await
}

/// Bodies above this are not read (Teams' own limit is far lower).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// How the emulator answers.
pub(crate) enum Answer {
    Json(StatusCode, Value),
    Raw(StatusCode, &'static str),
    Empty(StatusCode),
    Throttled(RetryAfter),
    Drop,
}

pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Answer {
    Answer::Json(
        status,
        json!({ "error": { "code": code, "message": message } }),
    )
}

fn fault_answer(fault: &Fault) -> Answer {
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
        Fault::ConversationNotFound => error(
            StatusCode::NOT_FOUND,
            "ConversationNotFound",
            "Conversation not found.",
        ),
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
            let value = match retry_after {
                RetryAfter::Seconds(s) => Some(s.to_string()),
                RetryAfter::HttpDate(d) => Some(httpdate::fmt_http_date(SystemTime::now() + d)),
                RetryAfter::Absent => None,
            };
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            (Some(429), response)
        }
        Answer::Drop => {
            let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            response.extensions_mut().insert(DropConnection);
            (None, response)
        }
    }
}

async fn dispatch(shared: Arc<Shared>, op: Op, request: Request) -> Response {
    let at = Instant::now();
    let received_at = SystemTime::now();
    let (parts, raw) = request.into_parts();
    let Ok(raw) = axum::body::to_bytes(raw, MAX_BODY_BYTES).await else {
        return into_response(fault_answer(&Fault::TooLarge)).1;
    };
    let request = Received {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body: raw,
    };
    let authorization = request
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Option<Value> =
        if request.body.is_empty() {
            None
        } else {
            Some(serde_json::from_slice(&request.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&request.body).into_owned())
            }))
        };
    let conversation = op
        .conversation()
        .map(|c| strip_message_id(c).to_owned())
        .or_else(|| match &op {
            Op::Team(t) | Op::Channels(t) => Some(t.clone()),
            _ => None,
        });
    let seq = shared.world().arrived(RequestRecord {
        seq: 0,
        method: request.method.to_string(),
        path: request.uri.path().to_owned(),
        query: request.uri.query().map(str::to_owned),
        operation: op.name(),
        conversation,
        tenant: None,
        authorization: authorization.clone(),
        at,
        received_at,
        status: None,
        body: body.clone(),
    });
    let (answer, tenant) = process(
        &shared,
        &op,
        authorization.as_deref(),
        &request.body,
        body.as_ref(),
    )
    .await;
    let (status, response) = into_response(answer);
    shared.world().answered(seq, status, tenant);
    response
}

/// The key faults are injected under: the conversation, the team, or for a conversation being
/// created, its channel or first member.
fn fault_key(op: &Op, body: Option<&Value>) -> Option<String> {
    match op {
        Op::Create => {
            let body = body?;
            let channel = body
                .pointer("/channelData/channel/id")
                .and_then(Value::as_str);
            let member = body.pointer("/members/0/id").and_then(Value::as_str);
            channel.or(member).map(str::to_owned)
        }
        Op::Team(t) | Op::Channels(t) => Some(t.clone()),
        other => other.conversation().map(|c| strip_message_id(c).to_owned()),
    }
}

async fn process(
    shared: &Shared,
    op: &Op,
    authorization: Option<&str>,
    raw: &Bytes,
    body: Option<&Value>,
) -> (Answer, Option<String>) {
    let config = &shared.config;
    let key = fault_key(op, body);
    // The tenant goes into the log for every answer, faults and 401s included.
    let (tenant, mut fault) = {
        let mut world = shared.world();
        let tenant = resolve(&world, op, body).ok().map(|t| t.tenant);
        if config.require_auth {
            let token = authorization.and_then(|a| a.strip_prefix("Bearer "));
            let now = Instant::now();
            let valid = token
                .and_then(|t| world.tokens.get(t))
                .is_some_and(|issued| issued.expires > now && issued.scope == config.scope);
            if !valid {
                return (
                    Answer::Json(
                        StatusCode::UNAUTHORIZED,
                        json!({"message": "Authorization has been denied for this request."}),
                    ),
                    tenant,
                );
            }
        }
        (tenant, key.as_deref().and_then(|k| world.take_fault(k)))
    };
    while let Some(Fault::Delay(delay)) = fault {
        tokio::time::sleep(delay).await;
        fault = key.as_deref().and_then(|k| shared.world().take_fault(k));
    }
    if let Some(fault) = fault {
        return (fault_answer(&fault), tenant);
    }

    let mut world = shared.world();
    let target = match resolve(&world, op, body) {
        Ok(target) => target,
        Err(answer) => return (answer, None),
    };
    let tenant = Some(target.tenant.clone());
    if let Err(wait) =
        world
            .limiter
            .admit(op.class(), &target.tenant, &target.rate_key, Instant::now())
    {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return (
            Answer::Throttled(RetryAfter::Seconds(seconds.max(1))),
            tenant,
        );
    }
    if op.class() == Class::Write && raw.len() > config.max_message_bytes {
        return (fault_answer(&Fault::TooLarge), tenant);
    }
    (execute(&mut world, config, op, body), tenant)
}

struct Target {
    tenant: String,
    rate_key: String,
}

fn resolve(world: &World, op: &Op, body: Option<&Value>) -> Result<Target, Answer> {
    match op {
        Op::Create => {
            let tenant = body
                .and_then(|b| {
                    b.get("tenantId")
                        .or_else(|| b.pointer("/channelData/tenant/id"))
                })
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    error(
                        StatusCode::BAD_REQUEST,
                        "BadArgument",
                        "Tenant id is required.",
                    )
                })?;
            let key = fault_key(op, body).unwrap_or_default();
            Ok(Target {
                tenant: tenant.to_owned(),
                rate_key: format!("create:{key}"),
            })
        }
        Op::Team(t) | Op::Channels(t) => {
            let team = world
                .teams
                .get(t)
                .ok_or_else(|| error(StatusCode::NOT_FOUND, "NotFound", "Team not found."))?;
            Ok(Target {
                tenant: team.tenant_id.clone(),
                rate_key: t.clone(),
            })
        }
        other => {
            let id = world.canonical(other.conversation().unwrap_or_default());
            let conversation = world.conversations.get(&id).ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    "ConversationNotFound",
                    "Conversation not found.",
                )
            })?;
            Ok(Target {
                tenant: conversation.tenant_id.clone(),
                rate_key: id,
            })
        }
    }
}

fn message_activity(body: Option<&Value>) -> Result<Value, Answer> {
    match body {
        Some(activity @ Value::Object(map))
            if map.get("type").and_then(Value::as_str).is_some() =>
        {
            Ok(activity.clone())
        }
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "BadArgument",
            "Activity must be a JSON object with a type.",
        )),
    }
}

fn execute(world: &mut World, config: &EmulatorConfig, op: &Op, body: Option<&Value>) -> Answer {
    match run(world, config, op, body) {
        Ok(answer) | Err(answer) => answer,
    }
}

fn post_activity(
    world: &mut World,
    conversation: &str,
    activity: Value,
    reply_to: Option<String>,
) -> Result<String, Answer> {
    let id = world.activity_id();
    let reply_to = reply_to.or_else(|| {
        conversation
            .split_once(";messageid=")
            .map(|(_, m)| m.to_owned())
    });
    let key = world.canonical(conversation);
    let stored = world.conversations.get_mut(&key).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "ConversationNotFound",
            "Conversation not found.",
        )
    })?;
    stored.activities.push(StoredActivity {
        id: id.clone(),
        activity,
        reply_to_id: reply_to,
        updates: 0,
        deleted: false,
    });
    Ok(id)
}

/// `POST /v3/conversations`: an idempotent 1:1 chat, or a new thread in a channel.
fn create_conversation(
    world: &mut World,
    config: &EmulatorConfig,
    body: Option<&Value>,
) -> Result<Answer, Answer> {
    let body =
        body.ok_or_else(|| error(StatusCode::BAD_REQUEST, "BadArgument", "Body required."))?;
    let tenant = body
        .get("tenantId")
        .or_else(|| body.pointer("/channelData/tenant/id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let bot = body
        .pointer("/bot/id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if bot != format!("28:{}", config.app_id) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "BadArgument",
            "Bot id does not match the token's app id.",
        ));
    }
    let activity = body.get("activity").filter(|a| !a.is_null());
    if body
        .get("isGroup")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        let Some(channel) = body
            .pointer("/channelData/channel/id")
            .and_then(Value::as_str)
        else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "BadArgument",
                "Group chats cannot be created proactively.",
            ));
        };
        let known = world
            .conversations
            .get(channel)
            .is_some_and(|c| c.kind == ConversationKind::Channel && c.tenant_id == tenant);
        if !known {
            return Err(error(
                StatusCode::NOT_FOUND,
                "ConversationNotFound",
                "Channel not found.",
            ));
        }
        let activity = message_activity(activity)?;
        let activity_id = post_activity(world, channel, activity, None)?;
        return Ok(Answer::Json(
            StatusCode::CREATED,
            json!({"id": format!("{channel};messageid={activity_id}"), "activityId": activity_id}),
        ));
    }
    let members = body
        .get("members")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let [member] = members else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "BadArgument",
            "A 1:1 conversation needs exactly one member.",
        ));
    };
    let user_id = member.get("id").and_then(Value::as_str).unwrap_or_default();
    let known = world
        .users
        .get(user_id)
        .is_some_and(|u| u.tenant_id == tenant);
    if !known {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "BadArgument",
            "Invalid user identity in provided tenant.",
        ));
    }
    let id = world.personal_chat(&tenant, user_id);
    let mut answer = json!({"id": id});
    if let Some(activity) = activity {
        let activity = message_activity(Some(activity))?;
        answer["activityId"] = Value::String(post_activity(world, &id, activity, None)?);
    }
    Ok(Answer::Json(StatusCode::CREATED, answer))
}

fn run(
    world: &mut World,
    config: &EmulatorConfig,
    op: &Op,
    body: Option<&Value>,
) -> Result<Answer, Answer> {
    let not_found_activity = || {
        error(
            StatusCode::NOT_FOUND,
            "ActivityNotFoundInConversation",
            "Unknown activity id.",
        )
    };
    match op {
        Op::Create => create_conversation(world, config, body),
        Op::Send(conversation) => {
            let activity = message_activity(body)?;
            let id = post_activity(world, conversation, activity, None)?;
            Ok(Answer::Json(StatusCode::CREATED, json!({"id": id})))
        }
        Op::Reply(conversation, reply_to) => {
            let activity = message_activity(body)?;
            let id = post_activity(world, conversation, activity, Some(reply_to.clone()))?;
            Ok(Answer::Json(StatusCode::CREATED, json!({"id": id})))
        }
        Op::Update(conversation, activity_id) => {
            let activity = message_activity(body)?;
            let key = world.canonical(conversation);
            let stored = world
                .conversations
                .get_mut(&key)
                .and_then(|c| {
                    c.activities
                        .iter_mut()
                        .find(|a| a.id == *activity_id && !a.deleted)
                })
                .ok_or_else(not_found_activity)?;
            stored.activity = activity;
            stored.updates += 1;
            Ok(Answer::Json(StatusCode::OK, json!({"id": activity_id})))
        }
        Op::Delete(conversation, activity_id) => {
            let key = world.canonical(conversation);
            let stored = world
                .conversations
                .get_mut(&key)
                .and_then(|c| {
                    c.activities
                        .iter_mut()
                        .find(|a| a.id == *activity_id && !a.deleted)
                })
                .ok_or_else(not_found_activity)?;
            stored.deleted = true;
            Ok(Answer::Empty(StatusCode::OK))
        }
        Op::Members(..) | Op::Member(..) => members_answer(world, op),
        Op::Team(team) => {
            let team = world
                .teams
                .get(team)
                .ok_or_else(|| error(StatusCode::NOT_FOUND, "NotFound", "Team not found."))?;
            Ok(Answer::Json(
                StatusCode::OK,
                json!({"id": team.id, "name": team.name, "aadGroupId": team.aad_group_id}),
            ))
        }
        Op::Channels(team) => {
            let team = world
                .teams
                .get(team)
                .ok_or_else(|| error(StatusCode::NOT_FOUND, "NotFound", "Team not found."))?;
            let conversations: Vec<Value> = team
                .channels
                .iter()
                .map(|(id, name)| match name {
                    Some(name) => json!({"id": id, "name": name}),
                    None => json!({"id": id}),
                })
                .collect();
            Ok(Answer::Json(
                StatusCode::OK,
                json!({"conversations": conversations}),
            ))
        }
    }
}

/// Paged members (offset-based opaque continuation tokens bound to the conversation) or one member.
fn members_answer(world: &World, op: &Op) -> Result<Answer, Answer> {
    let conversation_id = world.canonical(op.conversation().unwrap_or_default());
    let conversation_id = conversation_id.as_str();
    let conversation = world.conversations.get(conversation_id).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "ConversationNotFound",
            "Conversation not found.",
        )
    })?;
    // A channel's roster is its team's.
    let roster = conversation
        .team_id
        .as_ref()
        .and_then(|t| world.teams.get(t))
        .map_or(&conversation.members, |t| &t.members);
    let accounts: Vec<&EmulatedUser> = roster.iter().filter_map(|m| world.users.get(m)).collect();
    if let Op::Member(_, member) = op {
        let user = accounts
            .iter()
            .find(|u| u.id == *member || u.aad_object_id == *member)
            .ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    "MemberNotFoundInConversation",
                    "The member was not found in the conversation.",
                )
            })?;
        return Ok(Answer::Json(StatusCode::OK, user.channel_account()));
    }
    let paging = match op {
        Op::Members(_, paging) => paging.clone(),
        _ => Paging::default(),
    };
    let page_size = paging
        .page_size
        .as_deref()
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| error(StatusCode::BAD_REQUEST, "BadArgument", "Invalid pageSize."))
        })
        .transpose()?
        .unwrap_or(200)
        .clamp(1, 500);
    let start = match paging.continuation_token.as_deref() {
        None => 0,
        Some(token) => decode_continuation(token, conversation_id).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "BadArgument",
                "Invalid continuation token.",
            )
        })?,
    };
    let end = (start + page_size).min(accounts.len());
    let page: Vec<Value> = accounts
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|u| u.channel_account())
        .collect();
    let mut answer = json!({"members": page});
    if end < accounts.len() {
        answer["continuationToken"] = Value::String(encode_continuation(end, conversation_id));
    }
    Ok(Answer::Json(StatusCode::OK, answer))
}

fn encode_continuation(offset: usize, conversation: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}|{conversation}"))
}

fn decode_continuation(token: &str, conversation: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (offset, for_conversation) = text.split_once('|')?;
    (for_conversation == conversation).then(|| offset.parse().ok())?
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    uri: Uri,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let at = Instant::now();
    let config = &shared.config;
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let aad = |status: StatusCode, error: &str, description: String| {
        Answer::Json(
            status,
            json!({"error": error, "error_description": description, "error_codes": []}),
        )
    };
    // Connector tokens come from the bot's tenant; Graph tokens from the tenant whose data they
    // reach (any tenant the emulator has users in, as if the app were consented there).
    let graph = field("scope") == config.graph_scope;
    let tenant_ok = tenant == config.app_tenant_id
        || (config.multi_tenant && !graph && tenant == "botframework.com")
        || (graph && shared.world().users.values().any(|u| u.tenant_id == tenant));
    let answer = if field("grant_type") != "client_credentials" {
        aad(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.".to_owned(),
        )
    } else if field("client_id") != config.app_id || !tenant_ok {
        aad(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            format!(
                "AADSTS700016: Application with identifier '{}' was not found in the directory '{tenant}'.",
                field("client_id")
            ),
        )
    } else if field("client_secret") != config.app_password {
        aad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.".to_owned(),
        )
    } else if field("scope") != config.scope && !graph {
        aad(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!(
                "AADSTS70011: The provided value for scope {} is not valid.",
                field("scope")
            ),
        )
    } else {
        let token = random_token(64);
        let lifetime = config.token_lifetime;
        shared.world().tokens.insert(
            token.clone(),
            IssuedToken {
                expires: at + lifetime,
                scope: field("scope").to_owned(),
                tenant: tenant.clone(),
            },
        );
        Answer::Json(
            StatusCode::OK,
            json!({"token_type": "Bearer", "expires_in": lifetime.as_secs(), "ext_expires_in": lifetime.as_secs(), "access_token": token}),
        )
    };
    let (status, response) = into_response(answer);
    let mut logged = form.clone();
    logged.remove("client_secret");
    let mut world = shared.world();
    world.token_fetches += 1;
    world.arrived(RequestRecord {
        seq: 0,
        method: "POST".to_owned(),
        path: uri.path().to_owned(),
        query: None,
        operation: "token",
        conversation: None,
        tenant: Some(tenant),
        authorization: None,
        at,
        received_at: SystemTime::now(),
        status,
        body: serde_json::to_value(logged).ok(),
    });
    response
}
