//! The emulated Microsoft Graph: installedApps routes, tokens, faults, paging, the chat alias and
//! the installation event sent to the bot.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use herald_teams_emulator::{
    EmulatedUser, EmulatorConfig, GraphFault, MISSING_PERMISSION_MESSAGE, RetryAfter, TeamsEmulator,
};
use serde_json::{Value, json};

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const OTHER_TENANT: &str = "22222222-2222-2222-2222-222222222222";
const APP: &str = "6c7b2ab8-1f42-4b5e-9e0a-1234567890ab";

struct Graph {
    emulator: TeamsEmulator,
    http: reqwest::Client,
}

impl Graph {
    async fn start() -> Self {
        let emulator = TeamsEmulator::start(EmulatorConfig::default())
            .await
            .unwrap();
        emulator.add_catalog_app(APP);
        Self {
            emulator,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.graph_base_url())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, HeaderMap, Value) {
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, headers, body)
    }

    async fn install(&self, user: &str, app: &str, token: &str) -> (u16, Value) {
        let bind = format!(
            "{}/appCatalogs/teamsApps/{app}",
            self.emulator.graph_base_url()
        );
        let (status, _, body) = self
            .send(
                reqwest::Method::POST,
                &self.url(&format!("/users/{user}/teamwork/installedApps")),
                Some(token),
                Some(json!({ "teamsApp@odata.bind": bind })),
            )
            .await;
        (status, body)
    }

    async fn get(&self, url: &str, token: &str) -> (u16, Value) {
        let (status, _, body) = self
            .send(reqwest::Method::GET, url, Some(token), None)
            .await;
        (status, body)
    }

    fn user(&self, name: &str) -> (EmulatedUser, String) {
        let user = self.emulator.add_user(TENANT, name);
        let token = self.emulator.issue_graph_token(TENANT);
        (user, token)
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn install_then_conflict_then_list_and_chat() {
    let g = Graph::start().await;
    let (user, token) = g.user("Megan Bowen");
    let (status, body) = g.install(&user.aad_object_id, APP, &token).await;
    assert_eq!((status, body), (201, Value::Null));
    let (status, body) = g.install(&user.aad_object_id, APP, &token).await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&body), "Conflict");
    assert_eq!(g.emulator.install_requests(), 2);
    assert_eq!(g.emulator.installations().len(), 1);

    // By UPN too, with the filter and expansion Herald uses.
    let list = format!(
        "{}?$expand=teamsApp&$filter=teamsApp/id eq '{APP}'",
        g.url(&format!(
            "/users/{}/teamwork/installedApps",
            user.user_principal_name
        ))
    );
    let (status, body) = g.get(&list, &token).await;
    assert_eq!(status, 200);
    let value = body["value"].as_array().unwrap();
    assert_eq!(value.len(), 1);
    assert_eq!(value[0]["teamsApp"]["id"], APP);
    assert_eq!(
        value[0]["teamsApp"]["externalId"],
        g.emulator.config().app_id
    );
    let installation = value[0]["id"].as_str().unwrap();
    assert!(body.get("@odata.nextLink").is_none());

    let (status, one) = g
        .get(
            &g.url(&format!(
                "/users/{}/teamwork/installedApps/{installation}?$expand=teamsApp",
                user.aad_object_id
            )),
            &token,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["id"], installation);

    let (status, chat) = g
        .get(
            &g.url(&format!(
                "/users/{}/teamwork/installedApps/{installation}/chat",
                user.aad_object_id
            )),
            &token,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        chat["id"],
        format!(
            "19:{}_{}@unq.gbl.spaces",
            user.aad_object_id,
            g.emulator.config().app_id
        )
    );
    assert_eq!(chat["chatType"], "oneOnOne");

    let (status, body) = g
        .get(
            &g.url(&format!(
                "/users/{}/teamwork/installedApps/nope/chat",
                user.aad_object_id
            )),
            &token,
        )
        .await;
    assert_eq!((status, error_code(&body)), (404, "NotFound"));

    // Every Graph request is logged with its operation, tenant and answer.
    let log = g.emulator.graph_requests();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].operation, "graph.installApp");
    assert_eq!(log[0].status, Some(201));
    assert_eq!(log[0].tenant.as_deref(), Some(TENANT));
    assert_eq!(log[2].operation, "graph.listInstalledApps");
    assert_eq!(log[4].operation, "graph.getInstalledAppChat");
}

#[tokio::test]
async fn unknown_user_and_app() {
    let g = Graph::start().await;
    let (user, token) = g.user("Adele Vance");
    let (status, body) = g.install("no-such-user", APP, &token).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["error"]["message"],
        "User Id 'no-such-user' not found."
    );
    assert!(body["error"]["innerError"]["request-id"].is_string());

    let (status, body) = g
        .install(&user.aad_object_id, "not-in-catalog", &token)
        .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("App definition")
    );
    g.emulator.set_graph_terse_not_found(true);
    let (_, body) = g
        .install(&user.aad_object_id, "not-in-catalog", &token)
        .await;
    assert_eq!(body["error"]["message"], "Not Found");

    let (status, body) = g
        .get(&g.url(&format!("/appCatalogs/teamsApps/{APP}")), &token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], APP);
    assert_eq!(body["distributionMethod"], "organization");
    let (status, _) = g.get(&g.url("/appCatalogs/teamsApps/nope"), &token).await;
    assert_eq!(status, 404);

    let (status, _, body) = g
        .send(
            reqwest::Method::POST,
            &g.url(&format!(
                "/users/{}/teamwork/installedApps",
                user.aad_object_id
            )),
            Some(&token),
            Some(json!({"teamsApp": APP})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (400, "BadRequest"));
}

#[tokio::test]
async fn graph_tokens_are_scoped_and_per_tenant() {
    let g = Graph::start().await;
    let user = g.emulator.add_user(TENANT, "Lee Gu");
    let other = g.emulator.add_user(OTHER_TENANT, "Debra Berger");

    // No token, and a connector token, are refused with Graph's 401.
    let (status, _, body) = g
        .send(
            reqwest::Method::POST,
            &g.url(&format!(
                "/users/{}/teamwork/installedApps",
                user.aad_object_id
            )),
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "InvalidAuthenticationToken")
    );
    let connector_token = g.emulator.issue_token();
    let (status, body) = g.install(&user.aad_object_id, APP, &connector_token).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "InvalidAuthenticationToken")
    );

    // The token endpoint issues Graph tokens from the user's tenant, not from unknown ones.
    let token_url = |tenant: &str| g.emulator.graph_token_url().replace("{tenant}", tenant);
    let form = |scope: &str| {
        [
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", g.emulator.config().app_id.clone()),
            ("client_secret", g.emulator.config().app_password.clone()),
            ("scope", scope.to_owned()),
        ]
    };
    let graph_scope = g.emulator.config().graph_scope.clone();
    let response = g
        .http
        .post(token_url(OTHER_TENANT))
        .form(&form(&graph_scope))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let other_token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = g
        .http
        .post(token_url("33333333-3333-3333-3333-333333333333"))
        .form(&form(&graph_scope))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Connector tokens still come only from the bot's tenant.
    let response = g
        .http
        .post(token_url(OTHER_TENANT))
        .form(&form(&g.emulator.config().scope))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // A token reaches its own tenant's users only.
    assert_eq!(
        g.install(&other.aad_object_id, APP, &other_token).await.0,
        201
    );
    assert_eq!(
        g.install(&user.aad_object_id, APP, &other_token).await.0,
        404
    );

    // A Graph token does not open the connector routes.
    let chat = g.emulator.add_personal_chat(TENANT, &user.id);
    let response = g
        .http
        .post(format!(
            "{}v3/conversations/{chat}/activities",
            g.emulator.service_url()
        ))
        .bearer_auth(&other_token)
        .json(&json!({"type": "message", "text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Revoked tokens are refused.
    g.emulator.revoke_tokens();
    assert_eq!(
        g.install(&other.aad_object_id, APP, &other_token).await.0,
        401
    );
}

#[tokio::test]
async fn paging_is_before_the_filter() {
    let g = Graph::start().await;
    let (user, token) = g.user("Alex Wilber");
    for i in 0..3 {
        g.emulator
            .add_other_catalog_app(&format!("other-{i}"), &format!("Other {i}"));
        g.emulator.mark_installed(&user, &format!("other-{i}"));
    }
    let ours = g.emulator.mark_installed(&user, APP);
    g.emulator.set_graph_page_size(1);

    let mut url = format!(
        "{}?$expand=teamsApp&$filter=teamsApp/id eq '{APP}'",
        g.url(&format!(
            "/users/{}/teamwork/installedApps",
            user.aad_object_id
        ))
    );
    let mut pages = Vec::new();
    loop {
        let (status, body) = g.get(&url, &token).await;
        assert_eq!(status, 200, "{body}");
        pages.push(body["value"].as_array().unwrap().len());
        let Some(next) = body["@odata.nextLink"].as_str() else {
            assert_eq!(body["value"][0]["id"], ours.id);
            break;
        };
        assert!(next.starts_with(&g.emulator.graph_base_url()));
        url = next.to_owned();
    }
    assert_eq!(pages, [0, 0, 0, 1]);

    // Unfiltered, each page holds one installation.
    let (_, body) = g
        .get(
            &g.url(&format!(
                "/users/{}/teamwork/installedApps",
                user.aad_object_id
            )),
            &token,
        )
        .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert!(body["value"][0].get("teamsApp").is_none());
    let (status, _) = g
        .get(
            &g.url(&format!(
                "/users/{}/teamwork/installedApps?$filter=displayName eq 'x'",
                user.aad_object_id
            )),
            &token,
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn graph_faults_per_user_and_global() {
    let g = Graph::start().await;
    let (user, token) = g.user("Diego Siciliani");
    let (other, _) = g.user("Isaiah Langer");

    g.emulator
        .inject_graph_times(&user.aad_object_id, GraphFault::MissingPermission, 1);
    let (status, body) = g.install(&user.aad_object_id, APP, &token).await;
    assert_eq!((status, error_code(&body)), (403, "Forbidden"));
    assert_eq!(body["error"]["message"], MISSING_PERMISSION_MESSAGE);

    g.emulator.inject_graph_times(
        &user.aad_object_id,
        GraphFault::Throttled(RetryAfter::Seconds(3)),
        2,
    );
    for _ in 0..2 {
        let (status, headers, body) = g
            .send(
                reqwest::Method::GET,
                &g.url(&format!(
                    "/users/{}/teamwork/installedApps",
                    user.aad_object_id
                )),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, 429);
        assert_eq!(headers[header::RETRY_AFTER], "3");
        assert_eq!(error_code(&body), "TooManyRequests");
    }
    // The other user is unaffected; the faults are used up.
    assert_eq!(g.install(&other.aad_object_id, APP, &token).await.0, 201);
    assert_eq!(g.install(&user.aad_object_id, APP, &token).await.0, 201);

    g.emulator.inject_graph_all(GraphFault::Status(503));
    let (status, body) = g.install(&other.aad_object_id, "x", &token).await;
    assert_eq!((status, error_code(&body)), (503, "ServiceUnavailable"));
    let (status, _) = g
        .get(&g.url(&format!("/appCatalogs/teamsApps/{APP}")), &token)
        .await;
    assert_eq!(status, 503);
    g.emulator.clear_graph_faults();
    let (status, _) = g
        .get(&g.url(&format!("/appCatalogs/teamsApps/{APP}")), &token)
        .await;
    assert_eq!(status, 200);

    g.emulator
        .inject_graph_times(&user.aad_object_id, GraphFault::DropConnection, 1);
    let dropped = g
        .http
        .get(g.url(&format!(
            "/users/{}/teamwork/installedApps",
            user.aad_object_id
        )))
        .bearer_auth(&token)
        .send()
        .await;
    assert!(dropped.is_err());
}

#[tokio::test]
async fn the_graph_chat_id_is_an_alias_of_the_personal_chat() {
    let g = Graph::start().await;
    let (user, _) = g.user("Johanna Lorenz");
    let installation = g.emulator.mark_installed(&user, APP);
    let personal = g.emulator.add_personal_chat(TENANT, &user.id);
    assert!(personal.starts_with("a:"));
    let token = g.emulator.issue_token();
    for (conversation, text) in [
        (&installation.chat_id, "via graph id"),
        (&personal, "via a: id"),
    ] {
        let response = g
            .http
            .post(format!(
                "{}v3/conversations/{conversation}/activities",
                g.emulator.service_url()
            ))
            .bearer_auth(&token)
            .json(&json!({"type": "message", "text": text}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let by_alias = g.emulator.activities(&installation.chat_id);
    let by_id = g.emulator.activities(&personal);
    assert_eq!(by_alias, by_id);
    let texts: Vec<&str> = by_id
        .iter()
        .map(|a| a.activity["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["via graph id", "via a: id"]);
    // Nothing announced for an installation marked as earlier.
    assert!(g.emulator.bot_deliveries().is_empty());
}

type Received = (Option<String>, Value);

#[derive(Clone, Default)]
struct Bot {
    /// `Authorization` header and activity of each POST.
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<Mutex<Option<StatusCode>>>,
}

async fn messages(State(bot): State<Bot>, headers: HeaderMap, body: String) -> StatusCode {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    bot.received
        .lock()
        .unwrap()
        .push((authorization, serde_json::from_str(&body).unwrap()));
    bot.status.lock().unwrap().unwrap_or(StatusCode::OK)
}

async fn bot_endpoint(bot: &Bot) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/api/messages", post(messages))
        .with_state(bot.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/api/messages")
}

fn claims(authorization: &str) -> Value {
    use base64::Engine as _;
    let token = authorization.strip_prefix("Bearer ").unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn an_installation_is_announced_to_the_bot() {
    let g = Graph::start().await;
    let bot = Bot::default();
    let url = bot_endpoint(&bot).await;
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
    let url = bot_endpoint(&bot).await;
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
