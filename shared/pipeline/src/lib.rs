//! Herald's delivery pipeline, shared by the notify API, the sender, the scheduler and the local
//! runner: a request becomes a notification ([`request`]), a notification becomes deliveries
//! page by page ([`expand`]), each delivery is sent exactly once ([`send`]), sent copies are
//! brought to new content ([`edit`]) and unread ones followed up ([`follow_up`]).

pub mod edit;
mod error;
mod estimate;
pub mod expand;
pub mod follow_up;
pub mod install;
mod outcome;
pub mod request;
pub mod send;
mod stranded;
mod zone_fire;

pub use edit::{EditPass, Editor};
pub use error::PipelineError;
pub use estimate::Estimate;
pub use expand::{Expander, Expansion};
pub use follow_up::FollowUpSweep;
pub use install::{
    InstallConfigError, InstallSweep, ProactiveInstall, SweepReport, resume_installed,
};
pub use send::{Delivered, Sender};
pub use stranded::{StrandedReport, StrandedSweep};
