//! The scheduler: every minute, fire what is due, at the recipient's wall-clock time.
//!
//! A tick reads only the schedules whose next fire has come (a sparse index keyed by that
//! instant). Each fire becomes a notification whose id is derived from (schedule, instant, zone),
//! so overlapping or retried ticks create it once; the next fire then advances with a write
//! conditional on the schedule's version. Fires missed while Herald was down are caught up when at
//! most `max_lateness` late and recorded as missed otherwise.

mod bootstrap;
mod config;
mod event;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_domain::{Clock, NO_ZONE, TimeZone};
use herald_pipeline::{InstallSweep, SweepReport};
use herald_schedule::{
    ScheduleRule, ScheduleZone, due_zones, minute_start, next_fire, next_fire_in_zones,
};
use herald_store::{
    ListFilter, NotificationId, NotificationRecord, OutboxStore, PageRequest, ReferenceStore,
    ScheduleRecord, ScheduleStore, StoreError,
};

pub use bootstrap::BuildError;
pub use config::{ConfigError, SchedulerConfig};

/// Schedules read per tick at most; the rest wait for the next minute.
const DUE_BATCH: u32 = 500;
/// Fires computed per schedule per tick at most (a once-a-minute schedule down for a week).
const MAX_CATCH_UP: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Schedules found due.
    pub due: usize,
    /// Notifications created (a repeated tick finds them created already and counts none).
    pub notifications: Vec<NotificationId>,
    /// Fires too late to send.
    pub missed: u64,
    /// Schedules another tick advanced first.
    pub conflicts: usize,
    /// Installation waits ended by their timeout.
    pub installs: SweepReport,
}

/// The scheduler's dependencies.
pub struct Scheduler {
    pub schedules: Arc<dyn ScheduleStore>,
    pub outbox: Arc<dyn OutboxStore>,
    /// To find which zones have recipients, for recipient-local schedules.
    pub references: Arc<dyn ReferenceStore>,
    pub clock: Arc<dyn Clock>,
    /// How long the notifications it creates are kept (DynamoDB TTL).
    pub retention: chrono::Duration,
    pub config: SchedulerConfig,
    /// Ends the waits for installations through Graph whose time ran out.
    pub install_sweep: Option<InstallSweep>,
}

/// Every zone a recipient may have: recipient-local schedules fire in each of them.
fn all_zones() -> impl Iterator<Item = TimeZone> + Clone {
    chrono_tz::TZ_VARIANTS.iter().copied().map(TimeZone::from)
}

/// The schedule's zone setting, read from storage.
#[must_use]
pub fn schedule_zone(record: &ScheduleRecord) -> Option<ScheduleZone> {
    record.time_zone.parse().ok()
}

/// The first fire of a schedule strictly after `after`.
#[must_use]
pub fn first_fire(
    rule: &ScheduleRule,
    zone: ScheduleZone,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match zone {
        ScheduleZone::Fixed(zone) => next_fire(rule, zone, after),
        ScheduleZone::Recipient => next_fire_in_zones(rule, all_zones(), after).map(|(at, _)| at),
    }
}

impl Scheduler {
    /// Fires everything due now.
    pub async fn tick(&self) -> Result<TickReport, SchedulerError> {
        let now = self.clock.now();
        let due = self.schedules.due_schedules(now, DUE_BATCH).await?;
        let mut report = TickReport {
            due: due.len(),
            ..TickReport::default()
        };
        for schedule in due {
            self.fire(schedule, now, &mut report).await?;
        }
        if let Some(sweep) = &self.install_sweep {
            report.installs = sweep.sweep().await?;
        }
        if report.due > 0 {
            tracing::info!(
                due = report.due,
                notifications = report.notifications.len(),
                missed = report.missed,
                "scheduler tick"
            );
        }
        Ok(report)
    }

    async fn fire(
        &self,
        mut schedule: ScheduleRecord,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), SchedulerError> {
        let Some(zone) = schedule_zone(&schedule) else {
            tracing::error!(schedule = %schedule.id, zone = %schedule.time_zone, "unreadable time zone; pausing");
            schedule.paused = true;
            return self.advance(schedule, now, report).await;
        };
        let mut next = schedule.next_fire;
        let mut fires = Vec::new();
        let mut missed = 0;
        while let Some(at) = next.filter(|at| *at <= now) {
            if fires.len() + missed >= MAX_CATCH_UP {
                break;
            }
            if now - at > self.config.max_lateness {
                missed += 1;
            } else {
                fires.push(at);
            }
            next = first_fire(&schedule.rule, zone, at);
        }
        for at in &fires {
            self.create_notifications(&schedule, zone, *at, now, report)
                .await?;
        }
        schedule.next_fire = next;
        schedule.last_fire = fires.last().copied().or(schedule.last_fire);
        schedule.fired += fires.len() as u64;
        schedule.missed += missed as u64;
        report.missed += missed as u64;
        if missed > 0 {
            tracing::warn!(schedule = %schedule.id, missed, "fires too late to send were skipped");
        }
        self.advance(schedule, now, report).await
    }

    async fn advance(
        &self,
        mut schedule: ScheduleRecord,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), SchedulerError> {
        schedule.version += 1;
        schedule.updated_at = now;
        if !self.schedules.update_schedule(&schedule).await? {
            report.conflicts += 1;
            tracing::info!(schedule = %schedule.id, "another tick advanced this schedule");
        }
        Ok(())
    }

    /// One notification for a fixed zone; for recipient-local schedules one per zone reaching
    /// the wall-clock time at `at` that has recipients (and, in the default zone, one for the
    /// recipients with no known zone).
    async fn create_notifications(
        &self,
        schedule: &ScheduleRecord,
        zone: ScheduleZone,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let zone_keys: Vec<String> = match zone {
            ScheduleZone::Fixed(zone) => vec![zone.name().to_owned()],
            ScheduleZone::Recipient => {
                let mut keys = Vec::new();
                for fire in due_zones(&schedule.rule, all_zones(), minute_start(at)) {
                    let name = fire.zone().name();
                    keys.push(name.to_owned());
                    if name == self.config.default_zone.name() {
                        keys.push(NO_ZONE.to_owned());
                    }
                }
                keys
            }
        };
        for key in zone_keys {
            let filter = match zone {
                ScheduleZone::Fixed(_) => None,
                ScheduleZone::Recipient => {
                    if !self.zone_has_recipients(&key).await? {
                        continue;
                    }
                    Some(key.clone())
                }
            };
            let id = NotificationId::for_idempotency_key(&format!(
                "schedule:{}:{}:{key}",
                schedule.id,
                at.to_rfc3339()
            ));
            let mut record = NotificationRecord::new(
                id.clone(),
                schedule.target.clone(),
                schedule.activity.clone(),
                format!("schedule:{}", schedule.id),
                now,
                self.retention,
            );
            record.zone_filter = filter;
            if self.outbox.create_notification(&record).await?.is_none() {
                report.notifications.push(id);
            }
        }
        Ok(())
    }

    async fn zone_has_recipients(&self, zone_key: &str) -> Result<bool, StoreError> {
        let filter = ListFilter {
            zone: Some(zone_key.to_owned()),
            ..ListFilter::default()
        };
        let mut request = PageRequest {
            cursor: None,
            limit: Some(1),
        };
        // A page can come back empty with a cursor (skipped items): follow it a few times.
        for _ in 0..5 {
            let page = self.references.list(&filter, &request).await?;
            if !page.items.is_empty() {
                return Ok(true);
            }
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => return Ok(false),
            }
        }
        Ok(true)
    }
}
