//! The Adaptive Cards Herald answers with: the welcome card and command replies.

use herald_connector::{Activity, Attachment};
use herald_domain::{ConversationReference, ConversationType};
use serde_json::{Value, json};

pub use herald_domain::cards::{OPT_OUT_VERB, opt_out_action};

/// Configurable wording of the welcome message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WelcomeText {
    /// How the bot calls itself (`HERALD_BOT_NAME`).
    pub bot_name: String,
    /// What Herald will send here (`HERALD_WELCOME_TEXT`).
    pub offer: String,
}

impl Default for WelcomeText {
    fn default() -> Self {
        Self {
            bot_name: "Herald".to_owned(),
            offer: "I deliver notifications and reminders from your organisation's systems, \
                    at your local time."
                .to_owned(),
        }
    }
}

fn text_block(text: &str, extra: Value) -> Value {
    let mut block = json!({"type": "TextBlock", "text": text, "wrap": true});
    if let (Some(block), Value::Object(extra)) = (block.as_object_mut(), extra) {
        block.extend(extra);
    }
    block
}

fn card(body: Vec<Value>, actions: Vec<Value>) -> Value {
    json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": Value::Array(body),
        "actions": Value::Array(actions),
    })
}

/// Why this conversation is getting a message from a bot it may never have used: where Herald was
/// installed and by whom, as Teams' guidance on welcome messages asks
/// (https://learn.microsoft.com/microsoftteams/platform/bots/design/bots).
fn reason(reference: &ConversationReference, installer: Option<&str>, bot: &str) -> String {
    let by = installer
        .map(|name| format!(" by {name}"))
        .unwrap_or_default();
    match reference.conversation_type {
        ConversationType::Personal => format!("{bot} was added to your chats{by}."),
        ConversationType::GroupChat => format!("{bot} was added to this group chat{by}."),
        ConversationType::Channel => {
            let team = reference
                .team
                .as_ref()
                .and_then(|t| t.name.as_deref())
                .unwrap_or("this team");
            let channel = match (&reference.channel, &reference.team) {
                (Some(channel), Some(team)) => {
                    channel.display_name(&team.id).unwrap_or("a channel")
                }
                _ => "a channel",
            };
            format!("{bot} was added to the team {team} and posts in {channel}{by}.")
        }
    }
}

/// The welcome card, sent once per installation.
#[must_use]
pub fn welcome(
    text: &WelcomeText,
    reference: &ConversationReference,
    installer: Option<&str>,
) -> Activity {
    let opt_out = match reference.conversation_type {
        ConversationType::Personal => {
            "Don't want these? Type **stop** or use the button below; **start** turns them back on."
        }
        _ => {
            "Don't want notifications here? Mention me with **stop** or use the button below; \
             **start** turns them back on."
        }
    };
    let body = vec![
        text_block(
            &format!("Welcome to {}", text.bot_name),
            json!({"size": "Large", "weight": "Bolder"}),
        ),
        text_block(&reason(reference, installer, &text.bot_name), json!({})),
        text_block(&text.offer, json!({})),
        text_block(
            "Next: type **help** for commands, **status** for your settings, and \
             **timezone Europe/London** (any IANA name) if your reminders should follow another zone.",
            json!({"isSubtle": true}),
        ),
        text_block(opt_out, json!({"isSubtle": true})),
    ];
    Activity::message()
        .summary(format!("Welcome to {}", text.bot_name))
        .attachment(Attachment::adaptive_card(card(
            body,
            vec![opt_out_action()],
        )))
}

/// A plain reply.
#[must_use]
pub fn reply(text: impl Into<String>) -> Activity {
    Activity::message().text(text)
}

/// The command list.
#[must_use]
pub fn help(bot: &str) -> Activity {
    reply(format!(
        "Here's what {bot} understands:\n\n\
         - **help**: this list\n\
         - **status**: whether notifications are on here, and your time zone\n\
         - **stop** / **unsubscribe**: no more notifications here\n\
         - **start** / **subscribe**: notifications back on\n\
         - **timezone Region/City**: the zone your reminders use (e.g. timezone America/Chicago); \
         **timezone auto** follows Teams again\n\
         - **remind me every weekday at 9:00 to** ...: a reminder in your time zone; also \
         **remind me daily at 17:30 to** ..., **remind me on 2026-12-24 at 08:00 to** ..., \
         **remind me every mon,wed at 9:15 to** ..., **remind me monthly on 31 at 18:00 to** ...\n\
         - **reminders**: your reminders, with their ids and next times\n\
         - **cancel reminder** *id*: cancel one of them"
    ))
}
