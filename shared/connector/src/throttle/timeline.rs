//! Between the process's monotonic time (what waits use) and wall-clock time (what instances
//! share through the pace): each conversion reads both clocks at once, so a wall clock adjusted
//! meanwhile moves only the conversions made after it.

use chrono::{DateTime, Utc};
use herald_domain::Clock;
use tokio::time::Instant;

pub(crate) struct Timeline<'a>(pub &'a dyn Clock);

impl Timeline<'_> {
    pub fn now(&self) -> Instant {
        Instant::from_std(self.0.instant())
    }

    /// The wall-clock time of monotonic instant `at`.
    pub fn wall(&self, at: Instant) -> DateTime<Utc> {
        let (wall, now) = (self.0.now(), self.now());
        if at >= now {
            wall + (at - now)
        } else {
            wall - (now - at)
        }
    }

    /// The monotonic instant of wall-clock time `at`.
    pub fn instant(&self, at: DateTime<Utc>) -> Instant {
        let (wall, now) = (self.0.now(), self.now());
        match (at - wall).to_std() {
            Ok(ahead) => now + ahead,
            Err(_) => (wall - at)
                .to_std()
                .ok()
                .and_then(|behind| now.checked_sub(behind))
                .unwrap_or(now),
        }
    }
}
