use thiserror::Error;

/// Why a value from Teams, a user or storage was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("{kind} must not be empty")]
    EmptyId { kind: &'static str },
    #[error("{kind} is {len} bytes long, more than the {max} allowed")]
    IdTooLong {
        kind: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{kind} contains a control character")]
    ControlCharacter { kind: &'static str },
    #[error("unknown conversation type {0:?} (expected personal, groupChat or channel)")]
    UnknownConversationType(String),
    #[error("unknown reference status {0:?}")]
    UnknownStatus(String),
    #[error("invalid IANA time zone {0:?}")]
    InvalidTimeZone(String),
    #[error("invalid serviceUrl {url:?}: {reason}")]
    InvalidServiceUrl { url: String, reason: String },
    #[error("{conversation_type} reference is missing {field}")]
    MissingField {
        conversation_type: &'static str,
        field: &'static str,
    },
}
