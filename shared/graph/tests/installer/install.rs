//! Installing with 201, finding the chat of an existing installation on 409, and the
//! conversationUpdate the bot receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use herald_connector::inbound::{InboundAuthConfig, JwtValidator};
use herald_graph::{GraphError, Installation};
use herald_teams_emulator::GraphFault;
use serde_json::Value;

use super::{Harness, TEAMS_APP, TENANT};

#[tokio::test]
async fn installs_with_201() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Megan Bowen");
    assert_eq!(h.install(&user).await, Ok(Installation::Installed));
    let installations = h.emulator.installations();
    assert_eq!(installations.len(), 1);
    assert!(installations[0].via_graph);
    assert_eq!(installations[0].teams_app_id, TEAMS_APP);
    assert_eq!(installations[0].user_aad_object_id, user.aad_object_id);
    assert_eq!(h.emulator.install_requests(), 1);
    // One Graph token, from the user's tenant, for the Graph scope.
    let tokens = h.token_requests();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].0, TENANT);
    assert_eq!(tokens[0].1["scope"], "https://graph.microsoft.com/.default");
    let install = &h.emulator.graph_requests()[0];
    assert!(
        install
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer "))
    );
    assert_eq!(
        install.body.as_ref().unwrap()["teamsApp@odata.bind"],
        format!(
            "{}/appCatalogs/teamsApps/{TEAMS_APP}",
            h.emulator.graph_base_url()
        )
    );
}

#[tokio::test]
async fn conflict_finds_the_chat_across_pages() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Adele Vance");
    h.emulator.set_graph_page_size(1);
    for (id, name) in [
        ("other-1", "Polls"),
        ("other-2", "Tasks"),
        ("other-3", "Wiki"),
    ] {
        h.emulator.add_other_catalog_app(id, name);
        h.emulator.mark_installed(&user, id);
    }
    let ours = h.emulator.mark_installed(&user, TEAMS_APP);
    h.emulator.mark_installed(&user, "other-4");

    let result = h.install(&user).await.unwrap();
    let Installation::AlreadyInstalled { chat_id } = result else {
        panic!("expected the existing chat, got {result:?}");
    };
    assert_eq!(chat_id.as_str(), ours.chat_id);
    assert_eq!(
        chat_id.as_str(),
        format!(
            "19:{}_{}@unq.gbl.spaces",
            user.aad_object_id,
            h.emulator.config().app_id
        )
    );
    // Four pages of one installation each, the filter leaving the first three empty.
    assert_eq!(h.graph_ops("graph.listInstalledApps"), 4);
    assert_eq!(h.graph_ops("graph.getInstalledAppChat"), 1);
    assert!(h.emulator.count_status(409) == 1);
}

#[tokio::test]
async fn conflict_without_installation_is_typed() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Alex Wilber");
    h.emulator.mark_installed(&user, "some-other-app");
    // A 409 while the listing does not (yet) show the app, as during a concurrent installation.
    h.emulator
        .inject_graph_times(&user.aad_object_id, GraphFault::Status(409), 1);
    let error = h.install(&user).await.unwrap_err();
    assert_eq!(error, GraphError::InstallationNotFound);
    assert!(error.is_retryable(), "its conversationUpdate is on the way");
    assert_eq!(h.graph_ops("graph.listInstalledApps"), 1);
}

/// A bot endpoint that checks the inbound token as the webhook does and records activities.
#[derive(Clone)]
struct Bot {
    validator: Arc<JwtValidator>,
    received: Arc<Mutex<Vec<Value>>>,
}

async fn bot_messages(State(bot): State<Bot>, headers: HeaderMap, body: String) -> StatusCode {
    let Ok(activity) = serde_json::from_str::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let channel = activity["channelId"].as_str().unwrap_or_default();
    let service_url = activity["serviceUrl"].as_str().unwrap_or_default();
    if bot
        .validator
        .validate(authorization, channel, service_url)
        .await
        .is_err()
    {
        return StatusCode::UNAUTHORIZED;
    }
    bot.received.lock().unwrap().push(activity);
    StatusCode::OK
}

#[tokio::test]
async fn installation_is_announced_to_the_bot_with_a_valid_token() {
    let h = Harness::new().await;
    let bot_app_id = h.emulator.config().app_id.clone();
    let validator = JwtValidator::new(
        InboundAuthConfig::new(&bot_app_id)
            .with_openid_metadata_url(h.emulator.openid_metadata_url()),
    )
    .unwrap();
    let bot = Bot {
        validator: Arc::new(validator),
        received: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/api/messages", post(bot_messages))
        .with_state(bot.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    h.emulator
        .set_bot_endpoint(&format!("http://{addr}/api/messages"), &bot_app_id);

    let user = h.user(TENANT, "Megan Bowen");
    assert_eq!(h.install(&user).await, Ok(Installation::Installed));
    let deliveries = h
        .emulator
        .wait_for_bot_deliveries(1, Duration::from_secs(5))
        .await;
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].delivered(), "{:?}", deliveries[0]);
    let received = bot.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let activity = &received[0];
    assert_eq!(activity["type"], "conversationUpdate");
    assert_eq!(
        activity["membersAdded"][0]["id"],
        format!("28:{bot_app_id}")
    );
    assert_eq!(activity["from"]["aadObjectId"], user.aad_object_id);
    assert_eq!(activity["conversation"]["conversationType"], "personal");
    assert_eq!(activity["conversation"]["tenantId"], TENANT);

    // Installing again is a 409 whose chat is the same conversation the event named.
    let again = h.install(&user).await.unwrap();
    let Installation::AlreadyInstalled { chat_id } = again else {
        panic!("expected AlreadyInstalled, got {again:?}");
    };
    assert!(chat_id.as_str().starts_with("19:"));
    assert_eq!(h.emulator.bot_deliveries().len(), 1);
}
