//! One bootstrap for every Herald function: [`Deps`] holds what the functions are built from
//! (settings, the stores, the connector, the event publisher, the clock, the retention), made
//! from one configuration. Each Lambda's `main.rs` calls [`Deps::lambda`] and hands the result to
//! its function's constructor; the local runner and the tests assemble the same [`Deps`] from
//! embedded or DynamoDB Local stores with [`Deps::new`], so all of them run the same wiring.
//!
//! Parts are built when a function asks for them (a missing table variable or bot password is an
//! error for the function that needs it, not for one that does not): the scheduler has no bot
//! password, and the notify API publishes no events.

mod deps;
mod error;
mod settings;
mod stores;

pub use deps::{Deps, LOCAL_APP_ID};
pub use error::BootstrapError;
pub use settings::{DEFAULT_RETENTION_DAYS, Lookup, retention};
pub use stores::{Stores, Tables};
