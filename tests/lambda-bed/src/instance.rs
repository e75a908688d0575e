//! One execution environment: a function's binary run as a child process whose
//! `AWS_LAMBDA_RUNTIME_API` points at its own Runtime API server, its stdout and stderr
//! captured to files. Killing is SIGKILL (`Child::start_kill`), as Lambda ends an environment
//! at a timeout.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, watch};

use crate::error::BedError;
use crate::runtime_api::RuntimeApi;

/// An instance: the function's name and a number counting its cold starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId {
    pub function: String,
    pub number: u32,
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.function, self.number)
    }
}

/// Why the bed killed an instance (an exit the bed did not ask for is a crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    Timeout,
    Fault,
    InitTimeout,
    Shutdown,
}

/// How to start one process.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub environment: BTreeMap<String, String>,
    /// Where `<instance>.stdout.log` and `<instance>.stderr.log` go.
    pub log_dir: PathBuf,
}

/// A running (or exited) process and its Runtime API.
pub struct Instance {
    pub id: InstanceId,
    pub api: RuntimeApi,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    /// `Some(description)` once the process has exited.
    pub exited: watch::Receiver<Option<String>>,
    kill: Arc<Notify>,
    reason: Mutex<Option<KillReason>>,
}

impl Instance {
    /// Starts the process. The environment is exactly `launch.environment` plus
    /// `AWS_LAMBDA_RUNTIME_API` (nothing leaks from the test's own environment).
    pub async fn spawn(id: InstanceId, launch: &Launch) -> Result<Arc<Self>, BedError> {
        let api = RuntimeApi::start().await.map_err(BedError::Io)?;
        let stem = id.to_string().replace(['#', '/'], "-");
        let stdout = launch.log_dir.join(format!("{stem}.stdout.log"));
        let stderr = launch.log_dir.join(format!("{stem}.stderr.log"));
        let mut command = tokio::process::Command::new(&launch.binary);
        command
            .env_clear()
            .envs(&launch.environment)
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).map_err(BedError::Io)?)
            .stderr(std::fs::File::create(&stderr).map_err(BedError::Io)?)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| BedError::Spawn {
            binary: launch.binary.clone(),
            error: e,
        })?;
        let (exit_tx, exited) = watch::channel(None);
        let kill = Arc::new(Notify::new());
        let killer = kill.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                () = killer.notified() => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let text = match status {
                Ok(status) => status.to_string(),
                Err(e) => format!("wait failed: {e}"),
            };
            exit_tx.send_replace(Some(text));
        });
        tracing::debug!(instance = %id, addr = %api.addr, "instance started");
        Ok(Arc::new(Self {
            id,
            api,
            stdout,
            stderr,
            exited,
            kill,
            reason: Mutex::new(None),
        }))
    }

    /// SIGKILLs the process (once; later calls keep the first reason).
    pub fn kill(&self, reason: KillReason) {
        let mut current = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
        if current.is_none() {
            *current = Some(reason);
        }
        self.kill.notify_one();
    }

    /// Why the bed killed it, if it did.
    #[must_use]
    pub fn kill_reason(&self) -> Option<KillReason> {
        *self.reason.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[must_use]
    pub fn alive(&self) -> bool {
        self.exited.borrow().is_none()
    }

    /// Waits until the process has exited.
    pub async fn wait_exit(&self) {
        let mut exited = self.exited.clone();
        let _ = exited.wait_for(Option::is_some).await;
    }
}
