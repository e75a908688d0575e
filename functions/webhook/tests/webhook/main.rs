//! The webhook end to end: Teams-shaped activities through `Webhook::handle`, with the DynamoDB
//! store on DynamoDB Local, the HTTP connector and JWT validator against the Teams emulator, and
//! recorded events. Run under `.ci/with-services`.

// Scenario tests read top to bottom as one story each.
#![allow(clippy::too_many_lines)]

mod auth;
mod blocked;
mod commands;
mod eventbridge;
mod lifecycle;
mod malformed;
mod published;
mod redelivery;
mod reminders;
mod scope;
mod support;
mod team_events;
