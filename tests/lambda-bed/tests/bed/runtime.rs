//! The Runtime API, instances and their lifecycle, proven on the probe.

use std::time::{Duration, Instant};

use herald_lambda_bed::OutcomeKind;
use serde_json::json;

use crate::support::probe;

#[tokio::test]
async fn an_invocation_round_trips_through_the_runtime_api_and_the_instance_stays_warm() {
    let probe = probe("RoundTrip", Duration::from_secs(10), 1, &[]);
    let first = probe
        .function
        .invoke(&json!({"action": "echo", "x": 1}))
        .await
        .unwrap();
    assert_eq!(first.outcome, OutcomeKind::Ok, "{:?}", first.json());
    assert!(first.cold);
    assert_eq!(first.json()["payload"]["x"], 1);
    assert_eq!(first.json()["count"], 1);
    let second = probe.function.invoke(&json!({"x": 2})).await.unwrap();
    assert!(!second.cold, "an idle instance is reused");
    assert_eq!(second.instance, first.instance);
    assert_eq!(second.json()["pid"], first.json()["pid"]);
    assert_eq!(second.json()["count"], 2, "the same process answered");
    assert_ne!(second.request_id, first.request_id);
    // A function error is an answer: the instance stays and is reused.
    let failed = probe
        .function
        .invoke(&json!({"action": "error"}))
        .await
        .unwrap();
    assert_eq!(failed.outcome, OutcomeKind::Error);
    assert_eq!(failed.json()["errorMessage"], "the probe was asked to fail");
    let after = probe.function.invoke(&json!({})).await.unwrap();
    assert!(!after.cold);
    assert_eq!(after.json()["count"], 4);
    let log = probe.log.invocations();
    assert_eq!(log.len(), 4);
    assert_eq!(
        log.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        [
            OutcomeKind::Ok,
            OutcomeKind::Ok,
            OutcomeKind::Error,
            OutcomeKind::Ok
        ]
    );
    // The process's stderr and stdout are captured to files.
    let files = probe.function.output_files();
    assert_eq!(files.len(), 1);
    assert!(files[0].1.exists() && files[0].2.exists());
}

#[tokio::test]
async fn concurrency_is_capped_busy_instances_cold_start_and_idle_ones_are_reused() {
    let probe = probe("Capped", Duration::from_secs(10), 2, &[]);
    // Warm both instances first so the timing below measures invocations, not start-ups.
    let short = json!({"action": "sleep:300"});
    let warm = futures::future::join_all((0..2).map(|_| probe.function.invoke(&short))).await;
    assert!(
        warm.iter().all(|i| i.as_ref().unwrap().cold),
        "two busy: two cold starts"
    );
    let started = Instant::now();
    let long = json!({"action": "sleep:400"});
    let four = futures::future::join_all((0..4).map(|_| probe.function.invoke(&long))).await;
    let elapsed = started.elapsed();
    let four: Vec<_> = four.into_iter().map(Result::unwrap).collect();
    assert!(four.iter().all(|i| !i.cold && i.outcome == OutcomeKind::Ok));
    assert!(
        elapsed >= Duration::from_millis(800),
        "four 400 ms invocations on two instances took {elapsed:?}"
    );
    let mut instances: Vec<_> = probe
        .log
        .invocations()
        .iter()
        .map(|r| r.instance.number)
        .collect();
    instances.sort_unstable();
    instances.dedup();
    assert_eq!(
        instances,
        [1, 2],
        "never more than ReservedConcurrentExecutions instances"
    );
    assert_eq!(probe.function.live_instances().len(), 2);
}

#[tokio::test]
async fn the_timeout_kills_the_instance_and_the_next_invocation_starts_cold() {
    let probe = probe("Timeout", Duration::from_millis(700), 1, &[]);
    let warm = probe.function.invoke(&json!({})).await.unwrap();
    let started = Instant::now();
    let hung = probe
        .function
        .invoke(&json!({"action": "hang"}))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(hung.outcome, OutcomeKind::Timeout);
    assert_eq!(hung.json()["errorType"], "Sandbox.Timedout");
    assert!(
        elapsed >= Duration::from_millis(700) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(
        probe.function.live_instances().is_empty(),
        "the instance was killed"
    );
    let next = probe.function.invoke(&json!({})).await.unwrap();
    assert!(next.cold);
    assert_ne!(next.instance, warm.instance);
    assert_eq!(next.json()["count"], 1);
    // A test can shorten the timeout explicitly.
    probe.function.set_timeout(Duration::from_millis(200));
    let short = probe
        .function
        .invoke(&json!({"action": "sleep:1000"}))
        .await
        .unwrap();
    assert_eq!(short.outcome, OutcomeKind::Timeout);
}

#[tokio::test]
async fn a_killed_or_crashed_instance_fails_its_invocation_and_is_replaced() {
    let probe = probe("Faults", Duration::from_secs(10), 1, &[]);
    probe.function.invoke(&json!({})).await.unwrap();
    probe
        .function
        .kill_next_invocation_after(Duration::from_millis(150));
    let killed = probe
        .function
        .invoke(&json!({"action": "sleep:3000"}))
        .await
        .unwrap();
    assert_eq!(killed.outcome, OutcomeKind::Killed);
    let crashed = probe
        .function
        .invoke(&json!({"action": "crash"}))
        .await
        .unwrap();
    assert!(crashed.cold);
    assert_eq!(crashed.outcome, OutcomeKind::Exited);
    assert_eq!(crashed.json()["errorType"], "Runtime.ExitError");
    // Kill by instance id while it works.
    let function = probe.function.clone();
    let running =
        tokio::spawn(async move { function.invoke(&json!({"action": "sleep:3000"})).await });
    let (_, id) = probe
        .log
        .wait(Duration::from_secs(5), |_| {
            probe.function.running().first().cloned()
        })
        .await
        .unwrap();
    assert!(probe.function.kill_instance(&id));
    assert_eq!(running.await.unwrap().unwrap().outcome, OutcomeKind::Killed);
    let numbers: Vec<u32> = probe
        .log
        .invocations()
        .iter()
        .map(|r| r.instance.number)
        .collect();
    assert_eq!(numbers, [1, 1, 2, 3]);
}

#[tokio::test]
async fn init_errors_fail_the_invocation() {
    let exits = probe(
        "InitExit",
        Duration::from_secs(10),
        1,
        &[("PROBE_INIT", "exit")],
    );
    let failed = exits.function.invoke(&json!({})).await.unwrap();
    assert_eq!(failed.outcome, OutcomeKind::InitError);
    assert_eq!(failed.json()["errorType"], "Runtime.ExitError");
    let reports = probe(
        "InitReport",
        Duration::from_secs(10),
        1,
        &[("PROBE_INIT", "report")],
    );
    let failed = reports.function.invoke(&json!({})).await.unwrap();
    assert_eq!(failed.outcome, OutcomeKind::InitError);
    assert_eq!(failed.json()["errorType"], "Probe.InitFailed");
}
