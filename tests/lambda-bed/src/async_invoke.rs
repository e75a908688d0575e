//! Asynchronous invocation, as EventBridge invokes a function
//! (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>): a
//! failed invocation is retried `MaximumRetryAttempts` times (Lambda waits about one minute,
//! then two; the bed's delays are configurable so tests need not wait), then the
//! `OnFailure` destination receives the invocation record.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::function::{Function, Invocation};
use crate::log::{BedLog, FailureRecord, FailureSource};
use crate::template::AsyncSpec;

/// Lambda's waits before the second and third attempts.
pub const LAMBDA_RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];

/// How the bed retries asynchronous invocations.
#[derive(Debug, Clone)]
pub struct AsyncPolicy {
    pub spec: AsyncSpec,
    /// The wait before retry n (the last one repeats).
    pub delays: Vec<Duration>,
}

impl AsyncPolicy {
    fn delay(&self, retry: usize) -> Duration {
        self.delays
            .get(retry)
            .or_else(|| self.delays.last())
            .copied()
            .unwrap_or_default()
    }
}

/// Queues `payload` for `function` and returns at once; the retries run in the background.
pub fn invoke_async(function: Arc<Function>, payload: Value, policy: AsyncPolicy, log: BedLog) {
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let invocation = function.invoke(&payload).await;
            let failed = invocation.as_ref().map_or(true, |i| i.outcome.failed());
            if !failed {
                return;
            }
            let retries_left = attempts <= policy.spec.max_retries;
            let delay = policy.delay(attempts as usize - 1);
            if !retries_left || started.elapsed() + delay > policy.spec.max_event_age {
                let (condition, error) = if retries_left {
                    ("EventAgeExceeded", Value::Null)
                } else {
                    (
                        "RetriesExhausted",
                        invocation.as_ref().map_or(Value::Null, Invocation::json),
                    )
                };
                log.failure(FailureRecord {
                    source: FailureSource::Async,
                    function: function.name().to_owned(),
                    destination: policy.spec.on_failure.clone(),
                    body: json!({
                        "version": "1.0",
                        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "requestContext": {
                            "requestId": invocation.as_ref().map(|i| i.request_id.clone()).unwrap_or_default(),
                            "functionArn": format!("{}:$LATEST", function.config().arn()),
                            "condition": condition,
                            "approximateInvokeCount": attempts,
                        },
                        "requestPayload": payload,
                        "responseContext": {
                            "statusCode": 200,
                            "executedVersion": "$LATEST",
                            "functionError": "Unhandled",
                        },
                        "responsePayload": error,
                    }),
                });
                return;
            }
            tokio::time::sleep(delay).await;
        }
    });
}
