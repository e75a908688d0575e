//! What Herald's HTTP functions (the webhook and the notify API) share: one error type, one reply
//! type and one body extractor, so every route answers `{"error": {"code", "message", ...}}` the
//! same way whether API Gateway (through `lambda_http`) or the local runner serves it.

mod body;
mod error;
mod reply;

pub use body::{Body, BodyLimit};
pub use error::ApiError;
pub use reply::Reply;
