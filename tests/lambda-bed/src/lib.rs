//! A Lambda test bed for Herald: the functions' real binaries (the `main.rs` cargo-lambda
//! packages as `bootstrap`) run as child processes behind the Lambda Runtime API
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>), with what production puts
//! around them, all read from `template.yaml`:
//!
//! - [`Function`]: reserved concurrency, warm reuse and cold starts, the `Timeout` enforced by
//!   SIGKILL, init errors and crashes failing the invocation; faults to kill an instance.
//! - [`StreamMapping`]: the DynamoDB Streams event source mapping (batch size and window,
//!   per-shard order, parallelization, filters, partial batch responses, bisection, retries with
//!   no delay, `OnFailure` records).
//! - [`HttpApi`]: API Gateway HTTP API payload format 2.0 over real HTTP.
//! - [`EventBus`]: `PutEvents` for the functions' SDK, rules delivering to functions as
//!   asynchronous invocations with retries; [`Schedule`] for `rate(...)` rules.
//! - [`DynamoProxy`]: throttling and 500s injected in front of DynamoDB Local.
//! - [`BedLog`]: invocations, batches, on-failure records and events, for assertions.
//! - [`scenario`]: Herald's deployed shape under load (installs through the webhook, a
//!   broadcast, a recipient-local schedule, a routed event), with or without every fault, and
//!   what it came to; the chaos test and the `deployed` benchmark run it.
//!
//! [`LambdaBed`] assembles all of it as the template deploys it.

mod async_invoke;
mod bed;
pub mod binaries;
pub mod clients;
mod dynamo_proxy;
mod environment;
mod error;
pub mod esm;
mod eventbridge;
mod function;
mod http_api;
mod instance;
mod log;
mod pattern;
mod runtime_api;
pub mod scenario;
mod schedule;
mod server;
mod tables;
pub mod template;

pub use async_invoke::{AsyncPolicy, LAMBDA_RETRY_DELAYS, invoke_async};
pub use bed::{BedConfig, DEFAULT_CONCURRENCY, FunctionOverride, LambdaBed};
pub use dynamo_proxy::{DynamoFaults, DynamoProxy, ProxyCounters};
pub use environment::lambda_environment;
pub use error::BedError;
pub use esm::{StreamMapping, StreamSource};
pub use eventbridge::{EventBus, Rule};
pub use function::{ACCOUNT, Function, FunctionConfig, INIT_TIMEOUT, Invocation};
pub use http_api::{Binding, HttpApi, INTEGRATION_TIMEOUT, match_path};
pub use instance::{InstanceId, KillReason};
pub use log::{
    BatchRecord, BedLog, EventRecord, FailureRecord, FailureSource, InvocationRecord, OutcomeKind,
};
pub use pattern::Pattern;
pub use schedule::{Schedule, scheduled_event};
pub use tables::{HeraldTables, create_herald_tables};
