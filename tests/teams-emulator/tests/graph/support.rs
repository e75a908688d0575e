//! What every Graph test starts from: an emulator with Herald's app in the catalog, a client
//! that speaks to its Graph and connector routes, and a bot endpoint that records what it is sent.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use herald_teams_emulator::{EmulatedUser, EmulatorConfig, TeamsEmulator};
use serde_json::{Value, json};

pub const TENANT: &str = "11111111-1111-1111-1111-111111111111";
pub const OTHER_TENANT: &str = "22222222-2222-2222-2222-222222222222";
pub const APP: &str = "6c7b2ab8-1f42-4b5e-9e0a-1234567890ab";

pub struct Graph {
    pub emulator: TeamsEmulator,
    pub http: reqwest::Client,
}

impl Graph {
    pub async fn start() -> Self {
        let emulator = TeamsEmulator::start(EmulatorConfig::default())
            .await
            .unwrap();
        emulator.add_catalog_app(APP);
        Self {
            emulator,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.graph_base_url())
    }

    /// `.../users/{user}/teamwork/installedApps{rest}`.
    pub fn installed_apps(&self, user: &str, rest: &str) -> String {
        self.url(&format!("/users/{user}/teamwork/installedApps{rest}"))
    }

    pub async fn send(
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

    pub async fn install(&self, user: &str, app: &str, token: &str) -> (u16, Value) {
        let bind = format!(
            "{}/appCatalogs/teamsApps/{app}",
            self.emulator.graph_base_url()
        );
        let (status, _, body) = self
            .send(
                reqwest::Method::POST,
                &self.installed_apps(user, ""),
                Some(token),
                Some(json!({ "teamsApp@odata.bind": bind })),
            )
            .await;
        (status, body)
    }

    pub async fn get(&self, url: &str, token: &str) -> (u16, Value) {
        let (status, _, body) = self
            .send(reqwest::Method::GET, url, Some(token), None)
            .await;
        (status, body)
    }

    /// A user of [`TENANT`] and a Graph token from that tenant.
    pub fn user(&self, name: &str) -> (EmulatedUser, String) {
        let user = self.emulator.add_user(TENANT, name);
        let token = self.emulator.issue_graph_token(TENANT);
        (user, token)
    }

    /// Posts a message to `conversation` on the connector; the status answered.
    pub async fn post_message(&self, conversation: &str, token: &str, text: &str) -> u16 {
        self.http
            .post(format!(
                "{}v3/conversations/{conversation}/activities",
                self.emulator.service_url()
            ))
            .bearer_auth(token)
            .json(&json!({"type": "message", "text": text}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

type Received = (Option<String>, Value);

/// A bot endpoint that records each POST and answers `status` (200 when unset).
#[derive(Clone, Default)]
pub struct Bot {
    /// `Authorization` header and activity of each POST.
    pub received: Arc<Mutex<Vec<Received>>>,
    pub status: Arc<Mutex<Option<StatusCode>>>,
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

impl Bot {
    /// Serves the bot on a free loopback port; its messaging endpoint URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/api/messages", post(messages))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/api/messages")
    }
}

/// The claims of a bearer token, unverified.
pub fn claims(authorization: &str) -> Value {
    use base64::Engine as _;
    let token = authorization.strip_prefix("Bearer ").unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
