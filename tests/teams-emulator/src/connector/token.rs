//! The client-credentials token endpoint (`POST /{tenant}/oauth2/v2.0/token`) that issues the
//! connector's bearer tokens, and Graph's
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication>).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::json;
use tokio::time::Instant;

use super::answer::{Answer, into_response};
use crate::http::Shared;
use crate::log::RequestRecord;

pub(super) async fn token(
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
        let lifetime = config.token_lifetime;
        let token = shared
            .world()
            .issue_token(field("scope"), &tenant, at + lifetime);
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
    world.log.arrived(RequestRecord {
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
        answered_at: Some(Instant::now()),
        body: serde_json::to_value(logged).ok(),
    });
    response
}
