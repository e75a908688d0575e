//! A function as Lambda runs it: at most `concurrency` execution environments, an idle one reused
//! (warm), a new one started (cold) when all are busy, the `Timeout` enforced by killing the
//! instance (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>).
//! An invocation waits for a free slot rather than being throttled, as Lambda's pollers and
//! asynchronous queue do.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::error::BedError;
use crate::instance::{Instance, InstanceId, KillReason, Launch};
use crate::log::{BedLog, InvocationRecord, OutcomeKind};
use crate::runtime_api::{Answer, Pending};

/// How long an environment may take to reach its first `GET /next` (Lambda's init phase limit).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How one function runs.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The name invocations are logged under (the template's logical id).
    pub name: String,
    pub binary: PathBuf,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// Instances at most (`ReservedConcurrentExecutions`, or the bed's default).
    pub concurrency: u32,
    /// The process environment (Lambda's reserved variables and the function's own).
    pub environment: BTreeMap<String, String>,
    /// Where instances' stdout/stderr files go.
    pub log_dir: PathBuf,
    pub region: String,
}

impl FunctionConfig {
    /// `arn:aws:lambda:<region>:000000000000:function:<name>`.
    #[must_use]
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{ACCOUNT}:function:{}",
            self.region, self.name
        )
    }
}

/// The account id the bed's ARNs carry.
pub const ACCOUNT: &str = "000000000000";

/// What an invocation came to.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub instance: InstanceId,
    pub cold: bool,
    pub outcome: OutcomeKind,
    /// The response body (`Ok`), or the error object (`{errorType, errorMessage}`) otherwise.
    pub body: Bytes,
}

impl Invocation {
    /// The response or error body as JSON (`Null` when it is not JSON).
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A fault armed for the next invocation an instance takes.
#[derive(Debug, Clone, Copy)]
struct KillNext {
    after: Duration,
}

/// A function and its instances.
pub struct Function {
    config: FunctionConfig,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Arc<Instance>>>,
    all: Mutex<Vec<Arc<Instance>>>,
    busy: Mutex<BTreeMap<String, Arc<Instance>>>,
    started: AtomicU32,
    kill_next: Mutex<Vec<KillNext>>,
    timeout_override: Mutex<Option<Duration>>,
    log: BedLog,
}

impl Function {
    #[must_use]
    pub fn new(config: FunctionConfig, log: BedLog) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(config.concurrency.max(1) as usize)),
            config,
            idle: Mutex::new(Vec::new()),
            all: Mutex::new(Vec::new()),
            busy: Mutex::new(BTreeMap::new()),
            started: AtomicU32::new(0),
            kill_next: Mutex::new(Vec::new()),
            timeout_override: Mutex::new(None),
            log,
        })
    }

    #[must_use]
    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The timeout in force (the template's, or the one a test set).
    #[must_use]
    pub fn timeout(&self) -> Duration {
        lock(&self.timeout_override).unwrap_or(self.config.timeout)
    }

    /// Replaces the function's `Timeout` for the invocations that start from now on.
    pub fn set_timeout(&self, timeout: Duration) {
        *lock(&self.timeout_override) = Some(timeout);
    }

    /// Arms a fault: the instance that takes the next invocation is SIGKILLed `after` it took it.
    /// Faults armed several times apply to the next invocations in turn.
    pub fn kill_next_invocation_after(&self, after: Duration) {
        lock(&self.kill_next).push(KillNext { after });
    }

    /// SIGKILLs one instance; an invocation it is running fails as `Killed`.
    pub fn kill_instance(&self, id: &InstanceId) -> bool {
        let found = lock(&self.all).iter().find(|i| &i.id == id).cloned();
        found.is_some_and(|instance| {
            instance.kill(KillReason::Fault);
            true
        })
    }

    /// The instance running invocation `request_id`, while it runs.
    #[must_use]
    pub fn instance_running(&self, request_id: &str) -> Option<InstanceId> {
        lock(&self.busy).get(request_id).map(|i| i.id.clone())
    }

    /// The invocations running now: (request id, instance).
    #[must_use]
    pub fn running(&self) -> Vec<(String, InstanceId)> {
        lock(&self.busy)
            .iter()
            .map(|(request, instance)| (request.clone(), instance.id.clone()))
            .collect()
    }

    /// Instances whose process is alive (idle or busy).
    #[must_use]
    pub fn live_instances(&self) -> Vec<InstanceId> {
        lock(&self.all)
            .iter()
            .filter(|i| i.alive())
            .map(|i| i.id.clone())
            .collect()
    }

    /// Every instance started so far with its stdout and stderr files.
    #[must_use]
    pub fn output_files(&self) -> Vec<(InstanceId, PathBuf, PathBuf)> {
        lock(&self.all)
            .iter()
            .map(|i| (i.id.clone(), i.stdout.clone(), i.stderr.clone()))
            .collect()
    }

    /// Kills every instance.
    pub fn shutdown(&self) {
        for instance in lock(&self.all).iter() {
            instance.kill(KillReason::Shutdown);
        }
        lock(&self.idle).clear();
    }

    /// Invokes the function synchronously with a JSON payload.
    pub async fn invoke(&self, payload: &Value) -> Result<Invocation, BedError> {
        self.invoke_bytes(Bytes::from(payload.to_string())).await
    }

    /// Invokes the function with a raw payload: waits for a free slot, takes an idle instance or
    /// starts one, and waits for its answer, its exit or its timeout.
    pub async fn invoke_bytes(&self, payload: Bytes) -> Result<Invocation, BedError> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| BedError::Stopped)?;
        let (instance, cold) = self.instance().await?;
        let start = SystemTime::now();
        let request_id = uuid::Uuid::new_v4().to_string();
        let (outcome, body) = self.run(&instance, cold, &request_id, payload).await;
        let end = SystemTime::now();
        self.finish(instance.clone(), outcome, permit);
        self.log.invocation(InvocationRecord {
            function: self.config.name.clone(),
            request_id: request_id.clone(),
            instance: instance.id.clone(),
            cold,
            start,
            end,
            outcome,
        });
        Ok(Invocation {
            request_id,
            instance: instance.id.clone(),
            cold,
            outcome,
            body,
        })
    }

    /// An idle live instance (warm), else a new one (cold).
    async fn instance(&self) -> Result<(Arc<Instance>, bool), BedError> {
        loop {
            let Some(instance) = lock(&self.idle).pop() else {
                break;
            };
            if instance.alive() {
                return Ok((instance, false));
            }
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let id = InstanceId {
            function: self.config.name.clone(),
            number,
        };
        let launch = Launch {
            binary: self.config.binary.clone(),
            environment: self.config.environment.clone(),
            log_dir: self.config.log_dir.clone(),
        };
        let instance = Instance::spawn(id, &launch).await?;
        lock(&self.all).push(instance.clone());
        Ok((instance, true))
    }

    async fn run(
        &self,
        instance: &Arc<Instance>,
        cold: bool,
        request_id: &str,
        payload: Bytes,
    ) -> (OutcomeKind, Bytes) {
        let (taken_tx, taken) = oneshot::channel();
        let (answer_tx, answer) = oneshot::channel();
        let timeout = self.timeout();
        let queued = instance.api.queue.send(Pending {
            request_id: request_id.to_owned(),
            payload,
            function_arn: self.config.arn(),
            timeout,
            taken: taken_tx,
            answer: answer_tx,
        });
        if queued.is_err() {
            return failure(OutcomeKind::InitError, "Runtime.Unavailable", "no runtime");
        }
        let mut exited = instance.exited.clone();
        let mut init_error = instance.api.state.init_error.subscribe();
        // Init: until the runtime takes the event (a warm instance takes it at once).
        let init_limit = if cold { INIT_TIMEOUT } else { timeout };
        tokio::select! {
            taken = taken => if taken.is_err() {
                return failure(OutcomeKind::InitError, "Runtime.Unavailable", "the event was dropped");
            },
            error = changed(&mut init_error) => {
                instance.kill(KillReason::Shutdown);
                return (OutcomeKind::InitError, Bytes::from(error.to_string()));
            }
            status = changed(&mut exited) => {
                return failure(OutcomeKind::InitError, "Runtime.ExitError", &format!("the runtime exited during init: {status}"));
            }
            () = tokio::time::sleep(init_limit) => {
                instance.kill(KillReason::InitTimeout);
                return failure(OutcomeKind::InitError, "Runtime.InitTimeout", "init did not finish in time");
            }
        }
        lock(&self.busy).insert(request_id.to_owned(), instance.clone());
        if let Some(fault) = {
            let mut armed = lock(&self.kill_next);
            (!armed.is_empty()).then(|| armed.remove(0))
        } {
            let target = instance.clone();
            tokio::spawn(async move {
                tokio::time::sleep(fault.after).await;
                target.kill(KillReason::Fault);
            });
        }
        let result = tokio::select! {
            answer = answer => match answer {
                Ok(Answer::Response(body)) => (OutcomeKind::Ok, body),
                Ok(Answer::Error(error)) => (OutcomeKind::Error, Bytes::from(error.to_string())),
                Err(_) => failure(OutcomeKind::Exited, "Runtime.ExitError", "the answer was dropped"),
            },
            status = changed(&mut exited) => {
                match instance.kill_reason() {
                    Some(KillReason::Timeout) => timed_out(timeout),
                    Some(KillReason::Fault) => failure(OutcomeKind::Killed, "Runtime.ExitError", &format!("killed by the bed: {status}")),
                    _ => failure(OutcomeKind::Exited, "Runtime.ExitError", &format!("the runtime exited: {status}")),
                }
            }
            () = tokio::time::sleep(timeout) => {
                instance.kill(KillReason::Timeout);
                instance.wait_exit().await;
                timed_out(timeout)
            }
        };
        lock(&self.busy).remove(request_id);
        result
    }

    /// Returns a healthy instance to the idle list and frees the slot.
    fn finish(&self, instance: Arc<Instance>, outcome: OutcomeKind, permit: OwnedSemaphorePermit) {
        if matches!(outcome, OutcomeKind::Ok | OutcomeKind::Error) && instance.alive() {
            lock(&self.idle).push(instance);
        } else {
            instance.kill(KillReason::Shutdown);
        }
        drop(permit);
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The value a watch channel turns to once it is `Some` (the default if its sender is gone).
async fn changed<T: Clone + Default>(receiver: &mut tokio::sync::watch::Receiver<Option<T>>) -> T {
    receiver
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|value| value.clone())
        .unwrap_or_default()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn failure(kind: OutcomeKind, error_type: &str, message: &str) -> (OutcomeKind, Bytes) {
    (
        kind,
        Bytes::from(json!({"errorType": error_type, "errorMessage": message}).to_string()),
    )
}

/// Lambda's answer to a timeout: `Task timed out after N seconds`.
fn timed_out(timeout: Duration) -> (OutcomeKind, Bytes) {
    failure(
        OutcomeKind::Timeout,
        "Sandbox.Timedout",
        &format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
    )
}
