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
use herald_domain::Clock;
use herald_pipeline::{FollowUpSweep, InstallSweep, StrandedReport, StrandedSweep, SweepReport};
use herald_schedule::{ScheduleZone, catch_up, fire_zone_keys, schedule_zone};
use herald_store::{
    ListFilter, NotificationId, NotificationRecord, OutboxStore, PageRequest, ReferenceStore,
    ScheduleRecord, ScheduleStore, StoreError,
};

pub use config::{ConfigError, SchedulerConfig};

/// Schedules read per tick at most; the rest wait for the next minute.
const DUE_BATCH: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] herald_pipeline::PipelineError),
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
    /// Stranded outbox work woken.
    pub stranded: StrandedReport,
    /// Follow-up notifications created for those who had not read a notification.
    pub follow_ups: Vec<NotificationId>,
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
    /// Wakes outbox work whose trigger is lost (a dead sender's lease, an ended backoff).
    pub stranded_sweep: Option<StrandedSweep>,
    /// Sends notifications' follow-ups to those who have not read them when they come due.
    pub follow_up_sweep: Option<FollowUpSweep>,
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
        if let Some(sweep) = &self.stranded_sweep {
            report.stranded = sweep.sweep().await?;
        }
        if let Some(sweep) = &self.follow_up_sweep {
            report.follow_ups = sweep.sweep().await?;
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
        let Some(zone) = schedule_zone(&schedule.time_zone) else {
            tracing::error!(schedule = %schedule.id, zone = %schedule.time_zone, "unreadable time zone; pausing");
            schedule.paused = true;
            return self.advance(schedule, now, report).await;
        };
        let owed = catch_up(
            &schedule.rule,
            zone,
            schedule.next_fire,
            now,
            self.config.max_lateness,
        );
        for at in &owed.fires {
            self.create_notifications(&schedule, zone, *at, now, report)
                .await?;
        }
        schedule.next_fire = owed.next;
        schedule.last_fire = owed.fires.last().copied().or(schedule.last_fire);
        schedule.fired += owed.fires.len() as u64;
        schedule.missed += owed.missed as u64;
        report.missed += owed.missed as u64;
        if owed.missed > 0 {
            tracing::warn!(schedule = %schedule.id, missed = owed.missed, "fires too late to send were skipped");
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
        let zone_keys = fire_zone_keys(&schedule.rule, zone, at, self.config.default_zone);
        for key in zone_keys {
            let filter = match zone {
                ScheduleZone::Fixed(_) => None,
                ScheduleZone::Recipient => {
                    if !self.zone_has_recipients(key).await? {
                        continue;
                    }
                    Some(key.to_owned())
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
