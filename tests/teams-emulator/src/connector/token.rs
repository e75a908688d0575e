//! The client-credentials token endpoint (`POST /{tenant}/oauth2/v2.0/token`) that issues the
//! connector's bearer tokens, and Graph's; injected faults and outages answer first
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication>).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::json;
use tokio::time::Instant;

use super::answer::{self, Answer, into_response};
use crate::fault::Fault;
use crate::http::Shared;
use crate::log::RequestRecord;

pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    uri: Uri,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let at = Instant::now();
    let mut fault = shared.world().token_faults.take();
    while let Some(Fault::Delay(delay)) = fault {
        tokio::time::sleep(delay).await;
        fault = shared.world().token_faults.take();
    }
    let answer = match fault {
        Some(fault) => fault_answer(&fault),
        None => issue(&shared, &tenant, &form, at),
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

/// An error as the Microsoft identity platform words it
/// (<https://learn.microsoft.com/entra/identity-platform/reference-error-codes>).
fn aad_error(status: StatusCode, error: &str, description: &str) -> Answer {
    Answer::Json(
        status,
        json!({"error": error, "error_description": description, "error_codes": []}),
    )
}

/// An injected fault; a bare status gets the identity platform's error body.
fn fault_answer(fault: &Fault) -> Answer {
    match fault {
        Fault::Status(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let error = match status {
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
                    "temporarily_unavailable"
                }
                _ => "server_error",
            };
            aad_error(
                status,
                error,
                "The server is temporarily too busy to handle the request. Retry the request.",
            )
        }
        other => answer::fault_answer(other),
    }
}

/// The token for a valid client-credentials request, or the identity platform's refusal.
fn issue(shared: &Shared, tenant: &str, form: &HashMap<String, String>, at: Instant) -> Answer {
    let config = &shared.config;
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    // Connector tokens come from the bot's tenant; Graph tokens from the tenant whose data they
    // reach (any tenant the emulator has users in, as if the app were consented there).
    let graph = field("scope") == config.graph_scope;
    let tenant_ok = tenant == config.app_tenant_id
        || (config.multi_tenant && !graph && tenant == "botframework.com")
        || (graph && shared.world().users.values().any(|u| u.tenant_id == tenant));
    if field("grant_type") != "client_credentials" {
        aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        )
    } else if field("client_id") != config.app_id || !tenant_ok {
        aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{}' was not found in the directory '{tenant}'.",
                field("client_id")
            ),
        )
    } else if field("client_secret") != config.app_password {
        aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        )
    } else if field("scope") != config.scope && !graph {
        aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!(
                "AADSTS70011: The provided value for scope {} is not valid.",
                field("scope")
            ),
        )
    } else {
        let lifetime = config.token_lifetime;
        let token = shared
            .world()
            .issue_token(field("scope"), tenant, at + lifetime);
        Answer::Json(
            StatusCode::OK,
            json!({"token_type": "Bearer", "expires_in": lifetime.as_secs(), "ext_expires_in": lifetime.as_secs(), "access_token": token}),
        )
    }
}
