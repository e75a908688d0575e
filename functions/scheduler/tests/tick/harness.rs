//! The scheduler under test: its stores (embedded or DynamoDB Local), a manual clock, and the
//! schedules and people the tests store.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationReference, ManualClock, ServiceUrl,
    TenantId, UserId, UserInfo,
};
use herald_schedule::ScheduleRule;
use herald_scheduler::{Scheduler, SchedulerConfig};
use herald_store::{
    DynamoOutboxStore, DynamoReferenceStore, DynamoScheduleStore, EmbeddedOutboxStore,
    EmbeddedReferenceStore, EmbeddedScheduleStore, NotificationId, OutboxStore, ReferenceStore,
    ScheduleId, ScheduleRecord, ScheduleStore, StoreConfig,
};
use serde_json::json;

use crate::schedule::stored_schedule;

pub const APP: &str = "00000000-0000-0000-0000-0000000000a1";

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub struct Harness {
    _dir: tempfile::TempDir,
    pub scheduler: Scheduler,
    pub clock: Arc<ManualClock>,
    pub schedules: Arc<dyn ScheduleStore>,
    pub outbox: Arc<dyn OutboxStore>,
    pub references: Arc<dyn ReferenceStore>,
}

impl Harness {
    pub fn embedded(start: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let schedules: Arc<dyn ScheduleStore> =
            Arc::new(EmbeddedScheduleStore::open(dir.path()).unwrap());
        let outbox: Arc<dyn OutboxStore> = Arc::new(EmbeddedOutboxStore::open(dir.path()).unwrap());
        let references: Arc<dyn ReferenceStore> = Arc::new(
            EmbeddedReferenceStore::open(dir.path(), BotAppId::new(APP).unwrap()).unwrap(),
        );
        Self::with(dir, start, schedules, outbox, references)
    }

    pub async fn dynamodb(start: &str) -> Self {
        let client = herald_testkit::dynamodb_client();
        let schedules =
            DynamoScheduleStore::new(client.clone(), herald_testkit::unique_name("schedules"));
        schedules.ensure_table().await.unwrap();
        let outbox = DynamoOutboxStore::new(client.clone(), herald_testkit::unique_name("outbox"));
        outbox.ensure_table().await.unwrap();
        let config = StoreConfig {
            references_table: herald_testkit::unique_name("references"),
            bot_app_id: BotAppId::new(APP).unwrap(),
        };
        let references = DynamoReferenceStore::new(client, &config);
        references.ensure_table().await.unwrap();
        Self::with(
            tempfile::tempdir().unwrap(),
            start,
            Arc::new(schedules),
            Arc::new(outbox),
            Arc::new(references),
        )
    }

    fn with(
        dir: tempfile::TempDir,
        start: &str,
        schedules: Arc<dyn ScheduleStore>,
        outbox: Arc<dyn OutboxStore>,
        references: Arc<dyn ReferenceStore>,
    ) -> Self {
        let clock = Arc::new(ManualClock::new(utc(start)));
        Self {
            _dir: dir,
            scheduler: scheduler(&schedules, &outbox, &references, &clock),
            clock,
            schedules,
            outbox,
            references,
        }
    }

    /// Ticks two schedulers at once at `at`, as overlapping invocations would; returns the
    /// notifications they created together.
    pub async fn overlapping_ticks(&self, at: &str) -> usize {
        self.clock.set(utc(at));
        let second = scheduler(&self.schedules, &self.outbox, &self.references, &self.clock);
        let (a, b) = tokio::join!(self.scheduler.tick(), second.tick());
        a.unwrap().notifications.len() + b.unwrap().notifications.len()
    }

    /// Stores a schedule whose first fire is computed from the clock, as the API does.
    pub async fn schedule(&self, recurrence: serde_json::Value, zone: &str) -> ScheduleId {
        let rule = ScheduleRule::from_json(&json!({"recurrence": recurrence})).unwrap();
        let record = stored_schedule(rule, zone, "Stand-up in 5 minutes", self.clock.now_utc());
        self.schedules.create_schedule(&record).await.unwrap();
        record.id
    }

    /// Ticks once a minute from now until `until` (inclusive); returns (tick time, notification).
    pub async fn run_until(&self, until: &str) -> Vec<(DateTime<Utc>, NotificationId)> {
        let until = utc(until);
        let mut fired = Vec::new();
        while self.clock.now_utc() <= until {
            let report = self.scheduler.tick().await.unwrap();
            for id in report.notifications {
                fired.push((self.clock.now_utc(), id));
            }
            self.clock.advance(Duration::minutes(1));
        }
        fired
    }

    pub async fn get(&self, id: &ScheduleId) -> ScheduleRecord {
        self.schedules.get_schedule(id).await.unwrap().unwrap()
    }
}

pub trait Now {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl Now for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        herald_domain::Clock::now(self)
    }
}

/// A scheduler over these stores with the default settings and no installation sweep.
fn scheduler(
    schedules: &Arc<dyn ScheduleStore>,
    outbox: &Arc<dyn OutboxStore>,
    references: &Arc<dyn ReferenceStore>,
    clock: &Arc<ManualClock>,
) -> Scheduler {
    Scheduler {
        schedules: schedules.clone(),
        outbox: outbox.clone(),
        references: references.clone(),
        clock: clock.clone(),
        retention: chrono::Duration::days(30),
        config: SchedulerConfig::default(),
        install_sweep: None,
        stranded_sweep: None,
        follow_up_sweep: None,
    }
}

/// A person with a personal conversation, in `zone` (or with no zone Herald knows).
pub fn person(n: u32, zone: Option<&str>) -> ConversationReference {
    let at = utc("2026-01-01T00:00:00Z");
    ConversationReference {
        time_zone: zone.map(|z| z.parse().unwrap()),
        ..ConversationReference::personal(
            TenantId::new("t").unwrap(),
            ConversationId::new(format!("a:{n}")).unwrap(),
            ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap(),
            &BotAppId::new(APP).unwrap(),
            UserInfo {
                id: UserId::new(format!("29:{n}")).unwrap(),
                aad_object_id: Some(AadObjectId::new(format!("aad-{n}")).unwrap()),
                name: None,
            },
            at,
        )
    }
}
