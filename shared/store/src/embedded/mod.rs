//! The embedded backend for the local runner and fast tests: `redb` files under a data
//! directory, so data survive a restart without any server. Index tables mirror the DynamoDB
//! indexes, so listings read only what they return here too.

mod db;
mod edits;
mod install_waits;
mod interactions;
mod notification_list;
mod outbox;
mod references;
mod schedules;
mod stranded;
mod tables;

pub use outbox::{EmbeddedOutboxStore, OUTBOX_FILE_NAME};
pub use references::{EmbeddedReferenceStore, REFERENCES_FILE_NAME};
pub use schedules::{EmbeddedScheduleStore, SCHEDULES_FILE_NAME};
