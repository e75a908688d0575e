//! The faults a run injects, on a timeline from the moment the load was posted: instances
//! SIGKILLed mid-batch, invocations run into their timeout, DynamoDB answering
//! `ProvisionedThroughputExceededException` and `InternalServerError`
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html>),
//! Teams' 429 storms and 5xx bursts, and its token endpoint down
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use herald_teams_emulator::{Fault, Outage, RetryAfter};

use super::Deployment;
use super::deployment::{SCHEDULER, SENDER};
use crate::{DynamoFaults, OutcomeKind};

/// One fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Injection {
    /// DynamoDB (through the bed's proxy) answers these shares of requests with errors from now on.
    Dynamo(DynamoFaults),
    /// SIGKILL the sender's instance once it has worked on a batch for a while.
    KillSender,
    /// A Teams outage (429 storm, 5xx on every send, token endpoint down) for a while.
    Teams(Outage, Duration),
    /// The next `n` sends answered with this status (a burst of 5xx).
    SendErrors(u16, u32),
    /// The function's `Timeout` set to this, then halved at each invocation that still finishes
    /// in time, until one runs into it; then the template's again.
    Timeout(&'static str, Duration),
}

/// Faults at offsets from the moment the load was posted.
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosPlan {
    pub steps: Vec<(Duration, Injection)>,
}

impl ChaosPlan {
    /// Every fault the bed and the emulator inject, over the first minute and a half of a run.
    #[must_use]
    pub fn all_faults() -> Self {
        let s = Duration::from_secs;
        Self {
            steps: vec![
                (
                    s(0),
                    Injection::Dynamo(DynamoFaults {
                        throttle: 0.05,
                        internal_error: 0.05,
                        ..DynamoFaults::default()
                    }),
                ),
                (s(3), Injection::KillSender),
                (s(6), Injection::SendErrors(502, 150)),
                (s(9), Injection::KillSender),
                (
                    s(12),
                    Injection::Teams(Outage::ThrottleStorm(RetryAfter::Seconds(2)), s(8)),
                ),
                (s(15), Injection::Timeout(SCHEDULER, s(2))),
                (s(22), Injection::Teams(Outage::TokenEndpoint, s(60))),
                // A new instance needs a token while the endpoint is down.
                (s(25), Injection::KillSender),
                (s(35), Injection::Teams(Outage::ServerErrors(503), s(5))),
                // Short from the start: an invocation with less time than the sender's safety
                // margin hands every record back, which spends one of the batch's retries.
                (s(45), Injection::Timeout(SENDER, Duration::from_millis(20))),
                (s(90), Injection::Dynamo(DynamoFaults::default())),
            ],
        }
    }
}

/// What was injected, counted where it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultTally {
    /// Sender instances SIGKILLed while running a batch.
    pub kills: u32,
    /// Invocations that ran into their timeout, by function.
    pub timeouts: BTreeMap<String, usize>,
    pub dynamo_throttled: u64,
    pub dynamo_internal_errors: u64,
    /// Sends Teams answered 429 (storms and its own rate limit).
    pub teams_throttled: u64,
    /// Sends Teams answered with a 5xx.
    pub teams_server_errors: usize,
    /// Token requests refused while the token endpoint was down, and how long it was.
    pub token_refused: usize,
    pub token_down: Duration,
}

impl FaultTally {
    /// Reads what the bed, its proxy and the emulator counted.
    #[must_use]
    pub fn read(deployment: &Deployment, kills: u32, token_down: Duration) -> Self {
        let mut timeouts = BTreeMap::new();
        for record in deployment.bed.log().invocations() {
            if record.outcome == OutcomeKind::Timeout {
                *timeouts.entry(record.function).or_default() += 1;
            }
        }
        let proxy = deployment.bed.dynamodb().counters();
        let requests = deployment.emulator.requests();
        let is_token = |r: &&herald_teams_emulator::RequestRecord| r.operation == "token";
        Self {
            kills,
            timeouts,
            dynamo_throttled: proxy.throttled,
            dynamo_internal_errors: proxy.internal_errors,
            teams_throttled: deployment.emulator.counters().throttled,
            teams_server_errors: requests
                .iter()
                .filter(|r| !is_token(r) && r.status.is_some_and(|s| s >= 500))
                .count(),
            token_refused: requests
                .iter()
                .filter(|r| is_token(r) && r.status.is_some_and(|s| s >= 500))
                .count(),
            token_down,
        }
    }
}

impl fmt::Display for FaultTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let timeouts: Vec<String> = self
            .timeouts
            .iter()
            .map(|(function, n)| format!("{n} {function}"))
            .collect();
        write!(
            f,
            "{} SIGKILLs mid-batch, timeouts [{}], DynamoDB {} throttled + {} 500s, \
             Teams {} 429s + {} 5xx, token endpoint down {}s ({} refused)",
            self.kills,
            timeouts.join(", "),
            self.dynamo_throttled,
            self.dynamo_internal_errors,
            self.teams_throttled,
            self.teams_server_errors,
            self.token_down.as_secs(),
            self.token_refused,
        )
    }
}

/// What [`inject`] did so far (read when the run ends, whether or not every step was reached).
#[derive(Debug, Default)]
pub(super) struct Injected {
    kills: AtomicU32,
    token_down_ms: AtomicU64,
}

impl Injected {
    pub(super) fn tally(&self, deployment: &Deployment) -> FaultTally {
        FaultTally::read(
            deployment,
            self.kills.load(Ordering::SeqCst),
            Duration::from_millis(self.token_down_ms.load(Ordering::SeqCst)),
        )
    }
}

/// Applies the plan's steps at their offsets from `started`.
pub(super) async fn inject(
    deployment: &Deployment,
    plan: &ChaosPlan,
    started: Instant,
    injected: &Injected,
) {
    for (at, injection) in &plan.steps {
        tokio::time::sleep_until((started + *at).into()).await;
        tracing::info!(?injection, "chaos: injecting");
        match injection {
            Injection::Dynamo(faults) => deployment.bed.dynamodb().set_faults(faults.clone()),
            Injection::KillSender => {
                if kill_mid_batch(deployment).await {
                    injected.kills.fetch_add(1, Ordering::SeqCst);
                }
            }
            Injection::Teams(outage, duration) => {
                if matches!(
                    outage,
                    Outage::TokenEndpoint | Outage::TokenEndpointUnreachable
                ) {
                    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
                    injected.token_down_ms.fetch_add(ms, Ordering::SeqCst);
                }
                deployment.emulator.outage(*outage, *duration);
            }
            Injection::SendErrors(status, times) => deployment
                .emulator
                .inject_sends_times(Fault::Status(*status), *times),
            Injection::Timeout(function, first) => time_out(deployment, function, *first).await,
        }
    }
}

/// Ends every fault the plan may have left on.
pub(super) fn clear(deployment: &Deployment) {
    deployment
        .bed
        .dynamodb()
        .set_faults(DynamoFaults::default());
    deployment.emulator.end_outages();
    for name in [SENDER, SCHEDULER] {
        if let Ok(function) = deployment.bed.function(name) {
            function.set_timeout(function.config().timeout);
        }
    }
}

/// Kills the sender's instance once one invocation has run for half a second (it holds claims
/// and has sends in flight by then). Returns whether it found one within half a minute.
async fn kill_mid_batch(deployment: &Deployment) -> bool {
    let Ok(sender) = deployment.bed.function(SENDER) else {
        return false;
    };
    let give_up = Instant::now() + Duration::from_secs(150);
    while Instant::now() < give_up {
        if let Some((request, instance)) = sender.running().into_iter().next() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if sender.instance_running(&request).as_ref() == Some(&instance) {
                return sender.kill_instance(&instance);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::warn!("chaos: the sender ran no batch to kill");
    false
}

/// Shortens `function`'s timeout until one of its invocations runs into it: `first`, halved after
/// every invocation that still finished in time, for at most two and a half minutes (an outage
/// injected meanwhile can hold every instance in one long invocation). The halving has no
/// floor: a sender handed less time than its safety margin gives its records back at once,
/// within a millisecond when it has nothing else to do, so only a timeout shorter than that
/// answer reliably catches one.
async fn time_out(deployment: &Deployment, function: &str, first: Duration) {
    let Ok(target) = deployment.bed.function(function) else {
        return;
    };
    let timed_out = |log: &crate::BedLog| {
        log.invocations_of(function)
            .iter()
            .filter(|r| r.outcome == OutcomeKind::Timeout)
            .count()
    };
    let before = timed_out(deployment.bed.log());
    let finished = || deployment.bed.log().invocations_of(function).len();
    let mut timeout = first;
    let give_up = Instant::now() + Duration::from_secs(150);
    target.set_timeout(timeout);
    let mut seen = finished();
    while timed_out(deployment.bed.log()) == before && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = finished();
        if now > seen {
            seen = now;
            timeout /= 2;
            target.set_timeout(timeout);
        }
    }
    target.set_timeout(target.config().timeout);
}
