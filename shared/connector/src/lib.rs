//! The Bot Framework connector for Teams: every message Herald sends goes through here, and every
//! activity Herald receives is authenticated here.

pub mod inbound;
