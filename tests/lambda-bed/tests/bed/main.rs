//! The bed's own semantics on its probe fixture, and Herald's real binaries in the bed.
//! Stream, EventBridge and Herald tests need DynamoDB Local: run through `.ci/with-services`.

mod events;
#[path = "../fleet/mod.rs"]
mod fleet;
mod herald;
mod http;
mod proxy;
mod runtime;
mod scale;
mod stream;
mod support;
mod template;
