//! The runner with the real Microsoft 365 Agents Playground (npm `@microsoft/m365agentsplayground`,
//! installed by `.ci/install` under `.ci/cache/playground`): the playground installs the app in
//! its personal chat, the user says something, the notify API sends a card, the user asks for a
//! reminder in chat, and the playground's events recording (`--er`) shows the welcome exactly
//! once, the proactive card and the reminder, fired by the runner's minute tick.
//!
//! The playground listens on every interface, so this test runs only inside the private network
//! namespace of `.ci/with-services`. It is skipped, saying so, only when the npm package is absent.

// End-to-end scenarios read best as one story each.
#![allow(clippy::too_many_lines)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Runner, eventually, free_port};

const CONVERSATION: &str = "herald-personal-chat";
/// The playground's signed-in user (its built-in configuration).
const USER_ID: &str = "user-id-0";
const TO_PLAYGROUND: &str = "User Application -> Microsoft 365 Agents Playground";

fn playground_cli() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.ci/cache/playground/node_modules/@microsoft/m365agentsplayground/cli.js")
}

struct Playground {
    child: Child,
    base: String,
    recording: PathBuf,
    _dir: tempfile::TempDir,
}

impl Playground {
    async fn start(cli: &Path, bot: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("events_recording.log");
        let port = free_port();
        let child = Command::new("node")
            .arg(cli)
            .args(["start", "-e", bot, "-c", "msteams", "--dt", "--er"])
            .args(["--conversation-id", CONVERSATION, "-p", &port.to_string()])
            .current_dir(dir.path())
            .env("TEAMSAPPTESTER_BROWSER", "none")
            .env("M365_AGENTS_PLAYGROUND_RECORDING_FILE", &recording)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs the playground");
        let playground = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            recording,
            _dir: dir,
        };
        let http = reqwest::Client::new();
        eventually("the playground to start", Duration::from_secs(60), || {
            let request = http.get(format!("{}/_debug/ping", playground.base)).send();
            async move { request.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
        playground
    }

    /// Every recorded exchange, oldest first (the file holds JSON documents separated by `---`).
    fn recorded(&self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(&self.recording) else {
            return Vec::new();
        };
        let mut records: Vec<Value> = text
            .split("\n---\n")
            .filter(|part| !part.trim().is_empty() && part.trim() != "---")
            .filter_map(|part| serde_json::from_str(part).ok())
            .collect();
        records.sort_by_key(|r| r["timestamp"].as_i64().unwrap_or_default());
        records
    }

    /// What the bot posted into the playground's conversation.
    fn bot_messages(&self) -> Vec<Value> {
        let path = format!("/_connector/v3/conversations/{CONVERSATION}/activities");
        self.recorded()
            .into_iter()
            .filter(|r| r["direction"] == TO_PLAYGROUND && r["request"]["url"] == path.as_str())
            .map(|r| r["request"]["body"].clone())
            .collect()
    }

    fn count_bot_messages(&self, needle: &str) -> usize {
        self.bot_messages()
            .iter()
            .filter(|a| a.to_string().contains(needle))
            .count()
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_playground_installs_chats_and_receives_the_card() {
    let cli = playground_cli();
    if !cli.exists() {
        eprintln!(
            "SKIPPED: Microsoft 365 Agents Playground is not installed ({} is missing); run .ci/install",
            cli.display()
        );
        return;
    }
    assert_eq!(
        std::env::var("HERALD_IN_NETNS").as_deref(),
        Ok("1"),
        "the playground listens on every interface: run this test through .ci/with-services"
    );
    let data = tempfile::tempdir().unwrap();
    let runner = Runner::start(data.path(), &[]).await;
    let playground = Playground::start(&cli, &format!("{}/api/messages", runner.base)).await;
    let http = reqwest::Client::new();

    // Install the app in the personal chat, as the playground's UI does.
    let response = http
        .post(format!(
            "{}/_debug/conversation/{CONVERSATION}/installation",
            playground.base
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    eventually("the welcome card", Duration::from_secs(20), || async {
        playground.count_bot_messages("Welcome to Herald") > 0
    })
    .await;

    // The user says something; the bot answers in the chat.
    let response = http
        .post(format!(
            "{}/_conversation/v1/conversations/{CONVERSATION}/messages",
            playground.base
        ))
        .json(&json!({"from": {"id": USER_ID}, "text": "help", "textFormat": "plain"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    eventually("the answer to help", Duration::from_secs(20), || async {
        playground.bot_messages().len() >= 2
    })
    .await;
    let installed = runner.installations("").await;
    assert_eq!(installed.len(), 1, "{installed:?}");
    assert_eq!(installed[0]["conversationId"], CONVERSATION);
    assert_eq!(installed[0]["user"]["id"], USER_ID);
    assert_eq!(installed[0]["status"], "active");

    // A proactive card through the notify API.
    let report = runner
        .notify_and_wait(&json!({
            "target": {"kind": "all"},
            "message": {
                "summary": "Deployment finished",
                "data": {"service": "billing-api", "version": "2.4.1"},
                "card": {
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": "Deployment finished", "weight": "Bolder"},
                        {"type": "TextBlock", "text": "${service} ${version} is live", "wrap": true},
                    ],
                },
            },
        }))
        .await;
    assert_eq!(report["counts"]["sent"], 1, "{report}");
    eventually(
        "the card in the playground",
        Duration::from_secs(20),
        || async { playground.count_bot_messages("billing-api 2.4.1 is live") > 0 },
    )
    .await;

    // A reminder typed in chat, fired by the runner's minute tick (the playground's zone is UTC).
    let at = chrono::Utc::now() + chrono::Duration::minutes(1);
    let ask = format!(
        "remind me on {} at {} to stretch your legs",
        at.format("%Y-%m-%d"),
        at.format("%H:%M")
    );
    let before = playground.bot_messages().len();
    let response = http
        .post(format!(
            "{}/_conversation/v1/conversations/{CONVERSATION}/messages",
            playground.base
        ))
        .json(&json!({"from": {"id": USER_ID}, "text": ask, "textFormat": "plain"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    eventually(
        "the reminder's confirmation",
        Duration::from_secs(20),
        || async { playground.bot_messages().len() > before },
    )
    .await;
    let reminded = || {
        playground
            .bot_messages()
            .iter()
            .filter(|a| a["text"].as_str().map(str::trim) == Some("stretch your legs"))
            .count()
    };
    eventually("the reminder", Duration::from_secs(100), || async {
        reminded() > 0
    })
    .await;

    // A moment for anything duplicated to show up, then exact counts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let card = playground
        .bot_messages()
        .into_iter()
        .find(|a| a.to_string().contains("billing-api 2.4.1 is live"))
        .unwrap();
    assert_eq!(
        card["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive",
        "{card}"
    );
    assert_eq!(
        playground.count_bot_messages("billing-api 2.4.1 is live"),
        1
    );
    assert_eq!(
        playground.count_bot_messages("Welcome to Herald"),
        1,
        "{:#?}",
        playground.bot_messages()
    );
    assert!(runner.interrupt().0);
}
