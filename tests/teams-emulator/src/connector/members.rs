//! `GET .../pagedmembers` and `GET .../members/{id}`: the roster of a conversation (a channel's is
//! its team's), paged with opaque continuation tokens bound to the conversation.

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::answer::{Answer, conversation_not_found, error};
use super::{Op, Paging};
use crate::world::{EmulatedUser, World};

/// Paged members (offset-based opaque continuation tokens bound to the conversation) or one member.
pub(super) fn answer(world: &World, op: &Op) -> Result<Answer, Answer> {
    let conversation_id = world.canonical(op.conversation().unwrap_or_default());
    let conversation_id = conversation_id.as_str();
    let conversation = world
        .conversations
        .get(conversation_id)
        .ok_or_else(conversation_not_found)?;
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
    let bad_argument = |message: &str| error(StatusCode::BAD_REQUEST, "BadArgument", message);
    let page_size = paging
        .page_size
        .as_deref()
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad_argument("Invalid pageSize."))
        })
        .transpose()?
        .unwrap_or(200)
        .clamp(1, 500);
    let start = match paging.continuation_token.as_deref() {
        None => 0,
        Some(token) => decode_continuation(token, conversation_id)
            .ok_or_else(|| bad_argument("Invalid continuation token."))?,
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
