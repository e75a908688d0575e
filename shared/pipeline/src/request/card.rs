//! The Adaptive Card of a message: its structure checked before anything is stored, then bound to
//! the message's data and given Herald's opt-out button. What Teams accepts:
//! <https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card>.

use herald_domain::cards;
use serde_json::{Map, Value, json};

use super::RequestError;
use super::binding::bind_card;
use super::error::join;

/// Every Teams client renders 1.4; the button card needs nothing newer.
const OPT_OUT_CARD_VERSION: &str = "1.4";
/// Teams refreshes a card automatically for at most this many `refresh.userIds`
/// (<https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards>).
pub const MAX_REFRESH_USER_IDS: usize = 60;

/// Checks a card Herald did not build (a callback's answer) by the rules a notification's card
/// follows.
pub fn check_card(card: &Value) -> Result<(), RequestError> {
    validate_card(card, "card")
}

/// The structural rules Teams enforces on an Adaptive Card attachment, checked here so the
/// mistake is named (under `field`) before anything is stored.
pub(super) fn validate_card(card: &Value, field: &str) -> Result<(), RequestError> {
    match card_problem(card) {
        None => Ok(()),
        Some((at, problem)) => Err(RequestError::InvalidCard {
            field: format!("{field}{at}"),
            problem,
        }),
    }
}

/// The first rule `card` breaks: where, relative to the card (`.body[2].type`), and why.
fn card_problem(card: &Value) -> Option<(String, String)> {
    let Value::Object(object) = card else {
        return Some((String::new(), "must be an Adaptive Card object".into()));
    };
    let type_problem = match object.get("type") {
        Some(Value::String(t)) if t == "AdaptiveCard" => None,
        Some(Value::String(t)) => Some(format!("must be \"AdaptiveCard\", not {t:?}")),
        _ => Some("must be \"AdaptiveCard\"".to_owned()),
    };
    if let Some(problem) = type_problem {
        return Some((".type".into(), problem));
    }
    let version_problem = match object.get("version") {
        Some(Value::String(v)) if is_version(v) => None,
        Some(Value::String(v)) => Some(format!("{v:?} is not a version such as \"1.5\"")),
        None => Some("is required (for example \"1.5\")".to_owned()),
        Some(_) => Some("must be a string such as \"1.5\"".to_owned()),
    };
    if let Some(problem) = version_problem {
        return Some((".version".into(), problem));
    }
    if let Some(problem) = refresh_problem(object.get("refresh")) {
        return Some(problem);
    }
    for list in ["body", "actions"] {
        let items = match object.get(list) {
            None => continue,
            Some(Value::Array(items)) => items,
            Some(_) => return Some((format!(".{list}"), "must be an array".into())),
        };
        for (i, item) in items.iter().enumerate() {
            if !item.is_object() {
                return Some((format!(".{list}[{i}]"), "must be an object".into()));
            }
            let typed = item
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.trim().is_empty());
            if !typed {
                return Some((
                    format!(".{list}[{i}].type"),
                    "is required (an element or action type)".into(),
                ));
            }
        }
    }
    None
}

/// What is wrong with a card's `refresh`: it must be an object whose `userIds`, if any, list at
/// most [`MAX_REFRESH_USER_IDS`] ids.
fn refresh_problem(refresh: Option<&Value>) -> Option<(String, String)> {
    let refresh = refresh?;
    let Value::Object(refresh) = refresh else {
        return Some((".refresh".into(), "must be an object".into()));
    };
    match refresh.get("userIds") {
        None => None,
        Some(Value::Array(ids)) if ids.len() > MAX_REFRESH_USER_IDS => Some((
            ".refresh.userIds".into(),
            format!(
                "lists {} ids; Teams refreshes for at most {MAX_REFRESH_USER_IDS}",
                ids.len()
            ),
        )),
        Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => None,
        Some(_) => Some((
            ".refresh.userIds".into(),
            "must be an array of user ids".into(),
        )),
    }
}

fn is_version(v: &str) -> bool {
    let mut parts = v.split('.');
    let numeric =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_none()
}

/// The card a message's activity carries: its own card bound to `data` (fields named under
/// `prefix`), with the opt-out button if asked; a text message asking for the button carries it
/// on a small card of its own. `None` when there is nothing to attach.
pub(super) fn render_card(
    card: Option<&Value>,
    data: Option<&Value>,
    prefix: &str,
    opt_out_button: bool,
) -> Result<Option<Value>, RequestError> {
    let Some(card) = card else {
        return Ok(opt_out_button.then(|| {
            json!({
                "type": "AdaptiveCard",
                "version": OPT_OUT_CARD_VERSION,
                "body": [],
                "actions": [cards::opt_out_action()],
            })
        }));
    };
    let empty = Value::Object(Map::new());
    let mut bound = bind_card(
        card,
        data.unwrap_or(&empty),
        &join(prefix, "card"),
        &join(prefix, "data"),
    )?;
    if opt_out_button {
        add_opt_out(&mut bound);
    }
    Ok(Some(bound))
}

fn add_opt_out(card: &mut Value) {
    if let Value::Object(card) = card {
        let actions = card
            .entry("actions")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(actions) = actions {
            actions.push(cards::opt_out_action());
        }
    }
}
