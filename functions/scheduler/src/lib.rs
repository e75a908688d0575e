//! The scheduler: every minute, fire what is due, at the recipient's wall-clock time.
//!
//! A tick reads only the schedules whose next fire has come (a sparse index keyed by that
//! instant), page after page until all are fired or the invocation's time is nearly up (the rest
//! wait for the next tick), firing many at once. Each fire becomes a notification whose id is
//! derived from (schedule, instant, zone), so overlapping or retried ticks create it once; the
//! next fire then advances with a write conditional on the schedule's version. One schedule's
//! failure is logged and counted and the others go on. Fires missed while Herald was down (or
//! left by a tick out of time) are caught up when at most `max_lateness` late and recorded as
//! missed otherwise.

mod bootstrap;
mod config;
mod event;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use herald_domain::{Clock, ConversationReference};
use herald_pipeline::{FollowUpSweep, InstallSweep, StrandedReport, StrandedSweep, SweepReport};
use herald_schedule::{ScheduleZone, catch_up, fire_zone_keys, may_reach_leaver, schedule_zone};
use herald_store::{
    ListFilter, NotificationId, NotificationRecord, OutboxStore, PageRequest, ReferenceStore,
    ScheduleId, ScheduleRecord, ScheduleStore, StoreError, ZoneFire,
};

pub use config::{ConfigError, SchedulerConfig};

/// Due schedules read per page.
const DUE_PAGE: u32 = 500;
/// Schedules fired at once.
const FIRING_AT_ONCE: usize = 32;
/// How long a tick without a deadline of its own may keep paging (the Lambda's is its timeout).
const TICK_BUDGET: chrono::Duration = chrono::Duration::seconds(50);

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
    /// Schedules whose fire failed (logged); they stay due for the next tick.
    pub failed: usize,
    /// The tick ran out of time with schedules still due; the next tick fires them.
    pub out_of_time: bool,
    /// Installation waits ended by their timeout.
    pub installs: SweepReport,
    /// Stranded outbox work woken.
    pub stranded: StrandedReport,
    /// Follow-up notifications created for those who had not read a notification.
    pub follow_ups: Vec<NotificationId>,
}

/// What firing one schedule did.
#[derive(Debug, Default)]
struct Fired {
    notifications: Vec<NotificationId>,
    missed: u64,
    /// Another tick advanced the schedule first.
    conflict: bool,
}

impl TickReport {
    fn add(&mut self, fired: Fired) {
        self.notifications.extend(fired.notifications);
        self.missed += fired.missed;
        self.conflicts += usize::from(fired.conflict);
    }
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
    /// Fires everything due now, within [`TICK_BUDGET`].
    pub async fn tick(&self) -> Result<TickReport, SchedulerError> {
        self.tick_until(self.clock.now() + TICK_BUDGET).await
    }

    /// Fires everything due now, page after page while the clock is before `until`.
    pub async fn tick_until(&self, until: DateTime<Utc>) -> Result<TickReport, SchedulerError> {
        let now = self.clock.now();
        let mut report = TickReport::default();
        self.fire_due(now, until, &mut report).await?;
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
                failed = report.failed,
                out_of_time = report.out_of_time,
                "scheduler tick"
            );
        }
        Ok(report)
    }

    /// Reads the due schedules a page at a time and fires each page's at once (in order, so
    /// the report lists notifications as the schedules came).
    async fn fire_due(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), SchedulerError> {
        let mut request = PageRequest {
            cursor: None,
            limit: Some(DUE_PAGE),
        };
        loop {
            let page = self.schedules.due_page(now, &request).await?;
            report.due += page.items.len();
            let fired: Vec<(ScheduleId, Result<Fired, SchedulerError>)> = futures::stream::iter(
                page.items,
            )
            .map(|schedule| async move { (schedule.id.clone(), self.fire(schedule, now).await) })
            .buffered(FIRING_AT_ONCE)
            .collect()
            .await;
            for (id, result) in fired {
                match result {
                    Ok(fired) => report.add(fired),
                    Err(e) => {
                        report.failed += 1;
                        tracing::error!(schedule = %id, error = %e, "firing failed; the next tick retries it");
                    }
                }
            }
            match page.next_cursor {
                None => return Ok(()),
                Some(_) if self.clock.now() >= until => {
                    report.out_of_time = true;
                    tracing::warn!("the tick ran out of time; the next tick fires the rest");
                    return Ok(());
                }
                Some(cursor) => request.cursor = Some(cursor),
            }
        }
    }

    async fn fire(
        &self,
        mut schedule: ScheduleRecord,
        now: DateTime<Utc>,
    ) -> Result<Fired, SchedulerError> {
        let mut fired = Fired::default();
        let Some(zone) = schedule_zone(&schedule.time_zone) else {
            tracing::error!(schedule = %schedule.id, zone = %schedule.time_zone, "unreadable time zone; pausing");
            schedule.paused = true;
            fired.conflict = !self.advance(schedule, now).await?;
            return Ok(fired);
        };
        let owed = catch_up(
            &schedule.rule,
            zone,
            schedule.next_fire,
            now,
            self.config.max_lateness,
        );
        for at in &owed.fires {
            fired
                .notifications
                .extend(self.create_notifications(&schedule, zone, *at, now).await?);
        }
        schedule.next_fire = owed.next;
        schedule.last_fire = owed.fires.last().copied().or(schedule.last_fire);
        schedule.fired += owed.fires.len() as u64;
        schedule.missed += owed.missed as u64;
        fired.missed = owed.missed as u64;
        if owed.missed > 0 {
            tracing::warn!(schedule = %schedule.id, missed = owed.missed, "fires too late to send were skipped");
        }
        fired.conflict = !self.advance(schedule, now).await?;
        Ok(fired)
    }

    /// Writes the advanced schedule; `false` when another tick advanced it first.
    async fn advance(
        &self,
        mut schedule: ScheduleRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, SchedulerError> {
        schedule.version += 1;
        schedule.updated_at = now;
        let written = self.schedules.update_schedule(&schedule).await?;
        if !written {
            tracing::info!(schedule = %schedule.id, "another tick advanced this schedule");
        }
        Ok(written)
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
    ) -> Result<Vec<NotificationId>, StoreError> {
        let mut created = Vec::new();
        let zone_keys = fire_zone_keys(&schedule.rule, zone, at, self.config.default_zone);
        for key in zone_keys {
            let filter = match zone {
                ScheduleZone::Fixed(_) => None,
                ScheduleZone::Recipient => {
                    if !self.zone_has_recipients(key, at).await? {
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
            if filter.is_some() {
                record.zone_fire = Some(ZoneFire {
                    at,
                    default_zone: self.config.default_zone,
                });
            }
            record.zone_filter = filter;
            if self.outbox.create_notification(&record).await?.is_none() {
                created.push(id);
            }
        }
        Ok(created)
    }

    /// Whether anyone is in the zone, or left it recently enough that its fire at `at` may
    /// still be theirs ([`may_reach_leaver`]).
    async fn zone_has_recipients(
        &self,
        zone_key: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let in_zone = ListFilter {
            zone: Some(zone_key.to_owned()),
            ..ListFilter::default()
        };
        let left_zone = ListFilter {
            previous_zone: Some(zone_key.to_owned()),
            ..ListFilter::default()
        };
        Ok(self.any_listed(&in_zone, 1, |_| true).await?
            || self
                .any_listed(&left_zone, 100, |r| {
                    r.zone_move
                        .as_ref()
                        .is_some_and(|m| may_reach_leaver(at, m.zone_moved_at))
                })
                .await?)
    }

    /// Whether a listing holds a reference `wanted`, reading pages of `limit`.
    async fn any_listed(
        &self,
        filter: &ListFilter,
        limit: u32,
        wanted: impl Fn(&ConversationReference) -> bool,
    ) -> Result<bool, StoreError> {
        let mut request = PageRequest {
            cursor: None,
            limit: Some(limit),
        };
        // A page can come back without one and with a cursor (skipped items, references not
        // wanted): follow it a few times, then assume so (a notification that reaches nobody
        // costs less than a missed one).
        for _ in 0..5 {
            let page = self.references.list(filter, &request).await?;
            if page.items.iter().any(&wanted) {
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
