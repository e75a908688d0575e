//! Messages people type to Herald (commands, chat reminders), the opt-out card's submit, and
//! `Action.Submit`s on notifications' cards (see `card_actions`).

use herald_domain::{ConversationReference, ConversationType, ReferenceStatus};
use herald_http::Reply;
use serde_json::Value;

use crate::card_actions::{Press, submit_reply};
use crate::cards;
use crate::commands::{Command, strip_mentions};
use crate::reminders;
use crate::turn::{Failure, Outcome, Turn};

/// The status reason a personal message leaves on a reference it unblocks.
pub(crate) const UNBLOCKED: &str = "unblocked: the person wrote to the bot";

impl Turn<'_> {
    pub(crate) async fn message(&self) -> Outcome {
        let (reference, _) = self.refresh().await?;
        self.unblock(&reference).await?;
        let activity = self.activity;
        if card_verb(activity.value.as_ref()) == Some(cards::OPT_OUT_VERB) {
            let reply = self.opt_out(&reference).await?;
            self.reply(&reference, &cards::reply(reply)).await;
            return Ok(Reply::ok());
        }
        if activity.value.is_some()
            && let Some(answer) = self.card_action(Press::Submit).await?
        {
            self.reply(&reference, &submit_reply(&answer)).await;
            return Ok(Reply::ok());
        }
        let text = activity.text.as_deref().unwrap_or_default();
        let mentioned = text.contains("<at>");
        let command = Command::parse(text);
        // In group chats and channels Herald only answers when spoken to.
        if reference.conversation_type != ConversationType::Personal && !mentioned {
            return Ok(Reply::ok());
        }
        let bot = &self.hook.config.welcome.bot_name;
        let reply = match command {
            Command::Help => cards::help(bot),
            Command::Unknown(text) if text.is_empty() => cards::help(bot),
            Command::Unknown(_) => cards::reply(format!(
                "Sorry, I didn't get \"{}\". Type **help** to see what I understand.",
                strip_mentions(self.activity.text.as_deref().unwrap_or_default())
            )),
            Command::Stop => cards::reply(self.opt_out(&reference).await?),
            Command::Start => {
                self.set_status(&reference, ReferenceStatus::Active, "user said start")
                    .await?;
                cards::reply("Notifications are on again here. Type **stop** to turn them off.")
            }
            Command::Status => cards::reply(self.status_text(&reference).await?),
            Command::SetTimeZone(zone) => {
                self.hook
                    .store
                    .set_time_zone_override(&reference.key(), Some(zone), self.now)
                    .await?;
                let local = self.now.with_timezone(&zone.tz()).format("%H:%M");
                cards::reply(if shared(&reference) {
                    format!(
                        "Got it: this conversation's time is now {zone} (it's {local} there); \
                         schedules at the recipient's time fire here by it. Mention me with \
                         **timezone auto** to use the default zone again."
                    )
                } else {
                    format!(
                        "Got it: your reminders now follow {zone} (it's {local} there). \
                         Type **timezone auto** to follow Teams again."
                    )
                })
            }
            Command::AutoTimeZone => {
                self.hook
                    .store
                    .set_time_zone_override(&reference.key(), None, self.now)
                    .await?;
                cards::reply(if shared(&reference) {
                    format!(
                        "OK, this conversation uses the default zone again ({}).",
                        self.hook.config.default_time_zone
                    )
                } else {
                    let zone = reference
                        .time_zone
                        .map_or_else(|| "not known yet".to_owned(), |z| z.to_string());
                    format!("OK, your time zone follows what Teams reports again ({zone}).")
                })
            }
            Command::UnknownTimeZone(name) => cards::reply(format!(
                "I don't know the time zone \"{name}\". Use an IANA name such as \
                 Europe/London, America/New_York or Asia/Kolkata."
            )),
            Command::Reminder(Ok(command)) => cards::reply(
                reminders::answer(
                    self.hook,
                    &reference,
                    activity.id.as_deref(),
                    self.now,
                    command,
                )
                .await?,
            ),
            Command::Reminder(Err(e)) => cards::reply(e.to_string()),
        };
        self.reply(&reference, &reply).await;
        Ok(Reply::ok())
    }

    /// A person who writes to Herald in their personal chat is evidently not blocking it any
    /// more: a `blocked` left by a failed send (403 ConversationBlockedByUser) goes back to
    /// active. Only a block clears: an opt-out stays until the person says start. Like a block,
    /// this is no installation event.
    async fn unblock(&self, reference: &ConversationReference) -> Result<(), Failure> {
        if reference.conversation_type != ConversationType::Personal {
            return Ok(());
        }
        let stored = self.hook.store.get(&reference.key()).await?;
        if stored.is_some_and(|s| s.status == ReferenceStatus::Blocked) {
            self.set_status(reference, ReferenceStatus::Active, UNBLOCKED)
                .await?;
            tracing::info!(conversation = %reference.key(), "a blocked person wrote: active again");
        }
        Ok(())
    }

    pub(crate) async fn opt_out(
        &self,
        reference: &ConversationReference,
    ) -> Result<String, Failure> {
        let who = self.activity.from.name.as_deref().unwrap_or("a user");
        self.set_status(
            reference,
            ReferenceStatus::OptedOut,
            &format!("opted out by {who}"),
        )
        .await?;
        Ok(match reference.conversation_type {
            ConversationType::Personal => {
                "You're unsubscribed: I won't send you notifications any more. \
                 Type **start** to turn them back on."
            }
            _ => {
                "Notifications to this conversation are off. Mention me with **start** to \
                 turn them back on."
            }
        }
        .to_owned())
    }

    async fn status_text(&self, reference: &ConversationReference) -> Result<String, Failure> {
        let stored = self.hook.store.get(&reference.key()).await?;
        let stored = stored.as_ref().unwrap_or(reference);
        let state = if stored.is_sendable() { "on" } else { "off" };
        let zone = match (stored.time_zone_override, stored.time_zone) {
            (Some(zone), _) if shared(stored) => format!("{zone} (set for this conversation)"),
            (None, _) if shared(stored) => format!(
                "{} (the default; mention me with **timezone Region/City** to set this \
                 conversation's)",
                self.hook.config.default_time_zone
            ),
            (Some(zone), _) => format!("{zone} (set by you)"),
            (None, Some(zone)) => format!("{zone} (reported by Teams)"),
            (None, None) => "not known yet".to_owned(),
        };
        Ok(format!(
            "Notifications here are **{state}**. Time zone: {zone}."
        ))
    }
}

/// A channel or group chat: its zone is the one set in it, never a member's
/// ([`ConversationReference::effective_time_zone`]).
fn shared(reference: &ConversationReference) -> bool {
    reference.conversation_type != ConversationType::Personal
}

/// The `herald` verb of an `Action.Submit` payload.
pub(crate) fn card_verb(value: Option<&Value>) -> Option<&str> {
    value.and_then(|v| v.get("herald")).and_then(Value::as_str)
}
