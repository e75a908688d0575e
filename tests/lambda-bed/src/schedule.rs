//! A scheduled rule (`Type: Schedule`, `rate(...)`): EventBridge invokes the function
//! asynchronously with a `Scheduled Event` once per period
//! (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html>).
//! Automatic ticks can be turned off so a test fires them with [`Schedule::fire`].

use std::sync::Arc;

use serde_json::{Value, json};

use crate::async_invoke::{AsyncPolicy, invoke_async};
use crate::function::{ACCOUNT, Function};
use crate::log::BedLog;
use crate::template::ScheduleSpec;

/// A schedule and its function.
pub struct Schedule {
    pub spec: ScheduleSpec,
    function: Arc<Function>,
    policy: AsyncPolicy,
    region: String,
    log: BedLog,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Schedule {
    fn drop(&mut self) {
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
    }
}

/// The event EventBridge sends for a scheduled rule.
#[must_use]
pub fn scheduled_event(rule: &str, region: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": region,
        "resources": [format!("arn:aws:events:{region}:{ACCOUNT}:rule/{rule}")],
        "detail": {},
    })
}

impl Schedule {
    /// Starts the schedule; with `ticks` it fires every period (the first one period from now).
    #[must_use]
    pub fn start(
        spec: ScheduleSpec,
        function: Arc<Function>,
        policy: AsyncPolicy,
        region: &str,
        log: BedLog,
        ticks: bool,
    ) -> Self {
        let mut schedule = Self {
            spec,
            function,
            policy,
            region: region.to_owned(),
            log,
            ticker: None,
        };
        if ticks {
            let fire = schedule.firer();
            let period = schedule.spec.period;
            schedule.ticker = Some(tokio::spawn(async move {
                let mut interval =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                loop {
                    interval.tick().await;
                    fire();
                }
            }));
        }
        schedule
    }

    /// Fires the schedule now (an asynchronous invocation, as a tick would).
    pub fn fire(&self) {
        (self.firer())();
    }

    /// Fires the schedule when called, from anywhere (a test's own task, say).
    pub fn firer(&self) -> impl Fn() + Send + Sync + 'static {
        let (function, policy, log) =
            (self.function.clone(), self.policy.clone(), self.log.clone());
        let (rule, region) = (self.spec.name.clone(), self.region.clone());
        move || {
            invoke_async(
                function.clone(),
                scheduled_event(&rule, &region),
                policy.clone(),
                log.clone(),
            );
        }
    }
}
