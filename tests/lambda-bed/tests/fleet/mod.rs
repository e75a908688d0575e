// Shared by a benchmark and a test, each of which reads part of the report.
#![allow(dead_code)]

//! A fleet of sender instances on the deployed shape, shared by the scale-out benchmark and its
//! short CI version: the bed runs the notify API and the sender as `template.yaml` deploys them
//! (the sender's reserved concurrency set to the fleet's size, its tenant rate scaled down), on
//! DynamoDB Local with the shared pacing table; Teams is the emulator enforcing the tenant rate as
//! a strict sliding window counted at arrival, answering 0-200 ms late. References are seeded
//! in the references table; each tenant's people are split over several notifications; the
//! figures are read from what the emulator accepted.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt as _;
use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationReference, ServiceUrl, TenantId, UserId,
    UserInfo,
};
use herald_lambda_bed::scenario::bed_config_for;
use herald_lambda_bed::{FunctionOverride, HeraldTables, LambdaBed, create_herald_tables};
use herald_store::{DynamoReferenceStore, ReferenceWriter as _, StoreConfig};
use herald_teams_emulator::{EmulatorConfig, EmulatorLimits, Latency, TeamsEmulator};
use serde_json::json;

const API_KEY: &str = "fleet-api-key";

/// What to run.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub tenants: usize,
    /// People (personal chats) per tenant: one send each.
    pub per_tenant: usize,
    /// Notifications each tenant's people are split over.
    pub notifications_per_tenant: usize,
    /// The tenant rate, Herald's and the emulator's.
    pub rate: u32,
    /// Sender instances (its reserved concurrency).
    pub instances: u32,
    pub latency: Latency,
}

/// What one tenant received.
#[derive(Debug, Clone)]
pub struct TenantFigures {
    pub accepted: usize,
    /// Accepted requests per second from the first to the last, as a share of the rate.
    pub share: f64,
    /// The most accepted requests in any one second.
    pub busiest: usize,
}

/// What the fleet did.
#[derive(Debug, Clone)]
pub struct FleetReport {
    pub tenants: Vec<TenantFigures>,
    /// Every tenant's accepted requests per second together, as a share of tenants x rate.
    pub aggregate_share: f64,
    /// Connector requests the emulator counted (accepted and refused) and answered 429.
    pub requests: u64,
    pub throttled: u64,
    pub duplicates: usize,
    /// Sends expected but never accepted.
    pub missing: usize,
    pub elapsed: Duration,
    /// Sender instances started (cold starts).
    pub instances_used: usize,
    /// The longest pauses between two accepted requests of one tenant.
    pub longest_gaps: Vec<Duration>,
    /// Writes to the pacing table: tenant blocks (UpdateItem) and conversation windows (PutItem).
    pub pacing_updates: u64,
    pub pacing_puts: u64,
}

impl FleetReport {
    pub fn throttled_share(&self) -> f64 {
        self.throttled as f64 / (self.requests.max(1)) as f64
    }

    pub fn worst_share(&self) -> f64 {
        self.tenants
            .iter()
            .map(|t| t.share)
            .fold(f64::MAX, f64::min)
    }

    pub fn print(&self, title: &str, fleet: &Fleet) {
        println!("{title}");
        println!(
            "  {} tenant(s) x {} sends at {}/s, {} sender instances ({} started), latency {:?}-{:?}",
            fleet.tenants,
            fleet.per_tenant,
            fleet.rate,
            fleet.instances,
            self.instances_used,
            fleet.latency.min(),
            fleet.latency.max()
        );
        println!(
            "  aggregate {:.1}% of {} x {}/s; worst tenant {:.1}%; busiest second {} (rate {})",
            self.aggregate_share * 100.0,
            fleet.tenants,
            fleet.rate,
            self.worst_share() * 100.0,
            self.tenants.iter().map(|t| t.busiest).max().unwrap_or(0),
            fleet.rate
        );
        println!("  longest pauses between sends: {:?}", self.longest_gaps);
        let sent = self
            .tenants
            .iter()
            .map(|t| t.accepted)
            .sum::<usize>()
            .max(1) as f64;
        println!(
            "  pacing table writes per 1,000 sends: {:.0} tenant blocks + {:.0} conversation windows",
            self.pacing_updates as f64 * 1000.0 / sent,
            self.pacing_puts as f64 * 1000.0 / sent
        );
        println!(
            "  429: {} of {} requests ({:.3}%); duplicates {}; missing {}; {:.1} s",
            self.throttled,
            self.requests,
            self.throttled_share() * 100.0,
            self.duplicates,
            self.missing,
            self.elapsed.as_secs_f64()
        );
    }
}

fn tenant_id(i: usize) -> String {
    format!("72f988bf-0000-4000-8000-{i:012}")
}

/// Accepted per second over the span of `arrivals` (sorted), as a share of `rate`.
fn share(arrivals: &[tokio::time::Instant], rate: f64) -> f64 {
    match (arrivals.first(), arrivals.last()) {
        (Some(first), Some(last)) if arrivals.len() > 1 => {
            let span = last.duration_since(*first).as_secs_f64();
            (arrivals.len() - 1) as f64 / span / rate
        }
        _ => 0.0,
    }
}

impl Fleet {
    pub async fn run(&self) -> FleetReport {
        let limits = EmulatorLimits::teams()
            .tenant_rate(Some(self.rate))
            .strict();
        let emulator = TeamsEmulator::start(
            EmulatorConfig::default()
                .limits(limits)
                .latency(self.latency),
        )
        .await
        .expect("start the emulator");
        let config = emulator.config().clone();
        let app = BotAppId::new(&config.app_id).expect("the emulator's app id");
        let tables = HeraldTables::unique("fleet");
        create_herald_tables(&herald_testkit::dynamodb_endpoint(), &tables, &app)
            .await
            .expect("create tables on DynamoDB Local (is .ci/with-services running it?)");
        let chats = self.seed(&emulator, &tables, &app).await;
        let bed = self.start_bed(&emulator, &tables).await;

        let total: usize = chats.iter().map(Vec::len).sum();
        let started = Instant::now();
        let http = reqwest::Client::new();
        for (t, tenant_chats) in chats.iter().enumerate() {
            let group = tenant_chats
                .len()
                .div_ceil(self.notifications_per_tenant)
                .max(1);
            for (k, ids) in tenant_chats.chunks(group).enumerate() {
                let answer = http
                    .post(format!("{}/api/notify", bed.http_url()))
                    .bearer_auth(API_KEY)
                    .json(&json!({"target": {"kind": "conversations", "ids": ids},
                                  "message": {"text": format!("fleet {t}/{k}")}}))
                    .send()
                    .await
                    .expect("notify");
                assert!(answer.status().is_success(), "{}", answer.status());
            }
        }
        let budget =
            Duration::from_secs_f64(self.per_tenant as f64 / f64::from(self.rate) * 3.0 + 120.0);
        while (emulator.counters().accepted as usize) < total && started.elapsed() < budget {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let elapsed = started.elapsed();
        let rate = f64::from(self.rate);
        let mut all = Vec::new();
        let mut gaps = Vec::new();
        let tenants = (0..self.tenants)
            .map(|t| {
                let mut arrivals = emulator.accepted_arrivals(&tenant_id(t));
                arrivals.sort();
                gaps.extend(arrivals.windows(2).map(|p| p[1].duration_since(p[0])));
                all.extend(arrivals.iter().copied());
                TenantFigures {
                    accepted: arrivals.len(),
                    share: share(&arrivals, rate),
                    busiest: emulator.busiest_tenant_window(&tenant_id(t), Duration::from_secs(1)),
                }
            })
            .collect::<Vec<_>>();
        all.sort();
        gaps.sort_unstable_by(|a, b| b.cmp(a));
        gaps.truncate(5);
        if let Some(dir) = std::env::var_os("FLEET_LOGS") {
            self.write_timeline(std::path::Path::new(&dir), &emulator, &bed, started);
        }
        let counters = emulator.counters();
        let proxy = bed.dynamodb().counters();
        let pacing = |operation: &str| {
            proxy
                .tables
                .get(&(tables.pacing.clone(), operation.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        FleetReport {
            pacing_updates: pacing("UpdateItem"),
            pacing_puts: pacing("PutItem"),
            aggregate_share: share(&all, rate * self.tenants as f64),
            missing: total.saturating_sub(tenants.iter().map(|t| t.accepted).sum()),
            tenants,
            requests: counters.accepted + counters.rate_limited,
            throttled: counters.throttled,
            duplicates: emulator.duplicates().len(),
            longest_gaps: gaps,
            elapsed,
            instances_used: bed
                .log()
                .invocations_of("SenderFunction")
                .iter()
                .filter(|i| i.cold)
                .count(),
        }
    }

    /// For a look at where time went: each sender invocation (start, end, instance, records of
    /// its batch) and each tenant's accepted arrivals, in seconds since the load was posted.
    fn write_timeline(
        &self,
        dir: &std::path::Path,
        emulator: &TeamsEmulator,
        bed: &LambdaBed,
        started: Instant,
    ) {
        use std::fmt::Write as _;
        let wall = std::time::SystemTime::now() - started.elapsed();
        let since =
            |t: std::time::SystemTime| t.duration_since(wall).map_or(0.0, |d| d.as_secs_f64());
        let mut out = String::new();
        for i in bed.log().invocations_of("SenderFunction") {
            let _ = writeln!(
                out,
                "invocation {} {:.3} {:.3}",
                i.instance.number,
                since(i.start),
                since(i.end)
            );
        }
        for b in bed.log().batches() {
            let _ = writeln!(
                out,
                "batch {} {:.3} {}",
                b.shard,
                b.start.saturating_duration_since(started).as_secs_f64(),
                b.size
            );
        }
        let origin = tokio::time::Instant::from_std(started);
        for t in 0..self.tenants {
            let mut arrivals = emulator.accepted_arrivals(&tenant_id(t));
            arrivals.sort();
            let times: Vec<String> = arrivals
                .iter()
                .map(|a| format!("{:.3}", a.saturating_duration_since(origin).as_secs_f64()))
                .collect();
            let _ = writeln!(out, "tenant {t} {}", times.join(" "));
        }
        if let Err(e) = std::fs::write(dir.join("timeline.txt"), out) {
            eprintln!("cannot write the timeline: {e}");
        }
    }

    /// Each tenant's people, with a personal chat in the emulator and a reference in the table.
    async fn seed(
        &self,
        emulator: &TeamsEmulator,
        tables: &HeraldTables,
        app: &BotAppId,
    ) -> Vec<Vec<String>> {
        let references = DynamoReferenceStore::new(
            herald_testkit::dynamodb_client(),
            &StoreConfig {
                references_table: tables.references.clone(),
                bot_app_id: app.clone(),
            },
        );
        let service_url = ServiceUrl::parse(&emulator.service_url()).expect("a service URL");
        let mut people = Vec::new();
        let mut chats = Vec::new();
        for t in 0..self.tenants {
            let tenant = tenant_id(t);
            let mut tenant_chats = Vec::new();
            for i in 0..self.per_tenant {
                let user = emulator.add_user(&tenant, &format!("Person {t}-{i}"));
                let chat = emulator.add_personal_chat(&tenant, &user.id);
                people.push(ConversationReference::personal(
                    TenantId::new(&tenant).expect("tenant"),
                    ConversationId::new(&chat).expect("chat"),
                    service_url.clone(),
                    app,
                    UserInfo {
                        id: UserId::new(&user.id).expect("user"),
                        aad_object_id: AadObjectId::new(&user.aad_object_id).ok(),
                        name: None,
                    },
                    Utc::now(),
                ));
                tenant_chats.push(chat);
            }
            chats.push(tenant_chats);
        }
        futures::stream::iter(people)
            .map(|reference| {
                let references = &references;
                async move {
                    references
                        .upsert(&reference)
                        .await
                        .expect("seed a reference")
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await;
        chats
    }

    async fn start_bed(&self, emulator: &TeamsEmulator, tables: &HeraldTables) -> LambdaBed {
        let mut bed_config = bed_config_for(emulator, tables, API_KEY);
        // The instances' output stays here for a look afterwards when asked for.
        bed_config.work_dir = std::env::var_os("FLEET_LOGS").map(Into::into);
        bed_config.only = Some(vec![
            "SenderFunction".to_owned(),
            "NotifyFunction".to_owned(),
        ]);
        bed_config
            .secrets
            .insert("HERALD_TENANT_RATE".to_owned(), self.rate.to_string());
        bed_config.overrides.insert(
            "SenderFunction".to_owned(),
            FunctionOverride {
                concurrency: Some(self.instances),
                ..FunctionOverride::default()
            },
        );
        LambdaBed::start(bed_config).await.expect("start the bed")
    }
}
