//! Starting the runner as a process, as a developer would, and talking to it over HTTP.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_teams_emulator::identity::TokenSpec;
use herald_teams_emulator::{EmulatedUser, TeamsEmulator};
use serde_json::{Value, json};

pub const API_KEY: &str = "test-api-key";

/// The bot id the runner answers as without MicrosoftAppId (`28:` + its placeholder app id).
pub const ANONYMOUS_BOT_ID: &str = "28:00000000-0000-0000-0000-00000000110c";

/// An activity of `kind` in `user`'s personal chat with the bot `bot_id`, as Teams posts it
/// (<https://learn.microsoft.com/en-us/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#activity-object>).
pub fn personal_activity(
    emulator: &TeamsEmulator,
    kind: &str,
    tenant: &str,
    user: &EmulatedUser,
    chat: &str,
    bot_id: &str,
) -> Value {
    json!({
        "type": kind,
        "id": uuid::Uuid::new_v4().to_string(),
        "timestamp": Utc::now().to_rfc3339(),
        "channelId": "msteams",
        "serviceUrl": emulator.service_url(),
        "from": {"id": user.id, "name": user.name, "aadObjectId": user.aad_object_id},
        "conversation": {"conversationType": "personal", "tenantId": tenant, "id": chat},
        "recipient": {"id": bot_id, "name": "Herald"},
        "channelData": {"tenant": {"id": tenant}},
        "locale": "en-US",
    })
}

/// The `installationUpdate` (add) Teams posts when `user` installs the bot `bot_id`
/// (<https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events#install-update-event>).
pub fn personal_install(
    emulator: &TeamsEmulator,
    tenant: &str,
    user: &EmulatedUser,
    chat: &str,
    bot_id: &str,
) -> Value {
    let mut activity =
        personal_activity(emulator, "installationUpdate", tenant, user, chat, bot_id);
    activity["action"] = json!("add");
    activity
}

/// People of `tenant`, each with a personal chat with the bot: `(user, chat id)` per name.
pub fn people_with_chats(
    emulator: &TeamsEmulator,
    tenant: &str,
    names: &[&str],
) -> Vec<(EmulatedUser, String)> {
    names
        .iter()
        .map(|name| {
            let user = emulator.add_user(tenant, name);
            let chat = emulator.add_personal_chat(tenant, &user.id);
            (user, chat)
        })
        .collect()
}

/// The variables that run the runner authenticated exactly as the Lambdas, against `emulator`:
/// the connector's (bot registration, token endpoint, trusted host) and the OpenID metadata that
/// inbound tokens are checked against.
pub fn authenticated_env(emulator: &TeamsEmulator) -> Vec<(&'static str, String)> {
    let mut env: Vec<_> = emulator.connector_env().into_iter().collect();
    env.push(("HERALD_OPENID_METADATA_URL", emulator.openid_metadata_url()));
    env
}

/// `--store dynamodb` on DynamoDB Local (`.ci/with-services` runs it), with tables no other test
/// uses and fixed test credentials.
pub struct DynamoDbLocal {
    pub endpoint: String,
    /// The table names and credentials, for the runner's environment.
    pub env: Vec<(&'static str, String)>,
}

impl DynamoDbLocal {
    pub fn new() -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let endpoint = std::env::var("HERALD_TEST_DYNAMODB_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned());
        let env = vec![
            ("HERALD_REFERENCES_TABLE", format!("references-{suffix}")),
            ("HERALD_OUTBOX_TABLE", format!("outbox-{suffix}")),
            ("HERALD_SCHEDULES_TABLE", format!("schedules-{suffix}")),
            ("HERALD_PACING_TABLE", format!("pacing-{suffix}")),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ];
        Self { endpoint, env }
    }

    /// The runner's arguments that select this store.
    pub fn args(&self) -> [&str; 4] {
        ["--store", "dynamodb", "--dynamodb-endpoint", &self.endpoint]
    }
}

/// A free loopback port (bound then released; the runner binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for `check` to hold, polling, or panics with `what`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The runner process; killed when dropped.
pub struct Runner {
    child: Child,
    pub base: String,
    output: Arc<Mutex<Vec<String>>>,
    http: reqwest::Client,
}

impl Runner {
    /// Starts `herald-local` on a free port with `data_dir`, without MicrosoftAppId.
    pub async fn start(data_dir: &Path, extra_env: &[(&str, String)]) -> Self {
        Self::start_with_args(data_dir, extra_env, &[]).await
    }

    /// The same, with command-line arguments.
    pub async fn start_with_args(
        data_dir: &Path,
        extra_env: &[(&str, String)],
        args: &[&str],
    ) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_herald-local"));
        command
            .args(args)
            .env_remove("MicrosoftAppId")
            .env_remove("MicrosoftAppPassword")
            .env_remove("HERALD_API_KEY_SHA256")
            .env("HERALD_ADDR", format!("127.0.0.1:{port}"))
            .env("HERALD_DATA_DIR", data_dir)
            .env("HERALD_API_KEY", API_KEY)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    eprintln!("[herald-local] {line}");
                    output.lock().unwrap().push(line);
                }
            });
        }
        let runner = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            output,
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = runner
                .http
                .get(format!("{}/api/installations", runner.base))
                .bearer_auth(API_KEY)
                .send()
                .await
                && response.status() == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "herald-local did not answer; output:\n{}",
                runner.output().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        runner
    }

    pub fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process outright, as a crash would.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGINT (Ctrl-C) and waits for the process to exit; returns whether it exited 0, and
    /// its output.
    pub fn interrupt(mut self) -> (bool, Vec<String>) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads collect the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return (status.success(), self.output());
            }
            assert!(
                Instant::now() < deadline,
                "herald-local did not stop on Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `user` installs the app in their personal `chat`: Teams' install activity, with a token
    /// the emulator signs, reaches the webhook, which must accept it.
    pub async fn install_personally(
        &self,
        emulator: &TeamsEmulator,
        tenant: &str,
        user: &EmulatedUser,
        chat: &str,
    ) {
        let bot_id = format!("28:{}", emulator.config().app_id);
        let activity = personal_install(emulator, tenant, user, chat, &bot_id);
        let token = emulator
            .identity()
            .mint(TokenSpec::valid(&emulator.service_url()));
        let response = self
            .http
            .post(format!("{}/api/messages", self.base))
            .bearer_auth(token)
            .json(&activity)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }

    pub async fn post_activity(&self, activity: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/api/messages", self.base))
            .json(activity)
            .send()
            .await
            .unwrap()
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(API_KEY);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.api(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.api(reqwest::Method::POST, path, Some(body)).await
    }

    /// Every installation the API lists (one page of up to 100 is all these tests make).
    pub async fn installations(&self, query: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!("/api/installations?limit=100{query}"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body["nextCursor"].is_null(), "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// Posts `body` to `/api/notify`, checks it was accepted and returns the notification's id.
    pub async fn notify(&self, body: &Value) -> String {
        let (status, accepted) = self.post("/api/notify", body).await;
        assert_eq!(status, 202, "{accepted}");
        accepted["notificationId"].as_str().unwrap().to_owned()
    }

    /// Posts `body` to `/api/notify` and waits until it is done: its report.
    pub async fn notify_and_wait(&self, body: &Value) -> Value {
        let id = self.notify(body).await;
        self.wait_done(&id).await
    }

    /// Waits until the notification reports done, and returns its report.
    pub async fn wait_done(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let (status, body) = self.get(&format!("/api/notifications/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if body["status"] == "done" {
                return body;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "notification did not finish: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
