//! Where Herald keeps its state: the conversation references it may message, the outbox of
//! notifications and their deliveries (with the deliveries waiting for an app installation), and
//! the schedules that create notifications; and, on DynamoDB, the pace every sender instance
//! shares ([`DynamoPace`]).
//!
//! Capability-sized traits ([`ReferenceReader`], [`ReferenceWriter`], [`ReferenceLister`],
//! [`OutboxStore`], [`InstallWaits`], [`Interactions`], [`EditJobs`], [`FollowUps`],
//! [`ScheduleStore`]) let each function ask for exactly what it
//! needs (which also documents its IAM permissions). Two backends stand behind them and pass the
//! same contract suites: DynamoDB ([`DynamoReferenceStore`], [`DynamoOutboxStore`],
//! [`DynamoScheduleStore`]) for AWS, and `redb` files under a data directory
//! ([`EmbeddedReferenceStore`], [`EmbeddedOutboxStore`], [`EmbeddedScheduleStore`]) for the
//! local runner.
//!
//! Modules: the backend-neutral contracts and records (`references`, [`outbox`],
//! `install_waits`, `interactions`, [`schedules`], `change`, `model`, `cursor`), the index keys both backends
//! derive (`keys`), the DynamoDB layout ([`schema`]), and one folder per backend (`dynamo`,
//! `embedded`).

mod change;
mod config;
mod cursor;
mod dynamo;
mod embedded;
mod error;
mod install_waits;
mod interactions;
mod keys;
mod model;
pub mod outbox;
mod personal;
mod references;
pub mod schedules;
pub mod schema;
mod stranded;

pub use change::OutboxChange;
pub use config::{ConfigError, StoreConfig};
pub use cursor::Cursor;
pub use dynamo::{
    DynamoOutboxStore, DynamoPace, DynamoReferenceStore, DynamoScheduleStore, PaceWrites,
};
pub use embedded::{
    EmbeddedOutboxStore, EmbeddedReferenceStore, EmbeddedScheduleStore, OUTBOX_FILE_NAME,
    REFERENCES_FILE_NAME, SCHEDULES_FILE_NAME,
};
pub use error::StoreError;
/// Herald's own record ids live in the domain; re-exported where they were first defined.
pub use herald_domain::{DeliveryId, NotificationId, ScheduleId};
pub use install_waits::{InstallResolution, InstallWait, InstallWaits};
pub use interactions::{
    CardActionRecord, EditJobs, EditRequest, FollowUp, FollowUpDue, FollowUps, InteractionSettings,
    Interactions, ReadReceipt, SentCopy, adaptive_card, counted_verb,
};
pub use model::{ListFilter, Page, PageRequest, SkipReason, SkippedItem};
pub use outbox::{
    Claim, DeliveryRecord, MAX_PAGE, NotificationRecord, NotificationStatus, OutboxStore, Outcome,
    Release, Revision, STRANDED_AFTER, ZoneFire,
};
pub use references::{
    ReferenceLister, ReferenceReader, ReferenceStore, ReferenceWriter, StatusOutcome, StatusUpdate,
    UpsertOutcome,
};
pub use schedules::{ScheduleRecord, ScheduleStore};
pub use stranded::{STRANDED_SHARDS, StrandedWork};
