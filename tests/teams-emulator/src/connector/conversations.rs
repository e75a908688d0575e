//! What the connector operations do to the world once a request is admitted: create
//! conversations, post, reply to, update and delete activities, read a team and its channels.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::answer::{Answer, conversation_not_found, error};
use super::{Op, members, team_not_found};
use crate::config::EmulatorConfig;
use crate::world::{ConversationKind, StoredActivity, World};

pub(super) fn execute(
    world: &mut World,
    config: &EmulatorConfig,
    op: &Op,
    body: Option<&Value>,
) -> Answer {
    match run(world, config, op, body) {
        Ok(answer) | Err(answer) => answer,
    }
}

fn run(
    world: &mut World,
    config: &EmulatorConfig,
    op: &Op,
    body: Option<&Value>,
) -> Result<Answer, Answer> {
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
            let stored = stored_activity(world, conversation, activity_id)?;
            stored.activity = activity;
            stored.updates += 1;
            Ok(Answer::Json(StatusCode::OK, json!({"id": activity_id})))
        }
        Op::Delete(conversation, activity_id) => {
            stored_activity(world, conversation, activity_id)?.deleted = true;
            Ok(Answer::Empty(StatusCode::OK))
        }
        Op::Members(..) | Op::Member(..) => members::answer(world, op),
        Op::Team(team) => {
            let team = world.teams.get(team).ok_or_else(team_not_found)?;
            Ok(Answer::Json(
                StatusCode::OK,
                json!({"id": team.id, "name": team.name, "aadGroupId": team.aad_group_id}),
            ))
        }
        Op::Channels(team) => {
            let team = world.teams.get(team).ok_or_else(team_not_found)?;
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

/// A posted activity that was not deleted, for update and delete.
fn stored_activity<'w>(
    world: &'w mut World,
    conversation: &str,
    activity_id: &str,
) -> Result<&'w mut StoredActivity, Answer> {
    let key = world.canonical(conversation);
    world
        .conversations
        .get_mut(&key)
        .and_then(|c| {
            c.activities
                .iter_mut()
                .find(|a| a.id == activity_id && !a.deleted)
        })
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "ActivityNotFoundInConversation",
                "Unknown activity id.",
            )
        })
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
    let stored = world
        .conversations
        .get_mut(&key)
        .ok_or_else(conversation_not_found)?;
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
    let bad_argument = |message: &str| error(StatusCode::BAD_REQUEST, "BadArgument", message);
    let body = body.ok_or_else(|| bad_argument("Body required."))?;
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
        return Err(bad_argument("Bot id does not match the token's app id."));
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
            return Err(bad_argument("Group chats cannot be created proactively."));
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
        return Err(bad_argument("A 1:1 conversation needs exactly one member."));
    };
    let user_id = member.get("id").and_then(Value::as_str).unwrap_or_default();
    let known = world
        .users
        .get(user_id)
        .is_some_and(|u| u.tenant_id == tenant);
    if !known {
        return Err(bad_argument("Invalid user identity in provided tenant."));
    }
    let id = world.personal_chat(&tenant, user_id);
    let mut answer = json!({"id": id});
    if let Some(activity) = activity {
        let activity = message_activity(Some(activity))?;
        answer["activityId"] = Value::String(post_activity(world, &id, activity, None)?);
    }
    Ok(Answer::Json(StatusCode::CREATED, answer))
}
