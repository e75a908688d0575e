//! The installedApps and app catalog answers: install an app for a user, list a user's
//! installations (paged before the filter applies), one installation and its chat, a catalog app
//! (<https://learn.microsoft.com/graph/api/userteamwork-post-installedapps>).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::announce::InstallEvent;
use super::answer::{GraphAnswer, graph_error};
use crate::config::EmulatorConfig;
use crate::world::{CatalogApp, EmulatedInstallation, EmulatedUser, World};

/// Graph's (verbose) message for an app that is not in the catalog.
pub const APP_NOT_FOUND_MESSAGE: &str =
    "User is trying to create a team entitlement for a non existent App definition";

/// A Graph user by AAD object id or UPN, within `tenant` when the token names one.
pub(super) fn find_user(world: &World, id: &str, tenant: Option<&str>) -> Option<EmulatedUser> {
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

fn catalog_json(app: &CatalogApp) -> Value {
    json!({
        "id": app.id,
        "externalId": app.external_id,
        "displayName": app.display_name,
        "distributionMethod": "organization",
    })
}

pub(super) fn catalog_answer(world: &World, app: &str) -> GraphAnswer {
    match world.catalog.get(app) {
        Some(app) => GraphAnswer::Json(StatusCode::OK, catalog_json(app)),
        None => graph_error(StatusCode::NOT_FOUND, "NotFound", "Not Found"),
    }
}

pub(super) fn install_app(
    world: &mut World,
    config: &EmulatorConfig,
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

pub(super) fn list_answer(
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

pub(super) fn find_installation<'w>(
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

pub(super) fn installation_json(
    world: &World,
    installation: &EmulatedInstallation,
    expand: bool,
) -> Value {
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

pub(super) fn chat_json(installation: &EmulatedInstallation) -> Value {
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
}
