//! Herald's one retry policy, shared by every client that talks to a service which may throttle
//! or fail for a moment: the Bot Framework connector, Microsoft Graph and EventBridge.
//!
//! A [`RetryPolicy`] is data: how many attempts, the capped exponential backoff between them and
//! its [`Jitter`], and the longest `Retry-After` worth sleeping through. [`Attempts`] applies it
//! to one operation: after each failure it says whether another attempt is worth making, and the
//! [`Pause`] to await before it, never one that would end past the caller's deadline.
//!
//! ```
//! # async fn call() -> Result<(), Option<std::time::Duration>> { Ok(()) }
//! # async fn run() -> Result<(), Option<std::time::Duration>> {
//! use herald_retry::RetryPolicy;
//!
//! let mut attempts = RetryPolicy::default().attempts(None);
//! loop {
//!     match call().await {
//!         Ok(()) => return Ok(()),
//!         // The error says whether it is worth retrying and how long the service asked to wait.
//!         Err(retry_after) => match attempts.retry(retry_after) {
//!             Ok(pause) => pause.await,
//!             Err(_give_up) => return Err(retry_after),
//!         },
//!     }
//! }
//! # }
//! ```
//!
//! It is a crate of its own so that each client depends on the policy alone, not on another
//! client (EventBridge has no business depending on the Teams connector).

mod attempts;
mod policy;
mod retry_after;

pub use attempts::{Attempts, Pause};
pub use policy::{GiveUp, Jitter, RetryPolicy};
pub use retry_after::parse_retry_after;
