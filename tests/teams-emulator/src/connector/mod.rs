//! The Bot Framework connector routes under the serviceUrl, as Teams answers them
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference>):
//! conversations, activities, members and teams, plus the client-credentials token endpoint.
//!
//! Every request is logged on arrival, checked for a connector token, answered by an injected
//! fault if one waits for its conversation, counted by the rate limiter, then executed.

mod answer;
mod conversations;
mod members;
mod token;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::Latency;
use crate::fault::{Fault, RetryAfter};
use crate::http::{Operation, Received, Shared, handler};
use crate::limits::{Class, CountAt};
use crate::log::Accepted;
use crate::world::{World, strip_message_id};
use answer::{Answer, conversation_not_found, error, fault_answer, into_response};

pub use answer::MESSAGE_WRITES_BLOCKED_BODY;

/// Bodies above this are not read (Teams' own limit is far lower).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// `pageSize` and `continuationToken` of a paged-members request.
#[derive(Debug, Clone, Default)]
struct Paging {
    page_size: Option<String>,
    continuation_token: Option<String>,
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

    /// The team a team route addresses.
    fn team(&self) -> Option<&str> {
        match self {
            Self::Team(t) | Self::Channels(t) => Some(t),
            _ => None,
        }
    }
}

impl Operation for Op {
    async fn dispatch(self, shared: Arc<Shared>, request: Request) -> Response {
        dispatch(shared, self, request).await
    }
}

pub(crate) fn router(shared: &Arc<Shared>) -> Router {
    let connector = Router::new()
        .route(
            "/v3/conversations",
            post(|State(shared), request| dispatch(shared, Op::Create, request)),
        )
        .route(
            "/v3/conversations/{conversation}/activities",
            post(handler(Op::Send)),
        )
        .route(
            "/v3/conversations/{conversation}/activities/{activity}",
            post(handler(|(c, a)| Op::Reply(c, a)))
                .put(handler(|(c, a)| Op::Update(c, a)))
                .delete(handler(|(c, a)| Op::Delete(c, a))),
        )
        .route(
            "/v3/conversations/{conversation}/pagedmembers",
            get(members),
        )
        .route(
            "/v3/conversations/{conversation}/members/{member}",
            get(handler(|(c, m)| Op::Member(c, m))),
        )
        .route("/v3/teams/{team}", get(handler(Op::Team)))
        .route("/v3/teams/{team}/conversations", get(handler(Op::Channels)));
    let path = shared.config.service_path.trim_matches('/');
    let connector = if path.is_empty() {
        connector
    } else {
        Router::new().nest(&format!("/{path}"), connector)
    };
    connector
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .with_state(shared.clone())
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

async fn dispatch(shared: Arc<Shared>, op: Op, request: Request) -> Response {
    let request = Received::read(request, MAX_BODY_BYTES).await;
    if request.too_large {
        return into_response(fault_answer(&Fault::TooLarge)).1;
    }
    let conversation = op
        .conversation()
        .map(strip_message_id)
        .or(op.team())
        .map(str::to_owned);
    let seq = shared
        .world()
        .log
        .arrived(request.record(op.name(), conversation));
    let (answer, tenant) = process(&shared, &op, &request).await;
    // After the limiter counted the arrival and the operation ran: only the answer is late.
    let latency = shared.world().latency.map(Latency::sample);
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    let (status, response) = into_response(answer);
    shared.world().log.answered(seq, status, tenant);
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

/// The answer, and the tenant to log with it.
async fn process(shared: &Shared, op: &Op, request: &Received) -> (Answer, Option<String>) {
    let config = &shared.config;
    let body = request.body.as_ref();
    let key = fault_key(op, body);
    let send = op.class() == Class::Write;
    // The tenant goes into the log for every answer, faults and 401s included.
    let (tenant, mut fault) = {
        let mut world = shared.world();
        let tenant = resolve(&world, op, body).ok().map(|t| t.tenant);
        if config.require_auth {
            let token = request
                .authorization
                .as_deref()
                .and_then(|a| a.strip_prefix("Bearer "));
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
        (tenant, world.take_fault(key.as_deref(), send))
    };
    while let Some(Fault::Delay(delay)) = fault {
        tokio::time::sleep(delay).await;
        fault = shared.world().take_fault(key.as_deref(), send);
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
    let counted_at = match world.limiter.limits().count_at {
        CountAt::Admission => Instant::now(),
        CountAt::Arrival => request.at,
    };
    let admitted = world
        .limiter
        .admit(op.class(), &target.tenant, &target.rate_key, counted_at);
    if let Err(wait) = admitted {
        world.log.rate_limited += 1;
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return (
            Answer::Throttled(RetryAfter::Seconds(seconds.max(1))),
            tenant,
        );
    }
    world.log.accepted.push(Accepted {
        tenant: target.tenant,
        key: target.rate_key,
        at: request.at,
    });
    if send && request.raw.len() > config.max_message_bytes {
        return (fault_answer(&Fault::TooLarge), tenant);
    }
    (conversations::execute(&mut world, config, op, body), tenant)
}

/// Whom a request is for: its tenant, and the conversation (or team) whose windows it counts in.
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
            let team = world.teams.get(t).ok_or_else(team_not_found)?;
            Ok(Target {
                tenant: team.tenant_id.clone(),
                rate_key: t.clone(),
            })
        }
        other => {
            let id = world.canonical(other.conversation().unwrap_or_default());
            let conversation = world
                .conversations
                .get(&id)
                .ok_or_else(conversation_not_found)?;
            Ok(Target {
                tenant: conversation.tenant_id.clone(),
                rate_key: id,
            })
        }
    }
}

fn team_not_found() -> Answer {
    error(StatusCode::NOT_FOUND, "NotFound", "Team not found.")
}
