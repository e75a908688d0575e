//! One process's pace: every sender of the process draws from it (the local runner with its
//! embedded store, tests). Its per-conversation windows are the throttle's own.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{BlockRequest, PaceError, SlotBlock, TenantPace};

/// The tenants' theoretical arrival times, in memory.
#[derive(Debug, Default)]
pub struct MemoryPace {
    tenants: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl MemoryPace {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn tenants(&self) -> std::sync::MutexGuard<'_, HashMap<String, DateTime<Utc>>> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl TenantPace for MemoryPace {
    async fn reserve(&self, tenant: &str, request: &BlockRequest) -> Result<SlotBlock, PaceError> {
        let mut tenants = self.tenants();
        let block = SlotBlock::after(tenants.get(tenant).copied(), request);
        tenants.insert(tenant.to_owned(), block.end());
        // Tenants idle for a day are forgotten (their time is long past).
        if tenants.len() > 10_000 {
            let horizon = request.not_before - chrono::Duration::days(1);
            tenants.retain(|_, tat| *tat > horizon);
        }
        Ok(block)
    }

    async fn pause(&self, tenant: &str, until: DateTime<Utc>) -> Result<(), PaceError> {
        let mut tenants = self.tenants();
        let tat = tenants.entry(tenant.to_owned()).or_insert(until);
        *tat = (*tat).max(until);
        Ok(())
    }
}
