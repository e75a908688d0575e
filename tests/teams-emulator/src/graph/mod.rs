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
//! follow the links until there are none,
//! <https://learn.microsoft.com/graph/paging>). After a 201 for an app with a bot, the emulator
//! POSTs the bot endpoint (see [`crate::TeamsEmulator::set_bot_endpoint`]) the conversationUpdate
//! Teams sends on a personal install, as a separate task after answering.

mod announce;
mod answer;
mod installed_apps;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use tokio::time::Instant;

use crate::fault::GraphFault;
use crate::http::{Operation, Received, Shared, handler};
use announce::{InstallEvent, deliver};
use answer::{GraphAnswer, fault_answer, graph_error, respond, unauthorized};
use installed_apps::{
    catalog_answer, chat_json, find_installation, find_user, install_app, installation_json,
    list_answer,
};

pub use answer::MISSING_PERMISSION_MESSAGE;
pub use installed_apps::APP_NOT_FOUND_MESSAGE;

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

impl Operation for GraphOp {
    async fn dispatch(self, shared: Arc<Shared>, request: Request) -> Response {
        dispatch(shared, self, request).await
    }
}

pub(crate) fn router(shared: &Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/v1.0/users/{user}/teamwork/installedApps",
            get(list).post(handler(GraphOp::Install)),
        )
        .route(
            "/v1.0/users/{user}/teamwork/installedApps/{installation}",
            get(handler(|(u, i)| GraphOp::Installation(u, i))),
        )
        .route(
            "/v1.0/users/{user}/teamwork/installedApps/{installation}/chat",
            get(handler(|(u, i)| GraphOp::Chat(u, i))),
        )
        .route(
            "/v1.0/appCatalogs/teamsApps/{app}",
            get(handler(GraphOp::CatalogApp)),
        )
        .with_state(shared.clone())
}

async fn list(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    dispatch(shared, GraphOp::List(user, query), request).await
}

async fn dispatch(shared: Arc<Shared>, op: GraphOp, request: Request) -> Response {
    let request = Received::read(request, MAX_BODY_BYTES).await;
    let seq = {
        let mut world = shared.world();
        if matches!(op, GraphOp::Install(_)) {
            world.install_requests += 1;
        }
        world.log.arrived(request.record(op.name(), None))
    };
    let (answer, tenant, event) = process(&shared, &op, &request).await;
    let (status, response) = respond(answer);
    shared.world().log.answered(seq, status, tenant);
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

/// The answer, the tenant to log with it, and the installation to announce.
async fn process(
    shared: &Shared,
    op: &GraphOp,
    request: &Received,
) -> (GraphAnswer, Option<String>, Option<InstallEvent>) {
    let config = &shared.config;
    let authorization = request.authorization.as_deref();
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
            .and_then(|k| world.graph_faults.take(k))
            .or_else(|| world.graph_all.take())
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
        (GraphOp::Install(_), Some(user)) => {
            match install_app(&mut world, config, &user, &request.raw) {
                Ok(event) => (GraphAnswer::Empty(StatusCode::CREATED), event),
                Err(answer) => (answer, None),
            }
        }
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
