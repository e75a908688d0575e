//! What the emulated organisation holds: users, teams, conversations and the messages in them,
//! app installations, and the tokens the emulator issued.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

/// A user Teams knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedUser {
    /// `29:...`
    pub id: String,
    pub aad_object_id: String,
    pub name: String,
    pub user_principal_name: String,
    pub tenant_id: String,
}

impl EmulatedUser {
    /// The user as a `ChannelAccount` in connector answers.
    #[must_use]
    pub fn channel_account(&self) -> Value {
        let (given, surname) = self
            .name
            .split_once(' ')
            .unwrap_or((self.name.as_str(), ""));
        json!({
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "givenName": given,
            "surname": surname,
            "email": self.user_principal_name,
            "userPrincipalName": self.user_principal_name,
            "tenantId": self.tenant_id,
            "userRole": "user",
        })
    }
}

/// A team; its General channel has the team's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedTeam {
    /// `19:...@thread.tacv2`, also the General channel's id.
    pub id: String,
    pub name: String,
    pub aad_group_id: String,
    pub tenant_id: String,
    /// Channel ids in creation order, General first; `None` name = General.
    pub channels: Vec<(String, Option<String>)>,
    pub members: Vec<String>,
}

/// What kind of thread a conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    Personal,
    GroupChat,
    Channel,
}

/// A message the bot posted, as the emulator stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredActivity {
    pub id: String,
    pub activity: Value,
    /// The activity this one replies to (thread replies).
    pub reply_to_id: Option<String>,
    /// How many times it was updated.
    pub updates: u32,
    pub deleted: bool,
}

impl StoredActivity {
    /// What the activity says, without the fields a client may set anew on each attempt
    /// (`id`, `timestamp`, `localTimestamp`): two posts with equal content are one message
    /// delivered twice.
    #[must_use]
    pub fn content(&self) -> Value {
        let mut content = self.activity.clone();
        if let Some(fields) = content.as_object_mut() {
            for volatile in ["id", "timestamp", "localTimestamp"] {
                fields.remove(volatile);
            }
        }
        content
    }
}

/// One activity content the bot posted more than once in a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    pub conversation: String,
    /// See [`StoredActivity::content`].
    pub content: Value,
    /// How many times it was posted (2 or more).
    pub copies: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    pub kind: ConversationKind,
    pub tenant_id: String,
    /// User ids (`29:...`).
    pub members: Vec<String>,
    pub team_id: Option<String>,
    pub activities: Vec<StoredActivity>,
}

impl Conversation {
    /// Each activity content posted here, with how many times it was posted, in first-post order.
    pub fn contents(&self) -> Vec<(Value, usize)> {
        let mut contents: Vec<(Value, usize)> = Vec::new();
        for content in self.activities.iter().map(StoredActivity::content) {
            match contents.iter_mut().find(|(seen, _)| *seen == content) {
                Some((_, copies)) => *copies += 1,
                None => contents.push((content, 1)),
            }
        }
        contents
    }

    /// A conversation without messages yet.
    pub fn new(
        kind: ConversationKind,
        tenant_id: &str,
        members: Vec<String>,
        team_id: Option<String>,
    ) -> Self {
        Self {
            kind,
            tenant_id: tenant_id.to_owned(),
            members,
            team_id,
            activities: Vec::new(),
        }
    }
}

/// An app in the emulated organisation's app catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CatalogApp {
    pub id: String,
    pub external_id: String,
    pub display_name: String,
    /// Installing it installs the emulator's bot (a conversationUpdate goes to the bot endpoint).
    pub bot: bool,
}

/// An app installed in a user's personal scope, as the emulated Graph holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedInstallation {
    /// The installation id (`GET .../installedApps/{id}`).
    pub id: String,
    pub teams_app_id: String,
    pub user_aad_object_id: String,
    pub tenant_id: String,
    /// `true` when installed through `POST .../installedApps`, `false` when marked installed.
    pub via_graph: bool,
    /// What `GET .../installedApps/{id}/chat` answers: `19:{user aad}_{bot app id}@unq.gbl.spaces`
    /// (the connector accepts it as an alias of the user's personal chat with the bot).
    pub chat_id: String,
}

/// The conversationUpdate the emulator POSTed to the bot endpoint after an installation.
#[derive(Debug, Clone, PartialEq)]
pub struct BotDelivery {
    pub url: String,
    pub user_aad_object_id: String,
    /// The personal conversation's `a:` id the activity carried.
    pub conversation_id: String,
    pub activity: Value,
    /// The bot's answer; `None` when the request failed (`error` says why).
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl BotDelivery {
    /// Whether the bot accepted the activity (2xx).
    #[must_use]
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// An access token the emulator issued: for which scope and from which tenant's endpoint.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub expires: Instant,
    pub scope: String,
    pub tenant: String,
}

/// An interaction the emulator sent the bot, and the bot's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct BotExchange {
    /// The activity as sent (send it again to see what a redelivery does).
    pub activity: Value,
    /// The bot's HTTP status; `None` when the request failed (`error` says why).
    pub status: Option<u16>,
    /// The bot's answer body: for an invoke, the invoke response.
    pub body: Option<Value>,
    pub error: Option<String>,
    /// How long the bot took to answer.
    pub elapsed: Duration,
}

impl BotExchange {
    /// The invoke response's `type` and `value`, when the bot answered one.
    #[must_use]
    pub fn invoke_answer(&self) -> Option<(&str, &Value)> {
        let body = self.body.as_ref()?;
        Some((body.get("type")?.as_str()?, body.get("value")?))
    }
}
