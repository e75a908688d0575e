//! The conversationUpdate Teams sends the bot after a personal install, and what is recorded
//! when the bot refuses it or is unreachable.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{APP, Bot, Graph, TENANT, claims};

#[tokio::test]
async fn an_installation_is_announced_to_the_bot() {
    let g = Graph::start().await;
    let bot = Bot::default();
    let url = bot.serve().await;
    let bot_app_id = "0d1e2f3a-0000-0000-0000-00000000b07a";
    g.emulator.set_bot_endpoint(&url, bot_app_id);
    g.emulator.add_other_catalog_app("polls", "Polls");
    let (user, token) = g.user("Megan Bowen");

    assert_eq!(g.install(&user.aad_object_id, APP, &token).await.0, 201);
    // An app without a bot announces nothing.
    assert_eq!(g.install(&user.aad_object_id, "polls", &token).await.0, 201);
    let deliveries = g
        .emulator
        .wait_for_bot_deliveries(1, Duration::from_secs(5))
        .await;
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert!(delivery.delivered());
    assert_eq!(delivery.status, Some(200));
    assert_eq!(delivery.url, url);
    assert_eq!(delivery.user_aad_object_id, user.aad_object_id);

    let received = bot.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (authorization, activity) = &received[0];
    let personal = g.emulator.add_personal_chat(TENANT, &user.id);
    let bot_id = format!("28:{bot_app_id}");
    assert_eq!(activity["type"], "conversationUpdate");
    assert_eq!(activity["channelId"], "msteams");
    assert_eq!(activity["serviceUrl"], g.emulator.service_url());
    assert_eq!(activity["membersAdded"], json!([{"id": bot_id}]));
    assert_eq!(activity["recipient"]["id"], bot_id);
    assert_eq!(activity["from"]["id"], user.id);
    assert_eq!(activity["from"]["aadObjectId"], user.aad_object_id);
    assert_eq!(
        activity["conversation"],
        json!({"id": personal, "conversationType": "personal", "tenantId": TENANT})
    );
    assert_eq!(activity["channelData"], json!({"tenant": {"id": TENANT}}));
    assert!(activity["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(activity["timestamp"].is_string());
    assert_eq!(delivery.conversation_id, personal);
    let claims = claims(authorization.as_deref().unwrap());
    assert_eq!(claims["aud"], bot_app_id);
    assert_eq!(claims["serviceurl"], g.emulator.service_url());

    // The Graph chat id names the configured bot and reaches the same conversation.
    let installation = g
        .emulator
        .installations()
        .into_iter()
        .find(|i| i.teams_app_id == APP)
        .unwrap();
    assert_eq!(
        installation.chat_id,
        format!("19:{}_{bot_app_id}@unq.gbl.spaces", user.aad_object_id)
    );
    assert_eq!(
        g.emulator.activities(&installation.chat_id),
        g.emulator.activities(&personal)
    );
}

#[tokio::test]
async fn failed_announcements_are_recorded() {
    let g = Graph::start().await;
    let bot = Bot::default();
    *bot.status.lock().unwrap() = Some(StatusCode::UNAUTHORIZED);
    let url = bot.serve().await;
    g.emulator
        .set_bot_endpoint(&url, &g.emulator.config().app_id.clone());
    let (first, token) = g.user("Lynne Robbins");
    assert_eq!(g.install(&first.aad_object_id, APP, &token).await.0, 201);
    let deliveries = g
        .emulator
        .wait_for_bot_deliveries(1, Duration::from_secs(5))
        .await;
    assert_eq!(deliveries[0].status, Some(401));
    assert!(!deliveries[0].delivered());

    // Nobody listening: the error is recorded.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/api/messages", closed.local_addr().unwrap());
    drop(closed);
    g.emulator
        .set_bot_endpoint(&dead, &g.emulator.config().app_id.clone());
    g.emulator.set_bot_event_delay(Duration::ZERO);
    let (second, _) = g.user("Nestor Wilke");
    assert_eq!(g.install(&second.aad_object_id, APP, &token).await.0, 201);
    let deliveries = g
        .emulator
        .wait_for_bot_deliveries(2, Duration::from_secs(5))
        .await;
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[1].status, None);
    assert!(deliveries[1].error.is_some());
}
