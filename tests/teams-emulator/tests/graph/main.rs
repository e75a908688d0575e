//! The emulated Microsoft Graph: installedApps routes, tokens, faults, paging, the chat alias and
//! the installation event sent to the bot.

mod announce;
mod faults;
mod installed_apps;
mod support;
mod tokens;
