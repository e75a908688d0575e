//! How many deliveries run at once: a gate whose bound follows [`InFlight`] (what the
//! connector's throttle says the active tenants need, rate x latency), re-read each time a pass
//! is asked for, so a sender keeps enough sends in flight to hold every tenant at its rate
//! without holding leases on deliveries that would only wait for a slot.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use herald_connector::InFlight;
use tokio::sync::Notify;

/// The deliveries in flight in one sender instance.
#[derive(Debug)]
pub struct Gate {
    in_flight: InFlight,
    active: AtomicUsize,
    freed: Notify,
}

/// Leave to run one delivery; dropping it lets the next one in.
#[derive(Debug)]
pub struct Pass(Arc<Gate>);

impl Drop for Pass {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.freed.notify_one();
    }
}

impl Gate {
    #[must_use]
    pub fn new(in_flight: InFlight) -> Self {
        Self {
            in_flight,
            active: AtomicUsize::new(0),
            freed: Notify::new(),
        }
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
        self.active.load(Ordering::SeqCst)
    }

    /// Waits until fewer deliveries than the bound are in flight.
    pub async fn enter(self: &Arc<Self>) -> Pass {
        loop {
            let freed = self.freed.notified();
            let limit = self.in_flight.limit();
            let active = self.active.load(Ordering::SeqCst);
            if active < limit
                && self
                    .active
                    .compare_exchange(active, active + 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                return Pass(self.clone());
            }
            if active < limit {
                continue;
            }
            freed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn no_more_than_the_bound_run_at_once() {
        let gate = Arc::new(Gate::new(InFlight::fixed(3)));
        let peak = Arc::new(AtomicUsize::new(0));
        let runs = (0..20).map(|_| {
            let gate = gate.clone();
            let peak = peak.clone();
            tokio::spawn(async move {
                let _pass = gate.enter().await;
                peak.fetch_max(gate.active(), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            })
        });
        futures::future::join_all(runs).await;
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(gate.active(), 0);
    }
}
