//! What the sender's tests and benchmark share.

use std::sync::Arc;
use std::time::Duration;

use herald_connector::InFlight;
use herald_pipeline::{Expander, Sender};
use herald_sender::{Gate, Router, SenderFunction};

/// A sender function around `sender`, expanding over the same stores, connector and clock
/// (without installation through Graph): no editor, no event routes, 30 days' retention,
/// `concurrency` deliveries at once.
pub fn sender_function(sender: Sender, concurrency: usize) -> SenderFunction {
    let retention = chrono::Duration::days(30);
    SenderFunction {
        expander: Expander {
            references: sender.references.clone(),
            outbox: sender.outbox.clone(),
            connector: sender.connector.clone(),
            clock: sender.clock.clone(),
            retention,
            proactive_install: false,
        },
        editor: None,
        outbox: sender.outbox.clone(),
        router: Router::default(),
        retention,
        clock: sender.clock.clone(),
        in_flight: Arc::new(Gate::new(InFlight::fixed(concurrency))),
        safety_margin: Duration::from_secs(1),
        helper: None,
        sender,
    }
}
