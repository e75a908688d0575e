//! Starting the runner as a process, as a developer would, and talking to it over HTTP.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const API_KEY: &str = "test-api-key";

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
    pub async fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Self {
        Self::start_with_args(data_dir, extra_env, &[]).await
    }

    /// The same, with command-line arguments.
    pub async fn start_with_args(
        data_dir: &Path,
        extra_env: &[(&str, &str)],
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
