//! The throttle layer: a property test on virtual time proving no Teams window and no tenant
//! rate is ever exceeded (and 429 pauses are kept) over long random sequences, plus the same
//! pacing against the emulator's own enforcement over real HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use herald_connector::{
    Activity, ActivityId, Call, Connector, ConnectorError, ConnectorExt, Deadline, Executed,
    HttpConnector, Limits, Operation, RateClass, ResourceResponse, Response, ServiceError,
    TeamDetails, Window,
};
use herald_domain::{Clock as _, ConversationId, ManualClock, ServiceUrl, TeamId, TenantId};
use herald_teams_emulator::{EmulatorConfig, EmulatorLimits, Fault, RetryAfter, TeamsEmulator};
use proptest::prelude::*;
use tokio::time::Instant;

#[path = "support/mod.rs"]
mod support;

use support::config_from;

/// One call the inner connector saw, at the virtual instant it started.
#[derive(Debug, Clone)]
struct Seen {
    tenant: String,
    class: RateClass,
    key: String,
    at: Instant,
    /// The 429 it answered, if scripted to.
    throttled: Option<Scripted429>,
}

/// A scripted 429 and its Retry-After (`None` = header absent).
#[derive(Debug, Clone, Copy)]
struct Scripted429(Option<Duration>);

/// The layer below the throttle: records when each call reaches it and answers 429 when told.
struct Recorder {
    clock: Arc<ManualClock>,
    seen: Mutex<Vec<Seen>>,
    /// Call index -> the Retry-After of a scripted 429 (`None` inside = header absent).
    script: HashMap<usize, Scripted429>,
}

#[async_trait]
impl Connector for Recorder {
    async fn execute(&self, call: Call<'_>, operation: Operation<'_>) -> Executed {
        let mut seen = self.seen.lock().unwrap();
        let throttled = self.script.get(&seen.len()).copied();
        seen.push(Seen {
            tenant: call.tenant_id.to_string(),
            class: operation.rate_class(),
            key: operation.rate_key(),
            at: Instant::from_std(self.clock.instant()),
            throttled,
        });
        if let Some(Scripted429(retry_after)) = throttled {
            return Err(ConnectorError::Throttled {
                retry_after,
                detail: ServiceError::default(),
            });
        }
        Ok(match operation {
            Operation::GetTeamDetails(team) => Response::Team(TeamDetails {
                id: team.clone(),
                name: None,
                aad_group_id: None,
            }),
            _ => Response::Resource(ResourceResponse {
                id: ActivityId::new("1").unwrap(),
            }),
        })
    }
}

/// A request of the random sequence.
#[derive(Debug, Clone)]
struct Step {
    gap_ms: u64,
    tenant: usize,
    conversation: usize,
    read: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![3 => Just(0_u64), 5 => 0_u64..50, 2 => 0_u64..2_000],
        0_usize..2,
        0_usize..5,
        prop::bool::weighted(0.25),
    )
        .prop_map(|(gap_ms, tenant, conversation, read)| Step {
            gap_ms,
            tenant,
            conversation,
            read,
        })
}

/// Teams' limits, or a small set whose long window binds within a short random sequence.
fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::teams()),
        Just(Limits {
            write: vec![
                Window::new(3, Duration::from_millis(100)),
                Window::new(4, Duration::from_millis(300)),
                Window::new(12, Duration::from_secs(5)),
                Window::new(30, Duration::from_secs(60)),
            ],
            read: vec![
                Window::new(5, Duration::from_millis(200)),
                Window::new(9, Duration::from_secs(3))
            ],
            tenant_rate: Some(20),
            default_pause: Duration::from_millis(700),
            safety_margin: Duration::ZERO,
        }),
    ]
}

/// For every grant, how many grants of the same bucket fall in the window ending at it.
fn assert_windows(times: &[Instant], windows: &[Window], what: &str) {
    for window in windows {
        let mut start = 0;
        for (i, at) in times.iter().enumerate() {
            while at.duration_since(times[start]) >= window.period {
                start += 1;
            }
            let count = i - start + 1;
            assert!(
                count <= window.limit as usize,
                "{what}: {count} requests within {:?} (limit {})",
                window.period,
                window.limit
            );
        }
    }
}

fn run(limits: &Limits, steps: &[Step], throttle_every: usize) -> Vec<Seen> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let script = (0..steps.len())
            .filter(|i| throttle_every > 0 && i % throttle_every == throttle_every - 1)
            .map(|i| {
                let retry_after = (i % 3 != 0).then(|| Duration::from_millis(300 * (i as u64 % 7)));
                (i, Scripted429(retry_after))
            })
            .collect();
        let recorder = Recorder {
            clock: clock.clone(),
            seen: Mutex::new(Vec::new()),
            script,
        };
        let throttle = recorder.throttle_with_clock(limits.clone(), clock.clone());
        let service_url = ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap();
        let tenants = [
            TenantId::new("tenant-a").unwrap(),
            TenantId::new("tenant-b").unwrap(),
        ];
        let conversations: Vec<_> = (0..5)
            .map(|i| ConversationId::new(format!("a:{i}")).unwrap())
            .collect();
        let teams: Vec<_> = (0..5)
            .map(|i| TeamId::new(format!("19:team{i}")).unwrap())
            .collect();
        let activity = Activity::message().text("x");
        for step in steps {
            clock.advance(chrono::Duration::milliseconds(step.gap_ms.cast_signed()));
            let call = Call::new(&service_url, &tenants[step.tenant]);
            let result = if step.read {
                throttle
                    .get_team_details(call, &teams[step.conversation])
                    .await
                    .map(|_| ())
            } else {
                throttle
                    .send_to_conversation(call, &conversations[step.conversation], &activity)
                    .await
                    .map(|_| ())
            };
            assert!(result.is_ok() || matches!(result, Err(ConnectorError::Throttled { .. })));
        }
        assert!(throttle.tracked().0 <= 20);
        throttle.inner().seen.lock().unwrap().clone()
    })
}

fn check(limits: &Limits, seen: &[Seen]) {
    let mut buckets: HashMap<(String, RateClass, String), Vec<Instant>> = HashMap::new();
    let mut tenants: HashMap<String, Vec<Instant>> = HashMap::new();
    for s in seen {
        buckets
            .entry((s.tenant.clone(), s.class, s.key.clone()))
            .or_default()
            .push(s.at);
        tenants.entry(s.tenant.clone()).or_default().push(s.at);
    }
    for ((tenant, class, key), times) in &buckets {
        let windows = match class {
            RateClass::Write => &limits.write,
            RateClass::Read => &limits.read,
        };
        assert_windows(times, windows, &format!("{tenant}/{key} {class:?}"));
    }
    let rate = limits.tenant_rate.unwrap();
    for (tenant, times) in &tenants {
        assert_windows(times, &[Window::new(rate, Duration::from_secs(1))], tenant);
        // Even pacing, not bursts: consecutive requests at least 1/rate apart.
        for pair in times.windows(2) {
            assert!(
                pair[1].duration_since(pair[0]) >= Duration::from_secs(1) / rate,
                "{tenant} burst"
            );
        }
    }
    // After a 429 nothing of that tenant starts before its Retry-After (or the default pause).
    for (i, s) in seen.iter().enumerate() {
        if let Some(Scripted429(retry_after)) = s.throttled {
            let resume = s.at + retry_after.unwrap_or(limits.default_pause);
            for later in &seen[i + 1..] {
                if later.tenant == s.tenant {
                    assert!(
                        later.at >= resume,
                        "{} resumed {:?} early",
                        s.tenant,
                        resume - later.at
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_window_is_ever_exceeded(
        limits in limits(),
        steps in prop::collection::vec(step(), 1..2_500),
        throttle_every in prop_oneof![Just(0_usize), 40_usize..200],
    ) {
        let seen = run(&limits, &steps, throttle_every);
        prop_assert_eq!(seen.len(), steps.len());
        check(&limits, &seen);
    }
}

#[test]
fn an_idle_stream_is_not_delayed() {
    // Liveness: requests that fit every window start the moment they are made.
    let limits = Limits::teams();
    let steps: Vec<Step> = (0..300)
        .map(|i| Step {
            gap_ms: 200,
            tenant: 0,
            conversation: i % 5,
            read: false,
        })
        .collect();
    let seen = run(&limits, &steps, 0);
    for pair in seen.windows(2) {
        assert_eq!(
            pair[1].at.duration_since(pair[0].at),
            Duration::from_millis(200)
        );
    }
}

#[test]
fn the_deadline_stops_a_permit_wait() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let recorder = Recorder {
            clock: clock.clone(),
            seen: Mutex::new(Vec::new()),
            script: HashMap::new(),
        };
        let throttle = recorder.throttle_with_clock(Limits::teams(), clock.clone());
        for _ in 0..7 {
            throttle
                .acquire("t", RateClass::Write, "c", Deadline::NONE)
                .await
                .unwrap();
        }
        let deadline =
            Deadline::at(Instant::from_std(clock.instant()) + Duration::from_millis(500));
        let error = throttle
            .acquire("t", RateClass::Write, "c", deadline)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ConnectorError::DeadlineExceeded { .. }),
            "{error:?}"
        );
    });
}

const TENANT: &str = "72f988bf-0000-0000-0000-000000000002";

async fn emulator(limits: EmulatorLimits) -> (TeamsEmulator, HttpConnector, ServiceUrl) {
    let emulator = TeamsEmulator::start(EmulatorConfig::default().limits(limits))
        .await
        .unwrap();
    let config = config_from(&emulator.connector_env());
    let service_url = ServiceUrl::parse(&emulator.service_url()).unwrap();
    (emulator, HttpConnector::new(&config).unwrap(), service_url)
}

#[tokio::test]
async fn the_emulator_enforces_limits_and_the_throttle_stays_under_them() {
    let (emulator, http, service_url) = emulator(EmulatorLimits::teams()).await;
    let tenant = TenantId::new(TENANT).unwrap();
    let user = emulator.add_user(TENANT, "Paced");
    let conversation = ConversationId::new(emulator.add_personal_chat(TENANT, &user.id)).unwrap();
    let call = Call::new(&service_url, &tenant);
    let activity = Activity::message().text("x");

    // Unpaced, the eighth send inside a second is answered 429 by the emulator.
    let unpaced = futures::future::join_all(
        (0..10).map(|_| http.send_to_conversation(call, &conversation, &activity)),
    )
    .await;
    let throttled = unpaced
        .iter()
        .filter(|r| {
            matches!(
                r,
                Err(ConnectorError::Throttled {
                    retry_after: Some(_),
                    ..
                })
            )
        })
        .count();
    assert_eq!(throttled, 3);

    // Paced by the throttle on a fresh conversation: every send lands, none answered 429.
    emulator.clear_log();
    let other = emulator.add_user(TENANT, "Paced Too");
    let conversation = ConversationId::new(emulator.add_personal_chat(TENANT, &other.id)).unwrap();
    let throttle = http.throttle(Limits::teams());
    let started = Instant::now();
    let paced = futures::future::join_all(
        (0..10).map(|_| throttle.send_to_conversation(call, &conversation, &activity)),
    )
    .await;
    assert!(paced.iter().all(Result::is_ok), "{paced:?}");
    assert_eq!(emulator.count_status(429), 0);
    // 7 per second, 8 per two seconds: the ninth and tenth wait for the two-second window.
    assert!(
        started.elapsed() >= Duration::from_millis(1_950),
        "{:?}",
        started.elapsed()
    );
    let log = emulator.requests_for(conversation.as_str());
    assert!(log[7].at.duration_since(log[0].at) >= Duration::from_millis(950));
}

#[tokio::test]
async fn a_429_pauses_the_whole_tenant() {
    let (emulator, http, service_url) = emulator(EmulatorLimits::off()).await;
    let tenant = TenantId::new(TENANT).unwrap();
    let other_tenant = TenantId::new("another-tenant").unwrap();
    let chats: Vec<_> = (0..2)
        .map(|i| {
            let user = emulator.add_user(TENANT, &format!("U{i}"));
            ConversationId::new(emulator.add_personal_chat(TENANT, &user.id)).unwrap()
        })
        .collect();
    let elsewhere = emulator.add_user("another-tenant", "Elsewhere");
    let elsewhere =
        ConversationId::new(emulator.add_personal_chat("another-tenant", &elsewhere.id)).unwrap();
    emulator.inject_times(
        chats[0].as_str(),
        Fault::Throttled(RetryAfter::Seconds(2)),
        1,
    );

    let throttle = http.throttle(Limits::teams());
    let activity = Activity::message().text("x");
    let call = Call::new(&service_url, &tenant);
    let error = throttle
        .send_to_conversation(call, &chats[0], &activity)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::Throttled { .. }));

    // Another tenant is not held back.
    let started = Instant::now();
    throttle
        .send_to_conversation(
            Call::new(&service_url, &other_tenant),
            &elsewhere,
            &activity,
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // A different conversation of the paused tenant waits out the Retry-After.
    throttle
        .send_to_conversation(call, &chats[1], &activity)
        .await
        .unwrap();
    let first = &emulator.requests_for(chats[0].as_str())[0];
    let second = &emulator.requests_for(chats[1].as_str())[0];
    assert!(second.at.duration_since(first.at) >= Duration::from_millis(1_950));
    // And a caller whose deadline ends inside the pause is told at once.
    emulator.inject_times(
        chats[1].as_str(),
        Fault::Throttled(RetryAfter::Seconds(5)),
        1,
    );
    let _ = throttle
        .send_to_conversation(call, &chats[1], &activity)
        .await;
    let started = Instant::now();
    let error = throttle
        .send_to_conversation(
            call.deadline(Deadline::after(Duration::from_secs(1))),
            &chats[0],
            &activity,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::DeadlineExceeded { .. }),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(500));
}
