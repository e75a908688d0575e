//! Why a request was refused: one variant per kind of mistake, each naming the field at fault.

use thiserror::Error;

/// Why a request was refused. `code()` is stable for clients; `field()` names where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The body is not JSON at all.
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// A top-level problem: not an object, an unknown field, a bad idempotency key.
    #[error("{field}: {problem}")]
    InvalidRequest { field: String, problem: String },
    #[error("{field}: {problem}")]
    InvalidTarget { field: String, problem: String },
    #[error("{field}: {problem}")]
    InvalidMessage { field: String, problem: String },
    /// The card is not an Adaptive Card Herald can send.
    #[error("{field}: {problem}")]
    InvalidCard { field: String, problem: String },
    /// `${path}` placeholders of the card that `data` has no value for, all of them at once.
    #[error("{field} has no value for {}", list_placeholders(.paths))]
    MissingPlaceholders { field: String, paths: Vec<String> },
    /// The rendered activity is larger than Teams accepts.
    #[error("{field}: the rendered activity is {bytes} bytes; Teams accepts at most {limit}")]
    MessageTooLarge {
        field: String,
        bytes: usize,
        limit: usize,
    },
}

fn list_placeholders(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("${{{p}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RequestError {
    /// The stable error code clients match on.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "InvalidJson",
            Self::InvalidRequest { .. } => "InvalidRequest",
            Self::InvalidTarget { .. } => "InvalidTarget",
            Self::InvalidMessage { .. } => "InvalidMessage",
            Self::InvalidCard { .. } => "InvalidCard",
            Self::MissingPlaceholders { .. } => "MissingPlaceholders",
            Self::MessageTooLarge { .. } => "MessageTooLarge",
        }
    }

    /// The field at fault, JSON-pointer-ish (`message.card.body[0].type`); empty for the body.
    #[must_use]
    pub fn field(&self) -> &str {
        match self {
            Self::InvalidJson(_) => "",
            Self::InvalidRequest { field, .. }
            | Self::InvalidTarget { field, .. }
            | Self::InvalidMessage { field, .. }
            | Self::InvalidCard { field, .. }
            | Self::MissingPlaceholders { field, .. }
            | Self::MessageTooLarge { field, .. } => field,
        }
    }

    /// 413 for a message Teams would refuse as too large, 400 for everything else.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::MessageTooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// The field `name` under `prefix` (`message` + `card` is `message.card`; no prefix, just `card`).
pub(super) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}
