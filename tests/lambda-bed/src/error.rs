use std::path::PathBuf;

use thiserror::Error;

/// Why the bed could not do what it was asked.
#[derive(Debug, Error)]
pub enum BedError {
    #[error("{0}")]
    Config(String),
    #[error("template: {0}")]
    Template(String),
    #[error("{0}")]
    Io(#[source] std::io::Error),
    #[error("cannot start {binary}: {error}")]
    Spawn {
        binary: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("cannot build the function binaries: {0}")]
    Build(String),
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    #[error("PutEvents: {0}")]
    Event(String),
    #[error("the bed has stopped")]
    Stopped,
    #[error("no function {0} in the bed")]
    UnknownFunction(String),
}
