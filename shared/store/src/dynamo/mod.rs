//! The production backend: DynamoDB tables laid out by [`crate::schema`].

mod delivery_list;
mod edits;
mod error;
mod install_waits;
mod interactions;
mod item;
mod notification_list;
mod outbox;
mod outbox_items;
mod outcome;
mod pace;
mod personal;
mod read;
mod references;
mod schedules;
mod stranded;
mod table;
mod transact;
mod zone_moves;

pub use outbox::DynamoOutboxStore;
pub use pace::{DynamoPace, PaceWrites};
pub use references::DynamoReferenceStore;
pub use schedules::DynamoScheduleStore;
