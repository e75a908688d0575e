//! How many deliveries run at once: at most [`InFlight::max`] in all, and of each tenant what
//! [`InFlight::per_tenant`] says keeps it at its rate (rate x latency), re-read each time a pass
//! is asked for. The bound is per tenant because a delivery waiting for its tenant's next slot
//! waits in flight: when several instances share a tenant's pace its deliveries wait longer,
//! and under one bound for every tenant they would fill the gate and starve the others. Per
//! tenant, every tenant keeps enough sends in flight, and no instance holds leases on deliveries
//! that would only wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use herald_connector::InFlight;
use tokio::sync::Notify;

/// The deliveries in flight in one sender instance.
#[derive(Debug)]
pub struct Gate {
    in_flight: InFlight,
    active: Mutex<Active>,
    freed: Notify,
}

#[derive(Debug, Default)]
struct Active {
    total: usize,
    by_tenant: HashMap<Box<str>, usize>,
}

/// Leave to run one delivery; dropping it lets the next one in.
#[derive(Debug)]
pub struct Pass {
    gate: Arc<Gate>,
    tenant: Option<Box<str>>,
}

impl Drop for Pass {
    fn drop(&mut self) {
        {
            let mut active = self.gate.lock();
            active.total = active.total.saturating_sub(1);
            if let Some(tenant) = &self.tenant
                && let Some(count) = active.by_tenant.get_mut(tenant)
            {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    active.by_tenant.remove(tenant);
                }
            }
        }
        // Every waiter: the one whose tenant has room now may not be the first in line.
        self.gate.freed.notify_waiters();
    }
}

impl Gate {
    #[must_use]
    pub fn new(in_flight: InFlight) -> Self {
        Self {
            in_flight,
            active: Mutex::default(),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most deliveries ever let in at once.
    #[must_use]
    pub fn max(&self) -> usize {
        self.in_flight.max()
    }

    /// The bound the gate follows.
    #[must_use]
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// Deliveries in flight now.
    #[must_use]
    pub fn active(&self) -> usize {
        self.lock().total
    }

    /// Deliveries of `tenant` in flight now.
    #[must_use]
    pub fn active_of(&self, tenant: &str) -> usize {
        self.lock().by_tenant.get(tenant).copied().unwrap_or(0)
    }

    /// Waits until fewer deliveries than the bound are in flight, and, for a delivery to a
    /// tenant, fewer of that tenant's than its bound (`None`: work of no one tenant, such as an
    /// expansion).
    pub async fn enter(self: &Arc<Self>, tenant: Option<&str>) -> Pass {
        loop {
            let freed = self.freed.notified();
            {
                let per_tenant = self.in_flight.per_tenant();
                let mut active = self.lock();
                let tenant_room = tenant
                    .is_none_or(|t| active.by_tenant.get(t).copied().unwrap_or(0) < per_tenant);
                if active.total < self.in_flight.max() && tenant_room {
                    active.total += 1;
                    if let Some(t) = tenant {
                        *active.by_tenant.entry(t.into()).or_default() += 1;
                    }
                    return Pass {
                        gate: self.clone(),
                        tenant: tenant.map(Into::into),
                    };
                }
            }
            freed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn no_more_than_the_bound_run_at_once() {
        let gate = Arc::new(Gate::new(InFlight::fixed(3)));
        let peak = Arc::new(AtomicUsize::new(0));
        let runs = (0..20).map(|i| {
            let gate = gate.clone();
            let peak = peak.clone();
            tokio::spawn(async move {
                let tenant = (i % 2 == 0).then_some("a");
                let _pass = gate.enter(tenant).await;
                peak.fetch_max(gate.active(), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            })
        });
        futures::future::join_all(runs).await;
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(gate.active(), 0);
    }

    #[tokio::test]
    async fn a_tenant_at_its_bound_waits_while_others_go_in() {
        let meter = herald_connector::PaceMeter::new(Some(1), Duration::ZERO);
        let gate = Arc::new(Gate::new(InFlight::adaptive(Arc::new(meter), 100)));
        let per_tenant = gate.in_flight().per_tenant();
        let held: Vec<Pass> =
            futures::future::join_all((0..per_tenant).map(|_| gate.enter(Some("busy")))).await;
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.enter(Some("busy")).await }
        });
        // Another tenant, and work of no tenant, go in at once.
        let other = tokio::time::timeout(Duration::from_secs(1), gate.enter(Some("quiet"))).await;
        let expansion = tokio::time::timeout(Duration::from_secs(1), gate.enter(None)).await;
        assert!(other.is_ok() && expansion.is_ok());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "the busy tenant went past its bound"
        );
        drop(held);
        let pass = tokio::time::timeout(Duration::from_secs(1), waiting).await;
        assert!(matches!(pass, Ok(Ok(_))), "a freed place went to no one");
    }
}
