//! The bed's own fixture: a Lambda function (on `lambda_runtime`, as Herald's are) whose
//! behaviour its payload chooses, to prove the bed's semantics where Herald's binaries cannot
//! provoke them. An action is read from `action` in a direct payload, in an EventBridge event's
//! `detail`, in an HTTP API request's JSON body, or per record from a stream record's
//! `NewImage.action.S`:
//!
//! - `echo` (or none): answers `{pid, count, payload}` (an HTTP request gets a 2.0 response);
//! - `sleep:MS`: waits, then echoes; `hang`: never answers;
//! - `error`: fails the invocation; `crash`: exits the process mid-invocation;
//! - `fail` (stream records): reported in `batchItemFailures`.
//!
//! `PROBE_INIT=exit` exits before the runtime starts; `PROBE_INIT=report` posts
//! `/runtime/init/error` first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

static COUNT: AtomicU64 = AtomicU64::new(0);

fn action(payload: &Value) -> String {
    let body_action = payload
        .get("body")
        .and_then(Value::as_str)
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|b| b.get("action").and_then(Value::as_str).map(str::to_owned));
    payload
        .get("action")
        .or_else(|| payload.get("detail").and_then(|d| d.get("action")))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(body_action)
        .unwrap_or_else(|| "echo".to_owned())
}

/// Runs one action; `Ok(false)` for a stream record to report as failed.
async fn perform(action: &str) -> Result<bool, Error> {
    match action {
        "error" => Err("the probe was asked to fail".into()),
        "crash" => std::process::exit(3),
        "hang" => loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        },
        "fail" => Ok(false),
        other => {
            if let Some(ms) = other.strip_prefix("sleep:").and_then(|ms| ms.parse().ok()) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Ok(true)
        }
    }
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = event.payload;
    let count = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let mut failures = Vec::new();
        for record in records {
            let action = record
                .pointer("/dynamodb/NewImage/action/S")
                .and_then(Value::as_str)
                .unwrap_or("echo");
            if !perform(action).await? {
                failures
                    .push(json!({"itemIdentifier": record.pointer("/dynamodb/SequenceNumber")}));
            }
        }
        return Ok(json!({"batchItemFailures": failures}));
    }
    perform(&action(&payload)).await?;
    let echo = json!({"pid": std::process::id(), "count": count, "payload": payload});
    if payload.get("version").and_then(Value::as_str) == Some("2.0") {
        return Ok(json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-probe": "yes"},
            "cookies": ["probe=1; Path=/"],
            "body": echo.to_string(),
            "isBase64Encoded": false,
        }));
    }
    Ok(echo)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    match std::env::var("PROBE_INIT").as_deref() {
        Ok("exit") => std::process::exit(2),
        Ok("report") => {
            let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
            reqwest::Client::new()
                .post(format!("http://{api}/2018-06-01/runtime/init/error"))
                .header("Lambda-Runtime-Function-Error-Type", "Probe.InitFailed")
                .json(&json!({"errorMessage": "the probe refused to start", "errorType": "Probe.InitFailed"}))
                .send()
                .await?;
            std::process::exit(1);
        }
        _ => {}
    }
    lambda_runtime::run(service_fn(handle)).await
}
