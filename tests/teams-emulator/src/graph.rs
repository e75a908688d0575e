//! The emulated Microsoft Graph, for one job: installing the Teams app in a user's personal scope.
//!
//! Served under `/v1.0` on the emulator's listener (so the Graph base URL is
//! `{login_host}/v1.0`), sharing the world: users added with `add_user` are Graph users (by AAD
//! object id or UPN), in their tenant.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1.0/users/{id}/teamwork/installedApps` | 201 empty; 409 when installed; 404 unknown user or app |
//! | `GET /v1.0/users/{id}/teamwork/installedApps` | `{"value": [...], "@odata.nextLink"?}`, `$expand=teamsApp`, `$filter=teamsApp/id eq '..'` |
//! | `GET /v1.0/users/{id}/teamwork/installedApps/{installationId}` | the installation |
//! | `GET /v1.0/users/{id}/teamwork/installedApps/{installationId}/chat` | `{"id": "19:{aad}_{bot}@unq.gbl.spaces", ...}` |
//! | `GET /v1.0/appCatalogs/teamsApps/{id}` | the catalog entry |
//!
//! Paging is over the user's installations *before* the filter applies, so a filtered page can be
//! empty and still carry a `@odata.nextLink` (Graph documents this for filtered collections:
//! follow the links until there are none). After a 201 for an app with a bot, the emulator POSTs
//! the bot endpoint (see [`TeamsEmulator::set_bot_endpoint`]) the conversationUpdate Teams sends
//! on a personal install, as a separate task after answering.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::{GraphFault, RetryAfter};
use crate::identity::TokenSpec;
use crate::server::{DropConnection, Shared, TeamsEmulator};
use crate::state::{
    BotDelivery, CatalogApp, EmulatedInstallation, EmulatedUser, GRAPH_ANY_USER, GraphInjection,
    RequestRecord, World,
};

/// Graph's message when the application permission is missing, as Graph words it.
pub const MISSING_PERMISSION_MESSAGE: &str = "Missing role permissions on the request. API requires one of 'TeamsAppInstallation.ReadWriteSelfForUser.All, TeamsAppInstallation.ReadWriteForUser.All'. Roles on the request ''.";

/// Graph's (verbose) message for an app that is not in the catalog.
pub const APP_NOT_FOUND_MESSAGE: &str =
    "User is trying to create a team entitlement for a non existent App definition";

const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One Graph request, parsed from the route.
#[derive(Debug, Clone)]
enum GraphOp {
    Install(String),
    List(String, HashMap<String, String>),
    Installation(String, String),
    Chat(String, String),
    CatalogApp(String),
}

impl GraphOp {
    fn name(&self) -> &'static str {
        match self {
            Self::Install(_) => "graph.installApp",
            Self::List(..) => "graph.listInstalledApps",
            Self::Installation(..) => "graph.getInstalledApp",
            Self::Chat(..) => "graph.getInstalledAppChat",
            Self::CatalogApp(_) => "graph.getCatalogApp",
        }
    }

    fn user(&self) -> Option<&str> {
        match self {
            Self::Install(u) | Self::List(u, _) | Self::Installation(u, _) | Self::Chat(u, _) => {
                Some(u)
            }
            Self::CatalogApp(_) => None,
        }
    }
}

/// How the emulated Graph answers.
enum GraphAnswer {
    Json(StatusCode, Value),
    Empty(StatusCode),
    Throttled(RetryAfter),
    Drop,
}

/// What to tell the bot after an installation.
struct InstallEvent {
    url: String,
    bot_app_id: String,
    app_name: String,
    user: EmulatedUser,
    chat: String,
    delay: Duration,
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> GraphAnswer {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    GraphAnswer::Json(
        status,
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
        }),
    )
}

fn fault_answer(fault: &GraphFault) -> GraphAnswer {
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

fn unauthorized(message: &str) -> GraphAnswer {
    graph_error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        message,
    )
}

fn respond(answer: GraphAnswer) -> (Option<u16>, Response) {
    match answer {
        GraphAnswer::Json(status, body) => (
            Some(status.as_u16()),
            (status, axum::Json(body)).into_response(),
        ),
        GraphAnswer::Empty(status) => (Some(status.as_u16()), status.into_response()),
        GraphAnswer::Throttled(retry_after) => {
            let GraphAnswer::Json(status, body) = graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests.",
            ) else {
                unreachable!("graph_error answers JSON")
            };
            let mut response = (status, axum::Json(body)).into_response();
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
        GraphAnswer::Drop => {
            let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            response.extensions_mut().insert(DropConnection);
            (None, response)
        }
    }
}

pub(crate) fn router(shared: &Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/v1.0/users/{user}/teamwork/installedApps",
            get(list).post(install),
        )
        .route(
            "/v1.0/users/{user}/teamwork/installedApps/{installation}",
            get(installation),
        )
        .route(
            "/v1.0/users/{user}/teamwork/installedApps/{installation}/chat",
            get(chat),
        )
        .route("/v1.0/appCatalogs/teamsApps/{app}", get(catalog_app))
        .with_state(shared.clone())
}

async fn install(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
    request: Request,
) -> Response {
    dispatch(shared, GraphOp::Install(user), request).await
}

async fn list(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    dispatch(shared, GraphOp::List(user, query), request).await
}

async fn installation(
    State(shared): State<Arc<Shared>>,
    Path((user, installation)): Path<(String, String)>,
    request: Request,
) -> Response {
    dispatch(shared, GraphOp::Installation(user, installation), request).await
}

async fn chat(
    State(shared): State<Arc<Shared>>,
    Path((user, installation)): Path<(String, String)>,
    request: Request,
) -> Response {
    dispatch(shared, GraphOp::Chat(user, installation), request).await
}

async fn catalog_app(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    request: Request,
) -> Response {
    dispatch(shared, GraphOp::CatalogApp(app), request).await
}

/// A Graph user by AAD object id or UPN, within `tenant` when the token names one.
fn find_user(world: &World, id: &str, tenant: Option<&str>) -> Option<EmulatedUser> {
    world
        .users
        .values()
        .filter(|u| tenant.is_none_or(|t| u.tenant_id == t))
        .find(|u| {
            u.aad_object_id.eq_ignore_ascii_case(id)
                || u.user_principal_name.eq_ignore_ascii_case(id)
        })
        .cloned()
}

async fn dispatch(shared: Arc<Shared>, op: GraphOp, request: Request) -> Response {
    let at = Instant::now();
    let received_at = SystemTime::now();
    let (parts, raw) = request.into_parts();
    let raw = axum::body::to_bytes(raw, MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Option<Value> = if raw.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(&raw)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned())),
        )
    };
    let seq = {
        let mut world = shared.world();
        if matches!(op, GraphOp::Install(_)) {
            world.install_requests += 1;
        }
        world.arrived(RequestRecord {
            seq: 0,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            operation: op.name(),
            conversation: None,
            tenant: None,
            authorization: authorization.clone(),
            at,
            received_at,
            status: None,
            body: body.clone(),
        })
    };
    let (answer, tenant, event) = process(&shared, &op, authorization.as_deref(), &raw).await;
    let (status, response) = respond(answer);
    shared.world().answered(seq, status, tenant);
    if let Some(event) = event {
        // Teams announces the installation to the bot a moment after Graph answered.
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(event.delay).await;
            deliver(&shared, event).await;
        });
    }
    response
}

async fn process(
    shared: &Shared,
    op: &GraphOp,
    authorization: Option<&str>,
    raw: &Bytes,
) -> (GraphAnswer, Option<String>, Option<InstallEvent>) {
    let config = &shared.config;
    let (token_tenant, user, fault_key) = {
        let world = shared.world();
        let token = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .and_then(|t| world.tokens.get(t))
            .filter(|issued| issued.expires > Instant::now());
        let token_tenant = match token {
            Some(issued) if issued.scope == config.graph_scope => Some(issued.tenant.clone()),
            Some(_) if config.require_auth => {
                return (
                    unauthorized("Access token validation failure. Invalid audience."),
                    None,
                    None,
                );
            }
            None if config.require_auth => {
                let message = if authorization.is_some() {
                    "Lifetime validation failed, the token is expired."
                } else {
                    "Access token is empty."
                };
                return (unauthorized(message), None, None);
            }
            _ => None,
        };
        let user = op
            .user()
            .and_then(|u| find_user(&world, u, token_tenant.as_deref()));
        let fault_key = user
            .as_ref()
            .map(|u| u.aad_object_id.clone())
            .or_else(|| op.user().map(str::to_owned));
        (token_tenant, user, fault_key)
    };
    let tenant = user
        .as_ref()
        .map(|u| u.tenant_id.clone())
        .or(token_tenant.clone());
    let take = |shared: &Shared| {
        let mut world = shared.world();
        fault_key
            .as_deref()
            .and_then(|k| world.take_graph_fault(k))
            .or_else(|| world.take_graph_fault(GRAPH_ANY_USER))
    };
    let mut fault = take(shared);
    while let Some(GraphFault::Delay(delay)) = fault {
        tokio::time::sleep(delay).await;
        fault = take(shared);
    }
    if let Some(fault) = fault {
        return (fault_answer(&fault), tenant, None);
    }

    let mut world = shared.world();
    let not_found_user = |id: &str| {
        graph_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("User Id '{id}' not found."),
        )
    };
    let (answer, event) = match (op, user) {
        (GraphOp::CatalogApp(app), _) => (catalog_answer(&world, app), None),
        (other, None) => (not_found_user(other.user().unwrap_or_default()), None),
        (GraphOp::Install(_), Some(user)) => match install_app(&mut world, config, &user, raw) {
            Ok(event) => (GraphAnswer::Empty(StatusCode::CREATED), event),
            Err(answer) => (answer, None),
        },
        (GraphOp::List(path_user, query), Some(user)) => {
            let base = &shared.base;
            (
                list_answer(&world, base, path_user, &user, query).unwrap_or_else(|e| e),
                None,
            )
        }
        (GraphOp::Installation(_, id), Some(user)) => (
            find_installation(&world, &user, id).map_or_else(
                |e| e,
                |i| GraphAnswer::Json(StatusCode::OK, installation_json(&world, i, true)),
            ),
            None,
        ),
        (GraphOp::Chat(_, id), Some(user)) => (
            find_installation(&world, &user, id)
                .map_or_else(|e| e, |i| GraphAnswer::Json(StatusCode::OK, chat_json(i))),
            None,
        ),
    };
    (answer, tenant, event)
}

fn catalog_json(app: &CatalogApp) -> Value {
    json!({
        "id": app.id,
        "externalId": app.external_id,
        "displayName": app.display_name,
        "distributionMethod": "organization",
    })
}

fn catalog_answer(world: &World, app: &str) -> GraphAnswer {
    match world.catalog.get(app) {
        Some(app) => GraphAnswer::Json(StatusCode::OK, catalog_json(app)),
        None => graph_error(StatusCode::NOT_FOUND, "NotFound", "Not Found"),
    }
}

fn install_app(
    world: &mut World,
    config: &crate::config::EmulatorConfig,
    user: &EmulatedUser,
    raw: &Bytes,
) -> Result<Option<InstallEvent>, GraphAnswer> {
    let bad_request = |message: &str| graph_error(StatusCode::BAD_REQUEST, "BadRequest", message);
    let body: Value = serde_json::from_slice(raw)
        .map_err(|_| bad_request("Unable to read JSON request payload."))?;
    let bind = body
        .get("teamsApp@odata.bind")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request("Invalid bind property name teamsApp@odata.bind in request."))?;
    let app_id = bind
        .rsplit_once("/appCatalogs/teamsApps/")
        .map(|(_, id)| id.trim_matches(|c| c == '\'' || c == '/'))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad_request("Invalid odata.bind value for teamsApp."))?;
    let Some(app) = world.catalog.get(app_id).cloned() else {
        let message = if world.graph_terse_not_found {
            "Not Found"
        } else {
            APP_NOT_FOUND_MESSAGE
        };
        return Err(graph_error(StatusCode::NOT_FOUND, "NotFound", message));
    };
    let installed = world
        .installed
        .iter()
        .any(|i| i.user_aad_object_id == user.aad_object_id && i.teams_app_id == app.id);
    if installed {
        return Err(graph_error(
            StatusCode::CONFLICT,
            "Conflict",
            "App is already installed.",
        ));
    }
    let bot_app_id = app.bot.then(|| world.bot_app_id(&config.app_id).to_owned());
    let (_, chat) = world.install(user, &app.id, true, bot_app_id.as_deref());
    let event = match (&world.bot_endpoint, chat, bot_app_id) {
        (Some((url, _)), Some(chat), Some(bot_app_id)) => Some(InstallEvent {
            url: url.clone(),
            bot_app_id,
            app_name: app.display_name.clone(),
            user: user.clone(),
            chat,
            delay: world.bot_event_delay,
        }),
        _ => None,
    };
    Ok(event)
}

/// `teamsApp/id eq '...'` or `teamsApp/externalId eq '...'` (OData quotes doubled inside).
fn parse_filter(filter: &str) -> Option<(&'static str, String)> {
    let (field, rest) = filter.trim().split_once(" eq ")?;
    let field = match field.trim() {
        f if f.eq_ignore_ascii_case("teamsApp/id") => "id",
        f if f.eq_ignore_ascii_case("teamsApp/externalId") => "externalId",
        _ => return None,
    };
    let literal = rest.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    Some((field, literal.replace("''", "'")))
}

fn list_answer(
    world: &World,
    base: &str,
    path_user: &str,
    user: &EmulatedUser,
    query: &HashMap<String, String>,
) -> Result<GraphAnswer, GraphAnswer> {
    let bad_request = |message: &str| graph_error(StatusCode::BAD_REQUEST, "BadRequest", message);
    let filter = query
        .get("$filter")
        .map(|f| parse_filter(f).ok_or_else(|| bad_request("Invalid filter clause")))
        .transpose()?;
    let expand = query
        .get("$expand")
        .is_some_and(|e| e.split(',').any(|p| p.trim() == "teamsApp"));
    let skip = query
        .get("$skiptoken")
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad_request("Invalid skip token."))
        })
        .transpose()?
        .unwrap_or(0);
    let top = query
        .get("$top")
        .map(|s| s.parse::<usize>().map_err(|_| bad_request("Invalid $top.")))
        .transpose()?;
    let page_size = top
        .map_or(world.graph_page_size, |t| t.min(world.graph_page_size))
        .max(1);
    let all: Vec<&EmulatedInstallation> = world
        .installed
        .iter()
        .filter(|i| i.user_aad_object_id == user.aad_object_id)
        .collect();
    let end = (skip + page_size).min(all.len());
    let page: Vec<Value> = all
        .get(skip.min(end)..end)
        .unwrap_or_default()
        .iter()
        .filter(|i| {
            filter.as_ref().is_none_or(|(field, value)| {
                let app = world.catalog.get(&i.teams_app_id);
                match *field {
                    "id" => i.teams_app_id == *value,
                    _ => app.is_some_and(|a| a.external_id == *value),
                }
            })
        })
        .map(|i| installation_json(world, i, expand))
        .collect();
    let mut answer = json!({
        "@odata.context": format!("{base}/v1.0/$metadata#users('{path_user}')/teamwork/installedApps"),
        "value": page,
    });
    if end < all.len() {
        let mut next = url::Url::parse(base).map_err(|_| bad_request("Invalid base URL."))?;
        next.path_segments_mut()
            .map_err(|()| bad_request("Invalid base URL."))?
            .extend(["v1.0", "users", path_user, "teamwork", "installedApps"]);
        {
            let mut pairs = next.query_pairs_mut();
            for name in ["$expand", "$filter", "$top"] {
                if let Some(value) = query.get(name) {
                    pairs.append_pair(name, value);
                }
            }
            pairs.append_pair("$skiptoken", &end.to_string());
        }
        answer["@odata.nextLink"] = Value::String(next.into());
    }
    Ok(GraphAnswer::Json(StatusCode::OK, answer))
}

fn find_installation<'w>(
    world: &'w World,
    user: &EmulatedUser,
    id: &str,
) -> Result<&'w EmulatedInstallation, GraphAnswer> {
    world
        .installed
        .iter()
        .find(|i| i.id == id && i.user_aad_object_id == user.aad_object_id)
        .ok_or_else(|| {
            graph_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                "The requested installation was not found.",
            )
        })
}

fn installation_json(world: &World, installation: &EmulatedInstallation, expand: bool) -> Value {
    let mut value = json!({"id": installation.id});
    if expand {
        let app = world
            .catalog
            .get(&installation.teams_app_id)
            .map_or_else(|| json!({"id": installation.teams_app_id}), catalog_json);
        value["teamsApp"] = app;
    }
    value
}

fn chat_json(installation: &EmulatedInstallation) -> Value {
    json!({
        "id": installation.chat_id,
        "topic": null,
        "createdDateTime": "2025-01-01T00:00:00.000Z",
        "lastUpdatedDateTime": "2025-01-01T00:00:00.000Z",
        "chatType": "oneOnOne",
        "webUrl": format!("https://teams.microsoft.com/l/chat/{}/0", installation.chat_id),
        "tenantId": installation.tenant_id,
        "onlineMeetingInfo": null,
        "viewpoint": null,
    })
}

/// POSTs the bot what Teams sends when the app is installed in a user's personal scope.
async fn deliver(shared: &Shared, event: InstallEvent) {
    let service_url = service_url(shared);
    let bot = format!("28:{}", event.bot_app_id);
    let tenant = &event.user.tenant_id;
    let activity = json!({
        "membersAdded": [{"id": bot}],
        "type": "conversationUpdate",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "id": format!("f:{}", uuid::Uuid::new_v4().simple()),
        "channelId": crate::identity::TEAMS_CHANNEL_ID,
        "serviceUrl": service_url,
        "from": {"id": event.user.id, "aadObjectId": event.user.aad_object_id},
        "conversation": {"conversationType": "personal", "tenantId": tenant, "id": event.chat},
        "recipient": {"id": bot, "name": event.app_name},
        "channelData": {"tenant": {"id": tenant}},
    });
    let token = shared
        .identity
        .mint(TokenSpec::valid(&service_url).audience(&event.bot_app_id));
    let result = shared
        .http
        .post(&event.url)
        .bearer_auth(token)
        .json(&activity)
        .send()
        .await;
    let (status, error) = match result {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    tracing::debug!(url = %event.url, ?status, ?error, "installation event delivered to the bot");
    shared.world().bot_deliveries.push(BotDelivery {
        url: event.url,
        user_aad_object_id: event.user.aad_object_id,
        conversation_id: event.chat,
        activity,
        status,
        error,
    });
}

fn service_url(shared: &Shared) -> String {
    let path = shared.config.service_path.trim_matches('/');
    if path.is_empty() {
        format!("{}/", shared.base)
    } else {
        format!("{}/{path}/", shared.base)
    }
}

/// The emulated Graph's controls.
impl TeamsEmulator {
    /// `http://127.0.0.1:PORT/v1.0`: stands in for `https://graph.microsoft.com/v1.0`.
    #[must_use]
    pub fn graph_base_url(&self) -> String {
        format!("{}/v1.0", self.login_host())
    }

    /// The token endpoint for Graph tokens, `{tenant}` to be replaced by the user's tenant
    /// (`HERALD_GRAPH_TOKEN_URL`). It issues tokens for [`crate::EmulatorConfig::graph_scope`] from
    /// the bot's tenant and every tenant the emulator has users in.
    #[must_use]
    pub fn graph_token_url(&self) -> String {
        format!("{}/{{tenant}}/oauth2/v2.0/token", self.login_host())
    }

    /// Adds Herald's app (its bot is the emulator's bot) to the organisation's app catalog.
    pub fn add_catalog_app(&self, teams_app_id: &str) {
        let app = CatalogApp {
            id: teams_app_id.to_owned(),
            external_id: self.config().app_id.clone(),
            display_name: "Herald".to_owned(),
            bot: true,
        };
        self.world().catalog.insert(app.id.clone(), app);
    }

    /// Adds another app, without a bot: installing it announces nothing.
    pub fn add_other_catalog_app(&self, teams_app_id: &str, display_name: &str) {
        let app = CatalogApp {
            id: teams_app_id.to_owned(),
            external_id: uuid::Uuid::new_v4().to_string(),
            display_name: display_name.to_owned(),
            bot: false,
        };
        self.world().catalog.insert(app.id.clone(), app);
    }

    /// Marks `teams_app_id` installed for `user` earlier, without any event (an app not in the
    /// catalog is added to it as an app without a bot). For an app with a bot, the user's personal
    /// chat with the bot exists and answers to the installation's Graph chat id too.
    #[allow(clippy::must_use_candidate)] // callers often only need the side effect
    pub fn mark_installed(&self, user: &EmulatedUser, teams_app_id: &str) -> EmulatedInstallation {
        let mut world = self.world();
        let app = world
            .catalog
            .entry(teams_app_id.to_owned())
            .or_insert_with(|| CatalogApp {
                id: teams_app_id.to_owned(),
                external_id: uuid::Uuid::new_v4().to_string(),
                display_name: teams_app_id.to_owned(),
                bot: false,
            })
            .clone();
        let bot_app_id = app
            .bot
            .then(|| world.bot_app_id(&self.config().app_id).to_owned());
        world
            .install(user, teams_app_id, false, bot_app_id.as_deref())
            .0
    }

    /// Every installation, marked ones included, in order.
    #[must_use]
    pub fn installations(&self) -> Vec<EmulatedInstallation> {
        self.world().installed.clone()
    }

    /// How many `POST .../installedApps` requests arrived (whatever they were answered).
    #[must_use]
    pub fn install_requests(&self) -> usize {
        self.world().install_requests
    }

    /// The Graph requests received so far (operations `graph.*`), in arrival order.
    #[must_use]
    pub fn graph_requests(&self) -> Vec<crate::RequestRecord> {
        self.world()
            .log
            .iter()
            .filter(|r| r.operation.starts_with("graph."))
            .cloned()
            .collect()
    }

    /// Installations per page of `GET .../installedApps` (default 20); filters apply per page.
    pub fn set_graph_page_size(&self, size: usize) {
        self.world().graph_page_size = size.max(1);
    }

    /// An app missing from the catalog is answered 404 "Not Found" instead of Graph's verbose
    /// "non existent App definition" message (Graph answers both ways).
    pub fn set_graph_terse_not_found(&self, terse: bool) {
        self.world().graph_terse_not_found = terse;
    }

    /// Answers every Graph request for the user (AAD object id) with `fault`, until cleared.
    pub fn inject_graph(&self, user_aad_object_id: &str, fault: GraphFault) {
        self.push_graph_fault(user_aad_object_id, fault, None);
    }

    /// Answers the next `times` Graph requests for the user (AAD object id) with `fault`.
    pub fn inject_graph_times(&self, user_aad_object_id: &str, fault: GraphFault, times: u32) {
        if times > 0 {
            self.push_graph_fault(user_aad_object_id, fault, Some(times));
        }
    }

    /// Answers every Graph request (any user) with `fault`, until cleared; per-user faults first.
    pub fn inject_graph_all(&self, fault: GraphFault) {
        self.push_graph_fault(GRAPH_ANY_USER, fault, None);
    }

    /// Answers the next `times` Graph requests (any user) with `fault`.
    pub fn inject_graph_all_times(&self, fault: GraphFault, times: u32) {
        if times > 0 {
            self.push_graph_fault(GRAPH_ANY_USER, fault, Some(times));
        }
    }

    /// Clears every Graph fault, per user and global.
    pub fn clear_graph_faults(&self) {
        self.world().graph_faults.clear();
    }

    fn push_graph_fault(&self, key: &str, fault: GraphFault, remaining: Option<u32>) {
        self.world()
            .graph_faults
            .entry(key.to_owned())
            .or_default()
            .push(GraphInjection { fault, remaining });
    }

    /// Where installations are announced: after each 201 for an app with a bot, the emulator
    /// POSTs `url` the personal-install conversationUpdate, with a bearer token minted by
    /// [`Self::identity`] for `bot_app_id` (its `aud`) and [`Self::service_url`]. Graph chat ids
    /// then name `bot_app_id`.
    pub fn set_bot_endpoint(&self, url: &str, bot_app_id: &str) {
        self.world().bot_endpoint = Some((url.to_owned(), bot_app_id.to_owned()));
    }

    /// How long after answering 201 the installation event is sent (default 20 ms).
    pub fn set_bot_event_delay(&self, delay: Duration) {
        self.world().bot_event_delay = delay;
    }

    /// The installation events sent to the bot endpoint, with the bot's answers.
    #[must_use]
    pub fn bot_deliveries(&self) -> Vec<BotDelivery> {
        self.world().bot_deliveries.clone()
    }

    /// Waits until at least `count` installation events were sent (answered or failed), or
    /// `timeout` passed; returns those sent so far.
    pub async fn wait_for_bot_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<BotDelivery> {
        let until = Instant::now() + timeout;
        loop {
            let deliveries = self.bot_deliveries();
            if deliveries.len() >= count || Instant::now() >= until {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A valid Graph token from `tenant`'s endpoint, for tests that skip the token endpoint.
    #[must_use]
    pub fn issue_graph_token(&self, tenant: &str) -> String {
        let token = crate::state::random_token(64);
        let issued = crate::state::IssuedToken {
            expires: Instant::now() + self.config().token_lifetime,
            scope: self.config().graph_scope.clone(),
            tenant: tenant.to_owned(),
        };
        self.world().tokens.insert(token.clone(), issued);
        token
    }

    /// Forgets every issued token (connector and Graph): the next request with one gets a 401,
    /// as after a revocation.
    pub fn revoke_tokens(&self) {
        self.world().tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(
            parse_filter("teamsApp/id eq 'abc'"),
            Some(("id", "abc".to_owned()))
        );
        assert_eq!(
            parse_filter(" teamsapp/externalId eq 'it''s' "),
            Some(("externalId", "it's".to_owned()))
        );
        assert_eq!(parse_filter("teamsApp/id eq abc"), None);
        assert_eq!(parse_filter("displayName eq 'x'"), None);
    }

    #[test]
    fn chat_ids_alias_the_personal_chat() {
        let mut world = World::new(crate::EmulatorLimits::off());
        let user = EmulatedUser {
            id: "29:1user".to_owned(),
            aad_object_id: "aad-1".to_owned(),
            name: "Megan Bowen".to_owned(),
            user_principal_name: "megan@example".to_owned(),
            tenant_id: "t".to_owned(),
        };
        let (installation, chat) = world.install(&user, "app", false, Some("bot"));
        let chat = chat.unwrap();
        assert_eq!(installation.chat_id, "19:aad-1_bot@unq.gbl.spaces");
        assert_eq!(world.canonical(&installation.chat_id), chat);
        assert_eq!(
            world.canonical(&format!("{};messageid=1", installation.chat_id)),
            chat
        );
        assert_eq!(world.canonical(&chat), chat);
        // Without a bot there is no chat to alias.
        let (other, none) = world.install(&user, "polls", false, None);
        assert_eq!(none, None);
        assert_eq!(world.canonical(&other.chat_id), other.chat_id);
    }
}
