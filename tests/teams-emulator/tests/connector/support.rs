//! What every connector test starts from: an emulator, a tenant with users and their 1:1 chats,
//! and a client holding a connector token.

use std::time::Duration;

use herald_teams_emulator::{EmulatorConfig, EmulatorLimits, TeamsEmulator};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const TENANT: &str = "33333333-3333-3333-3333-333333333333";

pub struct Connector {
    pub emulator: TeamsEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

/// A status and headers, or `None` when the connection was closed without an answer.
pub type Answered = Option<(u16, HeaderMap)>;

impl Connector {
    pub async fn start(config: EmulatorConfig) -> Self {
        let emulator = TeamsEmulator::start(config).await.unwrap();
        let token = emulator.issue_token();
        Self {
            emulator,
            http: reqwest::Client::new(),
            token,
        }
    }

    pub async fn with_limits(limits: EmulatorLimits) -> Self {
        Self::start(EmulatorConfig::default().limits(limits)).await
    }

    /// `count` users of [`TENANT`] and the bot's 1:1 chat with each.
    pub fn chats(&self, count: usize) -> Vec<String> {
        (0..count)
            .map(|i| {
                let user = self.emulator.add_user(TENANT, &format!("User {i}"));
                self.emulator.add_personal_chat(TENANT, &user.id)
            })
            .collect()
    }

    fn url(&self, path: &str) -> String {
        format!("{}v3/conversations/{path}", self.emulator.service_url())
    }

    /// Posts `activity` to `conversation`.
    pub async fn post(&self, conversation: &str, activity: &Value) -> Answered {
        let request = self
            .http
            .post(self.url(&format!("{conversation}/activities")))
            .bearer_auth(&self.token)
            .json(activity);
        answered(request).await
    }

    /// Posts a message with `text` to `conversation`.
    pub async fn send(&self, conversation: &str, text: &str) -> Answered {
        self.post(conversation, &json!({"type": "message", "text": text}))
            .await
    }

    /// Reads the first page of `conversation`'s members.
    pub async fn members(&self, conversation: &str) -> Answered {
        let request = self
            .http
            .get(self.url(&format!("{conversation}/pagedmembers")))
            .bearer_auth(&self.token);
        answered(request).await
    }

    /// Asks the token endpoint for a connector token with the bot's credentials: the status and
    /// body, or `None` when the connection was closed without an answer.
    pub async fn request_token(&self) -> Option<(u16, Value)> {
        let secret = self.emulator.config().app_password.clone();
        self.request_token_with_secret(&secret).await
    }

    /// [`Self::request_token`] with another client secret.
    pub async fn request_token_with_secret(&self, secret: &str) -> Option<(u16, Value)> {
        let config = self.emulator.config();
        let response = self
            .http
            .post(self.emulator.token_url())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &config.app_id),
                ("client_secret", secret),
                ("scope", &config.scope),
            ])
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap()))
    }

    /// Posts a message to `conversation` until it is not answered 429 (waiting `pause` between
    /// tries) or `until`; how many attempts were answered 201 and 429.
    pub async fn hammer(
        &self,
        conversation: &str,
        pause: Duration,
        until: tokio::time::Instant,
    ) -> (usize, usize) {
        let (mut created, mut throttled) = (0, 0);
        while tokio::time::Instant::now() < until {
            match self.send(conversation, "hammer").await.map(|(s, _)| s) {
                Some(201) => created += 1,
                Some(429) => {
                    throttled += 1;
                    tokio::time::sleep(pause).await;
                }
                other => panic!("unexpected answer {other:?}"),
            }
        }
        (created, throttled)
    }
}

async fn answered(request: reqwest::RequestBuilder) -> Answered {
    let response = request.send().await.ok()?;
    Some((response.status().as_u16(), response.headers().clone()))
}

/// The status of an answer (0 when the connection was closed).
pub fn status(answer: &Answered) -> u16 {
    answer.as_ref().map_or(0, |(status, _)| *status)
}
