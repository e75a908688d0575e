//! Herald's delivery pipeline, shared by the notify API, the sender, the scheduler and the local
//! runner: a request becomes a notification ([`request`]), a notification becomes deliveries
//! page by page ([`expand`]), and each delivery is sent exactly once ([`send`]).

mod error;
mod estimate;
pub mod expand;
pub mod install;
mod outcome;
pub mod request;
pub mod send;
mod stranded;

pub use error::PipelineError;
pub use estimate::Estimate;
pub use expand::{Expander, Expansion};
pub use install::{
    InstallConfigError, InstallSweep, ProactiveInstall, SweepReport, resume_installed,
};
pub use send::{Delivered, Sender};
pub use stranded::{StrandedReport, StrandedSweep};
